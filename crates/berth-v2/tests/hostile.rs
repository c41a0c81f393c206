//! Hostile input through the gateway: bodies held open by callers who may not send them, a
//! budget of bodies in memory spent by others, chunks whose `Content-Range` lies about their
//! length, ranges past the end of a blob. In-memory backends, `http` requests.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use berth_core::identity::RepositoryUserSpec;
use berth_core::{Registry, RegistryConfig};
use berth_meta::{
    Access, AccountId, AccountStore, MemoryMetadata, NewRepository, Permission, RegistryStore,
};
use berth_model::{Digest, RepositoryName, Timestamp};
use berth_storage::MemoryStore;
use berth_v2::token::TokenKey;
use berth_v2::{AuthConfig, AuthMode, Gateway};
use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt as _, Full};

const ACCOUNT: AccountId = AccountId(10042);

/// A body that sends what it is given and then never ends, like a client holding a request.
struct Held(Vec<Bytes>);

impl http_body::Body for Held {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        match self.0.pop() {
            Some(chunk) => Poll::Ready(Some(Ok(http_body::Frame::data(chunk)))),
            None => Poll::Pending,
        }
    }
}

struct Fixture {
    gateway: Gateway,
    registry: Arc<Registry>,
    pusher: String,
}

async fn fixture(config: RegistryConfig) -> Fixture {
    let meta = Arc::new(MemoryMetadata::new());
    meta.create_account(ACCOUNT, "acme", Timestamp::now())
        .await
        .unwrap();
    let new = NewRepository {
        account: ACCOUNT,
        name: RepositoryName::parse("team").unwrap(),
        access: Access::Private,
        quota: None,
        delete_orphan_referrers: true,
        proxy: None,
    };
    meta.create_repository(new, "admin", Timestamp::now())
        .await
        .unwrap();
    let registry = Arc::new(Registry::new(Arc::new(MemoryStore::new()), meta, config));
    let spec = RepositoryUserSpec {
        name: Some("ci".into()),
        permissions: vec![(RepositoryName::parse("team").unwrap(), Permission::PushPull)],
        ..RepositoryUserSpec::default()
    };
    let user = registry
        .identity()
        .create_repository_user(ACCOUNT, spec, "admin")
        .await
        .unwrap();
    let credentials = format!("{}:{}", user.record.name, user.secret);
    let mut auth = AuthConfig::new(TokenKey::generate());
    auth.mode = AuthMode::Basic;
    Fixture {
        gateway: Gateway::new(registry.clone(), auth),
        registry,
        pusher: format!("Basic {}", STANDARD.encode(credentials)),
    }
}

/// Answers `request` or fails the test if the gateway waits for a body that never ends.
async fn answer<B>(f: &Fixture, request: Request<B>) -> (StatusCode, http::HeaderMap, Bytes)
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let response: Response<_> =
        tokio::time::timeout(Duration::from_secs(30), f.gateway.handle(None, request))
            .await
            .expect("the gateway answered without waiting for the held body");
    let (parts, body) = response.into_parts();
    (
        parts.status,
        parts.headers,
        body.collect().await.unwrap().to_bytes(),
    )
}

fn code(body: &Bytes) -> String {
    let json: serde_json::Value = serde_json::from_slice(body).unwrap();
    json["errors"][0]["code"].as_str().unwrap_or("").to_owned()
}

#[tokio::test]
async fn a_caller_who_may_not_write_is_answered_before_its_body() {
    let f = fixture(RegistryConfig::default()).await;
    let session = format!(
        "/v2/team/app/blobs/uploads/{}",
        berth_model::UploadId::from_random([7; 16])
    );
    let monolithic = format!(
        "/v2/team/app/blobs/uploads/?digest={}",
        Digest::sha256(b"x")
    );
    let writes = [
        (Method::PUT, "/v2/team/app/manifests/latest"),
        (Method::POST, monolithic.as_str()),
        (Method::PATCH, session.as_str()),
        (
            Method::PUT,
            &format!("{session}?digest={}", Digest::sha256(b"x")),
        ),
    ];
    for (method, uri) in writes {
        // An anonymous 4 MB body, one byte short of its end.
        let request = Request::builder()
            .method(method.clone())
            .uri(uri)
            .header("content-type", "application/vnd.oci.image.manifest.v1+json")
            .header("content-length", "4194304")
            .body(Held(vec![Bytes::from(vec![b' '; (4 << 20) - 1])]))
            .unwrap();
        let (status, headers, body) = answer(&f, request).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {uri}");
        assert_eq!(code(&body), "UNAUTHORIZED");
        assert!(headers.contains_key("www-authenticate"));
    }
}

