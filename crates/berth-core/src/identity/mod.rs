//! Who is calling: logins for repository users, console users and the system administrator,
//! and the lifecycle of their credentials.
//!
//! Repository-user secrets are random, shown once (the return value of
//! [`Identity::create_repository_user`] and [`Identity::refresh_secret`]), stored as a keyed
//! hash, and compared in constant time. Console passwords are argon2id hashes; a verified
//! password is remembered in memory (as a keyed digest) so that clients sending Basic
//! credentials on every request pay for argon2 once, until the stored hash changes.
//!
//! Records are cached for [`Identity::CACHE_TTL`]: a change made through this `Identity` is seen
//! at once on this node, and by other nodes (or a CLI process) within that time. Expiry and the
//! disabled flag are checked at every login against that record; a login about to be refused
//! reads the current record first, and the token endpoint always does
//! ([`Identity::login_current`]).
//!
//! Timing tells nothing: every refused login costs one argon2 verification, whether the name is
//! a repository user, a console user or unknown (a wrong robot secret and an unknown name are
//! checked against a decoy hash), and the remembered digest short-cuts only the exact right
//! password. argon2 runs on blocking threads, a few at a time, never on the async workers.
//! Failures are throttled per source and name, per name and per source (`throttle.rs`), and
//! logged at `warn` with the name, the source and the reason, never a secret.
//!
//! Console sessions are random ids the browser holds in a cookie, stored as their hash:
//! logging out ends one at once, and a password change, disable or delete ends all of a user's
//! sessions and API tokens.

pub(crate) mod secret;
mod throttle;

pub use secret::API_TOKEN_PREFIX;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::clock::Clock;

use berth_meta::{
    AccountStore, ApiToken, ConsoleSession, ConsoleUser, ConsoleUserUpdate, NewRepositoryUser,
    Page, Paged, RepositoryUser, RepositoryUserUpdate,
};
use berth_model::{AccountId, Permission, RepositoryName, RepositoryUserName, Timestamp};
use berth_policy::{Principal, RepositoryUserFacts};
use tokio::sync::Semaphore;
use tracing::{info, warn};

use crate::ttl::Cache;
use throttle::Throttle;

/// Why a login or a credential operation failed.
///
/// Exhaustive on purpose: a new variant must find its row in berth-v2's error table.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// Unknown user or wrong secret (which of the two is not told).
    #[error("invalid username or password")]
    BadCredentials,
    /// The repository user's expiry date has passed.
    #[error("repository user {user} expired; extend its expiration date to use it again")]
    Expired {
        /// The user.
        user: String,
    },
    /// The user is disabled.
    #[error("user {user} is disabled")]
    Disabled {
        /// The user.
        user: String,
    },
    /// Too many failed logins from this source; try again later.
    #[error("too many failed logins; try again in {} s", retry_after.as_secs().max(1))]
    TooManyAttempts {
        /// How long to wait.
        retry_after: Duration,
    },
    /// A name or value given is not acceptable; the message says why.
    #[error("{0}")]
    Invalid(String),
    /// No such user or account.
    #[error("{what} {name} does not exist")]
    NotFound {
        /// What kind of thing.
        what: &'static str,
        /// Which one.
        name: String,
    },
    /// The name is taken.
    #[error("{what} {name} already exists")]
    AlreadyExists {
        /// What kind of thing.
        what: &'static str,
        /// Which one.
        name: String,
    },
    /// A permission names a repository of another account (or none).
    #[error("repository {0} does not exist in this account")]
    ForeignRepository(RepositoryName),
    /// The metadata store failed.
    #[error("metadata failed: {0}")]
    Backend(#[source] berth_meta::Error),
}

impl IdentityError {
    fn backend(e: berth_meta::Error) -> Self {
        match e {
            berth_meta::Error::ForeignRepository(r) => IdentityError::ForeignRepository(r),
            berth_meta::Error::NotFound { entity, name } => IdentityError::NotFound {
                what: entity_word(entity),
                name,
            },
            berth_meta::Error::AlreadyExists { entity, name } => IdentityError::AlreadyExists {
                what: entity_word(entity),
                name,
            },
            e => IdentityError::Backend(e),
        }
    }
}

