//! Management through the engine: who may manage what (through berth-policy), what another
//! tenant sees of an account ("not found"), and that each operation keeps the engine's caches
//! and the history true without the caller's help.

mod support;

use std::sync::Arc;

use berth_core::identity::{ConsoleUserChange, RepositoryUserSpec};
use berth_core::{ManageError, Registry, RemoteRegistryChange, RemoteRegistrySpec};
use berth_meta::{
    Access, AccountId, ConsoleUser, HistoryAction, MemoryMetadata, NewRepository, Page, Permission,
    Proxy, RepositoryUpdate,
};
use berth_model::{RegistryName, RepositoryUserName};
use berth_policy::{Denial, Managed, Principal};
use berth_storage::MemoryStore;
use support::*;

const OTHER: AccountId = AccountId(20000);
const PAGE: Page = Page { page: 1, size: 50 };

async fn setup() -> (Registry, ConsoleUser, ConsoleUser) {
    let registry = registry(
        Arc::new(MemoryStore::new()),
        Arc::new(MemoryMetadata::new()),
        None,
    )
    .await;
    let admin = registry.manage(Principal::SystemAdmin, None);
    admin.create_account(OTHER, "rival").await.unwrap();
    let mine = admin
        .create_console_user(Some(ACCOUNT), "alice", "a long enough password")
        .await
        .unwrap();
    let theirs = admin
        .create_console_user(Some(OTHER), "mallory", "a long enough password")
        .await
        .unwrap();
    (registry, mine, theirs)
}

fn console(user: &ConsoleUser) -> Principal {
    Principal::ConsoleUser {
        account: user.account.unwrap(),
    }
}

fn new_repository(account: AccountId, name: &str) -> NewRepository {
    NewRepository {
        account,
        name: repo(name),
        access: Access::Private,
        quota: None,
        delete_orphan_referrers: true,
        proxy: None,
    }
}

fn is_not_found(e: &ManageError) -> bool {
    matches!(e, ManageError::NotFound { .. })
}

/// Another account's repositories and repository users are "not found", exactly like missing
/// ones; its lists and its writes are refused by the policy.
#[tokio::test]
async fn another_tenant_sees_nothing_of_an_account() {
    let (registry, mine, theirs) = setup().await;
    let alice = registry.manage(console(&mine), Some(mine.clone()));
    let user = alice
        .create_repository_user(
            ACCOUNT,
            RepositoryUserSpec {
                name: Some("ci".into()),
                description: String::new(),
                expires: None,
                permissions: vec![(repo("team"), Permission::PushPull)],
            },
        )
        .await
        .unwrap();
    let mallory = registry.manage(console(&theirs), Some(theirs.clone()));
    let name = RepositoryUserName::parse(&user.record.name).unwrap();

    let existing = mallory.repository(&repo("team")).await.unwrap_err();
    let missing = mallory.repository(&repo("nothing")).await.unwrap_err();
    assert!(is_not_found(&existing) && is_not_found(&missing));
    assert_eq!(
        existing.to_string().replace("team", "X"),
        missing.to_string().replace("nothing", "X"),
        "the same answer for another's and for none"
    );
    for result in [
        mallory
            .update_repository(&repo("team"), RepositoryUpdate::default())
            .await
            .map(drop),
        mallory.delete_repository(&repo("team")).await,
        mallory.history(&repo("team"), PAGE).await.map(drop),
        mallory.images(&repo("team"), None, PAGE).await.map(drop),
        mallory.repository_user(&name).await.map(drop),
        mallory.refresh_secret(&name).await.map(drop),
        mallory.delete_repository_user(&name).await,
    ] {
        assert!(is_not_found(&result.unwrap_err()));
    }
    for result in [
        mallory.repositories(ACCOUNT, PAGE).await.map(drop),
        mallory
            .repository_users(ACCOUNT, None, PAGE)
            .await
            .map(drop),
        mallory
            .create_repository(new_repository(ACCOUNT, "planted"))
            .await
            .map(drop),
    ] {
        assert!(matches!(
            result.unwrap_err(),
            ManageError::Denied(Denial::NotManager(Managed::Account(ACCOUNT)))
        ));
    }
    // Its own account is its to manage, and the secret it had still works (nothing changed).
    mallory
        .create_repository(new_repository(OTHER, "rival-app"))
        .await
        .unwrap();
    assert_eq!(
        alice.repository_user(&name).await.unwrap().name,
        user.record.name
    );
}

