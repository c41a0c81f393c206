//! The conformance suite on the in-memory backend.

use std::sync::Arc;

use berth_meta::conformance::Harness;
use berth_meta::{MemoryMetadata, MetadataStore};
use futures::FutureExt as _;

async fn harness() -> Harness {
    let store = MemoryMetadata::new();
    let reopen = store.clone();
    Harness {
        store: Arc::new(store),
        reopen: Box::new(move || {
            let store = reopen.clone();
            async move { Arc::new(store) as Arc<dyn MetadataStore> }.boxed()
        }),
        guard: Box::new(()),
    }
}

berth_meta::meta_conformance_tests!(harness);
