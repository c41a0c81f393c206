//! A writer killed mid-upload, by dropping its future and by SIGKILL of a child process: no blob
//! becomes visible, the session can be resumed or aborted, and abort leaves no file behind.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use berth_model::{Digest, UploadId};
use berth_storage::conformance::data;
use berth_storage::{BlobStore, ByteStream, Error, body_from, collect};
use berth_storage_fs::FsStore;
use bytes::Bytes;

const MIB: usize = 1 << 20;
const CHILD_ENV: &str = "BERTH_CRASH_CHILD_ROOT";

/// A body that sends `first` and then never ends: a writer stuck mid-upload.
fn stalled(first: Bytes) -> ByteStream {
    Box::pin(futures::stream::iter([Ok(first)]).chain(futures::stream::pending()))
}

use futures::StreamExt as _;

fn data_len(root: &Path, id: &UploadId) -> u64 {
    std::fs::metadata(root.join("uploads").join(id.as_str()).join("data")).map_or(0, |m| m.len())
}

/// Waits (bounded) until the session's data file holds more than `len` bytes.
async fn wait_for_growth(root: &Path, id: &UploadId, len: u64) {
    for _ in 0..3000 {
        if data_len(root, id) > len {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the writer never wrote past {len} bytes");
}

/// After a crash: nothing visible, the session reports the last complete append, and it resumes
/// to a correct blob.
async fn check_recovers_and_resumes(root: &Path, id: UploadId, blob: &Bytes) {
    let store = FsStore::open(root).unwrap();
    let digest = Digest::sha256(blob);
    assert!(
        matches!(store.stat(&digest).await, Err(Error::BlobNotFound(_))),
        "no blob is visible"
    );
    assert!(store.list().await.unwrap().is_empty());
    let status = store.upload_status(&id).await.unwrap();
    assert_eq!(
        status.offset, MIB as u64,
        "the interrupted append left no trace"
    );
    assert_eq!(
        data_len(root, &id),
        MIB as u64,
        "the partial tail was truncated"
    );
    store
        .append(&id, MIB as u64, body_from(blob.slice(MIB..)))
        .await
        .unwrap();
    assert_eq!(store.commit(&id, &digest).await.unwrap(), blob.len() as u64);
    assert_eq!(
        collect(store.get(&digest, None).await.unwrap().body)
            .await
            .unwrap(),
        *blob
    );
    store.delete(&digest).await.unwrap();
}

fn assert_no_files(root: &Path) {
    let mut files = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                if path.parent().is_some_and(|p| p.ends_with("uploads")) {
                    files.push(path.clone());
                }
                dirs.push(path);
            } else {
                files.push(path);
            }
        }
    }
    assert!(files.is_empty(), "left behind: {files:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_writer_leaves_a_resumable_session() {
    let dir = tempfile::tempdir().unwrap();
    let blob = data(1, 3 * MIB);
    let store = FsStore::open(dir.path()).unwrap();
    let id = store
        .start_upload(berth_model::Algorithm::Sha256)
        .await
        .unwrap();
    store
        .append(&id, 0, body_from(blob.slice(..MIB)))
        .await
        .unwrap();
    let writer = {
        let (store, body) = (store.clone(), stalled(blob.slice(MIB..2 * MIB)));
        tokio::spawn(async move { store.append(&id, MIB as u64, body).await })
    };
    wait_for_growth(dir.path(), &id, MIB as u64).await;
    writer.abort();
    assert!(writer.await.unwrap_err().is_cancelled());
    check_recovers_and_resumes(dir.path(), id, &blob).await;
    assert_no_files(dir.path());
}

/// Starts a child process (this test binary) that uploads 1 MiB, then stalls inside a second
/// append; returns it with the session id once the second append has written bytes.
async fn child_stuck_mid_upload(root: &Path) -> (std::process::Child, UploadId) {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_process_entry",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, root)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let line = tokio::task::spawn_blocking(move || {
        BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            // libtest may print the test's name on the same line first.
            .find_map(|l| l.split_once("UPLOAD ").map(|(_, id)| id.trim().to_owned()))
    })
    .await
    .unwrap()
    .expect("the child reports its upload id");
    let id = UploadId::parse(&line).unwrap();
    wait_for_growth(root, &id, MIB as u64).await;
    (child, id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkilled_writer_leaves_a_resumable_or_abortable_session() {
    let dir = tempfile::tempdir().unwrap();
    let blob = data(1, 3 * MIB);

    let (mut child, id) = child_stuck_mid_upload(dir.path()).await;
    child.kill().unwrap(); // SIGKILL on Unix: no destructor runs.
    child.wait().unwrap();
    check_recovers_and_resumes(dir.path(), id, &blob).await;
    assert_no_files(dir.path());

    let (mut child, id) = child_stuck_mid_upload(dir.path()).await;
    child.kill().unwrap();
    child.wait().unwrap();
    let store = FsStore::open(dir.path()).unwrap();
    assert!(matches!(
        store.stat(&Digest::sha256(&blob)).await,
        Err(Error::BlobNotFound(_))
    ));
    store.abort(&id).await.unwrap();
    assert_no_files(dir.path());
}

/// Not a test of its own: the body of the child process above, which does nothing unless that
/// test started it.
#[tokio::test]
async fn child_process_entry() {
    let Some(root) = std::env::var_os(CHILD_ENV).map(PathBuf::from) else {
        return;
    };
    let blob = data(1, 3 * MIB);
    let store = FsStore::open(&root).unwrap();
    let id = store
        .start_upload(berth_model::Algorithm::Sha256)
        .await
        .unwrap();
    store
        .append(&id, 0, body_from(blob.slice(..MIB)))
        .await
        .unwrap();
    println!("UPLOAD {id}");
    let _ = store
        .append(&id, MIB as u64, stalled(blob.slice(MIB..2 * MIB)))
        .await;
    unreachable!("the stalled append never finishes");
}