/// Accounts and console users are the administrator's; robots, tokens and anonymous callers
/// manage nothing at all.
#[tokio::test]
async fn accounts_and_console_users_are_the_administrators() {
    let (registry, mine, _) = setup().await;
    let alice = registry.manage(console(&mine), Some(mine.clone()));
    let refused = |r: Result<(), ManageError>| {
        assert!(matches!(
            r.unwrap_err(),
            ManageError::Denied(Denial::NotManager(Managed::System))
        ))
    };
    refused(alice.accounts(PAGE).await.map(drop));
    refused(alice.create_account(AccountId(3), "new").await.map(drop));
    refused(alice.console_users(None, PAGE).await.map(drop));
    refused(
        alice
            .create_console_user(None, "root2", "a long enough password")
            .await
            .map(drop),
    );
    refused(alice.delete_console_user("mallory").await);

    let robot = robot("10042-ci", &[("team", Permission::PushPull)], None);
    for principal in [robot, Principal::Anonymous] {
        let manager = registry.manage(principal, None);
        assert!(matches!(
            manager.repositories(ACCOUNT, PAGE).await.unwrap_err(),
            ManageError::Denied(_)
        ));
        assert!(is_not_found(
            &manager.repository(&repo("team")).await.unwrap_err()
        ));
    }

    let admin = registry.manage(Principal::SystemAdmin, None);
    assert_eq!(admin.accounts(PAGE).await.unwrap().total, 2);
    assert!(matches!(
        admin
            .create_console_user(Some(AccountId(999)), "ghost", "a long enough password")
            .await
            .unwrap_err(),
        ManageError::Invalid(_)
    ));
}

/// An administrator cannot disable or delete itself, nor reset its own password without the
/// current one; another administrator can.
#[tokio::test]
async fn an_administrator_cannot_lock_itself_out() {
    let (registry, _, _) = setup().await;
    let system = registry.manage(Principal::SystemAdmin, None);
    let root = system
        .create_console_user(None, "root", "a long enough password")
        .await
        .unwrap();
    let other = system
        .create_console_user(None, "root2", "a long enough password")
        .await
        .unwrap();
    let me = registry.manage(Principal::SystemAdmin, Some(root.clone()));
    let disable = ConsoleUserChange {
        password: None,
        disabled: Some(true),
    };
    assert!(matches!(
        me.update_console_user("root", disable.clone())
            .await
            .unwrap_err(),
        ManageError::Conflict(_)
    ));
    assert!(matches!(
        me.delete_console_user("root").await.unwrap_err(),
        ManageError::Conflict(_)
    ));
    let them = registry.manage(Principal::SystemAdmin, Some(other));
    assert!(
        them.update_console_user("root", disable)
            .await
            .unwrap()
            .disabled
    );
}

/// Creating and changing a repository through the manager applies at once on this node (the
/// engine forgets its cached record itself) and is recorded with the caller's name.
#[tokio::test]
async fn changes_apply_at_once_and_are_recorded() {
    let (registry, mine, _) = setup().await;
    let alice = registry.manage(console(&mine), Some(mine.clone()));
    let who = pusher();
    // The engine looks the name up (and caches "missing") before the repository exists.
    assert!(
        registry
            .check(&who, berth_policy::Action::Pull, &repo("fresh"))
            .await
            .is_err()
    );
    alice
        .create_repository(new_repository(ACCOUNT, "fresh"))
        .await
        .unwrap();
    registry
        .check(
            &Principal::SystemAdmin,
            berth_policy::Action::Push,
            &repo("fresh"),
        )
        .await
        .expect("the new repository is seen at once");
    alice
        .update_repository(
            &repo("fresh"),
            RepositoryUpdate {
                access: Some(Access::Public),
                ..RepositoryUpdate::default()
            },
        )
        .await
        .unwrap();
    registry
        .check(
            &Principal::Anonymous,
            berth_policy::Action::Pull,
            &repo("fresh"),
        )
        .await
        .expect("the access change applies at once");
    let history = alice.history(&repo("fresh"), PAGE).await.unwrap();
    let actions: Vec<_> = history
        .items
        .iter()
        .map(|e| (e.action, e.actor.as_str()))
        .collect();
    assert_eq!(
        actions,
        [
            (HistoryAction::Update, "alice"),
            (HistoryAction::Create, "alice")
        ]
    );
    alice.delete_repository(&repo("fresh")).await.unwrap();
    assert!(
        registry
            .check(
                &Principal::SystemAdmin,
                berth_policy::Action::Pull,
                &repo("fresh")
            )
            .await
            .is_err()
    );
}

