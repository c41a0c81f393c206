//! A `MetadataStore` on PostgreSQL, shared by every node of a scaled-out berth.
//!
//! [`PostgresMetadata`] keeps berth's metadata in one PostgreSQL database (version 13 or later;
//! tested on 15) that any number of berth nodes share. It passes `berth-meta`'s conformance
//! suite with the in-memory backend's exact semantics.
//!
//! # Client
//!
//! `tokio-postgres` with a `deadpool-postgres` pool. Of the three usual choices it has the
//! smallest dependency tree and the shortest build (no macros, no compile-time query checking,
//! no drivers for other databases, which `sqlx` brings), the pool is a thin layer with a
//! per-connection prepared-statement cache (every query here is prepared once per connection),
//! and `bb8-postgres` offers nothing more. Connections are plain TCP or a Unix socket: TLS to
//! the database is not wired in yet (a `tokio-postgres-rustls` connector would be).
//!
//! # Transactions
//!
//! Every operation that writes more than one row is one transaction at PostgreSQL's default
//! isolation, READ COMMITTED, made safe by explicit row locks rather than SERIALIZABLE with
//! retries (no operation ever has to be retried, and contention is on the row that matters):
//!
//! - **Quota.** [`record_push`](berth_meta::RegistryStore::record_push) and
//!   [`delete_artifact`](berth_meta::RegistryStore::delete_artifact) first lock the repository's row
//!   (`SELECT … FOR NO KEY UPDATE`: exclusive among writers, yet no obstacle to the foreign-key
//!   checks of rows that merely reference the repository). Every change to a repository's
//!   usage, its images and its artifacts' references happens under that lock, so two pushes to
//!   one repository, on any nodes, run one after the other: the second reads the usage and
//!   references the first committed (each READ COMMITTED statement takes a fresh snapshot
//!   after the lock is granted) and is refused if both together would exceed the quota.
//!   Pushes to different repositories do not wait for each other.
//! - **Deleting a repository.** [`delete_repository`](berth_meta::RegistryStore::delete_repository) locks
//!   the repository's row `FOR UPDATE`, which waits for (and makes wait) every push and delete
//!   of it, and every writer about to insert a row referring to it (those take `FOR KEY SHARE`
//!   on the repository first, before touching other rows, so that no cycle of waits forms):
//!   a push that locked first has committed its artifact when the delete looks, and the delete
//!   is refused; a push that waits finds no repository.
//! - **Blobs.** A push takes `FOR KEY SHARE` on the blob rows it references, and
//!   [`forget_blob`](berth_meta::RegistryStore::forget_blob) takes `FOR UPDATE` on its blob before it
//!   looks for references: garbage collection cannot forget a blob that a concurrent push is
//!   about to reference.
//! - **Pulls.** [`record_pulls`](berth_meta::RegistryStore::record_pulls) adds in SQL
//!   (`pull_count = pull_count + n`, `last_pull = GREATEST(last_pull, t)`), so flushes from
//!   many nodes lose nothing; it locks rows in id order, and pushes lock an image before its
//!   artifacts, so flushes and pushes cannot deadlock.
//!
//! # Schema
//!
//! Numbered migrations in `migrations/` (embedded, see [`migrate`]), applied when a store
//! connects. Digests, names and tags are `text COLLATE "C"` (byte order, as OCI listings sort);
//! times are `bigint` Unix milliseconds; annotations are `jsonb`. Usage is kept in the
//! repository row; the references behind it are rows of `artifact_refs`, counted through the
//! `(repository, digest)` index for usage and the `(digest)` index for garbage collection,
//! rather than counters that every push of a popular base layer would contend on. Every
//! listing is a range scan of an index matching its order (see the comments in the migration);
//! listings name their parent (image, repository) through a scalar subquery rather than a join,
//! so that the planner sees one parent id and reads the child's index in order instead of
//! sorting.

mod accounts;
mod blobs;
mod db;
mod migrate;
mod push;
mod remotes;
mod replication;
mod repositories;
mod rows;

use std::time::Duration;

use async_trait::async_trait;
use berth_meta::*;
use berth_model::{Digest, Name, RegistryName, RepositoryName, Tag, UploadId};
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio_postgres::NoTls;

pub use migrate::{MIGRATIONS, migrate};

