//! The conformance suite every [`BlobStore`] runs (feature `conformance`).
//!
//! A backend's tests build a [`Harness`] and call [`conformance_tests!`](crate::conformance_tests),
//! which generates one test per case. Each case leaves the store empty: after it, the suite checks
//! that no blob, no session and nothing underneath (files, objects, pending multipart uploads, as
//! the harness's `leftovers` reports them) remains.

use std::any::Any;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use berth_model::{Algorithm, ByteRange, Digest, UploadId};
use bytes::Bytes;
use futures::future::BoxFuture;

use crate::{BlobStore, ByteStream, Error, body_from, collect};

/// What the suite needs of a backend.
pub struct Harness {
    /// The store under test.
    pub store: Arc<dyn BlobStore>,
    /// Opens a second, independent handle on the same backend, as another process would.
    pub reopen: Box<dyn Fn() -> BoxFuture<'static, Arc<dyn BlobStore>> + Send + Sync>,
    /// Lists what the backend holds underneath, apart from empty structure: temporary files,
    /// objects, pending multipart uploads. Must be empty once a case has cleaned up.
    pub leftovers: Box<dyn Fn() -> BoxFuture<'static, Vec<String>> + Send + Sync>,
    /// Keeps whatever the backend needs alive for the test (a temporary directory, a server).
    pub guard: Box<dyn Any + Send + Sync>,
}

/// Generates a `#[tokio::test]` per conformance case, each calling `$harness().await` for a fresh
/// [`Harness`]. The calling crate needs `tokio` with the `macros` and `rt-multi-thread` features.
#[macro_export]
macro_rules! conformance_tests {
    ($harness:path) => {
        $crate::conformance_tests!(@cases $harness;
            put_get_stat, put_is_idempotent, put_with_wrong_digest_publishes_nothing, missing_blobs_are_not_found,
            ranged_reads_at_the_edges, chunked_upload_round_trip, empty_upload_commits_the_empty_blob,
            wrong_offset_is_refused_with_the_current_one, commit_with_wrong_digest_publishes_nothing,
            abort_removes_the_session, unknown_sessions_are_not_found, upload_resumes_through_a_fresh_handle,
            failed_body_leaves_the_session_where_it_was, failed_put_body_publishes_nothing,
            concurrent_uploads_of_the_same_blob, commit_racing_delete, delete_is_idempotent, list_reports_blobs,
            idle_sessions_are_listed, large_blob_in_uneven_chunks, sha512_digests);
    };
    (@cases $harness:path; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let harness = $harness().await;
                $crate::conformance::$case(&harness).await;
                $crate::conformance::assert_clean(&harness).await;
            }
        )*
    };
}

/// Asserts the store holds nothing: no blob, no session, no leftovers underneath.
pub async fn assert_clean(h: &Harness) {
    let blobs = h.store.list().await.expect("list blobs");
    assert!(blobs.is_empty(), "blobs left behind: {blobs:?}");
    let far_future = SystemTime::now() + Duration::from_secs(3600 * 24 * 365);
    let uploads = h
        .store
        .list_uploads(far_future)
        .await
        .expect("list uploads");
    assert!(
        uploads.is_empty(),
        "upload sessions left behind: {uploads:?}"
    );
    let leftovers = (h.leftovers)().await;
    assert!(
        leftovers.is_empty(),
        "the backend left behind: {leftovers:?}"
    );
}

/// Deterministic, incompressible test data.
pub fn data(seed: u64, len: usize) -> Bytes {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    Bytes::from(out)
}

/// A body that yields `data` in pieces of the given sizes (cycled), like a network body would.
pub fn chunked(data: Bytes, sizes: &[usize]) -> ByteStream {
    let mut pieces = Vec::new();
    let mut at = 0;
    for size in sizes.iter().cycle() {
        if at >= data.len() {
            break;
        }
        let end = (at + (*size).max(1)).min(data.len());
        pieces.push(Ok(data.slice(at..end)));
        at = end;
    }
    Box::pin(futures::stream::iter(pieces))
}

/// A body that yields `data` and then fails, like a client that disconnects.
pub fn failing_after(data: Bytes) -> ByteStream {
    Box::pin(futures::stream::iter(vec![
        Ok(data),
        Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "client went away",
        )),
    ]))
}

