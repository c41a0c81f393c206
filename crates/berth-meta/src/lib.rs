//! The metadata contract every backend of berth fulfils, in two halves: [`AccountStore`]
//! (accounts, console users with their sessions and API tokens, repository users and their
//! permissions) and [`RegistryStore`] (repositories, images, artifacts, tags, the blob
//! references behind each repository's usage, upload sessions, pull statistics and history).
//! A backend implements both over one database and is then a [`MetadataStore`]. The records
//! are in [`types`]; the usage rules all backends share (which digests an artifact counts, what
//! a push adds, the quota check) are in [`accounting`]. Operations are shaped by what the
//! registry engine and management need, and each is atomic.
//!
//! # Contract
//!
//! - **Push.** [`record_push`](crate::RegistryStore::record_push) stores, in one transaction, the
//!   artifact, its blob and child-manifest references, the tag move, the repository's new usage
//!   and a history event. The quota is read inside that transaction: two concurrent pushes that
//!   each fit but together exceed the limit cannot both succeed (one gets
//!   [`Error::QuotaExceeded`]). Re-pushing an artifact that exists changes no usage; it may move a
//!   tag.
//! - **Usage.** A repository's usage is the sum of the sizes of the distinct digests its
//!   artifacts reference: their blobs and their own manifests. A digest shared by two artifacts
//!   of one repository counts once; a digest one push lists twice counts once, at its smallest
//!   size. Deleting an artifact (or the last artifact referencing a
//!   digest) lowers usage in the same transaction.
//! - **Tenancy of blobs.** Blobs are stored once, by digest, but readable only through the
//!   repositories they are linked to (uploaded or mounted into); forgetting a blob unlinks it
//!   everywhere.
//! - **Garbage collection.** A collector forgets an unreferenced blob (leaving a tombstone),
//!   deletes its bytes, then finishes the forget. While the tombstone stands, recording the blob
//!   again is refused, so an upload racing the collector learns to upload again instead of
//!   recording bytes that are about to disappear.
//! - **Pulls.** [`record_pulls`](crate::RegistryStore::record_pulls) adds counts and keeps the latest
//!   time: flushes from several nodes, in any order, lose nothing.
//! - **Deleting a repository.** [`delete_repository`](crate::RegistryStore::delete_repository) removes
//!   a repository that holds no artifacts, with its (empty) images, blob links, repository
//!   users' permissions on it and its history, in one transaction that is atomic with respect to
//!   pushes: a push racing the delete either lands first (and the delete is refused with
//!   [`Error::RepositoryNotEmpty`]) or finds no repository ([`Error::NotFound`]); a push is never
//!   recorded into a deleted repository. Its upload sessions go with it (their ids are returned,
//!   for the caller to remove their bytes), and a session is never created for a repository
//!   that no longer exists.
//! - **Upload sessions** belong to a repository by id, not by name. Creating one is refused
//!   with [`Error::TooManyUploads`] when the repository has its maximum open already, counted in
//!   the same transaction as the insert, so concurrent starts cannot pass the cap together.
//!   Each session notes the bytes it holds, which [`upload_usage`](crate::RegistryStore::upload_usage)
//!   sums for the quota.
//! - **Console users and sessions.** A new password or disabling a console user ends its
//!   console sessions and deletes its API tokens in the same transaction; deleting it removes
//!   them too. Sessions are stored by the hash of their id only.
//! - **Listings.** Tags are listed sorted by name with `n`/`last` (keyset); console listings are
//!   pages with a total, sorted by a unique key. Every listing is served by an index.
//! - **Not found** is `Ok(None)` for lookups and [`Error::NotFound`] for changes to something
//!   missing; names that must be unique give [`Error::AlreadyExists`].

pub mod accounting;
pub mod types;

mod memory;

#[cfg(feature = "conformance")]
pub mod conformance;

use async_trait::async_trait;
use berth_model::{Digest, Name, RegistryName, RepositoryName, Tag, UploadId};

pub use memory::MemoryMetadata;
pub use types::*;

