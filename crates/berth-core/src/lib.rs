//! The embeddable berth registry engine.
//!
//! A [`Registry`] combines a [`BlobStore`] and a [`MetadataStore`] and exposes every registry
//! operation as one typed call that takes the caller's [`Principal`]: it gathers the facts
//! (the repository's owner and access, the user's current record), asks [`berth_policy`], and
//! acts. No HTTP types appear here; `berth-v2` maps requests to these calls.
//!
//! [`Registry::new`] takes the backends; [`Registry::in_memory`] is the one-call engine for tests
//! and embedders (`berth-v2`'s docs and `examples/` show it mounted in axum and hyper).
//!
//! - Blobs and uploads: [`Registry::stat_blob`], [`Registry::read_blob`],
//!   [`Registry::start_upload`], [`Registry::append_upload`], [`Registry::commit_upload`],
//!   [`Registry::put_blob`], [`Registry::mount_blob`] and friends (`blobs.rs`).
//! - Manifests, tags, catalog and referrers (`manifests.rs`).
//! - Logins and credentials: [`identity::Identity`], reached by [`Registry::identity`].
//! - Management (accounts, repositories, remote registries, repository users, console users, API
//!   tokens, history),
//!   each decided through [`berth_policy`]: [`Registry::manage`] (`manage.rs`).
//! - Proxy repositories, a pull-through cache of a remote registry: the same pull calls answer
//!   from the cache or fetch from the upstream (`proxy.rs`), through one `berth_remote::Client`
//!   per registry ([`Registry::remote_client`], `remotes.rs`), whose password is sealed at rest
//!   ([`sealing`]).
//! - Pull statistics, counted in memory and flushed in batches by [`Registry::flush_pulls`]
//!   (`stats.rs`): the pull path never writes to the metadata store.
//!
//! Manifests are stored as blobs under their digest, before their metadata is recorded, so a
//! recorded artifact always has its bytes.

mod blobs;
mod body;
mod cache;
pub mod clock;
mod error;
mod gc;
pub mod identity;
mod manage;
mod manifests;
pub mod metrics;
mod proxy;
mod remotes;
mod replication;
mod room;
pub mod sealing;
mod stats;
mod ttl;

use std::sync::Arc;
use std::time::Duration;

use berth_meta::{AccountStore, CatalogScope, MetadataStore, Page, RegistryStore, Repository};
use berth_model::RepositoryName;
use berth_policy::{Action, Principal, Target, authorize};
use berth_storage::BlobStore;

pub use blobs::Mount;
pub use body::{Buffered, HttpBody, MemoryBudget, ReadError, RequestBody};
pub use error::{Error, Outage, Result, chain as error_chain, unavailable_backend};
pub use gc::GcReport;
pub use manage::{
    ArtifactContent, ExecutionReport, MAX_REMOTE_PASSWORD, MAX_REMOTE_URL, MAX_REMOTE_USERNAME,
    MAX_REPLICATION_RULES, MIN_SCHEDULE_SECS, ManageError, Manager, RemoteRegistryChange,
    RemoteRegistrySpec, ReplicationRuleChange, ReplicationRuleSpec, format_interval,
    parse_interval, remote_registry_url,
};
pub use manifests::{ManifestHead, ManifestRead, PushedManifest};
pub use replication::ReplicationCounts;

