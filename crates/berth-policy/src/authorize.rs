//! Who may do what to which repository.
//!
//! | principal | own account's repositories | another account's public | another account's private |
//! | --- | --- | --- | --- |
//! | system admin | everything | everything | everything |
//! | console user | everything | pull | nothing |
//! | repository user, `push_pull` on it | pull, push, delete | — | — |
//! | repository user, `pull` on it | pull | — | — |
//! | repository user, no permission on it | pull if public | pull | nothing |
//! | anonymous | pull if public | pull | nothing |
//! | token bearer | what the token grants, pull if public | pull | nothing |
//!
//! An expired or disabled repository user can do nothing at all, public repositories included:
//! its credentials are refused, so its client learns at once rather than half-way through.
//! `manage` (settings, users, quota) belongs to console users of the account and the admin.
//! Above repositories, [`authorize_management`] decides who manages an account (its console
//! users and the admin) and the system itself (accounts and console users: the admin only).

use std::fmt;

use berth_model::{Access, AccountId, Permission, RepositoryName, Timestamp};

/// What is asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Read manifests and blobs.
    Pull,
    /// Upload blobs and manifests, move tags.
    Push,
    /// Delete manifests, tags and blobs.
    Delete,
    /// Change the repository's settings and users.
    Manage,
}

impl Action {
    /// Every action.
    pub const ALL: [Action; 4] = [Action::Pull, Action::Push, Action::Delete, Action::Manage];

    /// `pull`, `push`, `delete` or `manage`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Action::Pull => "pull",
            Action::Push => "push",
            Action::Delete => "delete",
            Action::Manage => "manage",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the decision needs to know of a repository user, read from its current record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepositoryUserFacts {
    /// Its login name, for messages.
    pub name: String,
    /// The account it belongs to.
    pub account: AccountId,
    /// When it locks, if ever.
    pub expires: Option<Timestamp>,
    /// Whether it is disabled.
    pub disabled: bool,
    /// Its permissions.
    pub permissions: Vec<(RepositoryName, Permission)>,
}

/// Who asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// No credentials.
    Anonymous,
    /// A robot credential.
    RepositoryUser(RepositoryUserFacts),
    /// A person managing an account.
    ConsoleUser {
        /// The account.
        account: AccountId,
    },
    /// The system administrator.
    SystemAdmin,
    /// The bearer of a token the registry issued: the grants were decided when it was issued.
    Token(TokenFacts),
}

/// What a registry token carries: who it was issued to and what it grants, per repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenFacts {
    /// Whom it was issued to (`None` for an anonymous token), for history and messages.
    pub subject: Option<String>,
    /// The account of the subject, if any.
    pub account: Option<AccountId>,
    /// What the token allows.
    pub grants: Vec<(RepositoryName, Action)>,
    /// What was asked for and refused when it was issued, with the reason: the bearer is told
    /// that reason (a refusal) rather than asked to log in again (a missing scope).
    pub refusals: Vec<(RepositoryName, Action, String)>,
}

/// The repository the action is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target<'a> {
    /// Its name.
    pub repository: &'a RepositoryName,
    /// The account owning it.
    pub account: AccountId,
    /// Its access level.
    pub access: Access,
}

/// What a management operation above one repository is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Managed {
    /// An account's repositories, repository users and history.
    Account(AccountId),
    /// Accounts and console users.
    System,
}

impl fmt::Display for Managed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Managed::Account(account) => write!(f, "account {account}"),
            Managed::System => f.write_str("accounts and console users"),
        }
    }
}

/// Why an action is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Denial {
    /// Nobody logged in, and the action needs someone.
    #[error("authentication required to {action} {repository}")]
    AuthenticationRequired {
        /// What was asked.
        action: Action,
        /// Where.
        repository: RepositoryName,
    },
    /// The repository user's expiry date has passed.
    #[error("repository user {user} expired; extend its expiration date to use it again")]
    Expired {
        /// The user.
        user: String,
    },
    /// The repository user is disabled.
    #[error("repository user {user} is disabled")]
    Disabled {
        /// The user.
        user: String,
    },
    /// The principal has no permission for this action here.
    #[error("not allowed to {action} {repository}")]
    NotPermitted {
        /// What was asked.
        action: Action,
        /// Where.
        repository: RepositoryName,
    },
    /// The token was issued without this action, and it was not asked for: the client should
    /// ask the token endpoint for it.
    #[error("the token does not grant {action} on {repository}")]
    InsufficientScope {
        /// What was asked.
        action: Action,
        /// Where.
        repository: RepositoryName,
    },
    /// The token endpoint refused this action when it issued the token.
    #[error("{reason}")]
    Refused {
        /// The refusal given when the token was issued.
        reason: String,
    },
    /// The repository user may only pull here.
    #[error("repository user {user} may only pull from {repository}, not {action}")]
    PullOnly {
        /// The user.
        user: String,
        /// What was asked.
        action: Action,
        /// Where.
        repository: RepositoryName,
    },
    /// Only the system administrator, or a console user of the account, manages this.
    #[error("{}", match .0 {
        Managed::System => "only the system administrator manages accounts and console users".to_owned(),
        Managed::Account(account) => format!("not allowed to manage account {account}"),
    })]
    NotManager(Managed),
}

