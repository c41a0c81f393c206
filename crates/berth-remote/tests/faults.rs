//! The client against remotes that misbehave, each a small hyper handler (or a raw socket) of
//! the test's own: a closed port, a lying `Docker-Content-Digest`, a redirect to another host,
//! a body cut short, a silent server, broken token answers, a 503, an upload that stalls, an
//! upload `Location` on another host, a tag list without end.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use berth_model::{Digest, Reference};
use berth_remote::{Client, ClientOptions, Endpoint, Error, RemoteName};
use bytes::Bytes;
use futures::StreamExt as _;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

type Handler = Arc<dyn Fn(Request<Incoming>) -> Response<Full<Bytes>> + Send + Sync>;

/// Serves `handler` on a loopback port.
async fn serve(handler: Handler) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let handler = handler.clone();
            let service = hyper::service::service_fn(move |request| {
                let response = handler(request);
                async move { Ok::<_, Infallible>(response) }
            });
            tokio::spawn(
                hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service),
            );
        }
    });
    address
}

/// Answers every connection with `answer`, raw, after reading the request head (and waits
/// `linger` before closing).
async fn serve_raw(answer: &'static [u8], linger: Duration) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (mut stream, _) = listener.accept().await.unwrap();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = stream.write_all(answer).await;
                tokio::time::sleep(linger).await;
            });
        }
    });
    address
}

fn client_of(address: SocketAddr, credentials: Option<(&str, &str)>) -> Client {
    client_with(address, credentials, ClientOptions::default())
}

fn client_with(
    address: SocketAddr,
    credentials: Option<(&str, &str)>,
    options: ClientOptions,
) -> Client {
    let mut endpoint = Endpoint::parse(&format!("http://{address}")).unwrap();
    if let Some((user, password)) = credentials {
        endpoint = endpoint.with_credentials(user, password);
    }
    Client::new(endpoint, options).unwrap()
}

fn repo() -> RemoteName {
    RemoteName::parse("library/alpine").unwrap()
}

fn tag() -> Reference {
    Reference::parse("latest").unwrap()
}

const MANIFEST: &[u8] = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[]}"#;

fn manifest_answer(digest_header: Option<String>) -> Response<Full<Bytes>> {
    let mut response =
        Response::builder().header("content-type", "application/vnd.oci.image.manifest.v1+json");
    if let Some(digest) = digest_header {
        response = response.header("docker-content-digest", digest);
    }
    response
        .body(Full::new(Bytes::from_static(MANIFEST)))
        .unwrap()
}

#[tokio::test]
async fn a_closed_port_is_unreachable() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    let client = client_of(address, None);
    let e = client.get_manifest(&repo(), &tag()).await.unwrap_err();
    assert!(
        matches!(e, Error::Unreachable { .. }) && e.is_unreachable(),
        "{e}"
    );
    let e = client
        .head_blob(&repo(), &Digest::sha256(b""))
        .await
        .unwrap_err();
    assert!(e.is_unreachable(), "{e}");
    let ping = client.ping().await;
    assert!(!ping.reachable && !ping.authenticated, "{ping:?}");
    assert!(
        ping.message.contains("is unreachable: "),
        "the cause follows: {ping:?}"
    );
}

