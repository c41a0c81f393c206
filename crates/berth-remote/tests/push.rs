//! The write side of the client against a real berth served over loopback TCP (the engine on
//! in-memory backends behind its `Gateway`), in token mode and in Basic mode: a repository user
//! that may push `team`, only pull `base`, and not touch `private`. The server records what
//! the client sent (token requests, the uploads' `PUT`s, tag-list pages) and can play a
//! registry without the referrers API, or one that refuses an upload's `PUT`.

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use berth_core::identity::RepositoryUserSpec;
use berth_core::{Registry, RegistryConfig, RequestBody};
use berth_meta::{
    Access, AccountId, AccountStore, MemoryMetadata, NewRepository, Permission, RegistryStore,
    Timestamp,
};
use berth_model::{Digest, Name, Reference, RepositoryName};
use berth_policy::Principal;
use berth_remote::{Client, ClientOptions, Endpoint, Error, Referrer, RemoteName};
use berth_v2::token::TokenKey;
use berth_v2::{AuthConfig, AuthMode, Gateway};
use bytes::Bytes;
use futures::StreamExt as _;
use futures::stream::BoxStream;
use http_body_util::BodyExt as _;
use hyper_util::rt::TokioIo;
use support::{Image, push_image};

mod support;

const ACCOUNT: AccountId = AccountId(10042);
const LAYER_SIZE: usize = 3 << 20;
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const OCI_EMPTY: &str = "application/vnd.oci.empty.v1+json";

/// How the server misbehaves.
#[derive(Default, Clone, Copy)]
struct Faults {
    /// Answer 404 to `/v2/<name>/referrers/<digest>`, as distribution 2.8 does.
    no_referrers: bool,
    /// Pass an upload's `PUT` on without its `Authorization`: berth answers it 401.
    refuse_puts: bool,
}

/// What the server saw.
#[derive(Default)]
struct Seen {
    /// The query of each token request.
    token_queries: Mutex<Vec<String>>,
    /// `Content-Length` and `Transfer-Encoding` of each upload `PUT`.
    puts: Mutex<Vec<(Option<String>, Option<String>)>>,
    /// Tag-list requests answered 200.
    tag_pages: AtomicUsize,
}

struct Server {
    url: String,
    engine: Arc<Registry>,
    user: String,
    secret: String,
    seen: Arc<Seen>,
    /// `base/img`, pushed through the engine.
    base: Image,
}

impl Server {
    async fn start(mode: AuthMode, faults: Faults) -> Server {
        let meta = Arc::new(MemoryMetadata::new());
        meta.create_account(ACCOUNT, "acme", Timestamp::now())
            .await
            .unwrap();
        for name in ["team", "base", "private"] {
            let new = NewRepository {
                account: ACCOUNT,
                name: RepositoryName::parse(name).unwrap(),
                access: Access::Private,
                quota: None,
                delete_orphan_referrers: true,
                proxy: None,
            };
            meta.create_repository(new, "admin", Timestamp::now())
                .await
                .unwrap();
        }
        let blobs = Arc::new(berth_storage::MemoryStore::new());
        let registry = Arc::new(Registry::new(blobs, meta, RegistryConfig::default()));
        let spec = RepositoryUserSpec {
            name: Some("replicator".into()),
            permissions: vec![
                (RepositoryName::parse("team").unwrap(), Permission::PushPull),
                (RepositoryName::parse("base").unwrap(), Permission::Pull),
            ],
            ..RepositoryUserSpec::default()
        };
        let user = registry
            .identity()
            .create_repository_user(ACCOUNT, spec, "admin")
            .await
            .unwrap();
        let base = push_image(&registry, "base/img", LAYER_SIZE).await;
        push_image(&registry, "private/img", 1000).await;

        let mut config = AuthConfig::new(TokenKey::generate());
        config.mode = mode;
        let gateway = Gateway::new(registry.clone(), config);
        let seen = Arc::new(Seen::default());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let recorder = seen.clone();
        tokio::spawn(async move {
            loop {
                let (stream, peer) = listener.accept().await.unwrap();
                let (gateway, seen) = (gateway.clone(), recorder.clone());
                let service = hyper::service::service_fn(move |request| {
                    let (gateway, seen) = (gateway.clone(), seen.clone());
                    async move {
                        Ok::<_, Infallible>(serve(&gateway, &seen, faults, peer, request).await)
                    }
                });
                tokio::spawn(
                    hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service),
                );
            }
        });
        Server {
            url: format!("http://{address}"),
            engine: registry,
            user: user.record.name,
            secret: user.secret,
            seen,
            base,
        }
    }

    /// A client with the repository user's credentials.
    fn client(&self) -> Client {
        let endpoint = Endpoint::parse(&self.url)
            .unwrap()
            .with_credentials(&self.user, &self.secret);
        Client::new(endpoint, ClientOptions::default()).unwrap()
    }

    fn token_queries(&self) -> Vec<String> {
        self.seen.token_queries.lock().unwrap().clone()
    }

    async fn open_uploads(&self) -> u64 {
        self.engine.open_uploads().await.unwrap()
    }
}

