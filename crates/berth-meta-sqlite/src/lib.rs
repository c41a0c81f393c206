//! A `MetadataStore` on SQLite: berth's embedded, zero-configuration default for metadata.
//!
//! [`SqliteMetadata::open`] opens (creating if needed) one database file, migrates it to the
//! current schema and serves the [`MetadataStore`] contract from it. Several handles, in one
//! process or several, may open the same file: SQLite's file locks keep them consistent.
//!
//! # Connections and threads
//!
//! Each handle holds **one writer connection** and a small pool of **read-only reader
//! connections** (four by default, [`SqliteOptions::readers`]). The file is in WAL mode, so
//! readers never wait for the writer nor the writer for readers; `synchronous=NORMAL`, foreign
//! keys on, and a busy timeout ([`SqliteOptions::busy_timeout`]) on every connection.
//!
//! Every call runs on `tokio::task::spawn_blocking`, after waiting *asynchronously* for a free
//! connection of the right kind (a semaphore per pool). A dedicated writer thread fed by a
//! channel was the alternative; it would allow batching several writes into one commit, but
//! costs a thread per handle and a second queue, and the writes berth makes (a push, a delete, a
//! pull flush) are already few and coarse. Waiting for the single writer happens on the async
//! side, so a burst of writes holds no blocking threads.
//!
//! # Transactions
//!
//! Every change runs in one `BEGIN IMMEDIATE` transaction on the writer: the write lock is taken
//! at `BEGIN`, before anything is read. That is what makes a push's quota check hold against a
//! concurrent push through *another* handle on the same file: the second push waits (busy
//! timeout) until the first commits, and then reads the new usage. Deleting a repository is
//! ordered with pushes the same way: whichever takes the lock second sees the other's outcome
//! (an artifact that makes the repository not empty, or no repository). A deferred transaction would
//! read first and fail to upgrade, or, worse, decide on a stale usage. Reads run in a deferred
//! transaction on a reader, so a call that reads several rows (a page and its total) sees one
//! snapshot.
//!
//! # Schema
//!
//! Numbered migrations in `migrations/` are applied on open, one version per transaction
//! (see `schema.rs`). Times are integer unix milliseconds, digests and names text, annotations
//! JSON text. Each listing walks an index: tags by `(image, name)` for `n`/`last`, artifacts by
//! `(image, pushed_at)`, images by `(repository, name)` and by full name for the catalog,
//! repositories by `(account, name)`, history by `(repository, at)`, console users by
//! `(account, username)`, API tokens by `(user, created)`. Usage is kept by per repository
//! digest reference counts, and a global count per digest serves garbage collection; each
//! repository's image count is a column the push that creates an image raises.
//!
//! # Errors
//!
//! Caller decisions are the contract's variants (a violated unique index on insert is
//! [`Error::AlreadyExists`]); every other database failure is
//! [`Error::Backend`]` { store: "sqlite", .. }` with rusqlite's error as its source.

mod accounts;
mod blobs;
mod error;
mod pool;
mod registry;
mod remotes;
mod replication;
mod rows;
mod schema;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use berth_meta::*;
use berth_model::{Digest, Name, RegistryName, RepositoryName, Tag, UploadId};
use rusqlite::{Connection, TransactionBehavior};

use crate::error::Res;
use crate::pool::{ConnectionSettings, Pool};

/// How [`SqliteMetadata`] opens its database.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SqliteOptions {
    /// Read-only connections per handle: how many lookups run at once (at least 1).
    pub readers: usize,
    /// How long a connection waits for a lock another connection or process holds.
    pub busy_timeout: Duration,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        SqliteOptions {
            // Lookups are short; a few connections keep both cores busy without many files open.
            readers: 4,
            // Long enough to queue behind any single write, short enough to surface a stuck one.
            busy_timeout: Duration::from_secs(5),
        }
    }
}

/// Metadata in a SQLite database file. Clones share the same connections.
#[derive(Debug, Clone)]
pub struct SqliteMetadata {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    path: PathBuf,
    writer: Arc<Pool>,
    readers: Arc<Pool>,
}