fn entity_word(entity: berth_meta::Entity) -> &'static str {
    match entity {
        berth_meta::Entity::Account => "account",
        berth_meta::Entity::ConsoleUser => "console user",
        berth_meta::Entity::RepositoryUser => "repository user",
        berth_meta::Entity::Repository => "repository",
        _ => "record",
    }
}

/// What creating a repository user takes.
#[derive(Debug, Clone, Default)]
pub struct RepositoryUserSpec {
    /// Its name, with or without the account prefix (`ci` or `10042-ci` in account 10042:
    /// [`RepositoryUserName::for_account`]). Generated when `None`.
    pub name: Option<String>,
    /// A description.
    pub description: String,
    /// When it locks, if ever (a time in the past creates it locked).
    pub expires: Option<Timestamp>,
    /// Its permissions; each repository must belong to the account.
    pub permissions: Vec<(RepositoryName, Permission)>,
}

/// A credential and the secret that goes with it, which exists only in this value.
#[derive(Debug, Clone)]
pub struct WithSecret<T> {
    /// The record.
    pub record: T,
    /// The secret, to show once.
    pub secret: String,
}

/// The name and password of the system administrator after [`Identity::bootstrap`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bootstrap {
    /// Whether the account was created now.
    pub account_created: bool,
    /// The administrator's password when it was generated now (shown once).
    pub generated_admin_password: Option<String>,
}

/// Which user records a login reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Records {
    /// From the cache when fresh enough.
    Cached,
    /// From the store, now.
    Current,
}

/// The system administrator's login name.
pub const ADMIN: &str = "admin";

/// Logins and credentials over a metadata store.
#[derive(Debug)]
pub struct Identity {
    meta: Arc<dyn AccountStore>,
    clock: Arc<dyn Clock>,
    repository_users: Cache<Option<RepositoryUser>>,
    console_users: Cache<Option<ConsoleUser>>,
    /// Console user name → (the PHC hash it was verified against, the keyed digest of the
    /// password that matched it).
    verified: Mutex<HashMap<String, (String, [u8; 32])>>,
    remember_key: [u8; 32],
    throttle: Throttle,
    /// argon2 computations running at once (each takes ~19 MiB and tens of milliseconds).
    argon2: Arc<Semaphore>,
}

/// argon2 computations at once: each holds ~19 MiB while it runs, returned after.
const ARGON2_AT_ONCE: usize = 2;

/// The name the throttle counts API-token logins under (tokens have no user name).
const API_TOKEN_LOGIN: &str = "(api token)";

/// Console sessions a user holds at most; logging in again past it ends the oldest.
const SESSIONS_PER_USER: u32 = 20;

/// The shortest console password, in characters.
pub const MIN_PASSWORD_CHARS: usize = 8;
/// The longest console password, in characters.
pub const MAX_PASSWORD_CHARS: usize = 256;

/// A new console user's name: 1 to 64 ASCII letters, digits, `.`, `_`, `-` or `@`, starting
/// with a letter or digit (an existing user with another name still logs in).
pub fn check_console_username(name: &str) -> Result<(), IdentityError> {
    let valid = (1..=64).contains(&name.len())
        && name.as_bytes()[0].is_ascii_alphanumeric()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-@".contains(&b));
    if valid {
        Ok(())
    } else {
        Err(IdentityError::Invalid(format!(
            "console user name {:?} must be 1 to 64 letters, digits, '.', '_', '-' or '@', \
             starting with a letter or digit",
            name.chars().take(80).collect::<String>()
        )))
    }
}