#[tokio::test]
async fn digests_are_checked_against_the_header_and_the_reference() {
    let right = Digest::sha256(MANIFEST);
    let wrong = Digest::sha256(b"another document");
    let header = Arc::new(Mutex::new(Some(wrong.to_string())));
    let served = header.clone();
    let address = serve(Arc::new(move |_| {
        manifest_answer(served.lock().unwrap().clone())
    }))
    .await;
    let client = client_of(address, None);

    let e = client.get_manifest(&repo(), &tag()).await.unwrap_err();
    let Error::DigestMismatch {
        expected, actual, ..
    } = &e
    else {
        panic!("{e}")
    };
    assert_eq!((expected, actual), (&wrong.to_string(), &right.to_string()));
    // HEAD by digest: the header contradicts the digest asked for.
    let by_digest = Reference::from(right.clone());
    let e = client.head_manifest(&repo(), &by_digest).await.unwrap_err();
    assert!(matches!(e, Error::DigestMismatch { .. }), "{e}");

    // No header: a tag is taken as it comes, a digest must match the bytes.
    *header.lock().unwrap() = None;
    let got = client.get_manifest(&repo(), &tag()).await.unwrap().unwrap();
    assert_eq!((got.digest, &got.bytes[..]), (right.clone(), MANIFEST));
    let e = client
        .get_manifest(&repo(), &Reference::from(wrong.clone()))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::DigestMismatch { .. }), "{e}");
    // A sha512 reference is computed with sha512.
    let sha512 = Digest::compute(berth_model::Algorithm::Sha512, MANIFEST);
    let got = client
        .get_manifest(&repo(), &Reference::from(sha512.clone()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.digest, sha512);

    // The right header is accepted.
    *header.lock().unwrap() = Some(right.to_string());
    let got = client.get_manifest(&repo(), &tag()).await.unwrap().unwrap();
    assert_eq!(got.digest, right);
    let head = client
        .head_manifest(&repo(), &tag())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(head.size, MANIFEST.len() as u64);
}

#[tokio::test]
async fn redirects_do_not_carry_the_credentials_to_another_host() {
    let seen_by_cdn: Arc<Mutex<Vec<Option<String>>>> = Arc::default();
    let seen = seen_by_cdn.clone();
    let cdn = serve(Arc::new(move |request| {
        let auth = request.headers().get("authorization");
        seen.lock()
            .unwrap()
            .push(auth.map(|v| v.to_str().unwrap().to_owned()));
        Response::new(Full::new(Bytes::from_static(b"layer bytes")))
    }))
    .await;
    let registry = serve(Arc::new(move |request| {
        // A Basic registry that sends blob reads to its CDN with a presigned URL.
        if request.headers().get("authorization").is_none() {
            return Response::builder()
                .status(StatusCode::UNAUTHORIZED)
                .header("www-authenticate", "Basic realm=\"registry\"")
                .body(Full::new(Bytes::new()))
                .unwrap();
        }
        let location = format!(
            "http://{cdn}{}?X-Amz-Signature=presigned",
            request.uri().path()
        );
        Response::builder()
            .status(StatusCode::TEMPORARY_REDIRECT)
            .header("location", location)
            .body(Full::new(Bytes::new()))
            .unwrap()
    }))
    .await;
    let client = client_of(registry, Some(("robot", "hunter2")));
    let blob = client
        .get_blob(&repo(), &Digest::sha256(b"layer bytes"))
        .await
        .unwrap()
        .unwrap();
    let body: Vec<Bytes> = blob.body.map(Result::unwrap).collect().await;
    assert_eq!(body.concat(), b"layer bytes");
    assert_eq!(*seen_by_cdn.lock().unwrap(), vec![None]);
}

#[tokio::test]
async fn a_body_cut_short_ends_the_stream_with_an_error() {
    let address = serve_raw(
        b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\nConnection: close\r\n\r\nonly this much",
        Duration::ZERO,
    )
    .await;
    let client = client_of(address, None);
    let blob = client
        .get_blob(&repo(), &Digest::sha256(b""))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(blob.size, Some(1000));
    let items: Vec<Result<Bytes, Error>> = blob.body.collect().await;
    let last = items.last().unwrap().as_ref().unwrap_err();
    assert!(last.is_unreachable(), "{last}");
    // A manifest cut short is the same error.
    let e = client.get_manifest(&repo(), &tag()).await.unwrap_err();
    assert!(e.is_unreachable(), "{e}");
}

#[tokio::test]
async fn a_silent_server_times_out() {
    let address = serve_raw(b"", Duration::from_secs(30)).await;
    let options = ClientOptions {
        response_timeout: Duration::from_millis(200),
        ..ClientOptions::default()
    };
    let e = client_with(address, None, options)
        .get_manifest(&repo(), &tag())
        .await
        .unwrap_err();
    assert!(e.is_unreachable(), "{e}");
}

