//! The conformance suite on the filesystem backend; leftovers are any file or session directory
//! under the root.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use berth_storage::BlobStore;
use berth_storage::conformance::Harness;
use berth_storage_fs::FsStore;
use futures::FutureExt as _;

/// Every file anywhere under `root`, and every directory under `uploads/`.
fn leftovers(root: &Path) -> Vec<String> {
    fn walk(dir: &Path, in_uploads: bool, out: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                if in_uploads {
                    out.push(path.display().to_string());
                }
                walk(&path, in_uploads || path.ends_with("uploads"), out);
            } else {
                out.push(path.display().to_string());
            }
        }
    }
    let mut out = Vec::new();
    walk(root, false, &mut out);
    out
}

async fn harness() -> Harness {
    let dir = tempfile::tempdir().expect("temp dir");
    let root: PathBuf = dir.path().to_owned();
    let store = FsStore::open(&root).expect("open");
    let (reopen_root, leftover_root) = (root.clone(), root);
    Harness {
        store: Arc::new(store),
        reopen: Box::new(move || {
            let root = reopen_root.clone();
            async move { Arc::new(FsStore::open(root).expect("reopen")) as Arc<dyn BlobStore> }
                .boxed()
        }),
        leftovers: Box::new(move || {
            let root = leftover_root.clone();
            async move { leftovers(&root) }.boxed()
        }),
        guard: Box::new(dir),
    }
}

berth_storage::conformance_tests!(harness);
