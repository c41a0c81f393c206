//! Pull statistics, counted in memory off the pull path and flushed to metadata in batches.
//!
//! Counting is a hash-map update under a short lock; nothing on the pull path waits for the
//! database. A flush takes the counts and adds them to the store (additively, so several nodes
//! flushing lose nothing); if the store fails, the counts are put back for the next flush.

use std::collections::HashMap;
use std::sync::Mutex;

use berth_meta::{ArtifactId, ArtifactPulls, ImageId, ImagePulls, Timestamp};

#[derive(Debug, Default)]
struct Counts {
    images: HashMap<ImageId, (u64, Timestamp)>,
    artifacts: HashMap<ArtifactId, (u64, Timestamp)>,
}

/// Pull counts not yet flushed.
#[derive(Debug, Default)]
pub(crate) struct PullCounter {
    counts: Mutex<Counts>,
}

fn add<K: std::hash::Hash + Eq>(
    map: &mut HashMap<K, (u64, Timestamp)>,
    key: K,
    count: u64,
    at: Timestamp,
) {
    let entry = map.entry(key).or_insert((0, at));
    entry.0 += count;
    entry.1 = entry.1.max(at);
}

impl PullCounter {
    fn lock(&self) -> std::sync::MutexGuard<'_, Counts> {
        self.counts.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Counts one pull of an artifact, and of its image when `image` is given.
    pub(crate) fn count(&self, image: Option<ImageId>, artifact: ArtifactId, at: Timestamp) {
        let mut counts = self.lock();
        if let Some(image) = image {
            add(&mut counts.images, image, 1, at);
        }
        add(&mut counts.artifacts, artifact, 1, at);
    }

    /// Takes every count, leaving none.
    pub(crate) fn take(&self) -> (Vec<ImagePulls>, Vec<ArtifactPulls>) {
        let counts = std::mem::take(&mut *self.lock());
        let images = counts
            .images
            .into_iter()
            .map(|(image, (count, last))| ImagePulls { image, count, last })
            .collect();
        let artifacts = counts
            .artifacts
            .into_iter()
            .map(|(artifact, (count, last))| ArtifactPulls {
                artifact,
                count,
                last,
            })
            .collect();
        (images, artifacts)
    }

    /// Puts counts back after a failed flush.
    pub(crate) fn restore(&self, images: &[ImagePulls], artifacts: &[ArtifactPulls]) {
        let mut counts = self.lock();
        for p in images {
            add(&mut counts.images, p.image, p.count, p.last);
        }
        for p in artifacts {
            add(&mut counts.artifacts, p.artifact, p.count, p.last);
        }
    }

    /// Pulls counted and not yet flushed (for tests and metrics).
    pub(crate) fn pending(&self) -> u64 {
        self.lock().artifacts.values().map(|(n, _)| n).sum()
    }
}