#[tokio::test]
async fn gateway_errors_count_as_unreachable_and_others_do_not() {
    for (status, body, unreachable) in [
        (503, "", true),
        (502, "<html>bad gateway</html>", true),
        (
            429,
            r#"{"errors":[{"code":"TOOMANYREQUESTS","message":"slow down"}]}"#,
            false,
        ),
        (500, "", false),
    ] {
        let address = serve(Arc::new(move |_| {
            Response::builder()
                .status(status)
                .body(Full::new(Bytes::from_static(body.as_bytes())))
                .unwrap()
        }))
        .await;
        let e = client_of(address, None)
            .get_manifest(&repo(), &tag())
            .await
            .unwrap_err();
        assert!(
            matches!(e, Error::Status { status: s, .. } if s == status),
            "{e}"
        );
        assert_eq!(e.is_unreachable(), unreachable, "{e}");
        if status == 429 {
            assert!(e.to_string().ends_with("TOOMANYREQUESTS: slow down"), "{e}");
        }
    }
    let address = serve(Arc::new(|_| {
        Response::builder()
            .status(403)
            .body(Full::new(Bytes::from_static(
                br#"{"errors":[{"code":"DENIED","message":"no pulls today"}]}"#,
            )))
            .unwrap()
    }))
    .await;
    let e = client_of(address, None)
        .get_manifest(&repo(), &tag())
        .await
        .unwrap_err();
    assert!(
        matches!(&e, Error::Denied { message, .. } if message == "DENIED: no pulls today"),
        "{e}"
    );
}

/// A token-mode registry whose token endpoint answers `token_answer`.
async fn token_registry(token_answer: &'static str) -> SocketAddr {
    let realm: Arc<Mutex<String>> = Arc::default();
    let shown = realm.clone();
    let address = serve(Arc::new(move |request| {
        if request.uri().path() == "/token" {
            return Response::new(Full::new(Bytes::from_static(token_answer.as_bytes())));
        }
        if request.headers().get("authorization").is_none() {
            let challenge = format!(
                "Bearer realm=\"{}\",service=\"test\"",
                shown.lock().unwrap()
            );
            return Response::builder()
                .status(401)
                .header("www-authenticate", challenge)
                .body(Full::new(Bytes::new()))
                .unwrap();
        }
        manifest_answer(None)
    }))
    .await;
    *realm.lock().unwrap() = format!("http://{address}/token");
    address
}

#[tokio::test]
async fn token_answers_are_checked() {
    for answer in [
        "not json",
        r#"{"expires_in":60}"#,
        r#"{"token":""}"#,
        r#"{"token":"a\nb"}"#,
    ] {
        let address = token_registry(answer).await;
        let e = client_of(address, Some(("robot", "hunter2")))
            .get_manifest(&repo(), &tag())
            .await
            .unwrap_err();
        assert!(matches!(e, Error::Invalid { .. }), "{answer}: {e}");
        assert!(!e.to_string().contains("hunter2"), "{e}");
    }
    // `access_token` alone, and `issued_at` in whatever form, are fine.
    let address = token_registry(
        r#"{"access_token":"t","expires_in":300,"issued_at":"2024-01-01T00:00:00Z"}"#,
    )
    .await;
    let client = client_of(address, None);
    assert!(
        client
            .get_manifest(&repo(), &tag())
            .await
            .unwrap()
            .is_some()
    );
}

/// What the upload server does with a `PUT`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum OnPut {
    /// Stops reading after the request head.
    StopReading,
    /// Reads the body, then says nothing.
    NeverAnswer,
    /// Reads the body and answers 201.
    Accept,
}

