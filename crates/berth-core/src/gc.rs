//! Online garbage collection: no read-only mode, safe against concurrent pushes and uploads.
//!
//! For each blob no artifact references and nobody recorded within the grace period:
//! 1. forget it in metadata, atomically with pushes, leaving a tombstone
//!    ([`berth_meta::RegistryStore::forget_blob`](berth_meta::RegistryStore::forget_blob)): a push that
//!    references it either committed first (then it is referenced and stays) or fails with
//!    "manifest blob unknown" and the client uploads again;
//! 2. delete its bytes;
//! 3. finish the forget (remove the tombstone).
//!
//! While the tombstone stands, an upload of the same digest is refused when it records the blob,
//! and after recording, the engine checks the bytes are still in storage (a deletion may have
//! happened between the upload's commit and its record): either way the client is told to upload
//! again, and no artifact can reference bytes that are gone. Tombstones left by a collector that
//! crashed between steps 1 and 3 are finished first on the next run.
//!
//! Upload sessions idle past the limit are aborted, in metadata and in storage (including
//! sessions storage holds that metadata never learned of, from a crash).
//!
//! First of all, proxy repositories drop the artifacts they cached that nobody pulled (or the
//! cache fetched) within [`proxy_keep_unpulled`](crate::RegistryConfig): their usage drops at
//! once, and the blobs no artifact references any more go in the same run.

use std::time::Duration;

use tracing::{error, info, warn};

use berth_meta::Page;
use berth_model::Name;

use crate::{Error, Registry, Result};

/// What a collection freed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GcReport {
    /// Blobs deleted.
    pub blobs: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Upload sessions removed.
    pub uploads: u64,
    /// Cached artifacts of proxy repositories removed for want of pulls.
    pub evicted: u64,
}

/// Blobs looked at per metadata query.
const BATCH: usize = 500;

impl Registry {
    /// Runs one collection now.
    pub async fn collect_garbage(&self) -> Result<GcReport> {
        let started = std::time::Instant::now();
        let collected = self.collect().await;
        self.counters
            .gc
            .finished(collected.is_ok(), started.elapsed(), self.now());
        if let Ok(report) = &collected {
            use std::sync::atomic::Ordering::Relaxed;
            self.counters.gc_blobs.fetch_add(report.blobs, Relaxed);
            self.counters.gc_bytes.fetch_add(report.bytes, Relaxed);
        }
        collected
    }

    async fn collect(&self) -> Result<GcReport> {
        let mut report = GcReport {
            evicted: self.evict_unpulled().await?,
            ..GcReport::default()
        };
        for digest in self.meta.tombstones().await.map_err(Error::metadata)? {
            self.blobs.delete(&digest).await.map_err(Error::storage)?;
            self.meta
                .finish_forget(&digest)
                .await
                .map_err(Error::metadata)?;
        }
        let before = self.now().minus(self.config.gc_grace);
        loop {
            let candidates = self
                .meta
                .unreferenced_blobs(before, BATCH)
                .await
                .map_err(Error::metadata)?;
            let mut forgot = 0;
            for blob in &candidates {
                if !self
                    .meta
                    .forget_blob(&blob.digest, before)
                    .await
                    .map_err(Error::metadata)?
                {
                    continue; // referenced or recorded again since it was listed
                }
                forgot += 1;
                self.blobs
                    .delete(&blob.digest)
                    .await
                    .map_err(Error::storage)?;
                self.meta
                    .finish_forget(&blob.digest)
                    .await
                    .map_err(Error::metadata)?;
                report.blobs += 1;
                report.bytes += blob.size;
            }
            // A full batch of which nothing could be forgotten would be listed again forever.
            if candidates.len() < BATCH || forgot == 0 {
                break;
            }
        }

        report.uploads = self.expire_uploads().await?;
        Ok(report)
    }

    /// Removes the artifacts of proxy repositories last pulled (or fetched) before
    /// [`proxy_keep_unpulled`](crate::RegistryConfig) ago; how many.
    pub async fn evict_unpulled(&self) -> Result<u64> {
        const PAGE: u32 = 200;
        let before = self.now().minus(self.config.proxy_keep_unpulled);
        let mut evicted = 0;
        let mut proxies = Vec::new();
        for page in 1.. {
            let accounts = self
                .meta
                .list_accounts(Page { page, size: PAGE })
                .await
                .map_err(Error::metadata)?;
            for account in &accounts.items {
                for page in 1.. {
                    let repositories = self
                        .meta
                        .list_repositories(account.id, Page { page, size: PAGE })
                        .await
                        .map_err(Error::metadata)?;
                    proxies.extend(
                        repositories
                            .items
                            .iter()
                            .filter(|r| r.proxy.is_some())
                            .map(|r| r.name.clone()),
                    );
                    if repositories.items.len() < PAGE as usize {
                        break;
                    }
                }
            }
            if accounts.items.len() < PAGE as usize {
                break;
            }
        }
        for repository in proxies {
            let mut stale = Vec::new();
            for page in 1.. {
                let images = self
                    .meta
                    .list_images(&repository, None, Page { page, size: PAGE })
                    .await
                    .map_err(Error::metadata)?;
                for image in &images.items {
                    let Ok(name) = Name::new(repository.clone(), image.name.clone()) else {
                        continue; // a stored image name always fits; nothing to evict if not
                    };
                    for page in 1.. {
                        let artifacts = self
                            .meta
                            .list_artifacts(&name, Page { page, size: PAGE })
                            .await
                            .map_err(Error::metadata)?;
                        stale.extend(
                            artifacts
                                .items
                                .iter()
                                .filter(|a| {
                                    a.pulled_at.map_or(a.pushed_at, |p| p.max(a.pushed_at)) < before
                                })
                                .map(|a| (name.clone(), a.digest.clone())),
                        );
                        if artifacts.items.len() < PAGE as usize {
                            break;
                        }
                    }
                }
                if images.items.len() < PAGE as usize {
                    break;
                }
            }
            for (name, digest) in stale {
                match self
                    .meta
                    .delete_artifact(&name, &digest, "proxy cache eviction", self.now())
                    .await
                {
                    Ok(_) => evicted += 1,
                    // Gone already (a referrer deleted with its subject, or a console delete).
                    Err(berth_meta::Error::NotFound { .. }) => {}
                    Err(e) => return Err(Error::metadata(e)),
                }
            }
            self.forget_repository(&repository);
        }
        if evicted > 0 {
            info!(evicted, "removed cached artifacts nobody pulled");
        }
        Ok(evicted)
    }

