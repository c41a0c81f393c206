//! The client against a real berth upstream served over loopback TCP: berth's engine on
//! in-memory backends behind its `Gateway`, in token mode and in Basic mode, with a public and a
//! private repository holding images (`open/app`, `private/app`, `private/tools`) of a config and
//! a 3 MiB layer tagged `v1`.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use berth_core::identity::RepositoryUserSpec;
use berth_core::{Registry, RegistryConfig};
use berth_meta::{
    Access, AccountId, AccountStore, MemoryMetadata, NewRepository, Permission, RegistryStore,
    Timestamp,
};
use berth_model::{Digest, Reference, RepositoryName};
use berth_remote::{Client, ClientOptions, Endpoint, Error, RemoteName};
use berth_v2::token::TokenKey;
use berth_v2::{AuthConfig, AuthMode, Gateway};
use futures::StreamExt as _;
use hyper_util::rt::TokioIo;
use support::{Image, push_image};

mod support;

const ACCOUNT: AccountId = AccountId(10042);
const LAYER_SIZE: usize = 3 << 20;

struct Upstream {
    url: String,
    /// Requests the token endpoint answered.
    tokens: Arc<AtomicUsize>,
    /// The repository user that may pull `private`.
    user: String,
    secret: String,
    image: Image,
}

impl Upstream {
    async fn start(mode: AuthMode) -> Upstream {
        let meta = Arc::new(MemoryMetadata::new());
        meta.create_account(ACCOUNT, "acme", Timestamp::now())
            .await
            .unwrap();
        for (name, access) in [("open", Access::Public), ("private", Access::Private)] {
            let new = NewRepository {
                account: ACCOUNT,
                name: RepositoryName::parse(name).unwrap(),
                access,
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
            name: Some("puller".into()),
            permissions: vec![(RepositoryName::parse("private").unwrap(), Permission::Pull)],
            ..RepositoryUserSpec::default()
        };
        let user = registry
            .identity()
            .create_repository_user(ACCOUNT, spec, "admin")
            .await
            .unwrap();
        let image = push_image(&registry, "open/app", LAYER_SIZE).await;
        push_image(&registry, "private/app", LAYER_SIZE).await;
        push_image(&registry, "private/tools", LAYER_SIZE).await;

        let mut config = AuthConfig::new(TokenKey::generate());
        config.mode = mode;
        let gateway = Gateway::new(registry, config);
        let tokens = Arc::new(AtomicUsize::new(0));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let counter = tokens.clone();
        tokio::spawn(async move {
            loop {
                let (stream, peer) = listener.accept().await.unwrap();
                let (gateway, counter) = (gateway.clone(), counter.clone());
                let service = hyper::service::service_fn(move |request| {
                    let (gateway, counter) = (gateway.clone(), counter.clone());
                    async move {
                        if request.uri().path() == "/token" {
                            counter.fetch_add(1, Ordering::SeqCst);
                        }
                        Ok::<_, Infallible>(gateway.handle(Some(peer.ip()), request).await)
                    }
                });
                tokio::spawn(
                    hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service),
                );
            }
        });
        Upstream {
            url: format!("http://{address}"),
            tokens,
            user: user.record.name,
            secret: user.secret,
            image,
        }
    }

    fn client(&self, credentials: Option<(&str, &str)>) -> Client {
        self.client_with(credentials, ClientOptions::default())
    }

    fn client_with(&self, credentials: Option<(&str, &str)>, options: ClientOptions) -> Client {
        let mut endpoint = Endpoint::parse(&self.url).unwrap();
        if let Some((user, password)) = credentials {
            endpoint = endpoint.with_credentials(user, password);
        }
        Client::new(endpoint, options).unwrap()
    }

    fn good(&self) -> Option<(&str, &str)> {
        Some((&self.user, &self.secret))
    }

    fn wrong(&self) -> Option<(&str, &str)> {
        Some((&self.user, "not-the-secret"))
    }