/// A registry that opens an upload session for every `POST` (an absolute `Location` with a
/// query of its own) and treats `PUT`s as `on_put` says; the request line of each `PUT`.
async fn upload_server(on_put: OnPut) -> (SocketAddr, Arc<Mutex<Vec<String>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let puts = Arc::new(Mutex::new(Vec::new()));
    let seen = puts.clone();
    tokio::spawn(async move {
        loop {
            let (mut stream, _) = listener.accept().await.unwrap();
            let seen = seen.clone();
            tokio::spawn(async move {
                let mut buffer = Vec::new();
                let mut chunk = vec![0; 64 << 10];
                loop {
                    // One request head; what follows it in `buffer` is its body's start.
                    let end = loop {
                        if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                            break at + 4;
                        }
                        match stream.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
                        }
                    };
                    let head = String::from_utf8_lossy(&buffer[..end]).to_lowercase();
                    let line = String::from_utf8_lossy(&buffer[..end])
                        .lines()
                        .next()
                        .unwrap_or_default()
                        .to_owned();
                    buffer.drain(..end);
                    if line.starts_with("POST ") {
                        let answer = format!(
                            "HTTP/1.1 202 Accepted\r\nlocation: http://{address}/v2/a/blobs/uploads/1?_state=s1\r\ncontent-length: 0\r\n\r\n"
                        );
                        let _ = stream.write_all(answer.as_bytes()).await;
                        continue;
                    }
                    seen.lock().unwrap().push(line);
                    if on_put == OnPut::StopReading {
                        tokio::time::sleep(Duration::from_secs(30)).await;
                        return;
                    }
                    let length: usize = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .and_then(|v| v.trim().parse().ok())
                        .unwrap_or(0);
                    let mut read = buffer.len();
                    while read < length {
                        match stream.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => read += n,
                        }
                    }
                    buffer.clear();
                    if on_put == OnPut::NeverAnswer {
                        tokio::time::sleep(Duration::from_secs(30)).await;
                        return;
                    }
                    let answer = b"HTTP/1.1 201 Created\r\ncontent-length: 0\r\n\r\n";
                    let _ = stream.write_all(answer).await;
                }
            });
        }
    });
    (address, puts)
}

/// `count` chunks of 1 MiB, each after `pause`.
fn paced(
    count: usize,
    pause: Duration,
) -> futures::stream::BoxStream<'static, Result<Bytes, Error>> {
    let chunk = Bytes::from(vec![7u8; 1 << 20]);
    futures::stream::iter(0..count)
        .then(move |_| {
            let chunk = chunk.clone();
            async move {
                tokio::time::sleep(pause).await;
                Ok(chunk)
            }
        })
        .boxed()
}

#[tokio::test]
async fn an_upload_fails_when_the_registry_stalls_not_when_the_source_does() {
    let options = || ClientOptions {
        read_timeout: Duration::from_millis(500),
        response_timeout: Duration::from_millis(500),
        ..ClientOptions::default()
    };
    let digest = Digest::sha256(b"not checked here");

    // A source slower than both limits, and an upload longer than both: no failure.
    let (address, puts) = upload_server(OnPut::Accept).await;
    let client = client_with(address, None, options());
    let started = std::time::Instant::now();
    client
        .push_blob(
            &repo(),
            &digest,
            3 << 20,
            paced(3, Duration::from_millis(600)),
        )
        .await
        .unwrap();
    assert!(started.elapsed() > Duration::from_millis(1800));
    // The digest is added to the Location's own query, on its host.
    assert_eq!(
        *puts.lock().unwrap(),
        [format!(
            "PUT /v2/a/blobs/uploads/1?_state=s1&digest={} HTTP/1.1",
            digest.as_str().replace(':', "%3A")
        )]
    );

    // A registry that stops taking bytes (far more than the socket buffers hold).
    let (address, _) = upload_server(OnPut::StopReading).await;
    let e = client_with(address, None, options())
        .push_blob(&repo(), &digest, 256 << 20, paced(256, Duration::ZERO))
        .await
        .unwrap_err();
    assert!(e.is_unreachable(), "{e}");
    assert!(
        format!("{:?}", e).contains("took no bytes of the body"),
        "{e:?}"
    );

    // A registry that takes the body and never answers.
    let (address, _) = upload_server(OnPut::NeverAnswer).await;
    let e = client_with(address, None, options())
        .push_blob(&repo(), &digest, 2 << 20, paced(2, Duration::ZERO))
        .await
        .unwrap_err();
    assert!(e.is_unreachable(), "{e}");
    assert!(format!("{:?}", e).contains("no response within"), "{e:?}");
}

