//! What the engine counts for an operator's `/metrics`: plain atomics, read as a
//! [`Snapshot`] by [`Registry::counters`](crate::Registry::counters).
//!
//! Caches and background jobs are counted per [`Registry`](crate::Registry). Events met deep in
//! the engine or in a protocol layer (a quota refusal, a failed or throttled login, a request
//! failed by a backend) are counted process-wide, the way Prometheus clients count by default:
//! an embedder running two registries in one process reads their sum.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use berth_model::Timestamp;

use crate::error::Outage;

/// Lookups of a cache: found, or not.
#[derive(Debug, Default)]
pub(crate) struct Hits {
    hits: AtomicU64,
    misses: AtomicU64,
}

impl Hits {
    pub(crate) fn note<T>(&self, found: Option<T>) -> Option<T> {
        let counter = if found.is_some() {
            &self.hits
        } else {
            &self.misses
        };
        counter.fetch_add(1, Relaxed);
        found
    }

    fn read(&self) -> (u64, u64) {
        (self.hits.load(Relaxed), self.misses.load(Relaxed))
    }
}

/// A background job's runs: how many, how many failed, the last one's duration and the time of
/// the last success.
#[derive(Debug, Default)]
pub(crate) struct Job {
    runs: AtomicU64,
    failures: AtomicU64,
    last_duration_us: AtomicU64,
    last_success_ms: AtomicI64,
}

impl Job {
    pub(crate) fn finished(&self, ok: bool, took: Duration, at: Timestamp) {
        self.runs.fetch_add(1, Relaxed);
        self.last_duration_us
            .store(u64::try_from(took.as_micros()).unwrap_or(u64::MAX), Relaxed);
        if ok {
            self.last_success_ms.store(at.unix_millis(), Relaxed);
        } else {
            self.failures.fetch_add(1, Relaxed);
        }
    }

    fn read(&self) -> JobRuns {
        let last = self.last_success_ms.load(Relaxed);
        JobRuns {
            runs: self.runs.load(Relaxed),
            failures: self.failures.load(Relaxed),
            last_duration: Duration::from_micros(self.last_duration_us.load(Relaxed)),
            last_success: (last > 0).then(|| Timestamp::from_unix_millis(last)),
        }
    }
}

/// The per-registry counters.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) gc: Job,
    pub(crate) gc_blobs: AtomicU64,
    pub(crate) gc_bytes: AtomicU64,
    pub(crate) pull_flush: Job,
    pub(crate) upload_expiry: Job,
}

/// A background job's runs, as read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct JobRuns {
    /// Runs since start.
    pub runs: u64,
    /// Of which failed.
    pub failures: u64,
    /// How long the last run took.
    pub last_duration: Duration,
    /// When a run last succeeded (`None`: never since start).
    pub last_success: Option<Timestamp>,
}

/// Everything the engine counts, read at one moment.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Snapshot {
    /// Manifest reads answered from memory, and those that went to the blob store.
    pub manifest_cache: (u64, u64),
    /// Repository lookups answered from memory (hits, misses).
    pub repository_cache: (u64, u64),
    /// Garbage collections.
    pub gc: JobRuns,
    /// Blobs the collector deleted since start.
    pub gc_blobs_reclaimed: u64,
    /// Their bytes.
    pub gc_bytes_reclaimed: u64,
    /// Pull-statistics flushes (only those with something to write).
    pub pull_flush: JobRuns,
    /// Pulls counted in memory, not yet written.
    pub pending_pulls: u64,
    /// Sweeps removing idle upload sessions.
    pub upload_expiry: JobRuns,
    /// Pushes and uploads refused for the quota (process-wide).
    pub quota_refusals: u64,
    /// Logins refused for their credentials, expiry or a disabled user (process-wide).
    pub login_failures: u64,
    /// Logins refused unchecked because their source or user failed too often (process-wide).
    pub logins_throttled: u64,
    /// Requests failed by a backend, by backend and whether it was unreachable
    /// (process-wide).
    pub backend_failures: Vec<(Outage, bool, u64)>,
    /// The metadata store's connection pool, when it has one.
    pub metadata_pool: Option<berth_meta::PoolState>,
    /// Replication on this node.
    pub replication: crate::ReplicationCounts,
}

static QUOTA_REFUSALS: AtomicU64 = AtomicU64::new(0);
static LOGIN_FAILURES: AtomicU64 = AtomicU64::new(0);
static LOGINS_THROTTLED: AtomicU64 = AtomicU64::new(0);
static BACKEND_FAILURES: Mutex<BTreeMap<(&'static str, &'static str, bool), u64>> =
    Mutex::new(BTreeMap::new());

pub(crate) fn quota_refused() {
    QUOTA_REFUSALS.fetch_add(1, Relaxed);
}

pub(crate) fn login_failed() {
    LOGIN_FAILURES.fetch_add(1, Relaxed);
}

pub(crate) fn login_throttled() {
    LOGINS_THROTTLED.fetch_add(1, Relaxed);
}

/// Counts a request that failed because of a backend, when `error` (or one of its causes) is a
/// metadata-store or blob-store error: the protocol layers' error tables call this where they
/// answer a 5xx.
pub fn note_backend_failure(error: &(dyn std::error::Error + 'static)) {
    if let Some((outage, unreachable)) = crate::error::failed_backend(error) {
        let mut counts = BACKEND_FAILURES.lock().unwrap_or_else(|e| e.into_inner());
        *counts
            .entry((outage.role, outage.store, unreachable))
            .or_default() += 1;
    }
}

impl crate::Registry {
    /// Upload sessions open in every repository (all nodes'), from the metadata store.
    pub async fn open_uploads(&self) -> crate::Result<u64> {
        self.meta
            .open_uploads()
            .await
            .map_err(crate::Error::metadata)
    }

    /// What the engine has counted so far, for metrics.
    pub fn counters(&self) -> Snapshot {
        let backend_failures = BACKEND_FAILURES
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(&(role, store, unreachable), &n)| (Outage { role, store }, unreachable, n))
            .collect();
        Snapshot {
            manifest_cache: self.manifests.hits().read(),
            repository_cache: self.repositories.hits().read(),
            gc: self.counters.gc.read(),
            gc_blobs_reclaimed: self.counters.gc_blobs.load(Relaxed),
            gc_bytes_reclaimed: self.counters.gc_bytes.load(Relaxed),
            pull_flush: self.counters.pull_flush.read(),
            pending_pulls: self.pending_pulls(),
            upload_expiry: self.counters.upload_expiry.read(),
            quota_refusals: QUOTA_REFUSALS.load(Relaxed),
            login_failures: LOGIN_FAILURES.load(Relaxed),
            logins_throttled: LOGINS_THROTTLED.load(Relaxed),
            backend_failures,
            metadata_pool: self.meta.pool(),
            replication: self.replication_counts(),
        }
    }
}