/// Engine settings.
#[derive(Debug, Clone)]
pub struct RegistryConfig {
    /// Manifests larger than this are refused (default 4 MiB).
    pub max_manifest_size: u64,
    /// How often [`Registry::run_pull_flusher`] flushes pull statistics (default 5 s).
    pub pull_flush_interval: Duration,
    /// Bytes of manifests kept in memory for the pull path (default 64 MiB).
    pub manifest_cache_bytes: usize,
    /// How long an unreferenced blob is kept before garbage collection may delete it (default
    /// 1 hour): the time a client has between uploading layers and pushing their manifest.
    pub gc_grace: Duration,
    /// Upload sessions idle this long are removed (default 1 hour), checked every quarter of
    /// it (at least every minute, at most every 15 minutes) by [`Registry::run_gc`].
    pub upload_idle_limit: Duration,
    /// How often [`Registry::run_gc`] collects (default 1 hour).
    pub gc_interval: Duration,
    /// Upload sessions a repository may have open at once (default 100).
    pub max_open_uploads: u64,
    /// Bytes of request bodies read whole into memory (manifests, management-API JSON) that all
    /// requests together may hold at once (default 64 MiB; at least the largest manifest).
    pub max_buffered_bytes: usize,
    /// How often a proxy repository asks its upstream what a tag names (default 60 s); between
    /// checks the cached artifact is served.
    pub proxy_tag_check: Duration,
    /// Cached artifacts of proxy repositories not pulled for this long are removed by the
    /// collector (default 7 days).
    pub proxy_keep_unpulled: Duration,
    /// Blob fetches from upstreams in progress at once on this node (default 64); beyond, a
    /// pull is asked to retry.
    pub max_proxy_fetches: usize,
    /// Where blobs on their way from an upstream are spooled (unnamed files; default the
    /// system's temporary directory).
    pub spool_dir: Option<std::path::PathBuf>,
    /// Tasks (artifacts) one replication execution copies at once (default 4).
    pub replication_concurrency: usize,
    /// Replication executions this node runs at once (default 4).
    pub replication_executions: usize,
    /// How long a node's claim on a replication execution lasts unless renewed (default 10 s;
    /// renewed every third of it): after a crash, another node (or the restarted one) continues
    /// the execution once it lapsed.
    pub replication_lease: Duration,
    /// The key that seals remote registries' passwords in the metadata store (default: a random
    /// key for this process, right for an in-memory registry only; `berth serve` configures one,
    /// and nodes sharing a store must share it).
    pub sealing_key: sealing::SealingKey,
    /// The engine's time (default the system's): every timestamp it records and every deadline
    /// it checks (GC grace, idle uploads, expiry, throttling, sessions) reads this clock.
    pub clock: Arc<dyn clock::Clock>,
}

impl Default for RegistryConfig {
    fn default() -> Self {
        RegistryConfig {
            max_manifest_size: 4 << 20,
            pull_flush_interval: Duration::from_secs(5),
            manifest_cache_bytes: 64 << 20,
            gc_grace: Duration::from_secs(3600),
            upload_idle_limit: Duration::from_secs(3600),
            gc_interval: Duration::from_secs(3600),
            max_open_uploads: 100,
            max_buffered_bytes: 64 << 20,
            proxy_tag_check: Duration::from_secs(60),
            proxy_keep_unpulled: Duration::from_secs(7 * 24 * 3600),
            max_proxy_fetches: 64,
            spool_dir: None,
            replication_concurrency: 4,
            replication_executions: 4,
            replication_lease: Duration::from_secs(10),
            sealing_key: sealing::SealingKey::ephemeral(),
            clock: Arc::new(clock::SystemClock),
        }
    }
}

/// The registry engine.
#[derive(Debug)]
pub struct Registry {
    blobs: Arc<dyn BlobStore>,
    meta: Arc<dyn MetadataStore>,
    config: RegistryConfig,
    pulls: stats::PullCounter,
    manifests: cache::ManifestCache,
    identity: identity::Identity,
    repositories: ttl::Cache<Option<Repository>>,
    budget: MemoryBudget,
    in_flight: Arc<room::InFlight>,
    counters: metrics::Counters,
    proxy: Arc<proxy::ProxyState>,
    remotes: remotes::Remotes,
    replication: Arc<replication::ReplicationState>,
}

/// Names the caller of the request being answered, as the `principal` field of the span the
/// host opened for it (`berth serve`'s `request` span, which its access line shows); nothing
/// happens when the current span has no such field.
pub fn note_caller(name: &str) {
    tracing::Span::current().record("principal", tracing::field::display(name));
}