async fn read_all(
    store: &dyn BlobStore,
    digest: &Digest,
    range: Option<ByteRange>,
) -> (u64, std::ops::Range<u64>, Bytes) {
    let read = store.get(digest, range).await.expect("get");
    let (size, range) = (read.size, read.range.clone());
    let body = collect(read.body).await.expect("read body");
    assert_eq!(
        body.len() as u64,
        range.end - range.start,
        "body length matches its range"
    );
    (size, range, body)
}

async fn upload(store: &dyn BlobStore, data: &Bytes, chunk: usize) -> UploadId {
    upload_hashing(store, Algorithm::Sha256, data, chunk).await
}

/// [`upload`] into a session that hashes with `algorithm`.
async fn upload_hashing(
    store: &dyn BlobStore,
    algorithm: Algorithm,
    data: &Bytes,
    chunk: usize,
) -> UploadId {
    let id = store.start_upload(algorithm).await.expect("start upload");
    let mut offset = 0u64;
    for piece in data.chunks(chunk.max(1)) {
        offset = store
            .append(&id, offset, body_from(Bytes::copy_from_slice(piece)))
            .await
            .expect("append");
    }
    assert_eq!(offset, data.len() as u64);
    id
}

/// Put, stat and read back a blob, then delete it.
pub async fn put_get_stat(h: &Harness) {
    let store = &*h.store;
    let bytes = data(1, 100_000);
    let digest = Digest::sha256(&bytes);
    assert_eq!(
        store
            .put(&digest, chunked(bytes.clone(), &[1000, 7, 33_333]))
            .await
            .expect("put"),
        100_000
    );
    assert_eq!(store.stat(&digest).await.expect("stat"), 100_000);
    let (size, range, body) = read_all(store, &digest, None).await;
    assert_eq!((size, range), (100_000, 0..100_000));
    assert_eq!(body, bytes);
    store.delete(&digest).await.expect("delete");
}

/// Storing a blob twice leaves one copy with the right bytes.
pub async fn put_is_idempotent(h: &Harness) {
    let store = &*h.store;
    let bytes = data(2, 5000);
    let digest = Digest::sha256(&bytes);
    store
        .put(&digest, body_from(bytes.clone()))
        .await
        .expect("first put");
    store
        .put(&digest, chunked(bytes.clone(), &[100]))
        .await
        .expect("second put");
    assert_eq!(store.list().await.expect("list").len(), 1);
    assert_eq!(read_all(store, &digest, None).await.2, bytes);
    store.delete(&digest).await.expect("delete");
}

/// A put whose bytes do not match publishes nothing and says so.
pub async fn put_with_wrong_digest_publishes_nothing(h: &Harness) {
    let store = &*h.store;
    let claimed = Digest::sha256(b"what the client announced");
    let err = store
        .put(&claimed, body_from(data(3, 4096)))
        .await
        .expect_err("mismatch");
    match err {
        Error::DigestMismatch(mismatch) => {
            assert_eq!(mismatch.expected, claimed);
            assert_eq!(mismatch.actual, Digest::sha256(&data(3, 4096)));
        }
        other => panic!("expected a digest mismatch, got {other:?}"),
    }
    assert!(matches!(
        store.stat(&claimed).await,
        Err(Error::BlobNotFound(_))
    ));
}

/// Unknown digests are not found, for every read.
pub async fn missing_blobs_are_not_found(h: &Harness) {
    let store = &*h.store;
    let digest = Digest::sha256(b"never stored");
    assert!(matches!(store.stat(&digest).await, Err(Error::BlobNotFound(d)) if d == digest));
    assert!(matches!(
        store.get(&digest, None).await,
        Err(Error::BlobNotFound(_))
    ));
    assert!(matches!(
        store.get(&digest, Some(ByteRange::From { first: 0 })).await,
        Err(Error::BlobNotFound(_))
    ));
}