/// A SQL `LIKE` pattern (escape character `\`) matching text that contains `needle` literally:
/// the wildcards `%` and `_`, and the escape character itself, are escaped. For the name filter
/// of [`crate::RegistryStore::list_images`] in SQL backends.
pub fn like_contains_pattern(needle: &str) -> String {
    let mut pattern = String::with_capacity(needle.len() + 2);
    pattern.push('%');
    for ch in needle.chars() {
        if matches!(ch, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(ch);
    }
    pattern.push('%');
    pattern
}

/// Result of a [`MetadataStore`] operation.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What kind of thing an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Entity {
    /// An account.
    Account,
    /// A console user.
    ConsoleUser,
    /// A repository.
    Repository,
    /// An image.
    Image,
    /// An artifact.
    Artifact,
    /// A tag.
    Tag,
    /// A repository user.
    RepositoryUser,
    /// An upload session.
    Upload,
    /// A console session.
    ConsoleSession,
    /// A remote registry.
    RemoteRegistry,
    /// A replication rule.
    ReplicationRule,
    /// A replication execution.
    Execution,
}

/// What went wrong, one variant per decision a caller makes.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The thing does not exist.
    #[error("{entity:?} {name} not found")]
    NotFound {
        /// What kind of thing.
        entity: Entity,
        /// Which one.
        name: String,
    },
    /// A thing with this unique name exists already.
    #[error("{entity:?} {name} already exists")]
    AlreadyExists {
        /// What kind of thing.
        entity: Entity,
        /// Which one.
        name: String,
    },
    /// The push would bring the repository over its quota; nothing was recorded.
    #[error("adding {delta} bytes to {used} would exceed the quota of {limit} bytes")]
    QuotaExceeded {
        /// Usage before the push.
        used: u64,
        /// Bytes the push would add.
        delta: u64,
        /// The repository's limit.
        limit: u64,
    },
    /// A push references a blob the registry does not hold.
    #[error("blob {0} is unknown")]
    BlobUnknown(Digest),
    /// An index lists a manifest that is not an artifact of the same image.
    #[error("manifest {0} is unknown")]
    ManifestUnknown(Digest),
    /// The blob is being garbage-collected; record it again once the collection finished (the
    /// caller uploads it again).
    #[error("blob {0} is being garbage-collected; upload it again")]
    BlobBeingDeleted(Digest),
    /// A permission names a repository of another account.
    #[error("repository {0} does not belong to this account")]
    ForeignRepository(RepositoryName),
    /// The repository has its maximum of open upload sessions; nothing was recorded.
    #[error(
        "repository {repository} has {limit} open uploads already; finish or cancel some first"
    )]
    TooManyUploads {
        /// The repository.
        repository: RepositoryName,
        /// The cap.
        limit: u64,
    },
    /// The repository still has images holding artifacts; nothing was deleted.
    #[error("repository {name} still holds {images} {}; delete them first", noun(*.images))]
    RepositoryNotEmpty {
        /// The repository.
        name: RepositoryName,
        /// How many of its images hold artifacts.
        images: u64,
    },
    /// A remote registry is the upstream of a proxy repository; nothing was deleted.
    #[error("registry {registry} is used by proxy repository {repository}; delete that first")]
    RegistryInUse {
        /// The registry.
        registry: RegistryName,
        /// A repository that uses it.
        repository: RepositoryName,
    },
    /// A remote registry is used by a replication rule; nothing was deleted.
    #[error("registry {registry} is used by replication rule {rule}; delete that first")]
    RegistryUsedByRule {
        /// The registry.
        registry: RegistryName,
        /// A rule that uses it.
        rule: String,
    },
    /// The backend cannot be reached at the moment (connection refused or lost, shutting down,
    /// no connection free in time): nothing was recorded, and the same request may succeed once
    /// it is back. The cause is in `source`.
    #[error("{store} is unavailable: {source}")]
    Unavailable {
        /// The backend.
        store: &'static str,
        /// The backend's own error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The backend failed (database, connection); the cause is in `source`.
    #[error("{store} failed: {source}")]
    Backend {
        /// The backend.
        store: &'static str,
        /// The backend's own error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// A connection pool at one moment ([`RegistryStore::pool`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PoolState {
    /// The most connections it opens.
    pub max: usize,
    /// Connections open now.
    pub open: usize,
    /// Of which idle.
    pub idle: usize,
    /// Callers waiting for a connection now.
    pub waiting: usize,
}

/// "image" or "images", for [`Error::RepositoryNotEmpty`]'s message.
fn noun(images: u64) -> &'static str {
    if images == 1 { "image" } else { "images" }
}

