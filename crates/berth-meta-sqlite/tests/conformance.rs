//! The metadata conformance suite on SQLite: a fresh database file in a temporary directory per
//! test; `reopen` opens a second, independent handle (its own writer and readers) on that file,
//! as a second process would.

use std::sync::Arc;

use berth_meta::MetadataStore;
use berth_meta::conformance::Harness;
use berth_meta_sqlite::SqliteMetadata;
use futures::FutureExt as _;

async fn harness() -> Harness {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("meta.db");
    let store = SqliteMetadata::open(&path).await.expect("open");
    Harness {
        store: Arc::new(store),
        reopen: Box::new(move || {
            let path = path.clone();
            async move {
                Arc::new(SqliteMetadata::open(&path).await.expect("reopen"))
                    as Arc<dyn MetadataStore>
            }
            .boxed()
        }),
        guard: Box::new(dir),
    }
}

berth_meta::meta_conformance_tests!(harness);
