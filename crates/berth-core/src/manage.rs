//! Management: accounts, repositories, remote registries (`manage/registries.rs`), repository
//! users, console users, API tokens and history, for the management API, the console and the
//! admin CLI.
//!
//! Every operation is decided here, through [`berth_policy`]: an account's things (its
//! repositories, their images, artifacts and history, its repository users) are managed by its
//! console users and the system administrator ([`Managed::Account`], and [`Action::Manage`] on a
//! repository); accounts and console users by the administrator alone ([`Managed::System`]); a
//! console user's API tokens by that user, and by the administrator naming the user (the admin
//! CLI). What another account owns is "not found", exactly like what does not exist, so names
//! cannot be probed across tenants. Each operation keeps the
//! engine's caches true (repository records, identity records) and records history where the
//! metadata keeps it (repositories).

use berth_meta::{
    Account, ApiToken, Artifact, ConsoleUser, HistoryEvent, Image, NewRepository, Page, Paged,
    Repository, RepositoryUpdate, RepositoryUser, RepositoryUserUpdate,
};
use berth_model::{
    AccountId, Digest, Manifest, Name, RepositoryName, RepositoryUserName, Timestamp,
};
use berth_policy::{Action, Denial, Managed, Principal, Target, authorize, authorize_management};
use bytes::Bytes;

use crate::Registry;
use crate::identity::{ConsoleUserChange, IdentityError, RepositoryUserSpec, WithSecret};

mod registries;
mod replication;

pub use registries::{
    MAX_REMOTE_PASSWORD, MAX_REMOTE_URL, MAX_REMOTE_USERNAME, RemoteRegistryChange,
    RemoteRegistrySpec, remote_registry_url,
};
pub use replication::{
    ExecutionReport, MAX_REPLICATION_RULES, MIN_SCHEDULE_SECS, ReplicationRuleChange,
    ReplicationRuleSpec, format_interval, parse_interval,
};