/// Ranges at the first byte, the last byte, past the end, and suffixes.
pub async fn ranged_reads_at_the_edges(h: &Harness) {
    let store = &*h.store;
    let bytes = data(4, 10_000);
    let digest = Digest::sha256(&bytes);
    store
        .put(&digest, body_from(bytes.clone()))
        .await
        .expect("put");
    let cases: &[(ByteRange, std::ops::Range<u64>)] = &[
        (ByteRange::Bounded { first: 0, last: 0 }, 0..1),
        (
            ByteRange::Bounded {
                first: 9_999,
                last: 9_999,
            },
            9_999..10_000,
        ),
        (
            ByteRange::Bounded {
                first: 5_000,
                last: 1 << 40,
            },
            5_000..10_000,
        ),
        (
            ByteRange::Bounded {
                first: 1,
                last: 8_191,
            },
            1..8_192,
        ),
        (ByteRange::From { first: 9_000 }, 9_000..10_000),
        (ByteRange::Suffix { len: 10 }, 9_990..10_000),
        (ByteRange::Suffix { len: 1 << 30 }, 0..10_000),
    ];
    for (range, expected) in cases {
        let (size, got, body) = read_all(store, &digest, Some(*range)).await;
        assert_eq!((size, &got), (10_000, expected), "{range}");
        assert_eq!(
            body,
            bytes.slice(expected.start as usize..expected.end as usize),
            "{range}"
        );
    }
    for range in [
        ByteRange::From { first: 10_000 },
        ByteRange::Bounded {
            first: 10_000,
            last: 20_000,
        },
        ByteRange::Suffix { len: 0 },
    ] {
        assert!(
            matches!(
                store.get(&digest, Some(range)).await,
                Err(Error::RangeNotSatisfiable { size: 10_000 })
            ),
            "{range}"
        );
    }
    store.delete(&digest).await.expect("delete");
}

/// Start, append in chunks, status, commit; the blob is the concatenation.
pub async fn chunked_upload_round_trip(h: &Harness) {
    let store = &*h.store;
    let bytes = data(5, 300_001);
    let id = store.start_upload(Algorithm::Sha256).await.expect("start");
    assert_eq!(store.upload_status(&id).await.expect("status").offset, 0);
    let mut offset = 0;
    for piece in [0..1usize, 1..65_536, 65_536..65_537, 65_537..300_001] {
        offset = store
            .append(
                &id,
                offset,
                chunked(bytes.slice(piece.clone()), &[4096, 17]),
            )
            .await
            .expect("append");
        assert_eq!(offset, piece.end as u64);
        assert_eq!(
            store.upload_status(&id).await.expect("status").offset,
            offset
        );
    }
    let digest = Digest::sha256(&bytes);
    assert!(
        matches!(store.stat(&digest).await, Err(Error::BlobNotFound(_))),
        "not visible before commit"
    );
    assert_eq!(store.commit(&id, &digest).await.expect("commit"), 300_001);
    assert_eq!(read_all(store, &digest, None).await.2, bytes);
    assert!(
        matches!(
            store.upload_status(&id).await,
            Err(Error::UploadNotFound(_))
        ),
        "session ends at commit"
    );
    store.delete(&digest).await.expect("delete");
}

/// A session with no bytes commits the empty blob.
pub async fn empty_upload_commits_the_empty_blob(h: &Harness) {
    let store = &*h.store;
    let id = store.start_upload(Algorithm::Sha256).await.expect("start");
    let digest = Digest::sha256(b"");
    assert_eq!(store.commit(&id, &digest).await.expect("commit"), 0);
    assert_eq!(store.stat(&digest).await.expect("stat"), 0);
    let (size, range, body) = read_all(store, &digest, None).await;
    assert_eq!((size, range, body.len()), (0, 0..0, 0));
    store.delete(&digest).await.expect("delete");
}

/// An append at the wrong offset is refused with the session's offset, and changes nothing.
pub async fn wrong_offset_is_refused_with_the_current_one(h: &Harness) {
    let store = &*h.store;
    let bytes = data(6, 2000);
    let id = upload(store, &bytes.slice(..1000), 1000).await;
    for wrong in [0, 999, 1001, 5000] {
        match store
            .append(&id, wrong, body_from(bytes.slice(1000..)))
            .await
        {
            Err(Error::InvalidOffset {
                current: 1000,
                requested,
                ..
            }) => assert_eq!(requested, wrong),
            other => panic!("offset {wrong}: expected InvalidOffset, got {other:?}"),
        }
    }
    assert_eq!(
        store
            .append(&id, 1000, body_from(bytes.slice(1000..)))
            .await
            .expect("append"),
        2000
    );
    let digest = Digest::sha256(&bytes);
    store.commit(&id, &digest).await.expect("commit");
    assert_eq!(read_all(store, &digest, None).await.2, bytes);
    store.delete(&digest).await.expect("delete");
}

