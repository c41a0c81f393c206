//! Putting a 1 GiB blob streams it: the process's peak resident memory grows by a few MiB at
//! most. Alone in its test binary, so no other test's allocations blur the measure.

use berth_model::Digest;
use berth_storage::BlobStore;
use berth_storage::conformance::data;
use berth_storage_fs::FsStore;
use bytes::Bytes;
use futures::StreamExt as _;

/// A field of /proc/self/status, in KiB.
fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("{field} not in /proc/self/status"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_of_1_gib_keeps_resident_memory_flat() {
    const CHUNK: usize = 1 << 20;
    const CHUNKS: u64 = 1024;
    let dir = tempfile::tempdir().unwrap();
    let store = FsStore::open(dir.path()).unwrap();

    // The same bytes twice: once to learn the digest (hashing only), once to store.
    let chunk = |i: u64| data(i, CHUNK);
    let mut hasher = berth_model::Hasher::new(berth_model::Algorithm::Sha256);
    for i in 0..CHUNKS {
        hasher.update(&chunk(i));
    }
    let digest: Digest = hasher.finish();

    let before = status_kib("VmHWM:");
    // Every chunk is a fresh allocation, as a network body's would be: anything that kept them
    // would show in the peak.
    let body = futures::stream::iter(0..CHUNKS).map(move |i| Ok::<Bytes, std::io::Error>(chunk(i)));
    let size = store.put(&digest, Box::pin(body)).await.unwrap();
    let after = status_kib("VmHWM:");

    assert_eq!(size, CHUNKS * CHUNK as u64);
    let growth_mib = (after.saturating_sub(before)) as f64 / 1024.0;
    eprintln!(
        "peak RSS before {before} KiB, after {after} KiB: grew {growth_mib:.1} MiB for a 1 GiB put"
    );
    assert!(
        growth_mib < 16.0,
        "a 1 GiB put grew the peak resident memory by {growth_mib:.1} MiB"
    );
    store.delete(&digest).await.unwrap();
}