    fn tokens(&self) -> usize {
        self.tokens.load(Ordering::SeqCst)
    }
}

fn name(s: &str) -> RemoteName {
    RemoteName::parse(s).unwrap()
}

fn reference(s: &str) -> Reference {
    Reference::parse(s).unwrap()
}

/// Everything a pull does, checked against what was pushed.
async fn pull(client: &Client, upstream: &Upstream, image: &str) {
    let (repo, want) = (name(image), &upstream.image);
    for r in [reference("v1"), Reference::from(want.digest.clone())] {
        let head = client.head_manifest(&repo, &r).await.unwrap().unwrap();
        assert_eq!(head.digest, want.digest, "{image}:{r}");
        assert_eq!(
            head.media_type,
            "application/vnd.oci.image.manifest.v1+json"
        );
        assert_eq!(head.size, want.manifest.len() as u64);
        let got = client.get_manifest(&repo, &r).await.unwrap().unwrap();
        assert_eq!(got.bytes, want.manifest, "the exact bytes pushed");
        assert_eq!(got.digest, want.digest);
        assert_eq!(got.media_type, "application/vnd.oci.image.manifest.v1+json");
    }
    let size = client.head_blob(&repo, &want.layer_digest).await.unwrap();
    assert_eq!(size, Some(LAYER_SIZE as u64));
    let blob = client
        .get_blob(&repo, &want.layer_digest)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(blob.size, Some(LAYER_SIZE as u64));
    let mut body = blob.body;
    let (mut received, mut chunks) = (Vec::with_capacity(LAYER_SIZE), 0);
    while let Some(chunk) = body.next().await {
        received.extend_from_slice(&chunk.unwrap());
        chunks += 1;
    }
    assert!(received == want.layer, "the layer, byte for byte");
    assert!(chunks > 1, "streamed, not one buffer");

    // Missing things of a readable image are None.
    let missing = Digest::sha256(b"never pushed");
    assert!(client.head_blob(&repo, &missing).await.unwrap().is_none());
    assert!(client.get_blob(&repo, &missing).await.unwrap().is_none());
    let tag = reference("no-such-tag");
    assert!(client.head_manifest(&repo, &tag).await.unwrap().is_none());
    assert!(client.get_manifest(&repo, &tag).await.unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ping_in_token_mode() {
    let upstream = Upstream::start(AuthMode::Token).await;
    let ping = upstream.client(None).ping().await;
    assert!(ping.reachable && !ping.authenticated, "{ping:?}");
    assert_eq!(ping.message, "reachable; anonymous access");

    let ping = upstream.client(upstream.good()).ping().await;
    assert!(ping.reachable && ping.authenticated, "{ping:?}");
    assert_eq!(ping.message, "reachable; credentials accepted (token)");

    let ping = upstream.client(upstream.wrong()).ping().await;
    assert!(ping.reachable && !ping.authenticated, "{ping:?}");
    assert!(
        ping.message
            .contains("credentials refused by the token endpoint of 127.0.0.1:"),
        "{ping:?}"
    );
    assert!(!ping.message.contains("not-the-secret"), "{ping:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ping_in_basic_mode() {
    let upstream = Upstream::start(AuthMode::Basic).await;
    let ping = upstream.client(None).ping().await;
    assert!(ping.reachable && !ping.authenticated, "{ping:?}");
    assert!(ping.message.contains("requires credentials"), "{ping:?}");

    let ping = upstream.client(upstream.good()).ping().await;
    assert!(ping.reachable && ping.authenticated, "{ping:?}");
    assert_eq!(ping.message, "reachable; credentials accepted (Basic)");

    let ping = upstream.client(upstream.wrong()).ping().await;
    assert!(ping.reachable && !ping.authenticated, "{ping:?}");
    assert!(
        ping.message
            .starts_with("credentials refused by 127.0.0.1:"),
        "{ping:?}"
    );
    assert!(!ping.message.contains("not-the-secret"), "{ping:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pulls_in_token_mode() {
    let upstream = Upstream::start(AuthMode::Token).await;
    pull(&upstream.client(None), &upstream, "open/app").await;
    pull(&upstream.client(upstream.good()), &upstream, "private/app").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pulls_in_basic_mode() {
    let upstream = Upstream::start(AuthMode::Basic).await;
    pull(&upstream.client(None), &upstream, "open/app").await;
    pull(&upstream.client(upstream.good()), &upstream, "private/app").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_private_repository_needs_credentials() {
    for mode in [AuthMode::Token, AuthMode::Basic] {
        let upstream = Upstream::start(mode).await;
        let (repo, tag) = (name("private/app"), reference("v1"));
        for credentials in [None, upstream.wrong()] {
            let client = upstream.client(credentials);
            let e = client.get_manifest(&repo, &tag).await.unwrap_err();
            assert!(matches!(e, Error::Unauthorized { .. }), "{mode:?}: {e}");
            assert!(!e.is_unreachable());
            assert!(!format!("{e} {e:?}").contains("not-the-secret"), "{e:?}");
            let e = client.head_blob(&repo, &upstream.image.layer_digest).await;
            assert!(
                matches!(e, Err(Error::Unauthorized { .. })),
                "{mode:?}: {e:?}"
            );
        }
        let anonymous = upstream.client(None);
        let e = anonymous.get_manifest(&repo, &tag).await.unwrap_err();
        let Error::Unauthorized { message, .. } = e else {
            unreachable!()
        };
        assert!(message.contains("requires credentials"), "{message}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_cached_per_scope() {
    let upstream = Upstream::start(AuthMode::Token).await;
    let client = upstream.client(upstream.good());
    let (private, open, tag) = (name("private/app"), name("open/app"), reference("v1"));
    client.get_manifest(&private, &tag).await.unwrap().unwrap();
    assert_eq!(upstream.tokens(), 1);
    // The same scope: the cached token at once, from this client and from its clones.
    client.get_manifest(&private, &tag).await.unwrap().unwrap();
    client
        .clone()
        .head_blob(&private, &upstream.image.layer_digest)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(upstream.tokens(), 1);
    // A public repository answers anonymous requests: no token at all.
    client.get_manifest(&open, &tag).await.unwrap().unwrap();
    assert_eq!(upstream.tokens(), 1);
    // Another scope is another token, once.
    let tools = name("private/tools");
    client.head_manifest(&tools, &tag).await.unwrap().unwrap();
    client.get_manifest(&tools, &tag).await.unwrap().unwrap();
    assert_eq!(upstream.tokens(), 2);
    // Another client has a cache of its own.
    upstream
        .client(upstream.good())
        .get_manifest(&private, &tag)
        .await
        .unwrap();
    assert_eq!(upstream.tokens(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manifest_over_the_limit_is_refused() {
    let upstream = Upstream::start(AuthMode::Token).await;
    let size = upstream.image.manifest.len() as u64;
    let options = |max_manifest_size| ClientOptions {
        max_manifest_size,
        ..ClientOptions::default()
    };
    let (repo, tag) = (name("open/app"), reference("v1"));
    let client = upstream.client_with(None, options(size - 1));
    let e = client.get_manifest(&repo, &tag).await.unwrap_err();
    assert!(
        matches!(e, Error::TooLarge { limit, .. } if limit == size - 1),
        "{e}"
    );
    let client = upstream.client_with(None, options(size));
    assert!(client.get_manifest(&repo, &tag).await.unwrap().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_name_the_url_asked_for() {
    let upstream = Upstream::start(AuthMode::Token).await;
    let client = upstream.client(None);
    assert_eq!(client.endpoint_url(), upstream.url);
    let e = client
        .get_manifest(&name("private/app"), &reference("v1"))
        .await
        .unwrap_err();
    let Error::Unauthorized { url, .. } = &e else {
        unreachable!("{e}")
    };
    assert_eq!(
        url,
        &format!("{}/v2/private/app/manifests/v1", upstream.url)
    );
}
