//! What is particular to S3: when multipart uploads start and end, sealed sessions, racing
//! appends, presigned URLs. These tests start their own s3s-fs (they look into its data
//! directory for pending multipart uploads, which S3 only lists through an API s3s-fs lacks).
#![cfg(feature = "s3-server-tests")]

mod support;

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

use berth_model::{Algorithm, Digest};
use berth_storage::conformance::{data, failing_after};
use berth_storage::{BlobStore, Error, body_from};
use berth_storage_s3::{MIN_PART_SIZE, S3Config, S3Store};

fn pending_multipart_uploads(data: &Path) -> usize {
    std::fs::read_dir(data)
        .expect("data dir")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|name| name.starts_with(".upload-") && name.ends_with(".json"))
        .count()
}

fn own_store(edit: impl FnOnce(&mut S3Config)) -> (S3Store, support::OwnServer, S3Config) {
    let (target, server) = support::start_server();
    let mut config = support::config(&target, &support::unique_prefix("s"));
    edit(&mut config);
    (S3Store::new(config.clone()).expect("store"), server, config)
}

#[tokio::test]
async fn multipart_upload_starts_only_past_one_part_and_ends_with_the_session() {
    let (store, server, _) = own_store(|_| {});
    let bytes = data(1, MIN_PART_SIZE + 10);
    let id = store
        .start_upload(berth_model::Algorithm::Sha256)
        .await
        .unwrap();
    store
        .append(&id, 0, body_from(bytes.slice(..MIN_PART_SIZE - 1)))
        .await
        .unwrap();
    assert_eq!(
        pending_multipart_uploads(server.data()),
        0,
        "below one part"
    );
    store
        .append(
            &id,
            MIN_PART_SIZE as u64 - 1,
            body_from(bytes.slice(MIN_PART_SIZE - 1..)),
        )
        .await
        .unwrap();
    assert_eq!(pending_multipart_uploads(server.data()), 1, "one part sent");
    store.abort(&id).await.unwrap();
    assert_eq!(pending_multipart_uploads(server.data()), 0, "aborted");
}

#[tokio::test]
async fn a_failed_append_aborts_the_multipart_upload_it_started() {
    let (store, server, _) = own_store(|_| {});
    let bytes = data(2, 2 * MIN_PART_SIZE);
    let id = store
        .start_upload(berth_model::Algorithm::Sha256)
        .await
        .unwrap();
    store
        .append(&id, 0, body_from(bytes.slice(..100)))
        .await
        .unwrap();
    let err = store
        .append(&id, 100, failing_after(bytes.slice(100..)))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Body(_)), "{err:?}");
    assert_eq!(store.upload_status(&id).await.unwrap().offset, 100);
    assert_eq!(pending_multipart_uploads(server.data()), 0);
    store
        .append(&id, 100, body_from(bytes.slice(100..)))
        .await
        .unwrap();
    let digest = Digest::sha256(&bytes);
    store.commit(&id, &digest).await.unwrap();
    assert_eq!(store.stat(&digest).await.unwrap(), bytes.len() as u64);
    assert_eq!(pending_multipart_uploads(server.data()), 0);
    store.delete(&digest).await.unwrap();
}

#[tokio::test]
async fn sha512_commit_of_a_multipart_session_seals_it() {
    let (store, server, _) = own_store(|_| {});
    let bytes = data(3, MIN_PART_SIZE + 1000);
    let id = store
        .start_upload(berth_model::Algorithm::Sha256)
        .await
        .unwrap();
    store
        .append(&id, 0, body_from(bytes.clone()))
        .await
        .unwrap();
    let wrong = Digest::compute(Algorithm::Sha512, b"not these bytes");
    assert!(matches!(
        store.commit(&id, &wrong).await,
        Err(Error::DigestMismatch(_))
    ));
    assert!(matches!(
        store.stat(&wrong).await,
        Err(Error::BlobNotFound(_))
    ));
    assert_eq!(
        store.upload_status(&id).await.unwrap().offset,
        bytes.len() as u64
    );
    assert!(matches!(
        store
            .append(&id, bytes.len() as u64, body_from(&b"more"[..]))
            .await,
        Err(Error::NotSupported { .. })
    ));
    let digest = Digest::compute(Algorithm::Sha512, &bytes);
    assert_eq!(
        store.commit(&id, &digest).await.unwrap(),
        bytes.len() as u64
    );
    let read = store.get(&digest, None).await.unwrap();
    assert!(berth_storage::collect(read.body).await.unwrap() == bytes);
    store.delete(&digest).await.unwrap();
    assert_eq!(pending_multipart_uploads(server.data()), 0);
}