impl Error {
    /// A backend failure with its cause.
    pub fn backend(
        store: &'static str,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Error::Backend {
            store,
            source: source.into(),
        }
    }

    /// The backend cannot be reached at the moment; see [`Error::Unavailable`].
    pub fn unavailable(
        store: &'static str,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Error::Unavailable {
            store,
            source: source.into(),
        }
    }

    /// `entity` `name` was not found.
    pub fn not_found(entity: Entity, name: impl ToString) -> Self {
        Error::NotFound {
            entity,
            name: name.to_string(),
        }
    }

    /// `entity` `name` exists already.
    pub fn already_exists(entity: Entity, name: impl ToString) -> Self {
        Error::AlreadyExists {
            entity,
            name: name.to_string(),
        }
    }
}

/// Who may use the registry: accounts, console users with their sessions and API tokens, and
/// repository users with their permissions. What `berth_core::identity` and management need.
///
/// See the [crate documentation](crate#contract) for the contract every method keeps.
#[async_trait]
pub trait AccountStore: Send + Sync + std::fmt::Debug {
    // --- accounts and console users ---

    /// Creates an account with a given id (ids are the operator's, e.g. `10042`).
    async fn create_account(&self, id: AccountId, name: &str, at: Timestamp) -> Result<Account>;
    /// An account by id.
    async fn account(&self, id: AccountId) -> Result<Option<Account>>;
    /// Every account, by id.
    async fn list_accounts(&self, page: Page) -> Result<Paged<Account>>;
    /// Creates a console user; the username is unique.
    async fn create_console_user(
        &self,
        account: Option<AccountId>,
        username: &str,
        password_hash: &str,
        at: Timestamp,
    ) -> Result<ConsoleUser>;
    /// A console user by username.
    async fn console_user(&self, username: &str) -> Result<Option<ConsoleUser>>;
    /// A console user by id (an API token names its user by id).
    async fn console_user_by_id(&self, id: ConsoleUserId) -> Result<Option<ConsoleUser>>;
    /// The console users of an account (`Some`), or the system administrators (`None`: the
    /// users of no account), by username. An unknown account has none.
    async fn list_console_users(
        &self,
        account: Option<AccountId>,
        page: Page,
    ) -> Result<Paged<ConsoleUser>>;
    /// Changes a console user's password hash or disabled flag. A new hash, or disabling, ends
    /// the user's console sessions and deletes its API tokens in the same transaction.
    /// [`Error::NotFound`] when there is no such user.
    async fn update_console_user(
        &self,
        id: ConsoleUserId,
        update: ConsoleUserUpdate,
    ) -> Result<ConsoleUser>;
    /// Deletes a console user with its sessions and API tokens; [`Error::NotFound`] when there
    /// is none.
    async fn delete_console_user(&self, id: ConsoleUserId) -> Result<()>;
    /// Stores a console session, first removing the user's expired sessions and, past `keep`
    /// sessions, its oldest ones (a user logging in again and again holds at most `keep`).
    /// [`Error::NotFound`] when the user does not exist.
    async fn create_console_session(&self, session: ConsoleSession, keep: u32) -> Result<()>;
    /// A console session by the hash of its id (expired ones included: the caller checks).
    async fn console_session(&self, id_hash: &[u8]) -> Result<Option<ConsoleSession>>;
    /// Ends a console session; whether there was one.
    async fn delete_console_session(&self, id_hash: &[u8]) -> Result<bool>;
    /// Stores an API token (by hash).
    async fn create_api_token(&self, token: ApiToken) -> Result<()>;
    /// An API token by its hash.
    async fn api_token(&self, token_hash: &[u8]) -> Result<Option<ApiToken>>;
    /// A console user's API tokens, newest first (ties by hash, bytewise).
    async fn list_api_tokens(&self, user: ConsoleUserId) -> Result<Vec<ApiToken>>;
    /// Deletes an API token; whether there was one.
    async fn delete_api_token(&self, token_hash: &[u8]) -> Result<bool>;