/// The name this backend reports in errors and metrics.
const STORE: &str = "postgres";

/// How a [`PostgresMetadata`] connects.
#[derive(Debug, Clone)]
pub struct PostgresOptions {
    /// Most connections the pool opens (each is a PostgreSQL backend process).
    pub max_connections: usize,
    /// How long an operation waits for a free connection before it fails.
    pub wait_timeout: Duration,
    /// How long opening a connection may take.
    pub connect_timeout: Duration,
}

impl Default for PostgresOptions {
    fn default() -> Self {
        PostgresOptions {
            max_connections: 16,
            wait_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
        }
    }
}

/// Metadata in a PostgreSQL database shared by many berth nodes. Clones share the pool.
#[derive(Clone)]
pub struct PostgresMetadata {
    pool: Pool,
}

impl std::fmt::Debug for PostgresMetadata {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let status = self.pool.status();
        f.debug_struct("PostgresMetadata")
            .field("max_connections", &status.max_size)
            .field("open_connections", &status.size)
            .finish()
    }
}

impl PostgresMetadata {
    /// Connects to the database at `url` (`postgres://user:password@host:port/db`, or the
    /// key=value form), applies the migrations it lacks, and returns the store.
    pub async fn connect(url: &str, options: PostgresOptions) -> Result<Self> {
        let mut config: tokio_postgres::Config = url.parse().map_err(db::pg)?;
        config.connect_timeout(options.connect_timeout);
        config.application_name("berth");
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(options.max_connections.max(1))
            .wait_timeout(Some(options.wait_timeout))
            .runtime(Runtime::Tokio1)
            .build()
            .map_err(|e| Error::backend(STORE, e))?;
        Self::from_pool(pool).await
    }

    /// A store on a pool the caller built, after applying the migrations it lacks.
    pub async fn from_pool(pool: Pool) -> Result<Self> {
        migrate(&pool).await?;
        Ok(PostgresMetadata { pool })
    }

    /// The connection pool (for health checks and metrics).
    pub fn pool(&self) -> &Pool {
        &self.pool
    }
}

#[async_trait]
impl AccountStore for PostgresMetadata {
    async fn create_account(&self, id: AccountId, name: &str, at: Timestamp) -> Result<Account> {
        accounts::create_account(&self.pool, id, name, at).await
    }

    async fn account(&self, id: AccountId) -> Result<Option<Account>> {
        accounts::account(&self.pool, id).await
    }

    async fn list_accounts(&self, page: Page) -> Result<Paged<Account>> {
        accounts::list_accounts(&self.pool, page).await
    }

    async fn create_console_user(
        &self,
        account: Option<AccountId>,
        username: &str,
        password_hash: &str,
        at: Timestamp,
    ) -> Result<ConsoleUser> {
        accounts::create_console_user(&self.pool, account, username, password_hash, at).await
    }

    async fn console_user(&self, username: &str) -> Result<Option<ConsoleUser>> {
        accounts::console_user(&self.pool, username).await
    }

    async fn console_user_by_id(&self, id: ConsoleUserId) -> Result<Option<ConsoleUser>> {
        accounts::console_user_by_id(&self.pool, id).await
    }

    async fn list_console_users(
        &self,
        account: Option<AccountId>,
        page: Page,
    ) -> Result<Paged<ConsoleUser>> {
        accounts::list_console_users(&self.pool, account, page).await
    }

    async fn update_console_user(
        &self,
        id: ConsoleUserId,
        update: ConsoleUserUpdate,
    ) -> Result<ConsoleUser> {
        accounts::update_console_user(&self.pool, id, update).await
    }

    async fn delete_console_user(&self, id: ConsoleUserId) -> Result<()> {
        accounts::delete_console_user(&self.pool, id).await
    }

    async fn create_console_session(&self, session: ConsoleSession, keep: u32) -> Result<()> {
        accounts::create_console_session(&self.pool, session, keep).await
    }

    async fn console_session(&self, id_hash: &[u8]) -> Result<Option<ConsoleSession>> {
        accounts::console_session(&self.pool, id_hash).await
    }

    async fn delete_console_session(&self, id_hash: &[u8]) -> Result<bool> {
        accounts::delete_console_session(&self.pool, id_hash).await
    }

    async fn create_api_token(&self, token: ApiToken) -> Result<()> {
        accounts::create_api_token(&self.pool, token).await
    }