/// A console password: 8 to 256 characters (characters, not bytes).
pub fn check_console_password(password: &str) -> Result<(), IdentityError> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        return Err(IdentityError::Invalid(format!(
            "a console password needs at least {MIN_PASSWORD_CHARS} characters"
        )));
    }
    if chars > MAX_PASSWORD_CHARS {
        return Err(IdentityError::Invalid(format!(
            "a console password has at most {MAX_PASSWORD_CHARS} characters"
        )));
    }
    Ok(())
}

/// Changes to a console user through [`Identity::update_console_user`].
#[derive(Debug, Clone, Default)]
pub struct ConsoleUserChange {
    /// A new password (stored as its argon2 hash).
    pub password: Option<String>,
    /// Disable or enable.
    pub disabled: Option<bool>,
}

/// A name as it goes into a log line: cut short, and printed with `{:?}` by the caller, so a
/// hostile name cannot forge log lines.
fn loggable(name: &str) -> String {
    name.chars().take(64).collect()
}

impl Identity {
    /// How stale a cached user record may be.
    pub const CACHE_TTL: Duration = Duration::from_secs(1);

    /// Logins over `meta`.
    pub fn new(meta: Arc<dyn AccountStore>, clock: Arc<dyn Clock>) -> Self {
        let mut remember_key = [0u8; 32];
        getrandom::fill(&mut remember_key).expect("the operating system's random generator failed");
        Identity {
            meta,
            clock,
            repository_users: Cache::new(),
            console_users: Cache::new(),
            verified: Mutex::new(HashMap::new()),
            remember_key,
            throttle: Throttle::default(),
            argon2: Arc::new(Semaphore::new(ARGON2_AT_ONCE)),
        }
    }