/// One request: recorded, bent by `faults`, answered by the gateway.
async fn serve(
    gateway: &Gateway,
    seen: &Seen,
    faults: Faults,
    peer: std::net::SocketAddr,
    mut request: http::Request<hyper::body::Incoming>,
) -> http::Response<berth_v2::Body> {
    let (path, method) = (request.uri().path().to_owned(), request.method().clone());
    let header = |name: http::header::HeaderName| {
        request
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    if path == "/token" {
        let query = request.uri().query().unwrap_or_default().to_owned();
        seen.token_queries.lock().unwrap().push(query);
    }
    let upload_put = method == http::Method::PUT && path.contains("/blobs/uploads/");
    if upload_put {
        let sent = (
            header(http::header::CONTENT_LENGTH),
            header(http::header::TRANSFER_ENCODING),
        );
        seen.puts.lock().unwrap().push(sent);
        if faults.refuse_puts {
            request.headers_mut().remove(http::header::AUTHORIZATION);
        }
    }
    if faults.no_referrers && path.contains("/referrers/") {
        let body = http_body_util::Full::new(Bytes::from_static(b"404 page not found"))
            .map_err(|never| match never {})
            .boxed_unsync();
        let mut response = http::Response::new(body);
        *response.status_mut() = http::StatusCode::NOT_FOUND;
        return response;
    }
    let response = gateway.handle(Some(peer.ip()), request).await;
    if path.ends_with("/tags/list") && response.status() == http::StatusCode::OK {
        seen.tag_pages.fetch_add(1, Ordering::SeqCst);
    }
    response
}

fn name(s: &str) -> RemoteName {
    RemoteName::parse(s).unwrap()
}

fn reference(s: &str) -> Reference {
    Reference::parse(s).unwrap()
}

/// `len` pseudo-random bytes, different for each `seed`.
fn noise(len: usize, seed: u64) -> Bytes {
    let mut state = seed | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect::<Vec<u8>>()
        .into()
}

/// `bytes` as a body arriving in 64 KiB chunks, each after a yield (as from a socket).
fn streamed(bytes: Bytes) -> BoxStream<'static, Result<Bytes, Error>> {
    const CHUNK: usize = 64 << 10;
    futures::stream::unfold(0, move |at| {
        let bytes = bytes.clone();
        async move {
            if at >= bytes.len() {
                return None;
            }
            tokio::task::yield_now().await;
            let end = (at + CHUNK).min(bytes.len());
            Some((Ok(bytes.slice(at..end)), end))
        }
    })
    .boxed()
}

async fn read_blob(client: &Client, repository: &RemoteName, digest: &Digest) -> Vec<u8> {
    let blob = client.get_blob(repository, digest).await.unwrap().unwrap();
    let mut body = blob.body;
    let mut received = Vec::new();
    while let Some(chunk) = body.next().await {
        received.extend_from_slice(&chunk.unwrap());
    }
    received
}