/// A commit with the wrong digest fails, publishes nothing, and leaves the session usable.
pub async fn commit_with_wrong_digest_publishes_nothing(h: &Harness) {
    let store = &*h.store;
    let bytes = data(7, 70_000);
    let id = upload(store, &bytes, 30_000).await;
    let wrong = Digest::sha256(b"something else");
    match store.commit(&id, &wrong).await {
        Err(Error::DigestMismatch(m)) => {
            assert_eq!(m.expected, wrong);
            assert_eq!(m.actual, Digest::sha256(&bytes));
        }
        other => panic!("expected DigestMismatch, got {other:?}"),
    }
    assert!(matches!(
        store.stat(&wrong).await,
        Err(Error::BlobNotFound(_))
    ));
    assert!(matches!(
        store.stat(&Digest::sha256(&bytes)).await,
        Err(Error::BlobNotFound(_))
    ));
    assert_eq!(
        store
            .upload_status(&id)
            .await
            .expect("session remains")
            .offset,
        70_000
    );
    store.abort(&id).await.expect("abort");
}

/// Abort ends a session; its id is then unknown.
pub async fn abort_removes_the_session(h: &Harness) {
    let store = &*h.store;
    let id = upload(store, &data(8, 10_000), 4_000).await;
    store.abort(&id).await.expect("abort");
    assert!(matches!(
        store.upload_status(&id).await,
        Err(Error::UploadNotFound(_))
    ));
    assert!(matches!(
        store.abort(&id).await,
        Err(Error::UploadNotFound(_))
    ));
}

/// Every session operation on an unknown id says so.
pub async fn unknown_sessions_are_not_found(h: &Harness) {
    let store = &*h.store;
    let id = UploadId::from_random([7; 16]);
    let digest = Digest::sha256(b"");
    assert!(matches!(store.upload_status(&id).await, Err(Error::UploadNotFound(x)) if x == id));
    assert!(matches!(
        store.append(&id, 0, body_from(&b"x"[..])).await,
        Err(Error::UploadNotFound(_))
    ));
    assert!(matches!(
        store.commit(&id, &digest).await,
        Err(Error::UploadNotFound(_))
    ));
    assert!(matches!(
        store.abort(&id).await,
        Err(Error::UploadNotFound(_))
    ));
}

/// A session started through one handle continues and commits through a freshly opened one.
pub async fn upload_resumes_through_a_fresh_handle(h: &Harness) {
    let bytes = data(9, 200_000);
    let id = upload(&*h.store, &bytes.slice(..123_457), 50_000).await;
    let other = (h.reopen)().await;
    assert_eq!(
        other
            .upload_status(&id)
            .await
            .expect("status elsewhere")
            .offset,
        123_457
    );
    assert_eq!(
        other
            .append(&id, 123_457, body_from(bytes.slice(123_457..)))
            .await
            .expect("append elsewhere"),
        200_000
    );
    let digest = Digest::sha256(&bytes);
    other.commit(&id, &digest).await.expect("commit elsewhere");
    assert_eq!(
        read_all(&*h.store, &digest, None).await.2,
        bytes,
        "visible through the first handle"
    );
    h.store.delete(&digest).await.expect("delete");
}

/// An append whose body breaks leaves the session at its previous offset, resumable.
pub async fn failed_body_leaves_the_session_where_it_was(h: &Harness) {
    let store = &*h.store;
    let bytes = data(10, 50_000);
    let id = upload(store, &bytes.slice(..20_000), 20_000).await;
    let err = store
        .append(&id, 20_000, failing_after(bytes.slice(20_000..30_000)))
        .await
        .expect_err("body fails");
    assert!(matches!(err, Error::Body(_)), "{err:?}");
    assert_eq!(
        store.upload_status(&id).await.expect("status").offset,
        20_000
    );
    store
        .append(&id, 20_000, body_from(bytes.slice(20_000..)))
        .await
        .expect("resume");
    let digest = Digest::sha256(&bytes);
    store.commit(&id, &digest).await.expect("commit");
    assert_eq!(read_all(store, &digest, None).await.2, bytes);
    store.delete(&digest).await.expect("delete");
}