    // --- repository users ---

    /// Creates a repository user; the name is unique; each permission's repository must belong
    /// to the account. Each repository it is given a permission on records an `add_user` event
    /// ([`accounting::user_history`]) in the same transaction.
    async fn create_repository_user(
        &self,
        new: NewRepositoryUser,
        actor: &str,
        at: Timestamp,
    ) -> Result<RepositoryUser>;
    /// A repository user by login name.
    async fn repository_user(&self, name: &str) -> Result<Option<RepositoryUser>>;
    /// Changes a repository user, recording in the same transaction what changed in each
    /// repository it had or has a permission on ([`accounting::user_history`]).
    async fn update_repository_user(
        &self,
        name: &str,
        update: RepositoryUserUpdate,
        actor: &str,
        at: Timestamp,
    ) -> Result<RepositoryUser>;
    /// An account's repository users, by name.
    async fn list_repository_users(
        &self,
        account: AccountId,
        page: Page,
    ) -> Result<Paged<RepositoryUser>>;
    /// Deletes a repository user with its permissions, recording `remove_user` in each
    /// repository it had one on; [`Error::NotFound`] when there is none.
    async fn delete_repository_user(&self, name: &str, actor: &str, at: Timestamp) -> Result<()>;
}

/// What the registry holds: repositories, images, artifacts and tags, the blob references
/// behind each repository's usage, upload sessions, pull statistics and history. What the
/// engine's push, pull, delete and garbage-collection paths need.
///
/// See the [crate documentation](crate#contract) for the contract every method keeps.
#[async_trait]
pub trait RegistryStore: Send + Sync + std::fmt::Debug {
    /// A short name of the backend, for errors and metrics (`memory`, `sqlite`, `postgres`).
    fn name(&self) -> &'static str;

    /// The state of the backend's connection pool, for metrics; `None` (the default) for a
    /// backend without one.
    fn pool(&self) -> Option<PoolState> {
        None
    }

    // --- repositories and images ---

    /// Creates a repository; its name is unique across accounts.
    async fn create_repository(
        &self,
        new: NewRepository,
        actor: &str,
        at: Timestamp,
    ) -> Result<Repository>;
    /// A repository by name.
    async fn repository(&self, name: &RepositoryName) -> Result<Option<Repository>>;
    /// Changes a repository's access or quota.
    async fn update_repository(
        &self,
        name: &RepositoryName,
        update: RepositoryUpdate,
        actor: &str,
        at: Timestamp,
    ) -> Result<Repository>;
    /// An account's repositories, by name.
    async fn list_repositories(&self, account: AccountId, page: Page) -> Result<Paged<Repository>>;
    /// Deletes a repository that holds no artifacts, with its images (all empty), its blob links,
    /// the repository users' permissions on it and its history, in one transaction (see the
    /// contract for how it orders with pushes). Images are kept when their last artifact is
    /// deleted, so "empty" means that no image holds an artifact; the blobs themselves stay,
    /// for garbage collection to judge.
    ///
    /// [`Error::NotFound`] (of [`Entity::Repository`]) when there is no such repository;
    /// [`Error::RepositoryNotEmpty`], changing nothing, while images hold artifacts. The
    /// repository's history goes with it, so the deletion is recorded nowhere here: `actor` and
    /// `at` are for a caller's audit log and backends that keep one.
    async fn delete_repository(
        &self,
        name: &RepositoryName,
        actor: &str,
        at: Timestamp,
    ) -> Result<Vec<UploadId>>;
    /// An image by name.
    async fn image(&self, name: &Name) -> Result<Option<Image>>;
    /// A repository's images, by name, with the total over all pages; with `name_contains`,
    /// only those whose name contains it (literally: `%`, `_` and `\` are no wildcards;
    /// ASCII letters match either case). An unknown repository has none.
    async fn list_images(
        &self,
        repository: &RepositoryName,
        name_contains: Option<&str>,
        page: Page,
    ) -> Result<Paged<Image>>;
    /// Image names across repositories, sorted, after `last`, at most `n` (the OCI catalog).
    async fn catalog(
        &self,
        scope: &CatalogScope,
        n: usize,
        last: Option<&Name>,
    ) -> Result<Vec<Name>>;

