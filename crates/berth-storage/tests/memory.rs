//! The conformance suite on the in-memory backend, and the fault-injecting wrapper's effects.

use std::sync::Arc;

use berth_model::Digest;
use berth_storage::conformance::{Harness, data};
use berth_storage::{BlobStore, Error, Faults, FaultyStore, MemoryStore, body_from, collect};
use futures::FutureExt as _;

async fn harness() -> Harness {
    let store = MemoryStore::new();
    let reopen = store.clone();
    Harness {
        store: Arc::new(store),
        reopen: Box::new(move || {
            let store = reopen.clone();
            async move { Arc::new(store) as Arc<dyn BlobStore> }.boxed()
        }),
        leftovers: Box::new(|| async { Vec::new() }.boxed()),
        guard: Box::new(()),
    }
}

berth_storage::conformance_tests!(harness);

#[tokio::test]
async fn injected_write_failure_leaves_the_session_intact() {
    let store = FaultyStore::new(
        MemoryStore::new(),
        Faults {
            fail_nth_write: Some(2),
            ..Faults::default()
        },
    );
    let id = store
        .start_upload(berth_model::Algorithm::Sha256)
        .await
        .unwrap();
    store.append(&id, 0, body_from(data(1, 100))).await.unwrap();
    let err = store
        .append(&id, 100, body_from(data(2, 100)))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Backend { .. }), "{err:?}");
    assert_eq!(store.upload_status(&id).await.unwrap().offset, 100);
    store.abort(&id).await.unwrap();
}

#[tokio::test]
async fn cut_bodies_roll_back_and_cut_reads_fail() {
    let faults = Faults {
        cut_bodies_after: Some(1000),
        cut_reads_after: Some(10),
        ..Faults::default()
    };
    let store = FaultyStore::new(MemoryStore::new(), faults);
    let id = store
        .start_upload(berth_model::Algorithm::Sha256)
        .await
        .unwrap();
    let err = store
        .append(&id, 0, body_from(data(3, 5000)))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Body(_)), "{err:?}");
    assert_eq!(store.upload_status(&id).await.unwrap().offset, 0);
    store.abort(&id).await.unwrap();

    let bytes = data(4, 500);
    let digest = Digest::sha256(&bytes);
    store.inner().put(&digest, body_from(bytes)).await.unwrap();
    let read = store.get(&digest, None).await.unwrap();
    assert!(
        collect(read.body).await.is_err(),
        "a cut read surfaces as an error, never as a short blob"
    );
}