impl SqliteMetadata {
    /// Opens the database at `path` with default options, creating and migrating it as needed.
    pub async fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_with(path, SqliteOptions::default()).await
    }

    /// Opens the database at `path`, creating and migrating it as needed.
    pub async fn open_with(path: impl AsRef<Path>, options: SqliteOptions) -> Result<Self> {
        let path = path.as_ref().to_owned();
        let opened = path.clone();
        let (writer, readers) =
            tokio::task::spawn_blocking(move || open_blocking(&opened, &options))
                .await
                .map_err(|e| Error::backend(error::STORE, e))??;
        Ok(SqliteMetadata {
            inner: Arc::new(Inner {
                path,
                writer: Arc::new(Pool::new(vec![writer])),
                readers: Arc::new(Pool::new(readers)),
            }),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Writes a consistent copy of the whole database to `dest` while the store stays in use,
    /// by this handle, other handles and other processes (a running `berth serve`).
    ///
    /// It is SQLite's `VACUUM INTO`, run on a reader: one read transaction, so the copy holds
    /// exactly the transactions committed when it began, and in WAL mode writers go on
    /// meanwhile. The copy is compact (no free pages), in rollback-journal mode, and keeps the
    /// schema version; [`SqliteMetadata::open`] on it (or on a copy of it) makes it a store
    /// again.
    ///
    /// `dest` must not exist: a backup never overwrites one. The copy is written beside it as
    /// `DEST.partial` (created readable by its owner only: it holds password hashes), synced,
    /// and linked to `dest` only when complete, so a failed backup leaves nothing at `dest`.
    pub async fn backup_to(&self, dest: impl AsRef<Path>) -> Result<()> {
        let dest = dest.as_ref().to_owned();
        self.inner
            .readers
            .run(move |conn| backup_blocking(conn, &dest))
            .await
    }

    /// Runs `f` in one `BEGIN IMMEDIATE` transaction on the writer; commits if it succeeds.
    async fn write<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Res<T> + Send + 'static,
    {
        self.inner
            .writer
            .run(move |conn| {
                let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                let out = f(&tx)?;
                tx.commit()?;
                Ok(out)
            })
            .await
    }

    /// Runs `f` in one read transaction (one snapshot) on a reader.
    async fn read<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Res<T> + Send + 'static,
    {
        self.inner
            .readers
            .run(move |conn| {
                let tx = conn.transaction()?;
                let out = f(&tx)?;
                tx.commit()?;
                Ok(out)
            })
            .await
    }
}

/// Opens the writer, migrates, then opens the readers (a reader cannot open a file that does
/// not exist yet, and must see the migrated schema).
fn open_blocking(path: &Path, options: &SqliteOptions) -> Result<(Connection, Vec<Connection>)> {
    let settings = ConnectionSettings {
        busy_timeout: options.busy_timeout,
    };
    let db = |e| Error::backend(error::STORE, e);
    let mut writer = pool::open_writer(path, settings)?;
    schema::migrate(&mut writer, schema::MIGRATIONS)?;
    let readers = (0..options.readers.max(1))
        .map(|_| pool::open_reader(path, settings))
        .collect::<rusqlite::Result<_>>()
        .map_err(db)?;
    Ok((writer, readers))
}

/// [`SqliteMetadata::backup_to`] on a reader connection (`VACUUM INTO` runs outside any
/// transaction: it is its own).
fn backup_blocking(conn: &Connection, dest: &Path) -> Res<()> {
    let fail = |what: String| error::Fail::Meta(Error::backend(error::STORE, what));
    if dest.symlink_metadata().is_ok() {
        return Err(fail(format!(
            "{} exists already; a backup never overwrites",
            dest.display()
        )));
    }
    let mut partial = dest.as_os_str().to_owned();
    partial.push(".partial");
    let partial = PathBuf::from(partial);
    let text = partial
        .to_str()
        .ok_or_else(|| fail(format!("{} is not UTF-8", partial.display())))?
        .to_owned();
    // VACUUM INTO writes into an empty file as into a new one; making it here sets the mode,
    // and `create_new` keeps two backups from sharing it.
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
        .open(&partial)
        .map_err(|e| fail(format!("cannot create {}: {e}", partial.display())))?;
    let written = conn
        .execute("VACUUM INTO ?1", [&text])
        .map_err(error::Fail::from)
        .and_then(|_| {
            std::fs::File::open(&partial)
                .and_then(|f| f.sync_all())
                .map_err(|e| fail(format!("cannot sync {}: {e}", partial.display())))
        })
        .and_then(|()| {
            // A link, unlike a rename, fails when `dest` appeared meanwhile.
            std::fs::hard_link(&partial, dest)
                .map_err(|e| fail(format!("cannot create {}: {e}", dest.display())))
        });
    let _ = std::fs::remove_file(&partial);
    written?;
    if let Some(dir) = dest.parent().filter(|d| !d.as_os_str().is_empty()) {
        // The new name is durable only once its directory is.
        let _ = std::fs::File::open(dir).and_then(|d| d.sync_all());
    }
    Ok(())
}

#[async_trait]
impl AccountStore for SqliteMetadata {
    async fn create_account(&self, id: AccountId, name: &str, at: Timestamp) -> Result<Account> {
        let name = name.to_owned();
        self.write(move |c| accounts::create_account(c, id, &name, at))
            .await
    }

    async fn account(&self, id: AccountId) -> Result<Option<Account>> {
        self.read(move |c| accounts::account(c, id)).await
    }

    async fn list_accounts(&self, page: Page) -> Result<Paged<Account>> {
        self.read(move |c| accounts::list_accounts(c, page)).await
    }

    async fn create_console_user(
        &self,
        account: Option<AccountId>,
        username: &str,
        password_hash: &str,
        at: Timestamp,
    ) -> Result<ConsoleUser> {
        let (username, password_hash) = (username.to_owned(), password_hash.to_owned());
        self.write(move |c| {
            accounts::create_console_user(c, account, &username, &password_hash, at)
        })
        .await
    }

    async fn console_user(&self, username: &str) -> Result<Option<ConsoleUser>> {
        let username = username.to_owned();
        self.read(move |c| accounts::console_user(c, &username))
            .await
    }

    async fn console_user_by_id(&self, id: ConsoleUserId) -> Result<Option<ConsoleUser>> {
        self.read(move |c| accounts::console_user_by_id(c, id))
            .await
    }

    async fn list_console_users(
        &self,
        account: Option<AccountId>,
        page: Page,
    ) -> Result<Paged<ConsoleUser>> {
        self.read(move |c| accounts::list_console_users(c, account, page))
            .await
    }

    async fn update_console_user(
        &self,
        id: ConsoleUserId,
        update: ConsoleUserUpdate,
    ) -> Result<ConsoleUser> {
        self.write(move |c| accounts::update_console_user(c, id, &update))
            .await
    }

    async fn delete_console_user(&self, id: ConsoleUserId) -> Result<()> {
        self.write(move |c| accounts::delete_console_user(c, id))
            .await
    }

    async fn create_console_session(&self, session: ConsoleSession, keep: u32) -> Result<()> {
        self.write(move |c| accounts::create_console_session(c, &session, keep))
            .await
    }

    async fn console_session(&self, id_hash: &[u8]) -> Result<Option<ConsoleSession>> {
        let id_hash = id_hash.to_vec();
        self.read(move |c| accounts::console_session(c, &id_hash))
            .await
    }

    async fn delete_console_session(&self, id_hash: &[u8]) -> Result<bool> {
        let id_hash = id_hash.to_vec();
        self.write(move |c| accounts::delete_console_session(c, &id_hash))
            .await
    }

    async fn create_api_token(&self, token: ApiToken) -> Result<()> {
        self.write(move |c| accounts::create_api_token(c, &token))
            .await
    }

    async fn api_token(&self, token_hash: &[u8]) -> Result<Option<ApiToken>> {
        let token_hash = token_hash.to_owned();
        self.read(move |c| accounts::api_token(c, &token_hash))
            .await
    }

    async fn list_api_tokens(&self, user: ConsoleUserId) -> Result<Vec<ApiToken>> {
        self.read(move |c| accounts::list_api_tokens(c, user)).await
    }

    async fn delete_api_token(&self, token_hash: &[u8]) -> Result<bool> {
        let token_hash = token_hash.to_owned();
        self.write(move |c| accounts::delete_api_token(c, &token_hash))
            .await
    }

    async fn create_repository_user(
        &self,
        new: NewRepositoryUser,
        actor: &str,
        at: Timestamp,
    ) -> Result<RepositoryUser> {
        let actor = actor.to_owned();
        self.write(move |c| accounts::create_repository_user(c, &new, &actor, at))
            .await
    }

    async fn repository_user(&self, name: &str) -> Result<Option<RepositoryUser>> {
        let name = name.to_owned();
        self.read(move |c| accounts::repository_user(c, &name))
            .await
    }

    async fn update_repository_user(
        &self,
        name: &str,
        update: RepositoryUserUpdate,
        actor: &str,
        at: Timestamp,
    ) -> Result<RepositoryUser> {
        let (name, actor) = (name.to_owned(), actor.to_owned());
        self.write(move |c| accounts::update_repository_user(c, &name, &update, &actor, at))
            .await
    }

    async fn list_repository_users(
        &self,
        account: AccountId,
        page: Page,
    ) -> Result<Paged<RepositoryUser>> {
        self.read(move |c| accounts::list_repository_users(c, account, page))
            .await
    }

    async fn delete_repository_user(&self, name: &str, actor: &str, at: Timestamp) -> Result<()> {
        let (name, actor) = (name.to_owned(), actor.to_owned());
        self.write(move |c| accounts::delete_repository_user(c, &name, &actor, at))
            .await
    }
}

#[async_trait]
impl RegistryStore for SqliteMetadata {
    fn name(&self) -> &'static str {
        error::STORE
    }

    async fn create_repository(
        &self,
        new: NewRepository,
        actor: &str,
        at: Timestamp,
    ) -> Result<Repository> {
        let actor = actor.to_owned();
        self.write(move |c| registry::create_repository(c, &new, &actor, at))
            .await
    }

    async fn repository(&self, name: &RepositoryName) -> Result<Option<Repository>> {
        let name = name.clone();
        self.read(move |c| registry::repository(c, &name)).await
    }

    async fn update_repository(
        &self,
        name: &RepositoryName,
        update: RepositoryUpdate,
        actor: &str,
        at: Timestamp,
    ) -> Result<Repository> {
        let (name, actor) = (name.clone(), actor.to_owned());
        self.write(move |c| registry::update_repository(c, &name, &update, &actor, at))
            .await
    }

    async fn list_repositories(&self, account: AccountId, page: Page) -> Result<Paged<Repository>> {
        self.read(move |c| registry::list_repositories(c, account, page))
            .await
    }

    async fn delete_repository(
        &self,
        name: &RepositoryName,
        _actor: &str,
        _at: Timestamp,
    ) -> Result<Vec<UploadId>> {
        let name = name.clone();
        self.write(move |c| registry::delete_repository(c, &name))
            .await
    }

    async fn image(&self, name: &Name) -> Result<Option<Image>> {
        let name = name.clone();
        self.read(move |c| registry::image(c, &name)).await
    }

    async fn list_images(
        &self,
        repository: &RepositoryName,
        name_contains: Option<&str>,
        page: Page,
    ) -> Result<Paged<Image>> {
        let repository = repository.clone();
        let name_contains = name_contains.map(str::to_owned);
        self.read(move |c| registry::list_images(c, &repository, name_contains.as_deref(), page))
            .await
    }

    async fn catalog(
        &self,
        scope: &CatalogScope,
        n: usize,
        last: Option<&Name>,
    ) -> Result<Vec<Name>> {
        let (scope, last) = (scope.clone(), last.cloned());
        self.read(move |c| registry::catalog(c, &scope, n, last.as_ref()))
            .await
    }

    async fn record_push(&self, push: Push) -> Result<PushOutcome> {
        self.write(move |c| registry::record_push(c, &push)).await
    }

    async fn artifact(&self, name: &Name, digest: &Digest) -> Result<Option<Artifact>> {
        let (name, digest) = (name.clone(), digest.clone());
        self.read(move |c| registry::artifact(c, &name, &digest))
            .await
    }

    async fn resolve_tag(&self, name: &Name, tag: &Tag) -> Result<Option<Artifact>> {
        let (name, tag) = (name.clone(), tag.clone());
        self.read(move |c| registry::resolve_tag(c, &name, &tag))
            .await
    }

    async fn list_artifacts(&self, name: &Name, page: Page) -> Result<Paged<Artifact>> {
        let name = name.clone();
        self.read(move |c| registry::list_artifacts(c, &name, page))
            .await
    }

    async fn list_tags(&self, name: &Name, n: usize, last: Option<&Tag>) -> Result<Vec<Tag>> {
        let (name, last) = (name.clone(), last.cloned());
        self.read(move |c| registry::list_tags(c, &name, n, last.as_ref()))
            .await
    }

    async fn referrers(
        &self,
        name: &Name,
        subject: &Digest,
        artifact_type: Option<&str>,
    ) -> Result<Vec<Artifact>> {
        let (name, subject) = (name.clone(), subject.clone());
        let artifact_type = artifact_type.map(str::to_owned);
        self.read(move |c| registry::referrers(c, &name, &subject, artifact_type.as_deref()))
            .await
    }

    async fn delete_artifact(
        &self,
        name: &Name,
        digest: &Digest,
        actor: &str,
        at: Timestamp,
    ) -> Result<Deletion> {
        let (name, digest, actor) = (name.clone(), digest.clone(), actor.to_owned());
        self.write(move |c| registry::delete_artifact(c, &name, &digest, &actor, at))
            .await
    }

    async fn delete_image(&self, name: &Name, actor: &str, at: Timestamp) -> Result<Deletion> {
        let (name, actor) = (name.clone(), actor.to_owned());
        self.write(move |c| registry::delete_image(c, &name, &actor, at))
            .await
    }

    async fn delete_tag(
        &self,
        name: &Name,
        tag: &Tag,
        actor: &str,
        at: Timestamp,
    ) -> Result<Deletion> {
        let (name, tag, actor) = (name.clone(), tag.clone(), actor.to_owned());
        self.write(move |c| registry::delete_tag(c, &name, &tag, &actor, at))
            .await
    }

    async fn record_blob(&self, digest: &Digest, size: u64, at: Timestamp) -> Result<Blob> {
        let digest = digest.clone();
        self.write(move |c| blobs::record_blob(c, &digest, size, at))
            .await
    }

    async fn blob(&self, digest: &Digest) -> Result<Option<Blob>> {
        let digest = digest.clone();
        self.read(move |c| blobs::blob(c, &digest)).await
    }

    async fn link_blob(&self, repository: &RepositoryName, digest: &Digest) -> Result<()> {
        let (repository, digest) = (repository.clone(), digest.clone());
        self.write(move |c| blobs::link_blob(c, &repository, &digest))
            .await
    }

    async fn linked_blob(
        &self,
        repository: &RepositoryName,
        digest: &Digest,
    ) -> Result<Option<u64>> {
        let (repository, digest) = (repository.clone(), digest.clone());
        self.read(move |c| blobs::linked_blob(c, &repository, &digest))
            .await
    }

    async fn linked_repositories(
        &self,
        account: AccountId,
        digest: &Digest,
        limit: usize,
    ) -> Result<Vec<RepositoryName>> {
        let digest = digest.clone();
        self.read(move |c| blobs::linked_repositories(c, account, &digest, limit))
            .await
    }

    async fn unlink_blob(&self, repository: &RepositoryName, digest: &Digest) -> Result<bool> {
        let (repository, digest) = (repository.clone(), digest.clone());
        self.write(move |c| blobs::unlink_blob(c, &repository, &digest))
            .await
    }

    async fn unreferenced_blobs(&self, before: Timestamp, limit: usize) -> Result<Vec<Blob>> {
        self.read(move |c| blobs::unreferenced_blobs(c, before, limit))
            .await
    }

    async fn forget_blob(&self, digest: &Digest, before: Timestamp) -> Result<bool> {
        let digest = digest.clone();
        self.write(move |c| blobs::forget_blob(c, &digest, before))
            .await
    }

    async fn finish_forget(&self, digest: &Digest) -> Result<()> {
        let digest = digest.clone();
        self.write(move |c| blobs::finish_forget(c, &digest)).await
    }

    async fn tombstones(&self) -> Result<Vec<Digest>> {
        self.read(blobs::tombstones).await
    }

    async fn create_upload(&self, session: UploadSession, max_open: u64) -> Result<()> {
        self.write(move |c| blobs::create_upload(c, &session, max_open))
            .await
    }

    async fn upload(&self, id: &UploadId) -> Result<Option<UploadSession>> {
        let id = *id;
        self.read(move |c| blobs::upload(c, &id)).await
    }

    async fn touch_upload(
        &self,
        id: &UploadId,
        received: u64,
        short_chunk: bool,
        at: Timestamp,
    ) -> Result<()> {
        let id = *id;
        self.write(move |c| blobs::touch_upload(c, &id, received, short_chunk, at))
            .await
    }

    async fn open_uploads(&self) -> Result<u64> {
        self.read(blobs::open_uploads).await
    }

    async fn upload_usage(&self, repository: RepositoryId) -> Result<UploadUsage> {
        self.read(move |c| blobs::upload_usage(c, repository)).await
    }

    async fn delete_upload(&self, id: &UploadId) -> Result<()> {
        let id = *id;
        self.write(move |c| blobs::delete_upload(c, &id)).await
    }

    async fn idle_uploads(&self, before: Timestamp) -> Result<Vec<UploadSession>> {
        self.read(move |c| blobs::idle_uploads(c, before)).await
    }

    async fn record_pulls(&self, images: &[ImagePulls], artifacts: &[ArtifactPulls]) -> Result<()> {
        let (images, artifacts) = (images.to_vec(), artifacts.to_vec());
        self.write(move |c| blobs::record_pulls(c, &images, &artifacts))
            .await
    }

    async fn create_remote_registry(
        &self,
        new: NewRemoteRegistry,
        at: Timestamp,
    ) -> Result<RemoteRegistry> {
        self.write(move |c| remotes::create(c, &new, at)).await
    }

    async fn remote_registry(
        &self,
        account: AccountId,
        name: &RegistryName,
    ) -> Result<Option<RemoteRegistry>> {
        let name = name.clone();
        self.read(move |c| remotes::get(c, account, &name)).await
    }

    async fn list_remote_registries(&self, account: AccountId) -> Result<Vec<RemoteRegistry>> {
        self.read(move |c| remotes::list(c, account)).await
    }

    async fn update_remote_registry(
        &self,
        account: AccountId,
        name: &RegistryName,
        update: RemoteRegistryUpdate,
    ) -> Result<RemoteRegistry> {
        let name = name.clone();
        self.write(move |c| remotes::update(c, account, &name, &update))
            .await
    }

    async fn delete_remote_registry(&self, account: AccountId, name: &RegistryName) -> Result<()> {
        let name = name.clone();
        self.write(move |c| remotes::delete(c, account, &name))
            .await
    }

    async fn create_replication_rule(
        &self,
        new: NewReplicationRule,
        at: Timestamp,
    ) -> Result<ReplicationRule> {
        self.write(move |c| replication::create(c, &new, at)).await
    }

    async fn replication_rule(
        &self,
        account: AccountId,
        name: &str,
    ) -> Result<Option<ReplicationRule>> {
        let name = name.to_owned();
        self.read(move |c| replication::get(c, account, &name))
            .await
    }

    async fn list_replication_rules(
        &self,
        account: Option<AccountId>,
    ) -> Result<Vec<ReplicationRule>> {
        self.read(move |c| replication::list(c, account)).await
    }

    async fn update_replication_rule(
        &self,
        account: AccountId,
        name: &str,
        update: ReplicationRuleUpdate,
    ) -> Result<ReplicationRule> {
        let name = name.to_owned();
        self.write(move |c| replication::update(c, account, &name, &update))
            .await
    }

    async fn delete_replication_rule(&self, account: AccountId, name: &str) -> Result<()> {
        let name = name.to_owned();
        self.write(move |c| replication::delete(c, account, &name))
            .await
    }

    async fn mark_rule_scheduled(
        &self,
        rule: ReplicationRuleId,
        previous: Option<Timestamp>,
        at: Timestamp,
    ) -> Result<bool> {
        self.write(move |c| replication::mark_scheduled(c, rule, previous, at))
            .await
    }

    async fn create_execution(
        &self,
        rule: ReplicationRuleId,
        trigger: &str,
        tasks: Option<Vec<NewTask>>,
        at: Timestamp,
    ) -> Result<ReplicationExecution> {
        let trigger = trigger.to_owned();
        self.write(move |c| replication::create_execution(c, rule, &trigger, tasks.as_deref(), at))
            .await
    }

    async fn execution(&self, id: ExecutionId) -> Result<Option<ReplicationExecution>> {
        self.read(move |c| replication::execution(c, id)).await
    }

    async fn list_executions(
        &self,
        rule: ReplicationRuleId,
        limit: usize,
    ) -> Result<Vec<ReplicationExecution>> {
        self.read(move |c| replication::list_executions(c, rule, limit))
            .await
    }

    async fn claim_execution(
        &self,
        owner: &str,
        now: Timestamp,
        until: Timestamp,
    ) -> Result<Option<ReplicationExecution>> {
        let owner = owner.to_owned();
        self.write(move |c| replication::claim(c, &owner, now, until))
            .await
    }

    async fn renew_lease(&self, id: ExecutionId, owner: &str, until: Timestamp) -> Result<bool> {
        let owner = owner.to_owned();
        self.write(move |c| replication::renew(c, id, &owner, until))
            .await
    }

    async fn plan_execution(
        &self,
        id: ExecutionId,
        owner: &str,
        tasks: Vec<NewTask>,
    ) -> Result<bool> {
        let owner = owner.to_owned();
        self.write(move |c| replication::plan(c, id, &owner, &tasks))
            .await
    }

    async fn execution_tasks(
        &self,
        id: ExecutionId,
        pending_only: bool,
    ) -> Result<Vec<ReplicationTask>> {
        self.read(move |c| replication::tasks(c, id, pending_only))
            .await
    }

    async fn finish_task(
        &self,
        id: ExecutionId,
        seq: u64,
        owner: &str,
        state: TaskState,
    ) -> Result<bool> {
        let owner = owner.to_owned();
        self.write(move |c| replication::finish_task(c, id, seq, &owner, &state))
            .await
    }

    async fn finish_execution(
        &self,
        id: ExecutionId,
        owner: &str,
        error: Option<String>,
        at: Timestamp,
    ) -> Result<Option<ReplicationExecution>> {
        let owner = owner.to_owned();
        self.write(move |c| replication::finish(c, id, &owner, error.as_deref(), at))
            .await
    }

    async fn history(
        &self,
        repository: &RepositoryName,
        page: Page,
    ) -> Result<Paged<HistoryEvent>> {
        let repository = repository.clone();
        self.read(move |c| accounts::history(c, &repository, page))
            .await
    }
}