#[tokio::test]
async fn bodies_in_memory_are_bounded_in_all() {
    let config = RegistryConfig {
        max_manifest_size: 1 << 20,
        max_buffered_bytes: 1 << 20,
        ..RegistryConfig::default()
    };
    let f = Arc::new(fixture(config).await);
    // One push holds the whole budget with a body it has not finished sending.
    let holder = {
        let f = f.clone();
        tokio::spawn(async move {
            let request = Request::put("/v2/team/app/manifests/held")
                .header("authorization", &f.pusher)
                .header("content-length", (1 << 20).to_string())
                .body(Held(vec![Bytes::from_static(b"{")]))
                .unwrap();
            f.gateway.handle(None, request).await
        })
    };
    // Until the holder has reserved the budget (a wait for the other task, not for time).
    let budget = f.registry.memory_budget();
    while budget.in_use() < budget.total() {
        tokio::task::yield_now().await;
    }
    let request = Request::put("/v2/team/app/manifests/v1")
        .header("authorization", &f.pusher)
        .header("content-type", "application/vnd.oci.image.manifest.v1+json")
        .body(Full::new(Bytes::from_static(b"{\"schemaVersion\":2}")))
        .unwrap();
    let (status, headers, body) = answer(&f, request).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(code(&body), "TOOMANYREQUESTS");
    assert_eq!(headers["retry-after"], "1");
    holder.abort();
    let _ = holder.await;
    // The budget is back once the holder is gone: the same push gets through to validation.
    let request = Request::put("/v2/team/app/manifests/v1")
        .header("authorization", &f.pusher)
        .header("content-type", "application/vnd.oci.image.manifest.v1+json")
        .body(Full::new(Bytes::from_static(b"{\"schemaVersion\":2}")))
        .unwrap();
    let (status, _, body) = answer(&f, request).await;
    assert_eq!(
        (status, code(&body).as_str()),
        (StatusCode::BAD_REQUEST, "MANIFEST_INVALID")
    );
}

#[tokio::test]
async fn a_chunk_whose_range_lies_about_its_length_is_416() {
    let f = fixture(RegistryConfig::default()).await;
    let start = Request::post("/v2/team/app/blobs/uploads/")
        .header("authorization", &f.pusher)
        .body(Full::new(Bytes::new()))
        .unwrap();
    let (status, headers, _) = answer(&f, start).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let location = headers["location"].to_str().unwrap().to_owned();
    for (range, body, length) in [
        ("0-9", &b"12345"[..], Some("5")), // declared length disagrees
        ("0-9", &b"12345"[..], None),      // streamed, shorter
        ("0-2", &b"12345"[..], None),      // streamed, longer
    ] {
        let mut request = Request::patch(&location)
            .header("authorization", &f.pusher)
            .header("content-range", range);
        if let Some(length) = length {
            request = request.header("content-length", length);
        }
        let body = futures_body(body, length.is_none());
        let (status, _, answer_body) = answer(&f, request.body(body).unwrap()).await;
        assert_eq!(
            status,
            StatusCode::RANGE_NOT_SATISFIABLE,
            "{range} {length:?}"
        );
        assert_eq!(code(&answer_body), "BLOB_UPLOAD_INVALID");
    }
    // Nothing of them was kept; a truthful chunk continues at 0.
    let request = Request::patch(&location)
        .header("authorization", &f.pusher)
        .header("content-range", "0-4")
        .body(futures_body(b"12345", true))
        .unwrap();
    let (status, headers, _) = answer(&f, request).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(headers["range"], "0-4");
    let digest = Digest::sha256(b"12345");
    let request = Request::put(format!("{location}?digest={digest}"))
        .header("authorization", &f.pusher)
        .body(futures_body(b"", false))
        .unwrap();
    let (status, _, _) = answer(&f, request).await;
    assert_eq!(status, StatusCode::CREATED);
    // A range past its end is 416 with the blob's size.
    let request = Request::get(format!("/v2/team/app/blobs/{digest}"))
        .header("authorization", &f.pusher)
        .header("range", "bytes=10-20")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let (status, headers, _) = answer(&f, request).await;
    assert_eq!(status, StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(headers["content-range"], "bytes */5");
}

/// `bytes` as a body, in one chunk per byte when `streamed` (no declared length), else whole.
fn futures_body(
    bytes: &'static [u8],
    streamed: bool,
) -> http_body_util::combinators::UnsyncBoxBody<Bytes, std::io::Error> {
    if !streamed {
        return Full::new(Bytes::from_static(bytes))
            .map_err(|never| match never {})
            .boxed_unsync();
    }
    let frames: Vec<Result<http_body::Frame<Bytes>, std::io::Error>> = bytes
        .chunks(1)
        .map(|b| Ok(http_body::Frame::data(Bytes::copy_from_slice(b))))
        .collect();
    http_body_util::StreamBody::new(futures::stream::iter(frames)).boxed_unsync()
}