/// The answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Go ahead.
    Allow,
    /// Refused, and why.
    Deny(Denial),
}

impl Decision {
    /// Whether the action is allowed.
    pub fn is_allowed(&self) -> bool {
        matches!(self, Decision::Allow)
    }

    /// `Ok(())` or the denial.
    pub fn into_result(self) -> Result<(), Denial> {
        match self {
            Decision::Allow => Ok(()),
            Decision::Deny(denial) => Err(denial),
        }
    }
}

/// May `principal` perform `action` on `target` at time `now`? See the module's table.
pub fn authorize(
    principal: &Principal,
    action: Action,
    target: Target<'_>,
    now: Timestamp,
) -> Decision {
    let repository = target.repository.clone();
    let public_pull = action == Action::Pull && target.access == Access::Public;
    let not_permitted = || {
        Decision::Deny(Denial::NotPermitted {
            action,
            repository: repository.clone(),
        })
    };
    match principal {
        Principal::SystemAdmin => Decision::Allow,
        Principal::ConsoleUser { account } if *account == target.account => Decision::Allow,
        Principal::ConsoleUser { .. } if public_pull => Decision::Allow,
        Principal::ConsoleUser { .. } => not_permitted(),
        Principal::Anonymous if public_pull => Decision::Allow,
        Principal::Anonymous => {
            Decision::Deny(Denial::AuthenticationRequired { action, repository })
        }
        Principal::Token(token) => {
            if token
                .grants
                .iter()
                .any(|(r, a)| *r == repository && *a == action)
                || public_pull
            {
                return Decision::Allow;
            }
            match token
                .refusals
                .iter()
                .find(|(r, a, _)| *r == repository && *a == action)
            {
                Some((_, _, reason)) => Decision::Deny(Denial::Refused {
                    reason: reason.clone(),
                }),
                None => Decision::Deny(Denial::InsufficientScope { action, repository }),
            }
        }
        Principal::RepositoryUser(user) => {
            if user.disabled {
                return Decision::Deny(Denial::Disabled {
                    user: user.name.clone(),
                });
            }
            if user.expires.is_some_and(|expires| expires <= now) {
                return Decision::Deny(Denial::Expired {
                    user: user.name.clone(),
                });
            }
            let permission = (user.account == target.account)
                .then(|| {
                    user.permissions
                        .iter()
                        .find(|(r, _)| *r == repository)
                        .map(|(_, p)| *p)
                })
                .flatten();
            match (permission, action) {
                (_, Action::Manage) => not_permitted(),
                (Some(Permission::PushPull), _) | (Some(Permission::Pull), Action::Pull) => {
                    Decision::Allow
                }
                (Some(Permission::Pull), _) => Decision::Deny(Denial::PullOnly {
                    user: user.name.clone(),
                    action,
                    repository,
                }),
                (None, _) if public_pull => Decision::Allow,
                (None, _) => not_permitted(),
            }
        }
    }
}

