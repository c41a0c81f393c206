//! A server that cannot be reached is [`Error::Unavailable`] (the registry answers 503 naming
//! it): hermetic, on a loopback port nothing listens on.

use std::time::Duration;

use berth_meta::Error;
use berth_meta_postgres::{PostgresMetadata, PostgresOptions};

#[tokio::test]
async fn a_refused_connection_is_unavailable() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let options = PostgresOptions {
        connect_timeout: Duration::from_secs(2),
        ..PostgresOptions::default()
    };
    let url = format!("postgres://berth:secret@127.0.0.1:{port}/berth");
    let err = PostgresMetadata::connect(&url, options).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Unavailable {
                store: "postgres",
                ..
            }
        ),
        "{err:?}"
    );
}