    /// Creates the account `account` (named `account_name`) and the system administrator
    /// [`ADMIN`] when they do not exist yet. The password is `admin_password`, or generated and
    /// returned once. Safe to run on every start, and from several nodes at once.
    pub async fn bootstrap(
        &self,
        account: AccountId,
        account_name: &str,
        admin_password: Option<&str>,
    ) -> Result<Bootstrap, IdentityError> {
        let now = self.clock.now();
        let account_created = match self.meta.account(account).await {
            Ok(Some(_)) => false,
            Ok(None) => match self.meta.create_account(account, account_name, now).await {
                Ok(_) => true,
                Err(berth_meta::Error::AlreadyExists { .. }) => false,
                Err(e) => return Err(IdentityError::backend(e)),
            },
            Err(e) => return Err(IdentityError::backend(e)),
        };
        let mut generated_admin_password = None;
        if self
            .meta
            .console_user(ADMIN)
            .await
            .map_err(IdentityError::backend)?
            .is_none()
        {
            let password = match admin_password {
                Some(p) => p.to_owned(),
                None => secret::random_string(24, b"abcdefghijkmnpqrstuvwxyz23456789"),
            };
            match self.create_console_user(None, ADMIN, &password).await {
                Ok(_) => {
                    if admin_password.is_none() {
                        generated_admin_password = Some(password);
                    }
                }
                // Another node won the race; its password stands.
                Err(IdentityError::AlreadyExists { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(Bootstrap {
            account_created,
            generated_admin_password,
        })
    }

    /// Logs in with a name and a secret or password (HTTP Basic on every request), from
    /// `source` when known (repeated failures from one source are held back). A success may rest
    /// on a record up to [`Identity::CACHE_TTL`] old; a refusal never does: the current record is
    /// read before refusing, so a secret just refreshed or an expiry just extended elsewhere
    /// works at once.
    pub async fn login(
        &self,
        source: Option<IpAddr>,
        username: &str,
        password: &str,
    ) -> Result<Principal, IdentityError> {
        self.throttled(
            source,
            username,
            self.verify(username, password, Records::Cached),
        )
        .await
    }

    /// Logs in against the current record, read now (the token endpoint: a token outlives the
    /// request, so it is issued only on what holds at this instant).
    pub async fn login_current(
        &self,
        source: Option<IpAddr>,
        username: &str,
        password: &str,
    ) -> Result<Principal, IdentityError> {
        self.throttled(
            source,
            username,
            self.verify(username, password, Records::Current),
        )
        .await
    }

    /// Runs `verify` unless `source` is held back for `username`, and counts and logs the
    /// outcome. Without a source (an embedder's own calls), nothing is throttled.
    async fn throttled<T>(
        &self,
        source: Option<IpAddr>,
        username: &str,
        verify: impl std::future::Future<Output = Result<T, IdentityError>>,
    ) -> Result<T, IdentityError> {
        let now = self.clock.instant();
        let Some(source) = source else {
            return verify.await;
        };
        if let Err(refusal) = self.throttle.check(source, username, now) {
            if refusal.first {
                warn!(
                    user = ?loggable(username),
                    %source,
                    held = refusal.held.as_str(),
                    retry_after_s = refusal.retry_after.as_secs(),
                    "login throttled: too many failures"
                );
            }
            crate::metrics::login_throttled();
            return Err(IdentityError::TooManyAttempts {
                retry_after: refusal.retry_after,
            });
        }
        let outcome = verify.await;
        if matches!(
            outcome,
            Err(IdentityError::BadCredentials
                | IdentityError::Expired { .. }
                | IdentityError::Disabled { .. })
        ) {
            crate::metrics::login_failed();
        }
        match &outcome {
            Ok(_) => self.throttle.succeeded(source, username, now),
            Err(IdentityError::BadCredentials) => {
                self.throttle.failed(source, username, now);
                warn!(user = ?loggable(username), %source, reason = "bad_credentials", "login failed");
            }
            Err(IdentityError::Expired { .. }) => {
                warn!(user = ?loggable(username), %source, reason = "expired", "login failed")
            }
            Err(IdentityError::Disabled { .. }) => {
                warn!(user = ?loggable(username), %source, reason = "disabled", "login failed")
            }
            Err(_) => {}
        }
        outcome
    }

    /// Checks a name and a secret or password. With [`Records::Cached`], cached records are
    /// tried first with the cheap checks only (a robot's keyed hash, a console user's remembered
    /// digest); anything short of a full success is decided again on the current records, with
    /// the full check: one argon2 verification for every refusal.
    async fn verify(
        &self,
        username: &str,
        password: &str,
        records: Records,
    ) -> Result<Principal, IdentityError> {
        if records == Records::Cached
            && let Some(principal) = self.verify_quickly(username, password).await?
        {
            return Ok(principal);
        }
        self.repository_users.forget(username);
        self.console_users.forget(username);
        if let Some(user) = self.cached_repository_user(username).await? {
            if secret::secret_matches(&user.name, password, &user.secret_hash) {
                return facts(&user, self.clock.now()).map(Principal::RepositoryUser);
            }
            self.decoy(password).await;
            return Err(IdentityError::BadCredentials);
        }
        if let Some(user) = self.cached_console_user(username).await? {
            if !self.console_password_matches(&user, password).await {
                return Err(IdentityError::BadCredentials);
            }
            return console_principal(&user);
        }
        self.decoy(password).await;
        Err(IdentityError::BadCredentials)
    }

    /// A full success on the cached records with the cheap checks, if there is one.
    async fn verify_quickly(
        &self,
        username: &str,
        password: &str,
    ) -> Result<Option<Principal>, IdentityError> {
        if let Some(user) = self.cached_repository_user(username).await? {
            let ok = secret::secret_matches(&user.name, password, &user.secret_hash);
            return Ok(ok
                .then(|| facts(&user, self.clock.now()).ok())
                .flatten()
                .map(Principal::RepositoryUser));
        }
        if let Some(user) = self.cached_console_user(username).await?
            && !user.disabled
            && self.remembered_matches(&user, password)
        {
            return console_principal(&user).map(Some);
        }
        Ok(None)
    }

    /// Whether `password` is the one last verified for `user`'s current hash.
    fn remembered_matches(&self, user: &ConsoleUser, password: &str) -> bool {
        let digest = secret::remembered(&self.remember_key, &user.username, password);
        let verified = self.verified.lock().expect("verified lock");
        verified
            .get(&user.username)
            .is_some_and(|(phc, remembered)| {
                *phc == user.password_hash
                    && bool::from(subtle::ConstantTimeEq::ct_eq(&digest[..], &remembered[..]))
            })
    }

    /// Whether `password` is `user`'s: the remembered digest for the exact right password, else
    /// a full argon2 verification (remembered when it succeeds).
    async fn console_password_matches(&self, user: &ConsoleUser, password: &str) -> bool {
        if self.remembered_matches(user, password) {
            return true;
        }
        let ok = self
            .argon2(password, Some(user.password_hash.clone()))
            .await;
        if ok {
            let digest = secret::remembered(&self.remember_key, &user.username, password);
            let mut verified = self.verified.lock().expect("verified lock");
            if verified.len() >= crate::ttl::SWEEP_AT {
                verified.clear();
            }
            verified.insert(user.username.clone(), (user.password_hash.clone(), digest));
        }
        ok
    }

    /// As long as checking a wrong password of a real console user, for a refusal that has no
    /// hash to check against.
    async fn decoy(&self, password: &str) {
        self.argon2(password, None).await;
    }

    /// An argon2 verification of `password` against `phc` (the decoy hash when `None`).
    async fn argon2(&self, password: &str, phc: Option<String>) -> bool {
        let password = password.to_owned();
        self.with_argon2(move |memory| match phc {
            Some(phc) => secret::password_matches(&password, &phc, memory),
            None => {
                let decoy = secret::decoy_hash(memory);
                secret::password_matches(&password, decoy, memory);
                false
            }
        })
        .await
    }

    /// Runs an argon2 computation on a blocking thread, [`ARGON2_AT_ONCE`] at a time, in
    /// working memory returned to the system after.
    async fn with_argon2<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut secret::Memory) -> T + Send + 'static,
    ) -> T {
        let _slot = self.argon2.acquire().await;
        tokio::task::spawn_blocking(move || work(&mut secret::fresh_memory()))
            .await
            .expect("argon2 does not panic")
    }

    async fn cached_repository_user(
        &self,
        name: &str,
    ) -> Result<Option<RepositoryUser>, IdentityError> {
        let fetch = async { self.meta.repository_user(name).await };
        self.repository_users
            .get_or_fetch(name, Self::CACHE_TTL, fetch)
            .await
            .map_err(IdentityError::backend)
    }

    async fn cached_console_user(&self, name: &str) -> Result<Option<ConsoleUser>, IdentityError> {
        let fetch = async { self.meta.console_user(name).await };
        self.console_users
            .get_or_fetch(name, Self::CACHE_TTL, fetch)
            .await
            .map_err(IdentityError::backend)
    }

    /// The principal `name` stands for now, without its password: for a token's subject whose
    /// current record decides (the catalog of a token bearer). Unknown names are anonymous.
    pub async fn principal_of(&self, name: &str) -> Result<Principal, IdentityError> {
        if let Some(user) = self.cached_repository_user(name).await? {
            return facts(&user, self.clock.now()).map(Principal::RepositoryUser);
        }
        match self.cached_console_user(name).await? {
            Some(user) => console_principal(&user),
            None => Ok(Principal::Anonymous),
        }
    }

    /// Logs in with an API token (`berth_...`): the console user it belongs to, and what that
    /// user may do. Expired tokens and tokens of deleted users are refused.
    pub async fn login_with_api_token(
        &self,
        source: Option<IpAddr>,
        token: &str,
    ) -> Result<(Principal, ConsoleUser), IdentityError> {
        let verify = async {
            let stored = self
                .meta
                .api_token(&secret::token_hash(token))
                .await
                .map_err(IdentityError::backend)?
                .ok_or(IdentityError::BadCredentials)?;
            if stored.expires.is_some_and(|e| e <= self.clock.now()) {
                return Err(IdentityError::BadCredentials);
            }
            let user = self
                .meta
                .console_user_by_id(stored.user)
                .await
                .map_err(IdentityError::backend)?
                .ok_or(IdentityError::BadCredentials)?;
            let principal = console_principal(&user)?;
            Ok((principal, user))
        };
        self.throttled(source, API_TOKEN_LOGIN, verify).await
    }

    /// Opens a console session for `user`: the session's secret (for the cookie) is returned
    /// once; the store keeps its hash.
    pub async fn open_console_session(
        &self,
        user: &ConsoleUser,
        ttl: Duration,
    ) -> Result<WithSecret<ConsoleSession>, IdentityError> {
        let secret = secret::new_session_id();
        let now = self.clock.now();
        let record = ConsoleSession {
            id_hash: secret::token_hash(&secret),
            user: user.id,
            created: now,
            expires: Timestamp::from_unix_millis(
                now.unix_millis()
                    .saturating_add(i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX)),
            ),
        };
        self.meta
            .create_console_session(record.clone(), SESSIONS_PER_USER)
            .await
            .map_err(IdentityError::backend)?;
        Ok(WithSecret { record, secret })
    }

    /// The console user a session cookie stands for now: refused when the session ended or
    /// expired, or the user is gone or disabled.
    pub async fn console_session(
        &self,
        secret: &str,
    ) -> Result<(Principal, ConsoleUser), IdentityError> {
        let session = self
            .meta
            .console_session(&secret::token_hash(secret))
            .await
            .map_err(IdentityError::backend)?
            .filter(|s| s.expires > self.clock.now())
            .ok_or(IdentityError::BadCredentials)?;
        let user = self
            .meta
            .console_user_by_id(session.user)
            .await
            .map_err(IdentityError::backend)?
            .ok_or(IdentityError::BadCredentials)?;
        Ok((console_principal(&user)?, user))
    }

    /// Ends a console session at once (logging out); ending one that is gone is no error.
    pub async fn end_console_session(&self, secret: &str) -> Result<(), IdentityError> {
        self.meta
            .delete_console_session(&secret::token_hash(secret))
            .await
            .map_err(IdentityError::backend)?;
        Ok(())
    }

    /// A console user changes its own password, proving the current one (throttled like a
    /// login). Its sessions and API tokens end.
    pub async fn change_console_password(
        &self,
        source: Option<IpAddr>,
        username: &str,
        current: &str,
        new: &str,
    ) -> Result<ConsoleUser, IdentityError> {
        check_console_password(new)?;
        let verify = async {
            self.console_users.forget(username);
            let user = self
                .cached_console_user(username)
                .await?
                .ok_or(IdentityError::BadCredentials)?;
            if !self.console_password_matches(&user, current).await {
                return Err(IdentityError::BadCredentials);
            }
            Ok(user)
        };
        let user = self.throttled(source, username, verify).await?;
        let change = ConsoleUserChange {
            password: Some(new.to_owned()),
            disabled: None,
        };
        self.update_console_user(&user.username, change).await
    }

    /// Changes a console user's password or disabled flag (the administrator's reset and
    /// disable). A new password or disabling ends its sessions and API tokens; on this node the
    /// change applies at once, on others within [`Identity::CACHE_TTL`].
    pub async fn update_console_user(
        &self,
        username: &str,
        change: ConsoleUserChange,
    ) -> Result<ConsoleUser, IdentityError> {
        if let Some(password) = &change.password {
            check_console_password(password)?;
        }
        let user = self.require_console_user(username).await?;
        let password_hash = match change.password {
            Some(password) => Some(self.hash_password(password).await),
            None => None,
        };
        let update = ConsoleUserUpdate {
            password_hash,
            disabled: change.disabled,
        };
        let ends_sessions = update.password_hash.is_some() || update.disabled == Some(true);
        let updated = self
            .meta
            .update_console_user(user.id, update)
            .await
            .map_err(IdentityError::backend);
        self.forget_console_user(username);
        let updated = updated?;
        if ends_sessions {
            info!(user = ?loggable(username), disabled = updated.disabled, "console user changed: its sessions and API tokens ended");
        }
        Ok(updated)
    }

    /// Deletes a console user with its sessions and API tokens.
    pub async fn delete_console_user(&self, username: &str) -> Result<(), IdentityError> {
        let user = self.require_console_user(username).await?;
        let deleted = self.meta.delete_console_user(user.id).await;
        self.forget_console_user(username);
        deleted.map_err(IdentityError::backend)?;
        info!(user = ?loggable(username), "console user deleted");
        Ok(())
    }

    async fn require_console_user(&self, username: &str) -> Result<ConsoleUser, IdentityError> {
        self.console_users.forget(username);
        self.cached_console_user(username)
            .await?
            .ok_or_else(|| IdentityError::NotFound {
                what: "console user",
                name: username.to_owned(),
            })
    }

    fn forget_console_user(&self, username: &str) {
        self.console_users.forget(username);
        self.verified
            .lock()
            .expect("verified lock")
            .remove(username);
    }

    /// argon2id of a new password.
    async fn hash_password(&self, password: String) -> String {
        self.with_argon2(move |memory| secret::password_hash(&password, memory))
            .await
    }

    /// A console user's record (from the cache when fresh).
    pub async fn console_user(&self, name: &str) -> Result<Option<ConsoleUser>, IdentityError> {
        self.cached_console_user(name).await
    }

    /// Creates an API token for `user`; the token is returned once, only its hash is kept.
    pub async fn create_api_token(
        &self,
        user: &ConsoleUser,
        description: &str,
        expires: Option<Timestamp>,
    ) -> Result<WithSecret<ApiToken>, IdentityError> {
        let secret = secret::new_api_token();
        let record = ApiToken {
            token_hash: secret::token_hash(&secret),
            user: user.id,
            description: description.to_owned(),
            created: self.clock.now(),
            expires,
        };
        self.meta
            .create_api_token(record.clone())
            .await
            .map_err(IdentityError::backend)?;
        Ok(WithSecret { record, secret })
    }

    /// A repository user's current record (from the cache when fresh), for checks made when a
    /// token is issued.
    pub async fn repository_user(
        &self,
        name: &str,
    ) -> Result<Option<RepositoryUser>, IdentityError> {
        self.cached_repository_user(name).await
    }

    /// Creates a repository user in `account` and returns it with its secret; `actor` is the
    /// name the history of its repositories records.
    pub async fn create_repository_user(
        &self,
        account: AccountId,
        spec: RepositoryUserSpec,
        actor: &str,
    ) -> Result<WithSecret<RepositoryUser>, IdentityError> {
        let name = match spec.name {
            Some(given) => RepositoryUserName::for_account(account, &given),
            None => RepositoryUserName::new(
                account,
                &secret::random_string(8, b"abcdefghijklmnopqrstuvwxyz0123456789"),
            ),
        }
        .map_err(|e| IdentityError::Invalid(e.to_string()))?;
        let secret = secret::new_secret();
        let new = NewRepositoryUser {
            account,
            secret_hash: secret::secret_hash(name.as_str(), &secret),
            name: name.to_string(),
            description: spec.description,
            expires: spec.expires,
            permissions: normalised(spec.permissions)?,
        };
        let record = self
            .meta
            .create_repository_user(new, actor, self.clock.now())
            .await
            .map_err(IdentityError::backend)?;
        self.repository_users.forget(&record.name);
        Ok(WithSecret { record, secret })
    }

    /// Changes a repository user's expiry, description, permissions or disabled flag; the
    /// change applies to its next request on this node.
    pub async fn update_repository_user(
        &self,
        name: &RepositoryUserName,
        mut update: RepositoryUserUpdate,
        actor: &str,
    ) -> Result<RepositoryUser, IdentityError> {
        update.secret_hash = None;
        if let Some(permissions) = update.permissions.take() {
            update.permissions = Some(normalised(permissions)?);
        }
        let record = self
            .meta
            .update_repository_user(name.as_str(), update, actor, self.clock.now())
            .await
            .map_err(IdentityError::backend)?;
        self.repository_users.forget(name.as_str());
        Ok(record)
    }

    /// Deletes a repository user; its credentials stop working at once on this node.
    pub async fn delete_repository_user(
        &self,
        name: &RepositoryUserName,
        actor: &str,
    ) -> Result<(), IdentityError> {
        let result = self
            .meta
            .delete_repository_user(name.as_str(), actor, self.clock.now())
            .await;
        self.repository_users.forget(name.as_str());
        result.map_err(IdentityError::backend)
    }

    /// Replaces a repository user's secret; the old one stops working at once on this node.
    pub async fn refresh_secret(
        &self,
        name: &RepositoryUserName,
        actor: &str,
    ) -> Result<WithSecret<RepositoryUser>, IdentityError> {
        let secret = secret::new_secret();
        let update = RepositoryUserUpdate {
            secret_hash: Some(secret::secret_hash(name.as_str(), &secret)),
            ..RepositoryUserUpdate::default()
        };
        let record = self
            .meta
            .update_repository_user(name.as_str(), update, actor, self.clock.now())
            .await
            .map_err(IdentityError::backend)?;
        self.repository_users.forget(name.as_str());
        Ok(WithSecret { record, secret })
    }

    /// An account's repository users, by name.
    pub async fn list_repository_users(
        &self,
        account: AccountId,
        page: Page,
    ) -> Result<Paged<RepositoryUser>, IdentityError> {
        self.meta
            .list_repository_users(account, page)
            .await
            .map_err(IdentityError::backend)
    }

    /// Creates a console user (`account: None` makes a system administrator).
    pub async fn create_console_user(
        &self,
        account: Option<AccountId>,
        username: &str,
        password: &str,
    ) -> Result<ConsoleUser, IdentityError> {
        check_console_username(username)?;
        check_console_password(password)?;
        let hash = self.hash_password(password.to_owned()).await;
        let user = self
            .meta
            .create_console_user(account, username, &hash, self.clock.now())
            .await
            .map_err(IdentityError::backend)?;
        self.console_users.forget(username);
        Ok(user)
    }
}

/// What a console user may do, once it may log in.
fn console_principal(user: &ConsoleUser) -> Result<Principal, IdentityError> {
    if user.disabled {
        return Err(IdentityError::Disabled {
            user: user.username.clone(),
        });
    }
    Ok(match user.account {
        Some(account) => Principal::ConsoleUser { account },
        None => Principal::SystemAdmin,
    })
}

/// The policy's view of a repository user, once it may log in at `now`.
pub fn facts(user: &RepositoryUser, now: Timestamp) -> Result<RepositoryUserFacts, IdentityError> {
    if user.disabled {
        return Err(IdentityError::Disabled {
            user: user.name.clone(),
        });
    }
    if user.expires.is_some_and(|e| e <= now) {
        return Err(IdentityError::Expired {
            user: user.name.clone(),
        });
    }
    Ok(RepositoryUserFacts {
        name: user.name.clone(),
        account: user.account,
        expires: user.expires,
        disabled: user.disabled,
        permissions: user.permissions.clone(),
    })
}

/// Whether a repository user has locked itself by its expiry date.
pub fn is_expired(user: &RepositoryUser, now: Timestamp) -> bool {
    user.expires.is_some_and(|e| e <= now)
}

/// Permissions sorted by repository, one per repository.
fn normalised(
    mut permissions: Vec<(RepositoryName, Permission)>,
) -> Result<Vec<(RepositoryName, Permission)>, IdentityError> {
    permissions.sort();
    if let Some(w) = permissions.windows(2).find(|w| w[0].0 == w[1].0) {
        return Err(IdentityError::Invalid(format!(
            "repository {} is listed twice",
            w[0].0
        )));
    }
    Ok(permissions)
}