#[tokio::test]
async fn an_upload_location_on_another_host_gets_no_credentials() {
    let seen_by_storage: Arc<Mutex<Vec<Option<String>>>> = Arc::default();
    let seen = seen_by_storage.clone();
    let storage = serve(Arc::new(move |request| {
        let auth = request.headers().get("authorization");
        seen.lock()
            .unwrap()
            .push(auth.map(|v| v.to_str().unwrap().to_owned()));
        Response::builder()
            .status(StatusCode::CREATED)
            .body(Full::new(Bytes::new()))
            .unwrap()
    }))
    .await;
    let registry = serve(Arc::new(move |request| {
        // A Basic registry whose upload sessions live on another host.
        if request.headers().get("authorization").is_none() {
            return Response::builder()
                .status(StatusCode::UNAUTHORIZED)
                .header("www-authenticate", "Basic realm=\"registry\"")
                .body(Full::new(Bytes::new()))
                .unwrap();
        }
        Response::builder()
            .status(StatusCode::ACCEPTED)
            .header("location", format!("http://{storage}/upload/1"))
            .body(Full::new(Bytes::new()))
            .unwrap()
    }))
    .await;
    let client = client_of(registry, Some(("robot", "hunter2")));
    let bytes = Bytes::from_static(b"layer");
    let body = futures::stream::iter([Ok(bytes.clone())]).boxed();
    client
        .push_blob(&repo(), &Digest::sha256(&bytes), 5, body)
        .await
        .unwrap();
    assert_eq!(*seen_by_storage.lock().unwrap(), vec![None]);
}

#[tokio::test]
async fn listings_are_bounded() {
    // A registry whose tag list never ends: 1000 more after any `last`, and a link to the next.
    let pages: Arc<Mutex<usize>> = Arc::default();
    let counter = pages.clone();
    let registry = serve(Arc::new(move |request| {
        *counter.lock().unwrap() += 1;
        let query = request.uri().query().unwrap_or_default().to_owned();
        let from: usize = query
            .split('&')
            .find_map(|p| p.strip_prefix("last=t"))
            .and_then(|n| n.parse().ok())
            .map_or(0, |n: usize| n + 1);
        let tags: Vec<String> = (from..from + 1000).map(|n| format!("t{n}")).collect();
        let body = serde_json::json!({"name": "library/alpine", "tags": tags});
        Response::builder()
            .header(
                "link",
                format!(
                    "</v2/library/alpine/tags/list?n=1000&last=t{}>; rel=\"next\"",
                    from + 999
                ),
            )
            .body(Full::new(Bytes::from(body.to_string())))
            .unwrap()
    }))
    .await;
    let e = client_of(registry, None)
        .list_tags(&repo())
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            Error::TooLarge {
                limit: 100_000,
                unit: "tags",
                ..
            }
        ),
        "{e}"
    );
    assert_eq!(*pages.lock().unwrap(), 101);

    // One whose pages are empty but link on: the first empty page ends the listing.
    let registry = serve(Arc::new(move |_| {
        Response::builder()
            .header(
                "link",
                "</v2/library/alpine/tags/list?n=1000&last=x>; rel=\"next\"",
            )
            .body(Full::new(Bytes::from_static(
                br#"{"name":"library/alpine","tags":[]}"#,
            )))
            .unwrap()
    }))
    .await;
    let tags = client_of(registry, None).list_tags(&repo()).await.unwrap();
    assert!(tags.is_empty());
}