/// A one-shot put whose body breaks publishes nothing.
pub async fn failed_put_body_publishes_nothing(h: &Harness) {
    let store = &*h.store;
    let bytes = data(11, 40_000);
    let digest = Digest::sha256(&bytes);
    let err = store
        .put(&digest, failing_after(bytes.slice(..10_000)))
        .await
        .expect_err("body fails");
    assert!(matches!(err, Error::Body(_)), "{err:?}");
    assert!(matches!(
        store.stat(&digest).await,
        Err(Error::BlobNotFound(_))
    ));
}

/// Two sessions uploading the same blob at once both commit; one intact copy results.
pub async fn concurrent_uploads_of_the_same_blob(h: &Harness) {
    let bytes = data(12, 500_000);
    let digest = Digest::sha256(&bytes);
    let run = |store: Arc<dyn BlobStore>, bytes: Bytes, digest: Digest| async move {
        let id = store.start_upload(Algorithm::Sha256).await.expect("start");
        let mut offset = 0;
        for piece in bytes.chunks(100_000) {
            offset = store
                .append(&id, offset, body_from(Bytes::copy_from_slice(piece)))
                .await
                .expect("append");
            tokio::task::yield_now().await;
        }
        store.commit(&id, &digest).await.expect("commit")
    };
    let other = (h.reopen)().await;
    let a = tokio::spawn(run(h.store.clone(), bytes.clone(), digest.clone()));
    let b = tokio::spawn(run(other, bytes.clone(), digest.clone()));
    let put = h.store.put(&digest, chunked(bytes.clone(), &[65_536]));
    let (a, b, put) = tokio::join!(a, b, put);
    assert_eq!(
        (a.expect("task a"), b.expect("task b"), put.expect("put")),
        (500_000, 500_000, 500_000)
    );
    assert_eq!(h.store.list().await.expect("list").len(), 1);
    assert_eq!(read_all(&*h.store, &digest, None).await.2, bytes);
    h.store.delete(&digest).await.expect("delete");
}

/// A commit racing a delete of the same digest: afterwards the blob is either absent or whole.
pub async fn commit_racing_delete(h: &Harness) {
    let bytes = data(13, 300_000);
    let digest = Digest::sha256(&bytes);
    for round in 0..5 {
        let id = upload(&*h.store, &bytes, 300_000).await;
        let (store_a, store_b) = (h.store.clone(), (h.reopen)().await);
        let (d1, d2) = (digest.clone(), digest.clone());
        let commit = tokio::spawn(async move { store_a.commit(&id, &d1).await });
        let delete = tokio::spawn(async move {
            for _ in 0..round {
                tokio::task::yield_now().await;
            }
            store_b.delete(&d2).await
        });
        commit.await.expect("commit task").expect("commit");
        delete.await.expect("delete task").expect("delete");
        match h.store.stat(&digest).await {
            Ok(size) => {
                assert_eq!(size, 300_000);
                assert_eq!(
                    read_all(&*h.store, &digest, None).await.2,
                    bytes,
                    "round {round}: whole blob"
                );
            }
            Err(Error::BlobNotFound(_)) => {}
            Err(other) => panic!("round {round}: {other:?}"),
        }
        h.store.delete(&digest).await.expect("cleanup");
    }
}

/// Deleting twice, or deleting what never existed, succeeds; a deleted blob is gone.
pub async fn delete_is_idempotent(h: &Harness) {
    let store = &*h.store;
    let bytes = data(14, 1000);
    let digest = Digest::sha256(&bytes);
    store.delete(&digest).await.expect("delete of nothing");
    store.put(&digest, body_from(bytes)).await.expect("put");
    store.delete(&digest).await.expect("delete");
    store.delete(&digest).await.expect("delete again");
    assert!(matches!(
        store.get(&digest, None).await,
        Err(Error::BlobNotFound(_))
    ));
}

/// `list` reports every blob with its size and a plausible time.
pub async fn list_reports_blobs(h: &Harness) {
    let store = &*h.store;
    let before = SystemTime::now() - Duration::from_secs(5);
    let mut expected = Vec::new();
    for (seed, len) in [(15, 0usize), (16, 10), (17, 70_000)] {
        let bytes = data(seed, len);
        let digest = Digest::sha256(&bytes);
        store.put(&digest, body_from(bytes)).await.expect("put");
        expected.push((digest, len as u64));
    }
    let mut listed: Vec<_> = store.list().await.expect("list").into_iter().collect();
    listed.sort_by(|a, b| a.digest.cmp(&b.digest));
    expected.sort();
    assert_eq!(
        listed
            .iter()
            .map(|b| (b.digest.clone(), b.size))
            .collect::<Vec<_>>(),
        expected
    );
    let after = SystemTime::now() + Duration::from_secs(5);
    assert!(
        listed
            .iter()
            .all(|b| b.modified > before && b.modified < after),
        "{listed:?}"
    );
    for (digest, _) in expected {
        store.delete(&digest).await.expect("delete");
    }
}

