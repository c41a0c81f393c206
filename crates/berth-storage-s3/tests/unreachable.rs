//! A service that cannot be reached is [`Error::Unavailable`] (the registry answers 503 naming
//! it), after the configured retries: hermetic, on a loopback port nothing listens on.

use std::time::Duration;

use berth_model::Digest;
use berth_storage::{BlobStore, Error};
use berth_storage_s3::{S3Config, S3Store};

#[tokio::test]
async fn a_refused_connection_is_unavailable() {
    // A port the kernel just gave out and that nothing listens on any more.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let store = S3Store::new(S3Config {
        endpoint: Some(format!("http://127.0.0.1:{port}")),
        allow_http: true,
        retry_timeout: Duration::from_millis(200),
        ..S3Config::new("bucket", "key", "secret")
    })
    .unwrap();
    let err = store.stat(&Digest::sha256(b"x")).await.unwrap_err();
    assert!(
        matches!(err, Error::Unavailable { store: "s3", .. }),
        "{err:?}"
    );
    assert!(err.to_string().starts_with("s3 is unavailable: "), "{err}");
}
