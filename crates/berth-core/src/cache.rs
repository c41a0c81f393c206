//! A bounded in-memory cache of manifest bytes by digest.
//!
//! Content under a digest never changes, so a cached manifest never goes stale; a deleted one is
//! only reachable again through metadata, which the pull path consults first. Eviction is
//! first-in, first-out by bytes: simple, and enough for a working set of hot tags.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use berth_model::Digest;
use bytes::Bytes;

#[derive(Debug, Default)]
struct Entries {
    bytes: HashMap<Digest, Bytes>,
    order: VecDeque<Digest>,
    total: usize,
}

/// Manifest bytes by digest, at most `capacity` bytes in all.
#[derive(Debug)]
pub(crate) struct ManifestCache {
    capacity: usize,
    entries: Mutex<Entries>,
    hits: crate::metrics::Hits,
}

impl ManifestCache {
    pub(crate) fn new(capacity: usize) -> Self {
        ManifestCache {
            capacity,
            entries: Mutex::new(Entries::default()),
            hits: crate::metrics::Hits::default(),
        }
    }

    pub(crate) fn hits(&self) -> &crate::metrics::Hits {
        &self.hits
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn get(&self, digest: &Digest) -> Option<Bytes> {
        let found = self.lock().bytes.get(digest).cloned();
        self.hits.note(found)
    }

    pub(crate) fn insert(&self, digest: Digest, bytes: Bytes) {
        if bytes.len() > self.capacity {
            return;
        }
        let mut entries = self.lock();
        if entries.bytes.contains_key(&digest) {
            return;
        }
        while entries.total + bytes.len() > self.capacity {
            let Some(oldest) = entries.order.pop_front() else {
                break;
            };
            if let Some(evicted) = entries.bytes.remove(&oldest) {
                entries.total -= evicted.len();
            }
        }
        entries.total += bytes.len();
        entries.order.push_back(digest.clone());
        entries.bytes.insert(digest, bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_at_most_its_capacity() {
        let cache = ManifestCache::new(10);
        let d = |i: u8| Digest::sha256(&[i]);
        cache.insert(d(1), Bytes::from_static(b"aaaa"));
        cache.insert(d(2), Bytes::from_static(b"bbbb"));
        cache.insert(d(3), Bytes::from_static(b"cccc"));
        assert_eq!(cache.get(&d(1)), None, "oldest evicted");
        assert_eq!(cache.get(&d(3)), Some(Bytes::from_static(b"cccc")));
        cache.insert(d(4), Bytes::from(vec![0; 11]));
        assert_eq!(cache.get(&d(4)), None, "larger than the whole cache");
        assert!(cache.lock().total <= 10);
    }
}