    /// Removes upload sessions idle past [`upload_idle_limit`](crate::RegistryConfig), in
    /// metadata and in storage (including sessions storage holds that metadata never learned
    /// of, from a crash or a deleted repository); how many.
    pub async fn expire_uploads(&self) -> Result<u64> {
        let mut removed = 0;
        let idle_since = self.now().minus(self.config.upload_idle_limit);
        for session in self
            .meta
            .idle_uploads(idle_since)
            .await
            .map_err(Error::metadata)?
        {
            self.abort_stored_session(&session.id).await?;
            self.meta
                .delete_upload(&session.id)
                .await
                .map_err(Error::metadata)?;
            removed += 1;
        }
        for stored in self
            .blobs
            .list_uploads(idle_since.into())
            .await
            .map_err(Error::storage)?
        {
            self.abort_stored_session(&stored.id).await?;
            self.meta
                .delete_upload(&stored.id)
                .await
                .map_err(Error::metadata)?;
            removed += 1;
        }
        Ok(removed)
    }

    /// Deletes an empty repository (see
    /// [`berth_meta::RegistryStore::delete_repository`](berth_meta::RegistryStore::delete_repository)) and
    /// the bytes of its upload sessions, which no one can continue. The metadata store decides
    /// (no such repository, not empty); bytes it could not remove are left to
    /// [`Registry::expire_uploads`].
    pub(crate) async fn delete_repository(
        &self,
        name: &berth_model::RepositoryName,
        actor: &str,
    ) -> std::result::Result<(), berth_meta::Error> {
        let sessions = self.meta.delete_repository(name, actor, self.now()).await;
        self.forget_repository(name);
        for id in sessions? {
            if let Err(e) = self.abort_stored_session(&id).await {
                warn!(upload = %id, error = %crate::error::chain(&e), "could not remove the bytes of a deleted repository's upload");
            }
        }
        Ok(())
    }

    async fn abort_stored_session(&self, id: &berth_model::UploadId) -> Result<()> {
        match self.blobs.abort(id).await {
            Ok(()) | Err(berth_storage::Error::UploadNotFound(_)) => Ok(()),
            Err(e) => Err(Error::storage(e)),
        }
    }

    /// [`Registry::expire_uploads`], counted for metrics.
    async fn timed_expiry(&self) -> Result<u64> {
        let started = std::time::Instant::now();
        let removed = self.expire_uploads().await;
        self.counters
            .upload_expiry
            .finished(removed.is_ok(), started.elapsed(), self.now());
        removed
    }

    /// Collects every [`gc_interval`](crate::RegistryConfig::gc_interval), and removes idle
    /// upload sessions every quarter of the idle limit (between one and fifteen minutes), until
    /// `shutdown` resolves. A failed run is logged with its cause and retried at the next tick.
    pub async fn run_gc(&self, shutdown: impl std::future::Future<Output = ()>) {
        let mut shutdown = std::pin::pin!(shutdown);
        let mut collect = tokio::time::interval(self.config.gc_interval);
        collect.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let sweep = (self.config.upload_idle_limit / 4)
            .clamp(Duration::from_secs(60), Duration::from_secs(900));
        let mut expire = tokio::time::interval(sweep);
        expire.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = collect.tick() => match self.collect_garbage().await {
                    Ok(report) if report != GcReport::default() => info!(
                        blobs = report.blobs, bytes = report.bytes, uploads = report.uploads,
                        "garbage collected"
                    ),
                    Ok(_) => {}
                    Err(e) => error!(error = %crate::error::chain(&e), "garbage collection failed; retrying at the next interval"),
                },
                _ = expire.tick() => match self.timed_expiry().await {
                    Ok(0) => {}
                    Ok(n) => info!(uploads = n, "removed idle upload sessions"),
                    Err(e) => error!(error = %crate::error::chain(&e), "removing idle uploads failed; retrying later"),
                },
                () = &mut shutdown => break,
            }
        }
    }
}