impl Registry {
    /// An engine over these backends.
    pub fn new(
        blobs: Arc<dyn BlobStore>,
        meta: Arc<dyn MetadataStore>,
        config: RegistryConfig,
    ) -> Self {
        let budget_bytes = config
            .max_buffered_bytes
            .max(usize::try_from(config.max_manifest_size).unwrap_or(usize::MAX));
        Registry {
            blobs,
            identity: identity::Identity::new(
                meta.clone() as Arc<dyn AccountStore>,
                config.clock.clone(),
            ),
            repositories: ttl::Cache::new(),
            meta,
            manifests: cache::ManifestCache::new(config.manifest_cache_bytes),
            budget: MemoryBudget::new(budget_bytes),
            in_flight: Arc::default(),
            counters: metrics::Counters::default(),
            proxy: Arc::default(),
            remotes: remotes::Remotes::new(),
            replication: Arc::new(replication::ReplicationState::new()),
            config,
            pulls: stats::PullCounter::default(),
        }
    }

    /// An engine in memory, with default settings and each of `repositories` created public
    /// in one account (`embedded`, id 1): the one-call registry for tests and embedders. Nothing
    /// survives the process.
    pub async fn in_memory(repositories: &[RepositoryName]) -> Result<Arc<Self>> {
        let meta = Arc::new(berth_meta::MemoryMetadata::new());
        let now = berth_meta::Timestamp::now();
        let account = berth_meta::AccountId(1);
        meta.create_account(account, "embedded", now)
            .await
            .map_err(Error::metadata)?;
        for name in repositories {
            let new = berth_meta::NewRepository {
                account,
                name: name.clone(),
                access: berth_meta::Access::Public,
                quota: None,
                delete_orphan_referrers: true,
                proxy: None,
            };
            meta.create_repository(new, "embedder", now)
                .await
                .map_err(Error::metadata)?;
        }
        let blobs = Arc::new(berth_storage::MemoryStore::new());
        Ok(Arc::new(Registry::new(
            blobs,
            meta,
            RegistryConfig::default(),
        )))
    }

    /// The present moment, by the engine's clock.
    pub fn now(&self) -> berth_model::Timestamp {
        self.config.clock.now()
    }

    /// The engine's settings.
    pub fn config(&self) -> &RegistryConfig {
        &self.config
    }

    /// The metadata store (for the management API).
    pub fn metadata(&self) -> &Arc<dyn MetadataStore> {
        &self.meta
    }

    /// Logins and credentials, over the same metadata store.
    pub fn identity(&self) -> &identity::Identity {
        &self.identity
    }

    /// The blob store.
    pub fn blob_store(&self) -> &Arc<dyn BlobStore> {
        &self.blobs
    }

    /// The bound on request bodies held in memory, shared by every surface that reads one whole
    /// (manifests here, JSON in the management API).
    pub fn memory_budget(&self) -> &MemoryBudget {
        &self.budget
    }

    /// The repository, once `principal` may perform `action` on it.
    async fn authorize(
        &self,
        principal: &Principal,
        action: Action,
        name: &RepositoryName,
    ) -> Result<Repository> {
        // A missing repository, and a private one the caller cannot see, answer alike: nobody
        // logged in is asked for credentials, exactly as for a private repository; a logged-in
        // caller of another account is told the name is unknown. Names cannot be probed.
        let missing = || {
            let anonymous = match principal {
                Principal::Anonymous => true,
                Principal::Token(token) => token.subject.is_none(),
                _ => false,
            };
            if anonymous {
                Error::Denied(berth_policy::Denial::AuthenticationRequired {
                    action,
                    repository: name.clone(),
                })
            } else {
                Error::NameUnknown(name.clone())
            }
        };
        let Some(repository) = self.repository(name).await? else {
            return Err(missing());
        };
        let target = Target {
            repository: &repository.name,
            account: repository.account,
            access: repository.access,
        };
        match authorize(principal, action, target, self.now()).into_result() {
            Ok(()) => Ok(repository),
            Err(_) if !visible(principal, &repository) => Err(missing()),
            Err(denial) => Err(denial.into()),
        }
    }

