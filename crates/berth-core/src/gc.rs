//! Online garbage collection: no read-only mode, safe against concurrent pushes and uploads.
//!
//! For each blob no artifact references and nobody recorded within the grace period:
//! 1. forget it in metadata, atomically with pushes, leaving a tombstone
//!    ([`MetadataStore::forget_blob`](berth_meta::MetadataStore::forget_blob)): a push that
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

use berth_model::Timestamp;

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
}

/// Blobs looked at per metadata query.
const BATCH: usize = 500;

impl Registry {
    /// Runs one collection now.
    pub async fn collect_garbage(&self) -> Result<GcReport> {
        let mut report = GcReport::default();
        for digest in self.meta.tombstones().await.map_err(Error::metadata)? {
            self.blobs.delete(&digest).await.map_err(Error::storage)?;
            self.meta
                .finish_forget(&digest)
                .await
                .map_err(Error::metadata)?;
        }
        let before = Timestamp::now().minus(self.config.gc_grace);
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

        let idle_since = Timestamp::now().minus(self.config.upload_idle_limit);
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
            report.uploads += 1;
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
            report.uploads += 1;
        }
        Ok(report)
    }

    async fn abort_stored_session(&self, id: &berth_model::UploadId) -> Result<()> {
        match self.blobs.abort(id).await {
            Ok(()) | Err(berth_storage::Error::UploadNotFound(_)) => Ok(()),
            Err(e) => Err(Error::storage(e)),
        }
    }

    /// Collects every [`gc_interval`](crate::RegistryConfig::gc_interval) until `shutdown`
    /// resolves. A failed run is retried at the next interval.
    pub async fn run_gc(&self, shutdown: impl std::future::Future<Output = ()>) {
        let mut shutdown = std::pin::pin!(shutdown);
        let mut tick = tokio::time::interval(self.config.gc_interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    let _ = self.collect_garbage().await;
                }
                () = &mut shutdown => break,
            }
        }
    }
}