/// API tokens are their user's own: listed, and deleted by id, only by that user.
#[tokio::test]
async fn api_tokens_belong_to_their_user() {
    let (registry, mine, theirs) = setup().await;
    let alice = registry.manage(console(&mine), Some(mine.clone()));
    let mallory = registry.manage(console(&theirs), Some(theirs.clone()));
    let token = alice.create_api_token("ci", None).await.unwrap();
    let id = token.record.id();
    assert!(mallory.api_tokens().await.unwrap().is_empty());
    assert!(is_not_found(
        &mallory.delete_api_token(&id).await.unwrap_err()
    ));
    assert_eq!(alice.api_tokens().await.unwrap().len(), 1);
    alice.delete_api_token(&id).await.unwrap();
    assert!(alice.api_tokens().await.unwrap().is_empty());
    // The system itself (the admin CLI) has no user to own tokens.
    let system = registry.manage(Principal::SystemAdmin, None);
    assert!(matches!(
        system.api_tokens().await.unwrap_err(),
        ManageError::Invalid(_)
    ));
}

/// The administrator (the admin CLI) manages any console user's API tokens by its name; the
/// token it creates logs in as that user; a console user cannot reach another's this way.
#[tokio::test]
async fn the_administrator_manages_any_users_api_tokens() {
    let (registry, mine, theirs) = setup().await;
    let system = registry.manage(Principal::SystemAdmin, None);
    let created = system
        .create_api_token_for("alice", "deploy", None)
        .await
        .unwrap();
    assert_eq!(created.record.user, mine.id);
    let (principal, user) = registry
        .identity()
        .login_with_api_token(None, &created.secret)
        .await
        .unwrap();
    assert_eq!(
        (principal, user.username.as_str()),
        (console(&mine), "alice")
    );
    let alice = registry.manage(console(&mine), Some(mine.clone()));
    assert_eq!(alice.api_tokens().await.unwrap().len(), 1);
    let id = created.record.id();
    assert_eq!(system.api_tokens_of("alice").await.unwrap().len(), 1);
    assert!(system.api_tokens_of("mallory").await.unwrap().is_empty());
    assert!(is_not_found(
        &system
            .delete_api_token_of("mallory", &id)
            .await
            .unwrap_err()
    ));
    assert!(is_not_found(
        &system.api_tokens_of("nobody").await.unwrap_err()
    ));

    let mallory = registry.manage(console(&theirs), Some(theirs.clone()));
    assert!(matches!(
        mallory.api_tokens_of("alice").await.unwrap_err(),
        ManageError::Denied(_)
    ));
    assert!(matches!(
        mallory
            .create_api_token_for("alice", "x", None)
            .await
            .unwrap_err(),
        ManageError::Denied(_)
    ));

    system.delete_api_token_of("alice", &id).await.unwrap();
    assert!(alice.api_tokens().await.unwrap().is_empty());
    assert!(
        registry
            .identity()
            .login_with_api_token(None, &created.secret)
            .await
            .is_err()
    );
}

/// A repository user's grant, change and removal show in the history of the repositories it
/// concerns, under the name of the console user who made them.
#[tokio::test]
async fn repository_user_changes_show_in_repository_history() {
    let (registry, mine, _) = setup().await;
    let alice = registry.manage(console(&mine), Some(mine.clone()));
    let user = alice
        .create_repository_user(
            ACCOUNT,
            RepositoryUserSpec {
                name: Some("ci".into()),
                description: String::new(),
                expires: None,
                permissions: vec![(repo("team"), Permission::Pull)],
            },
        )
        .await
        .unwrap();
    let name = berth_model::RepositoryUserName::parse(&user.record.name).unwrap();
    alice.refresh_secret(&name).await.unwrap();
    alice.delete_repository_user(&name).await.unwrap();
    let history = alice.history(&repo("team"), PAGE).await.unwrap();
    let told: Vec<_> = history
        .items
        .iter()
        .filter(|e| e.target.as_deref() == Some(user.record.name.as_str()))
        .map(|e| (e.action, e.actor.as_str()))
        .collect();
    assert_eq!(
        told,
        [
            (HistoryAction::RemoveUser, "alice"),
            (HistoryAction::ChangeUser, "alice"),
            (HistoryAction::AddUser, "alice"),
        ]
    );
    assert!(
        alice
            .history(&repo("public"), PAGE)
            .await
            .unwrap()
            .items
            .iter()
            .all(|e| e.target.as_deref() != Some(user.record.name.as_str())),
        "nothing in a repository the user had no permission on"
    );
}