/// Why a management operation failed.
///
/// Exhaustive on purpose: each variant is a row of the management API's error table.
#[derive(Debug, thiserror::Error)]
pub enum ManageError {
    /// The caller may not manage this (an account of another tenant, or the system).
    #[error(transparent)]
    Denied(#[from] Denial),
    /// No such thing, or one the caller may not see.
    #[error("{what} {name} does not exist")]
    NotFound {
        /// What kind of thing.
        what: &'static str,
        /// Which one.
        name: String,
    },
    /// The request cannot be carried out as asked; the message says why.
    #[error("{0}")]
    Invalid(String),
    /// The request conflicts with the current state; the message says why.
    #[error("{0}")]
    Conflict(String),
    /// A credential operation failed.
    #[error(transparent)]
    Identity(#[from] IdentityError),
    /// The metadata store answered an error.
    #[error(transparent)]
    Metadata(#[from] berth_meta::Error),
    /// Reading stored content (a manifest, a config) failed in the engine.
    #[error(transparent)]
    Engine(#[from] crate::Error),
}

/// An artifact with what shows it whole ([`Manager::artifact_content`]).
#[derive(Debug, Clone)]
pub struct ArtifactContent {
    /// The artifact's record.
    pub artifact: Artifact,
    /// Its manifest, parsed from the exact bytes stored.
    pub manifest: Manifest,
    /// The config blob's bytes, when the manifest has a config of at most the limit asked.
    pub config: Option<Bytes>,
    /// The artifacts of the same image whose subject it is (signatures, SBOMs, attestations).
    pub referrers: Vec<Artifact>,
}

type Result<T, E = ManageError> = std::result::Result<T, E>;

/// Management operations on behalf of one caller: [`Registry::manage`].
#[derive(Debug)]
pub struct Manager<'a> {
    registry: &'a Registry,
    principal: Principal,
    user: Option<ConsoleUser>,
    actor: String,
}

impl Registry {
    /// Management as `principal`; `user` is the console user it logged in as (the owner of API
    /// tokens, and the name history records), `None` for the system itself (the admin CLI).
    pub fn manage(&self, principal: Principal, user: Option<ConsoleUser>) -> Manager<'_> {
        let actor = match &user {
            Some(user) => user.username.clone(),
            None => crate::actor(&principal),
        };
        Manager {
            registry: self,
            principal,
            user,
            actor,
        }
    }
}

impl Manager<'_> {
    /// Whether the caller may manage `what`: every operation asks it itself; a caller that
    /// must decide before reading a request body asks it first.
    pub fn may(&self, what: Managed) -> Result<()> {
        authorize_management(&self.principal, what)
            .into_result()
            .map_err(ManageError::from)
    }

    fn now(&self) -> Timestamp {
        self.registry.now()
    }

    // --- accounts ---

    /// Every account, by id (the administrator).
    pub async fn accounts(&self, page: Page) -> Result<Paged<Account>> {
        self.may(Managed::System)?;
        Ok(self.registry.meta.list_accounts(page).await?)
    }

    /// Creates an account (the administrator).
    pub async fn create_account(&self, id: AccountId, name: &str) -> Result<Account> {
        self.may(Managed::System)?;
        if id.0 < 1 {
            return Err(ManageError::Invalid(
                "an account id is a positive number".into(),
            ));
        }
        Ok(self
            .registry
            .meta
            .create_account(id, name, self.now())
            .await?)
    }

    /// An account, if it exists, for those who manage it.
    pub async fn account(&self, id: AccountId) -> Result<Option<Account>> {
        self.may(Managed::Account(id))?;
        Ok(self.registry.meta.account(id).await?)
    }

    async fn require_account(&self, id: AccountId) -> Result<()> {
        match self.registry.meta.account(id).await? {
            Some(_) => Ok(()),
            None => Err(ManageError::Invalid(format!("account {id} does not exist"))),
        }
    }

    // --- repositories ---

    /// An account's repositories, by name.
    pub async fn repositories(&self, account: AccountId, page: Page) -> Result<Paged<Repository>> {
        self.may(Managed::Account(account))?;
        Ok(self.registry.meta.list_repositories(account, page).await?)
    }

    /// Creates a repository in `new.account`, recording it in the repository's history. A
    /// proxy repository's registry must be one of the same account.
    pub async fn create_repository(&self, new: NewRepository) -> Result<Repository> {
        self.may(Managed::Account(new.account))?;
        let account = new.account;
        let name = new.name.clone();
        let created = self
            .registry
            .meta
            .create_repository(new, &self.actor, self.now())
            .await;
        self.registry.forget_repository(&name);
        created.map_err(|e| match e {
            berth_meta::Error::NotFound {
                entity: berth_meta::Entity::RemoteRegistry,
                name,
            } => ManageError::Invalid(format!("registry {name} does not exist")),
            berth_meta::Error::NotFound { .. } => {
                ManageError::Invalid(format!("account {account} does not exist"))
            }
            e => e.into(),
        })
    }

    /// A repository the caller manages; another account's answers "not found".
    pub async fn repository(&self, name: &RepositoryName) -> Result<Repository> {
        let not_found = || ManageError::NotFound {
            what: "repository",
            name: name.to_string(),
        };
        let repository = self
            .registry
            .meta
            .repository(name)
            .await?
            .ok_or_else(not_found)?;
        let target = Target {
            repository: &repository.name,
            account: repository.account,
            access: repository.access,
        };
        match authorize(&self.principal, Action::Manage, target, self.now()) {
            berth_policy::Decision::Allow => Ok(repository),
            berth_policy::Decision::Deny(_) => Err(not_found()),
        }
    }

    /// Changes a repository's access level, quota or referrer policy, recording it.
    pub async fn update_repository(
        &self,
        name: &RepositoryName,
        update: RepositoryUpdate,
    ) -> Result<Repository> {
        self.repository(name).await?;
        let updated = self
            .registry
            .meta
            .update_repository(name, update, &self.actor, self.now())
            .await;
        self.registry.forget_repository(name);
        Ok(updated?)
    }

    /// Deletes a repository that holds no artifacts, with its open upload sessions.
    pub async fn delete_repository(&self, name: &RepositoryName) -> Result<()> {
        self.repository(name).await?;
        Ok(self.registry.delete_repository(name, &self.actor).await?)
    }

    /// A repository's images, optionally those whose name contains `filter`.
    pub async fn images(
        &self,
        repository: &RepositoryName,
        filter: Option<&str>,
        page: Page,
    ) -> Result<Paged<Image>> {
        self.repository(repository).await?;
        Ok(self
            .registry
            .meta
            .list_images(repository, filter, page)
            .await?)
    }

    /// An image's artifacts.
    pub async fn artifacts(&self, name: &Name, page: Page) -> Result<Paged<Artifact>> {
        self.repository(name.repository()).await?;
        Ok(self.registry.meta.list_artifacts(name, page).await?)
    }

    /// An artifact of an image by digest, with its manifest, its config blob when that is at
    /// most `config_limit` bytes, and its referrers. Reading them is not a pull: no pull is
    /// counted.
    pub async fn artifact_content(
        &self,
        name: &Name,
        digest: &Digest,
        config_limit: u64,
    ) -> Result<ArtifactContent> {
        self.repository(name.repository()).await?;
        let meta = &self.registry.meta;
        let artifact = meta
            .artifact(name, digest)
            .await?
            .ok_or_else(|| ManageError::NotFound {
                what: "artifact",
                name: format!("{name}@{digest}"),
            })?;
        let bytes = self.registry.manifest_bytes(&artifact.digest).await?;
        let manifest = Manifest::parse(bytes, Some(&artifact.media_type))
            .map_err(crate::Error::ManifestInvalid)?;
        let config = match manifest.config() {
            Some(config) if config.size() <= config_limit => {
                Some(self.registry.blob_bytes(config.digest()).await?)
            }
            _ => None,
        };
        let referrers = meta.referrers(name, &artifact.digest, None).await?;
        Ok(ArtifactContent {
            artifact,
            manifest,
            config,
            referrers,
        })
    }

    /// A repository's history, newest first.
    pub async fn history(
        &self,
        repository: &RepositoryName,
        page: Page,
    ) -> Result<Paged<HistoryEvent>> {
        self.repository(repository).await?;
        Ok(self.registry.meta.history(repository, page).await?)
    }

    // --- repository users ---

    /// An account's repository users, by name; with `repository`, those with a permission on
    /// it.
    pub async fn repository_users(
        &self,
        account: AccountId,
        repository: Option<&str>,
        page: Page,
    ) -> Result<Paged<RepositoryUser>> {
        self.may(Managed::Account(account))?;
        let identity = self.registry.identity();
        let Some(repository) = repository else {
            return Ok(identity.list_repository_users(account, page).await?);
        };
        // An account has few repository users: filter them here, then page.
        const BATCH: u32 = 500;
        let mut matching = Vec::new();
        for number in 1.. {
            let batch = identity
                .list_repository_users(
                    account,
                    Page {
                        page: number,
                        size: BATCH,
                    },
                )
                .await?;
            let done = batch.items.len() < BATCH as usize;
            matching.extend(
                batch
                    .items
                    .into_iter()
                    .filter(|u| u.permissions.iter().any(|(r, _)| r.as_str() == repository)),
            );
            if done {
                break;
            }
        }
        let total = matching.len() as u64;
        let items = matching
            .into_iter()
            .skip(page.offset() as usize)
            .take(page.limit() as usize)
            .collect();
        Ok(Paged { items, total })
    }

    /// Creates a repository user in `account`, with its secret (shown once).
    pub async fn create_repository_user(
        &self,
        account: AccountId,
        spec: RepositoryUserSpec,
    ) -> Result<WithSecret<RepositoryUser>> {
        self.may(Managed::Account(account))?;
        Ok(self
            .registry
            .identity()
            .create_repository_user(account, spec, &self.actor)
            .await?)
    }

    /// A repository user the caller manages; another account's answers "not found".
    pub async fn repository_user(&self, name: &RepositoryUserName) -> Result<RepositoryUser> {
        let found = self.registry.meta.repository_user(name.as_str()).await?;
        match found {
            Some(user) if self.may(Managed::Account(user.account)).is_ok() => Ok(user),
            _ => Err(ManageError::NotFound {
                what: "repository user",
                name: name.to_string(),
            }),
        }
    }

    /// Changes a repository user's description, expiry, disabled flag or permissions; the
    /// change applies to its next request on this node.
    pub async fn update_repository_user(
        &self,
        name: &RepositoryUserName,
        update: RepositoryUserUpdate,
    ) -> Result<RepositoryUser> {
        self.repository_user(name).await?;
        Ok(self
            .registry
            .identity()
            .update_repository_user(name, update, &self.actor)
            .await?)
    }

    /// Deletes a repository user; its credentials stop working at once on this node.
    pub async fn delete_repository_user(&self, name: &RepositoryUserName) -> Result<()> {
        self.repository_user(name).await?;
        Ok(self
            .registry
            .identity()
            .delete_repository_user(name, &self.actor)
            .await?)
    }

    /// Replaces a repository user's secret, returning the new one (shown once).
    pub async fn refresh_secret(
        &self,
        name: &RepositoryUserName,
    ) -> Result<WithSecret<RepositoryUser>> {
        self.repository_user(name).await?;
        Ok(self
            .registry
            .identity()
            .refresh_secret(name, &self.actor)
            .await?)
    }

    // --- console users ---

    /// Console users of `account`, or the system administrators (`None`).
    pub async fn console_users(
        &self,
        account: Option<AccountId>,
        page: Page,
    ) -> Result<Paged<ConsoleUser>> {
        self.may(Managed::System)?;
        Ok(self.registry.meta.list_console_users(account, page).await?)
    }

    /// Creates a console user of `account` (`None`: a system administrator).
    pub async fn create_console_user(
        &self,
        account: Option<AccountId>,
        username: &str,
        password: &str,
    ) -> Result<ConsoleUser> {
        self.may(Managed::System)?;
        if let Some(account) = account {
            self.require_account(account).await?;
        }
        let user = self
            .registry
            .identity()
            .create_console_user(account, username, password)
            .await?;
        tracing::info!(user = %user.username, account = ?user.account, actor = %self.actor, "console user created");
        Ok(user)
    }

    /// A console user.
    pub async fn console_user(&self, username: &str) -> Result<ConsoleUser> {
        self.may(Managed::System)?;
        self.registry
            .identity()
            .console_user(username)
            .await?
            .ok_or_else(|| ManageError::NotFound {
                what: "console user",
                name: username.to_owned(),
            })
    }

    /// Whether `username` is the caller itself.
    fn is_self(&self, username: &str) -> bool {
        self.user.as_ref().is_some_and(|u| u.username == username)
    }

    /// Resets a console user's password, or disables or enables it; a reset or a disable ends
    /// its sessions and API tokens. The caller cannot disable itself, and changes its own
    /// password through [`crate::identity::Identity::change_console_password`], proving the
    /// current one.
    pub async fn update_console_user(
        &self,
        username: &str,
        change: ConsoleUserChange,
    ) -> Result<ConsoleUser> {
        self.may(Managed::System)?;
        if self.is_self(username) {
            if change.disabled == Some(true) {
                return Err(ManageError::Conflict(
                    "you cannot disable yourself; another administrator can".into(),
                ));
            }
            if change.password.is_some() {
                return Err(ManageError::Conflict(
                    "change your own password with PUT /api/v1/session/password, giving the current one".into(),
                ));
            }
        }
        Ok(self
            .registry
            .identity()
            .update_console_user(username, change)
            .await?)
    }

    /// Deletes a console user with its sessions and API tokens; not the caller itself.
    pub async fn delete_console_user(&self, username: &str) -> Result<()> {
        self.may(Managed::System)?;
        if self.is_self(username) {
            return Err(ManageError::Conflict(
                "you cannot delete yourself; another administrator can".into(),
            ));
        }
        Ok(self
            .registry
            .identity()
            .delete_console_user(username)
            .await?)
    }

    // --- the caller's API tokens ---

    fn own_user(&self) -> Result<&ConsoleUser> {
        self.user
            .as_ref()
            .ok_or_else(|| ManageError::Invalid("API tokens belong to console users".into()))
    }

    /// The caller's API tokens, newest first.
    pub async fn api_tokens(&self) -> Result<Vec<ApiToken>> {
        let user = self.own_user()?;
        Ok(self.registry.meta.list_api_tokens(user.id).await?)
    }

    /// Creates an API token for the caller, with its secret (shown once).
    pub async fn create_api_token(
        &self,
        description: &str,
        expires: Option<Timestamp>,
    ) -> Result<WithSecret<ApiToken>> {
        let user = self.own_user()?;
        let created = self
            .registry
            .identity()
            .create_api_token(user, description, expires)
            .await?;
        tracing::info!(user = %user.username, token = %created.record.id(), "API token created");
        Ok(created)
    }

    /// Deletes the caller's API token with this [`ApiToken::id`]; another user's is "not
    /// found".
    pub async fn delete_api_token(&self, id: &str) -> Result<()> {
        let user = self.own_user()?;
        self.delete_token_of(user, id).await
    }

    // --- any console user's API tokens (the administrator, e.g. the admin CLI) ---

    /// The API tokens of console user `username`, newest first.
    pub async fn api_tokens_of(&self, username: &str) -> Result<Vec<ApiToken>> {
        let user = self.console_user(username).await?;
        Ok(self.registry.meta.list_api_tokens(user.id).await?)
    }

    /// Creates an API token for console user `username`, with its secret (shown once); the
    /// token acts as that user.
    pub async fn create_api_token_for(
        &self,
        username: &str,
        description: &str,
        expires: Option<Timestamp>,
    ) -> Result<WithSecret<ApiToken>> {
        let user = self.console_user(username).await?;
        let created = self
            .registry
            .identity()
            .create_api_token(&user, description, expires)
            .await?;
        tracing::info!(user = %user.username, token = %created.record.id(), actor = %self.actor, "API token created");
        Ok(created)
    }

    /// Deletes (revokes) the API token with this [`ApiToken::id`] of console user `username`;
    /// a token of another user is "not found".
    pub async fn delete_api_token_of(&self, username: &str, id: &str) -> Result<()> {
        let user = self.console_user(username).await?;
        self.delete_token_of(&user, id).await
    }

    async fn delete_token_of(&self, user: &ConsoleUser, id: &str) -> Result<()> {
        let tokens = self.registry.meta.list_api_tokens(user.id).await?;
        let token = tokens
            .iter()
            .find(|t| t.id() == id)
            .ok_or_else(|| ManageError::NotFound {
                what: "API token",
                name: id.to_owned(),
            })?;
        self.registry
            .meta
            .delete_api_token(&token.token_hash)
            .await?;
        tracing::info!(user = %user.username, token = %id, actor = %self.actor, "API token deleted");
        Ok(())
    }
}