    // --- artifacts and tags ---

    /// Records a pushed manifest (see the contract).
    async fn record_push(&self, push: Push) -> Result<PushOutcome>;
    /// An artifact of an image by digest.
    async fn artifact(&self, name: &Name, digest: &Digest) -> Result<Option<Artifact>>;
    /// The artifact a tag points at.
    async fn resolve_tag(&self, name: &Name, tag: &Tag) -> Result<Option<Artifact>>;
    /// An image's artifacts, most recently pushed first.
    async fn list_artifacts(&self, name: &Name, page: Page) -> Result<Paged<Artifact>>;
    /// An image's tags, sorted, after `last`, at most `n`.
    async fn list_tags(&self, name: &Name, n: usize, last: Option<&Tag>) -> Result<Vec<Tag>>;
    /// Artifacts of an image whose subject is `subject`, optionally of one artifact type.
    async fn referrers(
        &self,
        name: &Name,
        subject: &Digest,
        artifact_type: Option<&str>,
    ) -> Result<Vec<Artifact>>;
    /// Deletes an artifact and its tags; usage drops at once. When the repository deletes orphan
    /// referrers ([`Repository::delete_orphan_referrers`]), the image's artifacts whose subject
    /// is the deleted one go with it (and theirs), in the same transaction. An image left
    /// without artifacts is removed. [`Deletion::artifacts`] lists every artifact deleted, the
    /// one asked for first.
    async fn delete_artifact(
        &self,
        name: &Name,
        digest: &Digest,
        actor: &str,
        at: Timestamp,
    ) -> Result<Deletion>;
    /// Deletes an image: every artifact and tag of it, then the image itself; usage drops at
    /// once. [`Error::NotFound`] of [`Entity::Image`] when there is none.
    async fn delete_image(&self, name: &Name, actor: &str, at: Timestamp) -> Result<Deletion>;
    /// Deletes a tag (the artifact stays).
    async fn delete_tag(
        &self,
        name: &Name,
        tag: &Tag,
        actor: &str,
        at: Timestamp,
    ) -> Result<Deletion>;

    // --- blobs and uploads ---

    /// Records a blob verified into storage (again): sets `last_seen`, keeps `first_seen`.
    async fn record_blob(&self, digest: &Digest, size: u64, at: Timestamp) -> Result<Blob>;
    /// A known blob.
    async fn blob(&self, digest: &Digest) -> Result<Option<Blob>>;
    /// Makes a known blob readable through a repository (it was uploaded or mounted into it).
    /// Idempotent; [`Error::BlobUnknown`] for an unknown blob, [`Error::NotFound`] for an
    /// unknown repository.
    async fn link_blob(&self, repository: &RepositoryName, digest: &Digest) -> Result<()>;
    /// The size of a blob, if it is readable through the repository.
    async fn linked_blob(
        &self,
        repository: &RepositoryName,
        digest: &Digest,
    ) -> Result<Option<u64>>;
    /// The repositories of `account` a blob is readable through, by name, at most `limit` (for a
    /// mount that names no source repository).
    async fn linked_repositories(
        &self,
        account: AccountId,
        digest: &Digest,
        limit: usize,
    ) -> Result<Vec<RepositoryName>>;
    /// Makes a blob no longer readable through the repository; whether it was.
    async fn unlink_blob(&self, repository: &RepositoryName, digest: &Digest) -> Result<bool>;
    /// Blobs no artifact references, last seen before `before`, at most `limit` (GC candidates).
    async fn unreferenced_blobs(&self, before: Timestamp, limit: usize) -> Result<Vec<Blob>>;
    /// Forgets a blob if it is still unreferenced and last seen before `before`, and leaves a
    /// tombstone for it; whether it did. Atomic with respect to pushes (a push referencing the
    /// blob either wins, and the blob stays, or fails with [`Error::BlobUnknown`]) and to
    /// [`record_blob`](crate::RegistryStore::record_blob), which refuses a tombstoned digest with
    /// [`Error::BlobBeingDeleted`] until [`finish_forget`](crate::RegistryStore::finish_forget).
    async fn forget_blob(&self, digest: &Digest, before: Timestamp) -> Result<bool>;
    /// Removes a blob's tombstone once its bytes are deleted. Succeeds when there is none.
    async fn finish_forget(&self, digest: &Digest) -> Result<()>;
    /// Digests with a tombstone: collections that did not finish (a crash between forgetting a
    /// blob and deleting its bytes), to finish first.
    async fn tombstones(&self) -> Result<Vec<Digest>>;
    /// Records a started upload session of `session.repository`, unless that repository has
    /// `max_open` sessions already ([`Error::TooManyUploads`]) or no longer exists
    /// ([`Error::NotFound`] of [`Entity::Repository`]).
    async fn create_upload(&self, session: UploadSession, max_open: u64) -> Result<()>;
    /// An upload session.
    async fn upload(&self, id: &UploadId) -> Result<Option<UploadSession>>;
    /// Notes activity on an upload session, the bytes it holds now, and whether the chunk just
    /// appended was short (see [`UploadSession::short_chunk`]). Succeeds when there is no such
    /// session.
    async fn touch_upload(
        &self,
        id: &UploadId,
        received: u64,
        short_chunk: bool,
        at: Timestamp,
    ) -> Result<()>;
    /// A repository's open upload sessions and the bytes they hold.
    async fn upload_usage(&self, repository: RepositoryId) -> Result<UploadUsage>;
    /// Upload sessions open in every repository, for metrics.
    async fn open_uploads(&self) -> Result<u64>;
    /// Forgets an upload session (committed or aborted). Succeeds when there is none.
    async fn delete_upload(&self, id: &UploadId) -> Result<()>;
    /// Upload sessions idle since before `before`.
    async fn idle_uploads(&self, before: Timestamp) -> Result<Vec<UploadSession>>;