/// May `principal` manage `what`? An account is managed by its console users and the system
/// administrator; accounts and console users by the administrator alone. Robots, tokens and
/// anonymous callers manage nothing.
pub fn authorize_management(principal: &Principal, what: Managed) -> Decision {
    match (principal, what) {
        (Principal::SystemAdmin, _) => Decision::Allow,
        (Principal::ConsoleUser { account }, Managed::Account(asked)) if *account == asked => {
            Decision::Allow
        }
        _ => Decision::Deny(Denial::NotManager(what)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Timestamp = Timestamp::from_unix_millis(1_000_000);
    const OWN: AccountId = AccountId(1);
    const OTHER: AccountId = AccountId(2);

    fn repo(s: &str) -> RepositoryName {
        RepositoryName::parse(s).unwrap()
    }

    fn robot(permission: Option<Permission>, expires: Option<i64>, disabled: bool) -> Principal {
        Principal::RepositoryUser(RepositoryUserFacts {
            name: "1-ci".into(),
            account: OWN,
            expires: expires.map(Timestamp::from_unix_millis),
            disabled,
            permissions: permission
                .map(|p| vec![(repo("mine"), p)])
                .unwrap_or_default(),
        })
    }

    /// A token allows exactly its grants (and public pulls); an action refused at issue time
    /// answers with that refusal, one never asked for asks for a new token.
    #[test]
    fn management_belongs_to_the_account_and_the_admin() {
        let console = Principal::ConsoleUser { account: OWN };
        let token = Principal::Token(TokenFacts {
            subject: Some("1-ci".into()),
            account: Some(OWN),
            grants: Vec::new(),
            refusals: Vec::new(),
        });
        let cases = [
            (Principal::SystemAdmin, Managed::System, true),
            (Principal::SystemAdmin, Managed::Account(OTHER), true),
            (console.clone(), Managed::Account(OWN), true),
            (console.clone(), Managed::Account(OTHER), false),
            (console, Managed::System, false),
            (
                robot(Some(Permission::PushPull), None, false),
                Managed::Account(OWN),
                false,
            ),
            (token, Managed::Account(OWN), false),
            (Principal::Anonymous, Managed::Account(OWN), false),
        ];
        for (principal, what, allowed) in cases {
            let decision = authorize_management(&principal, what);
            assert_eq!(
                decision.is_allowed(),
                allowed,
                "{principal:?} manages {what}"
            );
            if !allowed {
                assert_eq!(decision, Decision::Deny(Denial::NotManager(what)));
            }
        }
    }

    #[test]
    fn tokens_allow_their_grants_only() {
        let mine = repo("mine");
        let token = Principal::Token(TokenFacts {
            subject: Some("1-ci".into()),
            account: Some(OWN),
            grants: vec![(mine.clone(), Action::Pull)],
            refusals: vec![(mine.clone(), Action::Push, "pull only".into())],
        });
        let target = |access| Target {
            repository: &mine,
            account: OTHER,
            access,
        };
        let decide = |action, access| authorize(&token, action, target(access), NOW);
        assert!(decide(Action::Pull, Access::Private).is_allowed());
        assert_eq!(
            decide(Action::Push, Access::Private),
            Decision::Deny(Denial::Refused {
                reason: "pull only".into()
            })
        );
        assert_eq!(
            decide(Action::Delete, Access::Public),
            Decision::Deny(Denial::InsufficientScope {
                action: Action::Delete,
                repository: mine.clone()
            })
        );
        let other = repo("other");
        let public = Target {
            repository: &other,
            account: OTHER,
            access: Access::Public,
        };
        assert!(authorize(&token, Action::Pull, public, NOW).is_allowed());
        let private = Target {
            access: Access::Private,
            ..public
        };
        assert!(!authorize(&token, Action::Pull, private, NOW).is_allowed());
    }

    /// What each principal may do, over every action, access level and ownership: the module's
    /// table, written out as expectations.
    #[test]
    fn decision_table_is_exhaustive() {
        let principals: Vec<(&str, Principal)> = vec![
            ("admin", Principal::SystemAdmin),
            ("console", Principal::ConsoleUser { account: OWN }),
            ("anonymous", Principal::Anonymous),
            ("push_pull", robot(Some(Permission::PushPull), None, false)),
            ("pull", robot(Some(Permission::Pull), None, false)),
            ("none", robot(None, None, false)),
            (
                "expired",
                robot(Some(Permission::PushPull), Some(NOW.unix_millis()), false),
            ),
            (
                "not-yet-expired",
                robot(
                    Some(Permission::PushPull),
                    Some(NOW.unix_millis() + 1),
                    false,
                ),
            ),
            ("disabled", robot(Some(Permission::PushPull), None, true)),
        ];
        let mine = repo("mine");
        for (label, principal) in &principals {
            for own in [true, false] {
                for access in [Access::Public, Access::Private] {
                    for action in Action::ALL {
                        let target = Target {
                            repository: &mine,
                            account: if own { OWN } else { OTHER },
                            access,
                        };
                        let allowed = authorize(principal, action, target, NOW).is_allowed();
                        let public_pull = access == Access::Public && action == Action::Pull;
                        let expected = match *label {
                            "admin" => true,
                            "console" => own || public_pull,
                            "anonymous" | "none" => public_pull,
                            "push_pull" | "not-yet-expired" => {
                                (own && action != Action::Manage) || public_pull
                            }
                            "pull" => (own && action == Action::Pull) || public_pull,
                            "expired" | "disabled" => false,
                            _ => unreachable!(),
                        };
                        assert_eq!(allowed, expected, "{label} {action} own={own} {access:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn denials_say_why() {
        let mine = repo("mine");
        let target = Target {
            repository: &mine,
            account: OWN,
            access: Access::Private,
        };
        let deny = |p: &Principal, a| {
            authorize(p, a, target, NOW)
                .into_result()
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            deny(&robot(Some(Permission::Pull), None, false), Action::Push),
            "repository user 1-ci may only pull from mine, not push"
        );
        assert_eq!(
            deny(&robot(None, Some(5), false), Action::Pull),
            "repository user 1-ci expired; extend its expiration date to use it again"
        );
        assert_eq!(
            deny(&robot(None, None, true), Action::Pull),
            "repository user 1-ci is disabled"
        );
        assert_eq!(
            deny(&Principal::Anonymous, Action::Pull),
            "authentication required to pull mine"
        );
        assert_eq!(
            deny(&robot(None, None, false), Action::Pull),
            "not allowed to pull mine"
        );
    }

    #[test]
    fn a_permission_on_another_accounts_repository_of_the_same_name_grants_nothing() {
        // Permissions are checked against the account too, not only the name.
        let mine = repo("mine");
        let target = Target {
            repository: &mine,
            account: OTHER,
            access: Access::Private,
        };
        let principal = robot(Some(Permission::PushPull), None, false);
        assert!(!authorize(&principal, Action::Pull, target, NOW).is_allowed());
    }
}