#[tokio::test]
async fn a_large_put_goes_through_parts_and_verifies() {
    let (store, server, _) = own_store(|_| {});
    let bytes = data(4, 2 * MIN_PART_SIZE + 5);
    let wrong = Digest::sha256(b"other");
    assert!(matches!(
        store.put(&wrong, body_from(bytes.clone())).await,
        Err(Error::DigestMismatch(_))
    ));
    assert!(store.list().await.unwrap().is_empty());
    assert!(
        store
            .list_uploads(std::time::SystemTime::now() + Duration::from_secs(60))
            .await
            .unwrap()
            .is_empty()
    );
    for digest in [
        Digest::sha256(&bytes),
        Digest::compute(Algorithm::Sha512, &bytes),
    ] {
        assert_eq!(
            store.put(&digest, body_from(bytes.clone())).await.unwrap(),
            bytes.len() as u64
        );
        assert_eq!(store.stat(&digest).await.unwrap(), bytes.len() as u64);
        store.delete(&digest).await.unwrap();
    }
    assert_eq!(pending_multipart_uploads(server.data()), 0);
}

/// Session state is replaced with `If-Match`: an append that read the state before another
/// append saved it loses, with the winner's offset, instead of forking the session. (Made
/// deterministic by holding the loser's body until the winner is done: s3s-fs checks `If-Match`
/// and writes without a lock, so two saves in flight at once could both pass there.)
#[tokio::test]
async fn an_append_that_lost_a_race_is_refused() {
    let (store, _server, config) = own_store(|_| {});
    let other = S3Store::new(config).unwrap();
    let id = store
        .start_upload(berth_model::Algorithm::Sha256)
        .await
        .unwrap();
    let (a, b) = (data(5, 1000), data(6, 1000));
    let (started_tx, started_rx) = tokio::sync::oneshot::channel();
    let (release_tx, release_rx) = tokio::sync::oneshot::channel::<()>();
    let held = a.clone();
    let slow_body = futures::stream::once(async move {
        let _ = started_tx.send(());
        let _ = release_rx.await;
        Ok(held)
    });
    let loser = tokio::spawn(async move {
        store
            .append(&id, 0, Box::pin(slow_body))
            .await
            .map(|_| store)
    });
    started_rx.await.unwrap();
    assert_eq!(
        other.append(&id, 0, body_from(b.clone())).await.unwrap(),
        1000
    );
    release_tx.send(()).unwrap();
    match loser.await.unwrap() {
        Err(Error::InvalidOffset {
            current: 1000,
            requested: 0,
            ..
        }) => {}
        Err(other) => panic!("expected InvalidOffset, got {other:?}"),
        Ok(_) => panic!("both appends at offset 0 succeeded"),
    }
    let digest = Digest::sha256(&b);
    other.commit(&id, &digest).await.unwrap();
    other.delete(&digest).await.unwrap();
}

#[tokio::test]
async fn presigned_urls_serve_the_blob_when_configured() {
    let (plain, _server, config) = own_store(|_| {});
    assert!(plain.presigner().is_none());
    let store = S3Store::new(S3Config {
        presign: true,
        ..config
    })
    .unwrap();
    let presigner = store.presigner().expect("presigning configured");
    let bytes = data(7, 3000);
    let digest = Digest::sha256(&bytes);
    assert!(matches!(
        presigner
            .presigned_get(&digest, Duration::from_secs(60))
            .await,
        Err(Error::BlobNotFound(_))
    ));
    store.put(&digest, body_from(bytes.clone())).await.unwrap();
    let url = presigner
        .presigned_get(&digest, Duration::from_secs(60))
        .await
        .unwrap();
    let body = tokio::task::spawn_blocking(move || http_get(&url))
        .await
        .unwrap();
    assert!(body == bytes, "the presigned URL serves the blob");
    store.delete(&digest).await.unwrap();
}

/// A plain HTTP/1.0 GET, as a client following a redirect would make it.
fn http_get(url: &str) -> Vec<u8> {
    let rest = url.strip_prefix("http://").expect("plain http URL");
    let (host, path) = rest.split_at(rest.find('/').expect("path"));
    let mut stream = TcpStream::connect(host).expect("connect");
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n").expect("send");
    let mut response = Vec::new();
    stream.read_to_end(&mut response).expect("read");
    let end = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("headers");
    let head = String::from_utf8_lossy(&response[..end]);
    assert!(
        head.starts_with("HTTP/1.0 200") || head.starts_with("HTTP/1.1 200"),
        "{head}"
    );
    response[end + 4..].to_vec()
}