fn spec(name: &str, username: Option<&str>, password: Option<&str>) -> RemoteRegistrySpec {
    RemoteRegistrySpec {
        name: RegistryName::parse(name).unwrap(),
        url: "https://Registry.Example.com/".into(),
        username: username.map(str::to_owned),
        password: password.map(str::to_owned),
        insecure: false,
    }
}

/// Remote registries: created with the URL normalised and the password sealed under the
/// configured key, listed, changed (a removed username takes the password along), and deleted
/// unless a proxy repository uses one; another account's console user sees none of them.
#[tokio::test]
async fn remote_registries_are_managed_with_sealed_passwords() {
    let (registry, mine, theirs) = setup().await;
    let alice = registry.manage(console(&mine), Some(mine.clone()));
    let key = &registry.config().sealing_key;
    let hub = alice
        .create_registry(ACCOUNT, spec("hub", Some("bot"), Some("s3cret-pass")))
        .await
        .unwrap();
    assert_eq!(hub.url, "https://registry.example.com");
    let sealed = hub.sealed_password.clone().unwrap();
    assert!(!sealed.windows(11).any(|w| w == b"s3cret-pass"));
    assert_eq!(key.open(&sealed).unwrap(), b"s3cret-pass");
    let dup = alice
        .create_registry(ACCOUNT, spec("hub", None, None))
        .await
        .unwrap_err();
    assert!(matches!(dup, ManageError::Conflict(_)), "{dup:?}");
    for (bad, reason) in [
        (spec("x", None, Some("pw")), "needs a username"),
        (spec("x", Some(""), None), "empty"),
        (spec("x", Some("a:b"), None), "':'"),
        (spec("x", Some(&"u".repeat(257)), None), "limit"),
        (spec("x", Some("u"), Some(&"p".repeat(4097))), "limit"),
        (
            RemoteRegistrySpec {
                url: "https://u:p@example.com".into(),
                ..spec("x", None, None)
            },
            "user or password",
        ),
    ] {
        let e = alice.create_registry(ACCOUNT, bad).await.unwrap_err();
        assert!(
            matches!(&e, ManageError::Invalid(m) if m.contains(reason)),
            "{reason}: {e:?}"
        );
    }
    alice
        .create_registry(ACCOUNT, spec("ghcr", None, None))
        .await
        .unwrap();
    let names: Vec<_> = alice
        .registries(ACCOUNT)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.name.to_string())
        .collect();
    assert_eq!(names, ["ghcr", "hub"]);

    let hub_name = RegistryName::parse("hub").unwrap();
    let changed = alice
        .update_registry(
            ACCOUNT,
            &hub_name,
            RemoteRegistryChange {
                password: Some(Some("another-pass".into())),
                insecure: Some(true),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(changed.insecure);
    assert_eq!(changed.username.as_deref(), Some("bot"));
    assert_eq!(
        key.open(changed.sealed_password.as_deref().unwrap())
            .unwrap(),
        b"another-pass"
    );
    let anonymous = alice
        .update_registry(
            ACCOUNT,
            &hub_name,
            RemoteRegistryChange {
                username: Some(None),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        (anonymous.username, anonymous.sealed_password),
        (None, None)
    );
    let e = alice
        .update_registry(
            ACCOUNT,
            &hub_name,
            RemoteRegistryChange {
                password: Some(Some("pw".into())),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(e, ManageError::Invalid(_)), "{e:?}");

    // Another account's console user: its lists are refused, the registries "not found".
    let mallory = registry.manage(console(&theirs), Some(theirs.clone()));
    assert!(matches!(
        mallory.registries(ACCOUNT).await,
        Err(ManageError::Denied(_))
    ));
    assert!(mallory.registries(OTHER).await.unwrap().is_empty());
    assert!(is_not_found(
        &mallory.registry(ACCOUNT, &hub_name).await.unwrap_err()
    ));
    assert!(is_not_found(
        &mallory
            .update_registry(ACCOUNT, &hub_name, RemoteRegistryChange::default())
            .await
            .unwrap_err()
    ));
    assert!(is_not_found(
        &mallory
            .delete_registry(ACCOUNT, &hub_name)
            .await
            .unwrap_err()
    ));
    assert!(is_not_found(
        &mallory.registry(OTHER, &hub_name).await.unwrap_err()
    ));

    // A proxy repository holds its registry; an unknown registry is refused at creation.
    let proxy = |registry: &str| NewRepository {
        proxy: Some(Proxy {
            registry: RegistryName::parse(registry).unwrap(),
            namespace: Some(berth_model::ImageName::parse("library").unwrap()),
        }),
        ..new_repository(ACCOUNT, "hub-cache")
    };
    let e = alice.create_repository(proxy("nope")).await.unwrap_err();
    assert!(
        matches!(&e, ManageError::Invalid(m) if m == "registry nope does not exist"),
        "{e:?}"
    );
    let cache = alice.create_repository(proxy("hub")).await.unwrap();
    assert_eq!(cache.proxy.unwrap().registry, hub_name);
    let e = alice.delete_registry(ACCOUNT, &hub_name).await.unwrap_err();
    assert!(
        matches!(
            &e,
            ManageError::Metadata(berth_meta::Error::RegistryInUse { repository, .. })
                if repository.as_str() == "hub-cache"
        ),
        "{e:?}"
    );
    alice.delete_repository(&repo("hub-cache")).await.unwrap();
    alice.delete_registry(ACCOUNT, &hub_name).await.unwrap();
    assert!(is_not_found(
        &alice.registry(ACCOUNT, &hub_name).await.unwrap_err()
    ));
    assert!(is_not_found(
        &alice.delete_registry(ACCOUNT, &hub_name).await.unwrap_err()
    ));
}

/// A loopback "registry" answering every request `200 {}` (anonymous access), on its own thread.
fn fake_upstream() -> String {
    use std::io::{Read as _, Write as _};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut seen = Vec::new();
            let mut buf = [0u8; 1024];
            while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => seen.extend_from_slice(&buf[..n]),
                }
            }
            let _ = stream.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}",
            );
        }
    });
    format!("http://{address}")
}