/// `list_uploads` finds sessions idle since a time, and not active ones.
pub async fn idle_sessions_are_listed(h: &Harness) {
    let store = &*h.store;
    let id = upload(store, &data(18, 100), 100).await;
    let past = SystemTime::now() - Duration::from_secs(3600);
    assert!(
        store.list_uploads(past).await.expect("list").is_empty(),
        "active session is not idle"
    );
    let future = SystemTime::now() + Duration::from_secs(3600);
    let idle = store.list_uploads(future).await.expect("list");
    assert_eq!(
        idle.iter().map(|u| (u.id, u.offset)).collect::<Vec<_>>(),
        vec![(id, 100)]
    );
    store.abort(&id).await.expect("abort");
}

/// A blob of several MiB in uneven chunks, crossing any internal buffer or part size.
pub async fn large_blob_in_uneven_chunks(h: &Harness) {
    let store = &*h.store;
    let bytes = data(19, 12 * 1024 * 1024 + 3);
    let digest = Digest::sha256(&bytes);
    let id = store.start_upload(Algorithm::Sha256).await.expect("start");
    let mut offset = 0;
    for piece in [
        0..3_000_000usize,
        3_000_000..3_000_001,
        3_000_001..9_000_000,
        9_000_000..bytes.len(),
    ] {
        offset = store
            .append(
                &id,
                offset,
                chunked(bytes.slice(piece), &[1 << 20, 12_345, 300_000]),
            )
            .await
            .expect("append");
    }
    store.commit(&id, &digest).await.expect("commit");
    let (size, _, body) = read_all(store, &digest, None).await;
    assert_eq!(size, bytes.len() as u64);
    assert!(body == bytes, "large blob reads back intact");
    let (_, range, body) = read_all(
        store,
        &digest,
        Some(ByteRange::Bounded {
            first: 5_000_000,
            last: 10_000_000,
        }),
    )
    .await;
    assert_eq!(range, 5_000_000..10_000_001);
    assert!(body == bytes.slice(5_000_000..10_000_001));
    store.delete(&digest).await.expect("delete");
}

/// Blobs named by SHA-512 digests upload and verify too.
pub async fn sha512_digests(h: &Harness) {
    let store = &*h.store;
    let bytes = data(20, 10_000);
    let digest = Digest::compute(Algorithm::Sha512, &bytes);
    store
        .put(&digest, body_from(bytes.clone()))
        .await
        .expect("put");
    assert_eq!(read_all(store, &digest, None).await.2, bytes);
    store.delete(&digest).await.expect("delete");
    let id = upload(store, &bytes, 3000).await;
    assert!(matches!(
        store
            .commit(&id, &Digest::compute(Algorithm::Sha512, b"x"))
            .await,
        Err(Error::DigestMismatch(_))
    ));
    store.commit(&id, &digest).await.expect("commit");
    assert_eq!(read_all(store, &digest, None).await.2, bytes);
    store.delete(&digest).await.expect("delete");
    // A session that hashes SHA-512 as the bytes arrive (`digest-algorithm=sha512`), resumed
    // through another handle, commits under SHA-512; and under SHA-256 as well.
    let sha256 = Digest::sha256(&bytes);
    for committed in [&digest, &sha256] {
        let id = upload_hashing(store, Algorithm::Sha512, &bytes.slice(..4000), 1500).await;
        let other = (h.reopen)().await;
        let end = other
            .append(&id, 4000, body_from(bytes.slice(4000..)))
            .await
            .expect("append through another handle");
        assert_eq!(end, bytes.len() as u64);
        assert!(matches!(
            other
                .commit(&id, &Digest::compute(Algorithm::Sha512, b"x"))
                .await,
            Err(Error::DigestMismatch(_))
        ));
        other.commit(&id, committed).await.expect("commit");
        assert_eq!(read_all(store, committed, None).await.2, bytes);
        store.delete(committed).await.expect("delete");
    }
}