    // --- pull statistics ---

    /// Adds pull counts (and keeps the latest pull time) for images and artifacts. Additive:
    /// concurrent flushes from several nodes lose nothing. Unknown ids are skipped.
    async fn record_pulls(&self, images: &[ImagePulls], artifacts: &[ArtifactPulls]) -> Result<()>;
    // --- remote registries ---

    /// Creates a remote registry; [`Error::AlreadyExists`] when its account has one of that
    /// name, [`Error::NotFound`] for an unknown account.
    async fn create_remote_registry(
        &self,
        new: NewRemoteRegistry,
        at: Timestamp,
    ) -> Result<RemoteRegistry>;
    /// A remote registry of `account`.
    async fn remote_registry(
        &self,
        account: AccountId,
        name: &RegistryName,
    ) -> Result<Option<RemoteRegistry>>;
    /// The remote registries of `account`, by name.
    async fn list_remote_registries(&self, account: AccountId) -> Result<Vec<RemoteRegistry>>;
    /// Changes a remote registry; [`Error::NotFound`] when there is none.
    async fn update_remote_registry(
        &self,
        account: AccountId,
        name: &RegistryName,
        update: RemoteRegistryUpdate,
    ) -> Result<RemoteRegistry>;
    /// Deletes a remote registry; [`Error::NotFound`] when there is none,
    /// [`Error::RegistryInUse`] while a proxy repository uses it.
    async fn delete_remote_registry(&self, account: AccountId, name: &RegistryName) -> Result<()>;

    // --- replication ---

    /// Creates a replication rule; [`Error::AlreadyExists`] when its account has one of that
    /// name, [`Error::NotFound`] (entity `RemoteRegistry`) when the registry is not one of the
    /// account's.
    async fn create_replication_rule(
        &self,
        new: NewReplicationRule,
        at: Timestamp,
    ) -> Result<ReplicationRule>;
    /// A replication rule of `account`.
    async fn replication_rule(
        &self,
        account: AccountId,
        name: &str,
    ) -> Result<Option<ReplicationRule>>;
    /// The replication rules of `account` by name, or of every account (by account, then name)
    /// for `None`: what the scheduler and the push events read.
    async fn list_replication_rules(
        &self,
        account: Option<AccountId>,
    ) -> Result<Vec<ReplicationRule>>;
    /// Changes a replication rule; [`Error::NotFound`] when there is none (or, entity
    /// `RemoteRegistry`, when a new registry is not the account's).
    async fn update_replication_rule(
        &self,
        account: AccountId,
        name: &str,
        update: ReplicationRuleUpdate,
    ) -> Result<ReplicationRule>;
    /// Deletes a replication rule with its executions and their tasks; [`Error::NotFound`]
    /// when there is none. A node running one of them finds out at its next task.
    async fn delete_replication_rule(&self, account: AccountId, name: &str) -> Result<()>;
    /// Notes that the scheduler started an execution of `rule` at `at`, only if the rule's
    /// `scheduled` is still `previous`: of several nodes that saw the rule due, exactly one
    /// gets `true`. `false` too for an unknown rule.
    async fn mark_rule_scheduled(
        &self,
        rule: ReplicationRuleId,
        previous: Option<Timestamp>,
        at: Timestamp,
    ) -> Result<bool>;