    /// How stale a repository record (access level, quota, usage) may be when an operation is
    /// authorized: changes made elsewhere (another node, the admin CLI) apply within this time.
    /// The definitive quota check is in the metadata transaction of each push.
    pub const REPOSITORY_TTL: Duration = Duration::from_secs(1);

    /// A repository's record, from the cache when fresh.
    async fn repository(&self, name: &RepositoryName) -> Result<Option<Repository>> {
        let fetch = async { self.meta.repository(name).await };
        self.repositories
            .get_or_fetch(name.as_str(), Self::REPOSITORY_TTL, fetch)
            .await
            .map_err(Error::metadata)
    }

    /// Forgets the cached record of `name`: call after changing the repository through
    /// [`Registry::metadata`], so that this node applies the change at once.
    pub fn forget_repository(&self, name: &RepositoryName) {
        self.repositories.forget(name.as_str());
    }

    /// Whether `principal` may perform `action` on repository `name`: the check every operation
    /// makes, for a token endpoint deciding what to grant.
    pub async fn check(
        &self,
        principal: &Principal,
        action: Action,
        name: &RepositoryName,
    ) -> Result<()> {
        self.authorize(principal, action, name).await.map(|_| ())
    }

    /// Which repositories `principal` may list in the catalog.
    async fn catalog_scope(&self, principal: &Principal) -> Result<CatalogScope> {
        Ok(match principal {
            Principal::SystemAdmin => CatalogScope::All,
            Principal::Anonymous => CatalogScope::Visible(Vec::new()),
            Principal::ConsoleUser { account } => {
                let page = Page {
                    page: 1,
                    size: u32::MAX,
                };
                let repositories = self
                    .meta
                    .list_repositories(*account, page)
                    .await
                    .map_err(Error::metadata)?;
                CatalogScope::Visible(repositories.items.into_iter().map(|r| r.id).collect())
            }
            Principal::Token(token) => {
                let mut ids = Vec::new();
                let pulls = token.grants.iter().filter(|(_, a)| *a == Action::Pull);
                for (name, _) in pulls {
                    if let Some(repository) =
                        self.meta.repository(name).await.map_err(Error::metadata)?
                    {
                        ids.push(repository.id);
                    }
                }
                CatalogScope::Visible(ids)
            }
            Principal::RepositoryUser(user) => {
                let now = self.now();
                let locked = user.disabled || user.expires.is_some_and(|e| e <= now);
                let mut ids = Vec::new();
                for (name, _) in user.permissions.iter().filter(|_| !locked) {
                    if let Some(repository) =
                        self.meta.repository(name).await.map_err(Error::metadata)?
                    {
                        ids.push(repository.id);
                    }
                }
                CatalogScope::Visible(ids)
            }
        })
    }

    /// Writes the pull statistics counted so far to the metadata store. On failure the counts are
    /// kept for the next flush.
    pub async fn flush_pulls(&self) -> Result<()> {
        let (images, artifacts) = self.pulls.take();
        if images.is_empty() && artifacts.is_empty() {
            return Ok(());
        }
        let started = std::time::Instant::now();
        let written = self.meta.record_pulls(&images, &artifacts).await;
        self.counters
            .pull_flush
            .finished(written.is_ok(), started.elapsed(), self.now());
        if let Err(e) = written {
            self.pulls.restore(&images, &artifacts);
            return Err(Error::metadata(e));
        }
        Ok(())
    }

    /// Pulls counted in memory and not yet flushed.
    pub fn pending_pulls(&self) -> u64 {
        self.pulls.pending()
    }