/// Ping goes through the engine's client: an answering upstream is reachable, a closed port is
/// not, a password sealed under another key is reported without asking, and another account's
/// registry is "not found".
#[tokio::test]
async fn pinging_a_registry_reports_what_it_found() {
    let (registry, mine, theirs) = setup().await;
    let alice = registry.manage(console(&mine), Some(mine.clone()));
    let up = RemoteRegistrySpec {
        url: fake_upstream(),
        ..spec("up", None, None)
    };
    alice.create_registry(ACCOUNT, up).await.unwrap();
    let up = RegistryName::parse("up").unwrap();
    let ping = alice.ping_registry(ACCOUNT, &up).await.unwrap();
    assert!(ping.reachable && !ping.authenticated, "{ping:?}");

    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let down = RemoteRegistrySpec {
        url: format!("http://{}", closed.local_addr().unwrap()),
        ..spec("down", None, None)
    };
    drop(closed);
    alice.create_registry(ACCOUNT, down).await.unwrap();
    let ping = alice
        .ping_registry(ACCOUNT, &RegistryName::parse("down").unwrap())
        .await
        .unwrap();
    assert!(!ping.reachable, "{ping:?}");

    // The sealing key changed since the password was stored.
    alice
        .create_registry(ACCOUNT, spec("rekeyed", Some("bot"), Some("pw")))
        .await
        .unwrap();
    let rekeyed = RegistryName::parse("rekeyed").unwrap();
    let other = berth_core::sealing::SealingKey::new(&[9; 32]).unwrap();
    registry
        .metadata()
        .update_remote_registry(
            ACCOUNT,
            &rekeyed,
            berth_meta::RemoteRegistryUpdate {
                sealed_password: Some(Some(other.seal(b"pw"))),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let ping = alice.ping_registry(ACCOUNT, &rekeyed).await.unwrap();
    assert!(!ping.reachable, "{ping:?}");
    assert!(ping.message.contains("does not open"), "{}", ping.message);

    let mallory = registry.manage(console(&theirs), Some(theirs.clone()));
    assert!(is_not_found(
        &mallory.ping_registry(ACCOUNT, &up).await.unwrap_err()
    ));
}