    /// Starts an execution of `rule` (status `running`, no lease). With `tasks`, it is planned
    /// with them (numbered from 0 in order, `artifacts_total` their count); without, the node
    /// that claims it plans it. [`Error::NotFound`] for an unknown rule.
    async fn create_execution(
        &self,
        rule: ReplicationRuleId,
        trigger: &str,
        tasks: Option<Vec<NewTask>>,
        at: Timestamp,
    ) -> Result<ReplicationExecution>;
    /// An execution.
    async fn execution(&self, id: ExecutionId) -> Result<Option<ReplicationExecution>>;
    /// The latest `limit` executions of `rule`, newest first.
    async fn list_executions(
        &self,
        rule: ReplicationRuleId,
        limit: usize,
    ) -> Result<Vec<ReplicationExecution>>;
    /// Claims a `running` execution whose lease is absent or ended before `now` (oldest
    /// first): its lease becomes `owner` until `until`. Atomic: two nodes never claim the same
    /// execution for overlapping leases.
    async fn claim_execution(
        &self,
        owner: &str,
        now: Timestamp,
        until: Timestamp,
    ) -> Result<Option<ReplicationExecution>>;
    /// Extends `owner`'s lease on a running execution to `until`; `false` when `owner` does not
    /// hold it any more (it lapsed and another node claimed it, the execution finished, or its
    /// rule was deleted).
    async fn renew_lease(&self, id: ExecutionId, owner: &str, until: Timestamp) -> Result<bool>;
    /// Plans a claimed execution: appends `tasks` (numbered after any it has), adds their
    /// count to `artifacts_total` and marks it planned; `false` (nothing changed) when `owner`
    /// does not hold the lease.
    async fn plan_execution(
        &self,
        id: ExecutionId,
        owner: &str,
        tasks: Vec<NewTask>,
    ) -> Result<bool>;
    /// The tasks of an execution, by `seq`; only the pending ones when `pending_only`.
    async fn execution_tasks(
        &self,
        id: ExecutionId,
        pending_only: bool,
    ) -> Result<Vec<ReplicationTask>>;
    /// Records a task's outcome (`state` is not `Pending`) and adds it to the execution's
    /// counts and bytes, in one transaction; `false` (nothing changed) when `owner` does not
    /// hold the lease or the task is not pending any more.
    async fn finish_task(
        &self,
        id: ExecutionId,
        seq: u64,
        owner: &str,
        state: TaskState,
    ) -> Result<bool>;
    /// Ends a running execution held by `owner`: its status from its counts and `error`
    /// ([`ExecutionStatus::of`]), `finished` set, the lease cleared. `None` when `owner` does
    /// not hold it.
    async fn finish_execution(
        &self,
        id: ExecutionId,
        owner: &str,
        error: Option<String>,
        at: Timestamp,
    ) -> Result<Option<ReplicationExecution>>;

    /// A repository's history, newest first.
    async fn history(&self, repository: &RepositoryName, page: Page)
    -> Result<Paged<HistoryEvent>>;
}

/// A whole metadata backend: both halves over one database, so that what spans them (a
/// repository's deletion removing the permissions on it, a permission naming only the
/// account's own repositories) holds in one transaction. Every type implementing both is one.
pub trait MetadataStore: AccountStore + RegistryStore {}

impl<T: AccountStore + RegistryStore + ?Sized> MetadataStore for T {}