    /// Flushes pull statistics every [`RegistryConfig::pull_flush_interval`] until `shutdown`
    /// resolves, then once more.
    pub async fn run_pull_flusher(&self, shutdown: impl std::future::Future<Output = ()>) {
        let mut shutdown = std::pin::pin!(shutdown);
        let mut tick = tokio::time::interval(self.config.pull_flush_interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    // A failed flush keeps its counts; the next tick retries.
                    if let Err(e) = self.flush_pulls().await {
                        tracing::error!(error = %error::chain(&e), pending = self.pending_pulls(), "flushing pull statistics failed; the counts are kept and retried at the next interval");
                    }
                }
                () = &mut shutdown => break,
            }
        }
        if let Err(e) = self.flush_pulls().await {
            tracing::error!(error = %error::chain(&e), pending = self.pending_pulls(), "the last flush of pull statistics failed; these counts are lost");
        }
    }
}

impl Registry {
    /// Records a blob whose bytes were just committed to storage, and checks the bytes are still
    /// there: see [`record_stored`].
    pub(crate) async fn record_stored_blob(
        &self,
        digest: &berth_model::Digest,
        size: u64,
    ) -> Result<()> {
        record_stored(&*self.meta, &*self.blobs, digest, size, self.now()).await
    }

    /// Links a blob just recorded into `name`'s repository: see [`link_stored`].
    pub(crate) async fn link_stored_blob(
        &self,
        name: &berth_model::Name,
        digest: &berth_model::Digest,
    ) -> Result<()> {
        link_stored(&*self.meta, name, digest).await
    }
}

/// Records a blob whose bytes were just committed to storage, and checks the bytes are still
/// there: a collector that forgot the digest may have deleted them in between (see
/// [`berth_meta::RegistryStore::forget_blob`]); the client then uploads again.
pub(crate) async fn record_stored(
    meta: &dyn MetadataStore,
    blobs: &dyn BlobStore,
    digest: &berth_model::Digest,
    size: u64,
    now: berth_model::Timestamp,
) -> Result<()> {
    match meta.record_blob(digest, size, now).await {
        Ok(_) => {}
        Err(berth_meta::Error::BlobBeingDeleted(d)) => {
            return Err(Error::BlobBeingCollected(d));
        }
        Err(e) => return Err(Error::metadata(e)),
    }
    match blobs.stat(digest).await {
        Ok(_) => Ok(()),
        Err(berth_storage::Error::BlobNotFound(d)) => Err(Error::BlobBeingCollected(d)),
        Err(e) => Err(Error::storage(e)),
    }
}

/// Links a blob just recorded into `name`'s repository. A collector may forget the blob
/// between the record and the link (it was already known, unreferenced and past its grace):
/// the client then uploads again, as when the bytes went before the record.
pub(crate) async fn link_stored(
    meta: &dyn MetadataStore,
    name: &berth_model::Name,
    digest: &berth_model::Digest,
) -> Result<()> {
    match meta.link_blob(name.repository(), digest).await {
        Ok(()) => Ok(()),
        Err(berth_meta::Error::BlobUnknown(d)) => Err(Error::BlobBeingCollected(d)),
        Err(e) => Err(Error::metadata(e)),
    }
}

/// Whether `principal` may know that `repository` exists: public ones, its own account's, and
/// everything for the system administrator.
fn visible(principal: &Principal, repository: &Repository) -> bool {
    if repository.access == berth_model::Access::Public {
        return true;
    }
    match principal {
        Principal::Anonymous => false,
        Principal::SystemAdmin => true,
        Principal::RepositoryUser(user) => user.account == repository.account,
        Principal::ConsoleUser { account } => *account == repository.account,
        // A token without an account is the administrator's; an anonymous one has no subject.
        Principal::Token(token) => match token.account {
            Some(account) => account == repository.account,
            None => token.subject.is_some(),
        },
    }
}

/// A short name of who acts, for history.
pub(crate) fn actor(principal: &Principal) -> String {
    match principal {
        Principal::Anonymous => "anonymous".to_owned(),
        Principal::RepositoryUser(user) => user.name.clone(),
        Principal::ConsoleUser { account } => format!("console:{account}"),
        Principal::SystemAdmin => "admin".to_owned(),
        Principal::Token(token) => token
            .subject
            .clone()
            .unwrap_or_else(|| "anonymous".to_owned()),
    }
}