    async fn api_token(&self, token_hash: &[u8]) -> Result<Option<ApiToken>> {
        accounts::api_token(&self.pool, token_hash).await
    }

    async fn list_api_tokens(&self, user: ConsoleUserId) -> Result<Vec<ApiToken>> {
        accounts::list_api_tokens(&self.pool, user).await
    }

    async fn delete_api_token(&self, token_hash: &[u8]) -> Result<bool> {
        accounts::delete_api_token(&self.pool, token_hash).await
    }

    async fn create_repository_user(
        &self,
        new: NewRepositoryUser,
        actor: &str,
        at: Timestamp,
    ) -> Result<RepositoryUser> {
        accounts::create_repository_user(&self.pool, new, actor, at).await
    }

    async fn repository_user(&self, name: &str) -> Result<Option<RepositoryUser>> {
        accounts::repository_user(&self.pool, name).await
    }

    async fn update_repository_user(
        &self,
        name: &str,
        update: RepositoryUserUpdate,
        actor: &str,
        at: Timestamp,
    ) -> Result<RepositoryUser> {
        accounts::update_repository_user(&self.pool, name, update, actor, at).await
    }

    async fn list_repository_users(
        &self,
        account: AccountId,
        page: Page,
    ) -> Result<Paged<RepositoryUser>> {
        accounts::list_repository_users(&self.pool, account, page).await
    }

    async fn delete_repository_user(&self, name: &str, actor: &str, at: Timestamp) -> Result<()> {
        accounts::delete_repository_user(&self.pool, name, actor, at).await
    }
}

