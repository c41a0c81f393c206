//! A small map of records that go stale: what several nodes may see a second late.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug)]
struct Cached<T> {
    at: Instant,
    value: T,
}

/// Entries kept per cache before stale ones are swept.
pub(crate) const SWEEP_AT: usize = 8192;

/// Records by name, each fresh for a time-to-live given at lookup.
#[derive(Debug)]
pub(crate) struct Cache<T> {
    entries: Mutex<HashMap<String, Cached<T>>>,
    hits: crate::metrics::Hits,
}

impl<T: Clone> Cache<T> {
    pub(crate) fn new() -> Self {
        Cache {
            entries: Mutex::new(HashMap::new()),
            hits: crate::metrics::Hits::default(),
        }
    }

    pub(crate) fn hits(&self) -> &crate::metrics::Hits {
        &self.hits
    }

    pub(crate) fn get(&self, key: &str, ttl: Duration) -> Option<T> {
        let entries = self.entries.lock().expect("cache lock");
        let found = entries
            .get(key)
            .filter(|c| c.at.elapsed() < ttl)
            .map(|c| c.value.clone());
        self.hits.note(found)
    }

    pub(crate) fn put(&self, key: &str, value: T, ttl: Duration) {
        let mut entries = self.entries.lock().expect("cache lock");
        if entries.len() >= SWEEP_AT {
            entries.retain(|_, c| c.at.elapsed() < ttl);
            if entries.len() >= SWEEP_AT {
                entries.clear();
            }
        }
        entries.insert(
            key.to_owned(),
            Cached {
                at: Instant::now(),
                value,
            },
        );
    }

    /// The entry for `key` when fresh, else what `fetch` reads, which is kept (a failure is
    /// not).
    pub(crate) async fn get_or_fetch<E>(
        &self,
        key: &str,
        ttl: Duration,
        fetch: impl std::future::Future<Output = Result<T, E>>,
    ) -> Result<T, E> {
        if let Some(value) = self.get(key, ttl) {
            return Ok(value);
        }
        let value = fetch.await?;
        self.put(key, value.clone(), ttl);
        Ok(value)
    }

    pub(crate) fn forget(&self, key: &str) {
        self.entries.lock().expect("cache lock").remove(key);
    }
}