/// Pushes a blob through the client.
async fn push(client: &Client, repository: &RemoteName, bytes: &Bytes) -> Digest {
    let digest = Digest::sha256(bytes);
    let size = bytes.len() as u64;
    client
        .push_blob(repository, &digest, size, streamed(bytes.clone()))
        .await
        .unwrap();
    digest
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blob_is_pushed_streamed_and_read_back() {
    for mode in [AuthMode::Token, AuthMode::Basic] {
        let server = Server::start(mode, Faults::default()).await;
        let client = server.client();
        let repo = name("team/app");
        let bytes = noise(5 << 20, 7);
        let digest = Digest::sha256(&bytes);
        assert!(!client.blob_exists(&repo, &digest).await.unwrap());
        let tokens_before = server.token_queries().len();
        client
            .push_blob(&repo, &digest, bytes.len() as u64, streamed(bytes.clone()))
            .await
            .unwrap();
        if mode == AuthMode::Token {
            // The POST's token, cached, went with the PUT at once: a token request per scope
            // (the HEAD's `pull,push` before), none for the upload itself.
            assert_eq!(server.token_queries().len(), tokens_before, "{mode:?}");
        }
        // One PUT, sized, not chunked: the stream went out as it came.
        assert_eq!(
            *server.seen.puts.lock().unwrap(),
            vec![(Some((5 << 20).to_string()), None)],
            "{mode:?}"
        );
        assert!(client.blob_exists(&repo, &digest).await.unwrap());
        assert_eq!(
            client.head_blob(&repo, &digest).await.unwrap(),
            Some(5 << 20)
        );
        assert!(
            read_blob(&client, &repo, &digest).await == bytes,
            "{mode:?}"
        );
        // The empty blob too (some images have an empty layer).
        let empty = push(&client, &repo, &Bytes::new()).await;
        assert_eq!(client.head_blob(&repo, &empty).await.unwrap(), Some(0));
        assert_eq!(server.open_uploads().await, 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_upload_stores_nothing_and_leaves_no_session() {
    let server = Server::start(AuthMode::Token, Faults::default()).await;
    let client = server.client();
    let repo = name("team/app");
    let bytes = noise(2 << 20, 11);
    let (actual, size) = (Digest::sha256(&bytes), bytes.len() as u64);

    // A digest the bytes do not have: the registry's refusal.
    let wrong = Digest::sha256(b"something else");
    let e = client
        .push_blob(&repo, &wrong, size, streamed(bytes.clone()))
        .await
        .unwrap_err();
    let Error::Status {
        status, message, ..
    } = &e
    else {
        panic!("{e}")
    };
    assert_eq!(*status, 400, "{e}");
    assert!(message.contains("DIGEST_INVALID"), "{e}");
    for digest in [&wrong, &actual] {
        assert!(!client.blob_exists(&repo, digest).await.unwrap());
    }
    assert_eq!(server.open_uploads().await, 0);

    // A body shorter or longer than its size: refused before the registry sees it whole.
    for claimed in [size + 1, size - 1] {
        let e = client
            .push_blob(&repo, &actual, claimed, streamed(bytes.clone()))
            .await
            .unwrap_err();
        assert!(matches!(e, Error::Invalid { .. }), "{claimed}: {e}");
        assert!(!client.blob_exists(&repo, &actual).await.unwrap());
        assert_eq!(server.open_uploads().await, 0, "{claimed}");
    }

    // The caller's stream failing (its own upstream gone): that error, as it was.
    let failing = streamed(bytes.slice(..1 << 20))
        .chain(futures::stream::once(async {
            Err(Error::Unreachable {
                url: "http://source.example/v2/x/blobs/y".into(),
                source: "the source hung up".into(),
            })
        }))
        .boxed();
    let e = client
        .push_blob(&repo, &actual, size, failing)
        .await
        .unwrap_err();
    assert!(
        matches!(&e, Error::Unreachable { url, .. } if url.starts_with("http://source.example")),
        "{e}"
    );
    assert!(!client.blob_exists(&repo, &actual).await.unwrap());
    assert_eq!(server.open_uploads().await, 0);

    // No repository to push to, or none the credentials may push to.
    for repo in ["nowhere/app", "base/img"] {
        let e = client
            .push_blob(&name(repo), &actual, size, streamed(bytes.clone()))
            .await
            .unwrap_err();
        assert!(
            matches!(
                e,
                Error::Status { status: 404, .. }
                    | Error::Denied { .. }
                    | Error::Unauthorized { .. }
            ),
            "{repo}: {e}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_put_is_not_sent_again() {
    let server = Server::start(
        AuthMode::Token,
        Faults {
            refuse_puts: true,
            ..Faults::default()
        },
    )
    .await;
    let client = server.client();
    let repo = name("team/app");
    let bytes = noise(1 << 20, 13);
    let digest = Digest::sha256(&bytes);
    let e = client
        .push_blob(&repo, &digest, bytes.len() as u64, streamed(bytes.clone()))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Unauthorized { .. }), "{e}");
    assert_eq!(
        server.seen.puts.lock().unwrap().len(),
        1,
        "a streamed body is sent once"
    );
    assert_eq!(server.open_uploads().await, 0, "the session was cancelled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blobs_are_mounted_with_one_token_for_both_repositories() {
    let server = Server::start(AuthMode::Token, Faults::default()).await;
    let client = server.client();
    let (target, from) = (name("team/app"), name("base/img"));
    let layer = &server.base.layer_digest;
    assert!(!client.blob_exists(&target, layer).await.unwrap());
    let before = server.token_queries().len();
    assert!(client.mount_blob(&target, layer, &from).await.unwrap());
    let queries = server.token_queries();
    assert_eq!(queries.len(), before + 1, "one token: {queries:?}");
    let query = queries.last().unwrap();
    for scope in [
        "scope=repository%3Ateam%2Fapp%3Apull%2Cpush",
        "scope=repository%3Abase%2Fimg%3Apull",
    ] {
        assert!(query.contains(scope), "{scope} in {query}");
    }
    assert!(client.blob_exists(&target, layer).await.unwrap());
    assert_eq!(
        read_blob(&client, &target, layer).await,
        server.base.layer.to_vec()
    );

    // Not in `from`, or not readable there: an upload started, and cancelled at once.
    let unknown = Digest::sha256(b"never pushed");
    assert!(!client.mount_blob(&target, &unknown, &from).await.unwrap());
    assert!(!client.blob_exists(&target, &unknown).await.unwrap());
    let private = Name::parse("private/img").unwrap();
    let hidden = server
        .engine
        .get_manifest(&Principal::SystemAdmin, &private, &reference("v1"))
        .await
        .unwrap();
    let hidden: serde_json::Value = serde_json::from_slice(&hidden.bytes).unwrap();
    let hidden = Digest::parse(hidden["layers"][0]["digest"].as_str().unwrap()).unwrap();
    let mounted = client
        .mount_blob(&target, &hidden, &name("private/img"))
        .await
        .unwrap();
    assert!(
        !mounted,
        "a blob the credentials may not read is not mounted"
    );
    assert_eq!(server.open_uploads().await, 0);
}

/// A manifest of a config and one layer, pushed through the client; its bytes.
async fn push_manifest(client: &Client, repo: &RemoteName, tag: &str, seed: u64) -> Bytes {
    let config = Bytes::from(format!(
        r#"{{"architecture":"amd64","os":"linux","seed":{seed}}}"#
    ));
    let layer = noise(100_000, seed);
    let (config_digest, layer_digest) = (
        push(client, repo, &config).await,
        push(client, repo, &layer).await,
    );
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": layer_digest, "size": layer.len()}],
    });
    let bytes = Bytes::from(serde_json::to_vec_pretty(&manifest).unwrap());
    let digest = client
        .put_manifest(repo, &reference(tag), OCI_MANIFEST, bytes.clone())
        .await
        .unwrap();
    assert_eq!(digest, Digest::sha256(&bytes));
    bytes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manifests_are_pushed_and_deleted() {
    for mode in [AuthMode::Token, AuthMode::Basic] {
        let server = Server::start(mode, Faults::default()).await;
        let client = server.client();
        let repo = name("team/app");
        let bytes = push_manifest(&client, &repo, "v1", 1).await;
        let digest = Digest::sha256(&bytes);
        for r in [reference("v1"), Reference::from(digest.clone())] {
            let got = client.get_manifest(&repo, &r).await.unwrap().unwrap();
            assert_eq!(got.bytes, bytes, "{mode:?} {r}: the exact bytes");
            assert_eq!(got.digest, digest);
            assert_eq!(got.media_type, OCI_MANIFEST);
        }
        // By digest too, and again (the same bytes: the same answer).
        let by_digest = Reference::from(digest.clone());
        for _ in 0..2 {
            let again = client
                .put_manifest(&repo, &by_digest, OCI_MANIFEST, bytes.clone())
                .await
                .unwrap();
            assert_eq!(again, digest);
        }
        // A manifest naming a blob the repository lacks: the registry's refusal.
        let dangling = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": Digest::sha256(b"absent"), "size": 6},
            "layers": [],
        });
        let e = client
            .put_manifest(
                &repo,
                &reference("dangling"),
                OCI_MANIFEST,
                dangling.to_string().into(),
            )
            .await
            .unwrap_err();
        assert!(
            matches!(&e, Error::Status { status: 400, message, .. } if message.contains("MANIFEST_BLOB_UNKNOWN")),
            "{mode:?}: {e}"
        );

        assert!(client.delete_manifest(&repo, &by_digest).await.unwrap());
        assert!(
            client
                .head_manifest(&repo, &by_digest)
                .await
                .unwrap()
                .is_none()
        );
        assert!(
            client
                .head_manifest(&repo, &reference("v1"))
                .await
                .unwrap()
                .is_none()
        );
        assert!(!client.delete_manifest(&repo, &by_digest).await.unwrap());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tags_are_listed_across_pages() {
    let server = Server::start(AuthMode::Token, Faults::default()).await;
    let client = server.client();
    let image = Name::parse("base/img").unwrap();
    let mut expected = vec!["v1".to_owned()];
    for i in 0..1005 {
        let tag = format!("t{i:04}");
        server
            .engine
            .put_manifest(
                &Principal::SystemAdmin,
                &image,
                &reference(&tag),
                RequestBody::from_bytes(server.base.manifest.clone()),
                Some(OCI_MANIFEST),
            )
            .await
            .unwrap();
        expected.push(tag);
    }
    expected.sort();
    let tags = client.list_tags(&name("base/img")).await.unwrap();
    let tags: Vec<String> = tags.iter().map(|t| t.as_str().to_owned()).collect();
    assert_eq!(tags, expected);
    assert_eq!(
        server.seen.tag_pages.load(Ordering::SeqCst),
        2,
        "1000 and 6"
    );
    let last = client
        .head_manifest(&name("base/img"), &reference("t1004"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(last.digest, server.base.digest);
    // No such image: no tags.
    assert!(
        client
            .list_tags(&name("team/none"))
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_catalog_lists_what_the_credentials_see() {
    let server = Server::start(AuthMode::Token, Faults::default()).await;
    let client = server.client();
    push_manifest(&client, &name("team/app"), "v1", 2).await;
    push_manifest(&client, &name("team/tools/cli"), "v1", 3).await;
    let names = client.catalog().await.unwrap();
    let names: Vec<&str> = names.iter().map(RemoteName::as_str).collect();
    assert_eq!(names, ["base/img", "team/app", "team/tools/cli"]);
}

/// An artifact whose subject is `subject`: its manifest's bytes.
async fn push_artifact(client: &Client, repo: &RemoteName, subject: &Bytes) -> Bytes {
    let empty = push(client, repo, &Bytes::from_static(b"{}")).await;
    let artifact = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": "application/vnd.example.sbom",
        "config": {"mediaType": OCI_EMPTY, "digest": empty, "size": 2},
        "layers": [{"mediaType": OCI_EMPTY, "digest": empty, "size": 2}],
        "subject": {"mediaType": OCI_MANIFEST, "digest": Digest::sha256(subject), "size": subject.len()},
    });
    let bytes = Bytes::from(artifact.to_string());
    let digest = Reference::from(Digest::sha256(&bytes));
    client
        .put_manifest(repo, &digest, OCI_MANIFEST, bytes.clone())
        .await
        .unwrap();
    bytes
}

fn referrer(artifact: &Bytes) -> Referrer {
    Referrer {
        digest: Digest::sha256(artifact),
        media_type: OCI_MANIFEST.to_owned(),
        artifact_type: Some("application/vnd.example.sbom".to_owned()),
        size: artifact.len() as u64,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn referrers_are_listed() {
    let server = Server::start(AuthMode::Token, Faults::default()).await;
    let client = server.client();
    let repo = name("team/app");
    let subject = push_manifest(&client, &repo, "v1", 4).await;
    let subject_digest = Digest::sha256(&subject);
    assert!(
        client
            .referrers(&repo, &subject_digest)
            .await
            .unwrap()
            .is_empty()
    );
    let artifact = push_artifact(&client, &repo, &subject).await;
    assert_eq!(
        client.referrers(&repo, &subject_digest).await.unwrap(),
        vec![referrer(&artifact)]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn referrers_fall_back_to_the_tag_schema() {
    let server = Server::start(
        AuthMode::Token,
        Faults {
            no_referrers: true,
            ..Faults::default()
        },
    )
    .await;
    let client = server.client();
    let repo = name("team/app");
    let subject = push_manifest(&client, &repo, "v1", 5).await;
    let subject_digest = Digest::sha256(&subject);
    // Nothing tagged `sha256-<hex>`: no referrers.
    assert!(
        client
            .referrers(&repo, &subject_digest)
            .await
            .unwrap()
            .is_empty()
    );
    // What a client does for a registry without the API: the index under the schema's tag.
    let artifact = push_artifact(&client, &repo, &subject).await;
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [{
            "mediaType": OCI_MANIFEST,
            "digest": Digest::sha256(&artifact),
            "size": artifact.len(),
            "artifactType": "application/vnd.example.sbom",
        }],
    });
    let tag = reference(&format!("sha256-{}", subject_digest.hex()));
    client
        .put_manifest(&repo, &tag, OCI_INDEX, index.to_string().into())
        .await
        .unwrap();
    assert_eq!(
        client.referrers(&repo, &subject_digest).await.unwrap(),
        vec![referrer(&artifact)]
    );
}