#[async_trait]
impl RegistryStore for PostgresMetadata {
    fn name(&self) -> &'static str {
        STORE
    }

    fn pool(&self) -> Option<berth_meta::PoolState> {
        let status = self.pool.status();
        Some(berth_meta::PoolState {
            max: status.max_size,
            open: status.size,
            idle: status.available,
            waiting: status.waiting,
        })
    }

    async fn create_repository(
        &self,
        new: NewRepository,
        actor: &str,
        at: Timestamp,
    ) -> Result<Repository> {
        repositories::create_repository(&self.pool, new, actor, at).await
    }

    async fn repository(&self, name: &RepositoryName) -> Result<Option<Repository>> {
        repositories::repository(&self.pool, name).await
    }

    async fn update_repository(
        &self,
        name: &RepositoryName,
        update: RepositoryUpdate,
        actor: &str,
        at: Timestamp,
    ) -> Result<Repository> {
        repositories::update_repository(&self.pool, name, update, actor, at).await
    }

    async fn list_repositories(&self, account: AccountId, page: Page) -> Result<Paged<Repository>> {
        repositories::list_repositories(&self.pool, account, page).await
    }

    async fn delete_repository(
        &self,
        name: &RepositoryName,
        _actor: &str,
        _at: Timestamp,
    ) -> Result<Vec<UploadId>> {
        repositories::delete_repository(&self.pool, name).await
    }

    async fn image(&self, name: &Name) -> Result<Option<Image>> {
        repositories::image(&self.pool, name).await
    }

    async fn list_images(
        &self,
        repository: &RepositoryName,
        name_contains: Option<&str>,
        page: Page,
    ) -> Result<Paged<Image>> {
        repositories::list_images(&self.pool, repository, name_contains, page).await
    }

    async fn catalog(
        &self,
        scope: &CatalogScope,
        n: usize,
        last: Option<&Name>,
    ) -> Result<Vec<Name>> {
        repositories::catalog(&self.pool, scope, n, last).await
    }

    async fn record_push(&self, push: Push) -> Result<PushOutcome> {
        push::record_push(&self.pool, push).await
    }

    async fn artifact(&self, name: &Name, digest: &Digest) -> Result<Option<Artifact>> {
        push::artifact(&self.pool, name, digest).await
    }

    async fn resolve_tag(&self, name: &Name, tag: &Tag) -> Result<Option<Artifact>> {
        push::resolve_tag(&self.pool, name, tag).await
    }

    async fn list_artifacts(&self, name: &Name, page: Page) -> Result<Paged<Artifact>> {
        push::list_artifacts(&self.pool, name, page).await
    }

    async fn list_tags(&self, name: &Name, n: usize, last: Option<&Tag>) -> Result<Vec<Tag>> {
        push::list_tags(&self.pool, name, n, last).await
    }

    async fn referrers(
        &self,
        name: &Name,
        subject: &Digest,
        artifact_type: Option<&str>,
    ) -> Result<Vec<Artifact>> {
        push::referrers(&self.pool, name, subject, artifact_type).await
    }

    async fn delete_artifact(
        &self,
        name: &Name,
        digest: &Digest,
        actor: &str,
        at: Timestamp,
    ) -> Result<Deletion> {
        push::delete_artifact(&self.pool, name, digest, actor, at).await
    }

    async fn delete_image(&self, name: &Name, actor: &str, at: Timestamp) -> Result<Deletion> {
        push::delete_image(&self.pool, name, actor, at).await
    }

    async fn delete_tag(
        &self,
        name: &Name,
        tag: &Tag,
        actor: &str,
        at: Timestamp,
    ) -> Result<Deletion> {
        push::delete_tag(&self.pool, name, tag, actor, at).await
    }

    async fn record_blob(&self, digest: &Digest, size: u64, at: Timestamp) -> Result<Blob> {
        blobs::record_blob(&self.pool, digest, size, at).await
    }

    async fn blob(&self, digest: &Digest) -> Result<Option<Blob>> {
        blobs::blob(&self.pool, digest).await
    }

    async fn unreferenced_blobs(&self, before: Timestamp, limit: usize) -> Result<Vec<Blob>> {
        blobs::unreferenced_blobs(&self.pool, before, limit).await
    }

    async fn forget_blob(&self, digest: &Digest, before: Timestamp) -> Result<bool> {
        blobs::forget_blob(&self.pool, digest, before).await
    }

    async fn link_blob(&self, repository: &RepositoryName, digest: &Digest) -> Result<()> {
        blobs::link_blob(&self.pool, repository, digest).await
    }

    async fn linked_blob(
        &self,
        repository: &RepositoryName,
        digest: &Digest,
    ) -> Result<Option<u64>> {
        blobs::linked_blob(&self.pool, repository, digest).await
    }

    async fn linked_repositories(
        &self,
        account: AccountId,
        digest: &Digest,
        limit: usize,
    ) -> Result<Vec<RepositoryName>> {
        blobs::linked_repositories(&self.pool, account, digest, limit).await
    }

    async fn unlink_blob(&self, repository: &RepositoryName, digest: &Digest) -> Result<bool> {
        blobs::unlink_blob(&self.pool, repository, digest).await
    }

    async fn finish_forget(&self, digest: &Digest) -> Result<()> {
        blobs::finish_forget(&self.pool, digest).await
    }

    async fn tombstones(&self) -> Result<Vec<Digest>> {
        blobs::tombstones(&self.pool).await
    }

    async fn create_upload(&self, session: UploadSession, max_open: u64) -> Result<()> {
        blobs::create_upload(&self.pool, session, max_open).await
    }

    async fn upload(&self, id: &UploadId) -> Result<Option<UploadSession>> {
        blobs::upload(&self.pool, id).await
    }

    async fn touch_upload(
        &self,
        id: &UploadId,
        received: u64,
        short_chunk: bool,
        at: Timestamp,
    ) -> Result<()> {
        blobs::touch_upload(&self.pool, id, received, short_chunk, at).await
    }

    async fn open_uploads(&self) -> Result<u64> {
        blobs::open_uploads(&self.pool).await
    }

    async fn upload_usage(&self, repository: RepositoryId) -> Result<UploadUsage> {
        blobs::upload_usage(&self.pool, repository).await
    }

    async fn delete_upload(&self, id: &UploadId) -> Result<()> {
        blobs::delete_upload(&self.pool, id).await
    }

    async fn idle_uploads(&self, before: Timestamp) -> Result<Vec<UploadSession>> {
        blobs::idle_uploads(&self.pool, before).await
    }

    async fn record_pulls(&self, images: &[ImagePulls], artifacts: &[ArtifactPulls]) -> Result<()> {
        blobs::record_pulls(&self.pool, images, artifacts).await
    }

    async fn create_remote_registry(
        &self,
        new: NewRemoteRegistry,
        at: Timestamp,
    ) -> Result<RemoteRegistry> {
        remotes::create(&self.pool, new, at).await
    }

    async fn remote_registry(
        &self,
        account: AccountId,
        name: &RegistryName,
    ) -> Result<Option<RemoteRegistry>> {
        remotes::get_one(&self.pool, account, name).await
    }

    async fn list_remote_registries(&self, account: AccountId) -> Result<Vec<RemoteRegistry>> {
        remotes::list(&self.pool, account).await
    }

    async fn update_remote_registry(
        &self,
        account: AccountId,
        name: &RegistryName,
        update: RemoteRegistryUpdate,
    ) -> Result<RemoteRegistry> {
        remotes::update(&self.pool, account, name, update).await
    }

    async fn delete_remote_registry(&self, account: AccountId, name: &RegistryName) -> Result<()> {
        remotes::delete(&self.pool, account, name).await
    }

    async fn create_replication_rule(
        &self,
        new: NewReplicationRule,
        at: Timestamp,
    ) -> Result<ReplicationRule> {
        replication::create(&self.pool, new, at).await
    }

    async fn replication_rule(
        &self,
        account: AccountId,
        name: &str,
    ) -> Result<Option<ReplicationRule>> {
        replication::get_one(&self.pool, account, name).await
    }

    async fn list_replication_rules(
        &self,
        account: Option<AccountId>,
    ) -> Result<Vec<ReplicationRule>> {
        replication::list(&self.pool, account).await
    }

    async fn update_replication_rule(
        &self,
        account: AccountId,
        name: &str,
        update: ReplicationRuleUpdate,
    ) -> Result<ReplicationRule> {
        replication::update(&self.pool, account, name, update).await
    }

    async fn delete_replication_rule(&self, account: AccountId, name: &str) -> Result<()> {
        replication::delete(&self.pool, account, name).await
    }

    async fn mark_rule_scheduled(
        &self,
        rule: ReplicationRuleId,
        previous: Option<Timestamp>,
        at: Timestamp,
    ) -> Result<bool> {
        replication::mark_scheduled(&self.pool, rule, previous, at).await
    }

    async fn create_execution(
        &self,
        rule: ReplicationRuleId,
        trigger: &str,
        tasks: Option<Vec<NewTask>>,
        at: Timestamp,
    ) -> Result<ReplicationExecution> {
        replication::create_execution(&self.pool, rule, trigger, tasks, at).await
    }

    async fn execution(&self, id: ExecutionId) -> Result<Option<ReplicationExecution>> {
        replication::execution(&self.pool, id).await
    }

    async fn list_executions(
        &self,
        rule: ReplicationRuleId,
        limit: usize,
    ) -> Result<Vec<ReplicationExecution>> {
        replication::list_executions(&self.pool, rule, limit).await
    }

    async fn claim_execution(
        &self,
        owner: &str,
        now: Timestamp,
        until: Timestamp,
    ) -> Result<Option<ReplicationExecution>> {
        replication::claim(&self.pool, owner, now, until).await
    }

    async fn renew_lease(&self, id: ExecutionId, owner: &str, until: Timestamp) -> Result<bool> {
        replication::renew(&self.pool, id, owner, until).await
    }

    async fn plan_execution(
        &self,
        id: ExecutionId,
        owner: &str,
        tasks: Vec<NewTask>,
    ) -> Result<bool> {
        replication::plan(&self.pool, id, owner, tasks).await
    }

    async fn execution_tasks(
        &self,
        id: ExecutionId,
        pending_only: bool,
    ) -> Result<Vec<ReplicationTask>> {
        replication::tasks(&self.pool, id, pending_only).await
    }

    async fn finish_task(
        &self,
        id: ExecutionId,
        seq: u64,
        owner: &str,
        state: TaskState,
    ) -> Result<bool> {
        replication::finish_task(&self.pool, id, seq, owner, state).await
    }

    async fn finish_execution(
        &self,
        id: ExecutionId,
        owner: &str,
        error: Option<String>,
        at: Timestamp,
    ) -> Result<Option<ReplicationExecution>> {
        replication::finish(&self.pool, id, owner, error, at).await
    }

    async fn history(
        &self,
        repository: &RepositoryName,
        page: Page,
    ) -> Result<Paged<HistoryEvent>> {
        repositories::history(&self.pool, repository, page).await
    }
}
