//! The engine's pull-through cache over this client: a proxy repository of an in-memory berth
//! whose upstream is another berth served over loopback TCP (token mode, a private repository,
//! a repository user's credentials sealed in the remote registry's record). The upstream counts
//! the requests it answers and can be switched off.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use berth_core::identity::RepositoryUserSpec;
use berth_core::{Error, Registry, RegistryConfig, RequestBody};
use berth_meta::{
    Access, AccountId, AccountStore, MemoryMetadata, NewRemoteRegistry, NewRepository, Permission,
    Proxy, RegistryStore, Timestamp,
};
use berth_model::{Digest, ImageName, Name, Reference, RegistryName, RepositoryName};
use berth_policy::Principal;
use berth_v2::token::TokenKey;
use berth_v2::{AuthConfig, AuthMode, Gateway};
use bytes::Bytes;
use futures::StreamExt as _;
use hyper_util::rt::TokioIo;
use support::push_image;

mod support;

const ACCOUNT: AccountId = AccountId(10042);
const LAYER_SIZE: usize = 6 << 20;

/// What the upstream answered, by kind of request.
#[derive(Default)]
struct Counts {
    manifest_gets: AtomicUsize,
    manifest_heads: AtomicUsize,
    blob_gets: AtomicUsize,
}

struct Upstream {
    url: String,
    user: String,
    secret: String,
    counts: Arc<Counts>,
    down: Arc<AtomicBool>,
    engine: Arc<Registry>,
    manifest_digest: Digest,
    manifest_size: u64,
    layer: Bytes,
    layer_digest: Digest,
}

async fn upstream() -> Upstream {
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
    let blobs = Arc::new(berth_storage::MemoryStore::new());
    let registry = Arc::new(Registry::new(blobs, meta, RegistryConfig::default()));
    let spec = RepositoryUserSpec {
        name: Some("mirror".into()),
        permissions: vec![(RepositoryName::parse("team").unwrap(), Permission::Pull)],
        ..RepositoryUserSpec::default()
    };
    let user = registry
        .identity()
        .create_repository_user(ACCOUNT, spec, "admin")
        .await
        .unwrap();
    let image = push_image(&registry, "team/base/app", LAYER_SIZE).await;

    let mut config = AuthConfig::new(TokenKey::generate());
    config.mode = AuthMode::Token;
    let gateway = Gateway::new(registry.clone(), config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (counts, down) = (
        Arc::new(Counts::default()),
        Arc::new(AtomicBool::new(false)),
    );
    let (c, d) = (counts.clone(), down.clone());
    tokio::spawn(async move {
        loop {
            let (stream, peer) = listener.accept().await.unwrap();
            if d.load(Ordering::SeqCst) {
                drop(stream); // as a server that is gone: the connection closes at once
                continue;
            }
            let (gateway, c, d) = (gateway.clone(), c.clone(), d.clone());
            let service = hyper::service::service_fn(move |request| {
                let (gateway, c, d) = (gateway.clone(), c.clone(), d.clone());
                async move {
                    if d.load(Ordering::SeqCst) {
                        // A failed service makes hyper drop the connection: a server gone
                        // mid-conversation, for a client that kept its connection open.
                        return Err(std::io::Error::other("the upstream is down"));
                    }
                    let path = request.uri().path().to_owned();
                    let method = request.method().clone();
                    let response = gateway.handle(Some(peer.ip()), request).await;
                    // Answers only, not the challenges before them.
                    let counter = match (method.as_str(), path.contains("/manifests/")) {
                        ("GET", true) => Some(&c.manifest_gets),
                        ("HEAD", true) => Some(&c.manifest_heads),
                        ("GET", false) if path.contains("/blobs/") => Some(&c.blob_gets),
                        _ => None,
                    };
                    if let Some(counter) = counter.filter(|_| response.status().is_success()) {
                        counter.fetch_add(1, Ordering::SeqCst);
                    }
                    Ok::<_, std::io::Error>(response)
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
        user: user.record.name,
        secret: user.secret,
        counts,
        down,
        engine: registry,
        manifest_digest: image.digest,
        manifest_size: image.manifest.len() as u64,
        layer: image.layer,
        layer_digest: image.layer_digest,
    }
}

/// A registry with a private proxy repository `cache` of the upstream's `team` namespace, and
/// the quota given.
async fn downstream(up: &Upstream, config: RegistryConfig, quota: Option<u64>) -> Arc<Registry> {
    let meta = Arc::new(MemoryMetadata::new());
    meta.create_account(ACCOUNT, "acme", Timestamp::now())
        .await
        .unwrap();
    let registry = RegistryName::parse("up").unwrap();
    meta.create_remote_registry(
        NewRemoteRegistry {
            account: ACCOUNT,
            name: registry.clone(),
            url: up.url.clone(),
            username: Some(up.user.clone()),
            sealed_password: Some(config.sealing_key.seal(up.secret.as_bytes())),
            insecure: false,
        },
        Timestamp::now(),
    )
    .await
    .unwrap();
    let new = NewRepository {
        account: ACCOUNT,
        name: RepositoryName::parse("cache").unwrap(),
        access: Access::Private,
        quota,
        delete_orphan_referrers: true,
        proxy: Some(Proxy {
            registry,
            namespace: Some(ImageName::parse("team").unwrap()),
        }),
    };
    meta.create_repository(new, "admin", Timestamp::now())
        .await
        .unwrap();
    let blobs = Arc::new(berth_storage::MemoryStore::new());
    Arc::new(Registry::new(blobs, meta, config))
}

fn app() -> Name {
    Name::parse("cache/base/app").unwrap()
}

fn v1() -> Reference {
    Reference::parse("v1").unwrap()
}

async fn read_all(registry: &Registry, digest: &Digest) -> Bytes {
    let read = registry
        .read_blob(&Principal::SystemAdmin, &app(), digest, None)
        .await
        .expect("read");
    assert_eq!(read.size, LAYER_SIZE as u64);
    berth_storage::collect(read.body).await.expect("body")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proxy_repository_caches_what_it_serves() {
    let up = upstream().await;
    let cache = downstream(&up, RegistryConfig::default(), None).await;
    let admin = Principal::SystemAdmin;

    // By tag: fetched (a HEAD for the digest, a GET of it), recorded with its tag.
    let first = cache
        .get_manifest(&admin, &app(), &v1())
        .await
        .expect("pull by tag");
    assert_eq!(first.digest, up.manifest_digest);
    assert_eq!(first.warning, None);
    assert_eq!(up.counts.manifest_gets.load(Ordering::SeqCst), 1);
    let tags = cache
        .list_tags(&admin, &app(), 10, None)
        .await
        .expect("tags");
    assert_eq!(tags.len(), 1, "the tag is visible after the first pull");
    // Within the check interval: no upstream call; by digest: never an upstream call.
    cache
        .get_manifest(&admin, &app(), &v1())
        .await
        .expect("again");
    let by_digest = Reference::from(up.manifest_digest.clone());
    cache
        .get_manifest(&admin, &app(), &by_digest)
        .await
        .expect("by digest");
    assert_eq!(up.counts.manifest_gets.load(Ordering::SeqCst), 1);
    assert_eq!(up.counts.manifest_heads.load(Ordering::SeqCst), 1);

    // Blobs: two pulls at once share one upstream fetch; both get the exact bytes.
    let (a, b) = tokio::join!(
        read_all(&cache, &up.layer_digest),
        read_all(&cache, &up.layer_digest)
    );
    assert_eq!(a, up.layer);
    assert_eq!(b, up.layer);
    assert_eq!(
        up.counts.blob_gets.load(Ordering::SeqCst),
        1,
        "one upstream fetch"
    );
    // Once stored it is served from the cache.
    assert_eq!(read_all(&cache, &up.layer_digest).await, up.layer);
    assert_eq!(up.counts.blob_gets.load(Ordering::SeqCst), 1);
    assert_eq!(
        cache
            .stat_blob(&admin, &app(), &up.layer_digest)
            .await
            .expect("head"),
        LAYER_SIZE as u64
    );

    // Read-only: pushes and uploads are refused, saying why.
    let push = cache
        .put_manifest(
            &admin,
            &app(),
            &Reference::parse("mine").unwrap(),
            RequestBody::from_bytes(Bytes::from_static(b"{}")),
            None,
        )
        .await;
    assert!(matches!(push, Err(Error::ReadOnly(_))), "{push:?}");
    let upload = cache
        .start_upload(&admin, &app(), berth_model::Algorithm::Sha256)
        .await;
    match upload {
        Err(e @ Error::ReadOnly(_)) => {
            assert!(
                e.to_string()
                    .contains("proxy repository cache is read-only"),
                "{e}"
            )
        }
        other => panic!("an upload to a proxy repository: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cached_copy_is_served_while_the_upstream_is_down() {
    let up = upstream().await;
    let config = RegistryConfig {
        proxy_tag_check: std::time::Duration::ZERO, // ask the upstream on every pull by tag
        ..RegistryConfig::default()
    };
    let cache = downstream(&up, config, None).await;
    let admin = Principal::SystemAdmin;
    cache
        .get_manifest(&admin, &app(), &v1())
        .await
        .expect("first pull");
    read_all(&cache, &up.layer_digest).await;

    up.down.store(true, Ordering::SeqCst);
    let stale = cache
        .get_manifest(&admin, &app(), &v1())
        .await
        .expect("served from the cache");
    assert_eq!(stale.digest, up.manifest_digest);
    let warning = stale.warning.expect("a warning");
    assert!(warning.contains("serving the cached copy"), "{warning}");
    let head = cache
        .head_manifest(&admin, &app(), &v1())
        .await
        .expect("head");
    assert!(head.warning.is_some());
    // By digest, and the blob: no upstream needed.
    let by_digest = Reference::from(up.manifest_digest.clone());
    let fresh = cache
        .get_manifest(&admin, &app(), &by_digest)
        .await
        .expect("by digest");
    assert_eq!(fresh.warning, None);
    assert_eq!(read_all(&cache, &up.layer_digest).await, up.layer);
    // What was never cached cannot be served: the error names the upstream.
    let missing = cache
        .get_manifest(&admin, &Name::parse("cache/other").unwrap(), &v1())
        .await;
    match missing {
        Err(e @ Error::Upstream { .. }) => {
            assert!(e.to_string().contains("remote registry up"), "{e}")
        }
        other => panic!("an uncached image with the upstream down: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_quota_applies_to_what_is_cached() {
    let up = upstream().await;
    let cache = downstream(&up, RegistryConfig::default(), Some(1 << 20)).await;
    let refused = cache
        .get_manifest(&Principal::SystemAdmin, &app(), &v1())
        .await;
    assert!(
        matches!(refused, Err(Error::QuotaExceeded(_))),
        "{refused:?}"
    );
    let tags = cache
        .list_tags(&Principal::SystemAdmin, &app(), 10, None)
        .await;
    assert!(
        tags.map(|t| t.is_empty()).unwrap_or(true),
        "nothing recorded"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_is_the_upstreams_refusal() {
    let mut up = upstream().await;
    up.secret = "not-the-secret".to_owned();
    let cache = downstream(&up, RegistryConfig::default(), None).await;
    let refused = cache
        .get_manifest(&Principal::SystemAdmin, &app(), &v1())
        .await;
    match refused {
        Err(e @ Error::Upstream { .. }) => {
            let text = e.to_string();
            assert!(
                !text.contains("not-the-secret"),
                "no credential in errors: {text}"
            );
        }
        other => panic!("a refused login upstream: {other:?}"),
    }
}

/// A client that goes away mid-blob does not waste the fetch: it goes on into the store.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fetch_outlives_the_client_that_started_it() {
    let up = upstream().await;
    let cache = downstream(&up, RegistryConfig::default(), None).await;
    let admin = Principal::SystemAdmin;
    cache
        .get_manifest(&admin, &app(), &v1())
        .await
        .expect("manifest");
    let read = cache
        .read_blob(&admin, &app(), &up.layer_digest, None)
        .await
        .expect("fetch starts");
    // Read a little, then drop the body: the fetch goes on without the client.
    let mut body = read.body;
    body.next().await.expect("a first chunk").expect("bytes");
    drop(body);
    // The blob arrives in the store regardless.
    let mut stored = false;
    for _ in 0..200 {
        if cache.blob_store().stat(&up.layer_digest).await.is_ok() {
            stored = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(stored, "a fetch outlives the client that started it");
    assert_eq!(up.counts.blob_gets.load(Ordering::SeqCst), 1);
}

/// What nobody pulled for the configured time is evicted by the collector, quota and blobs
/// included; a later pull fetches it again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_collector_evicts_what_nobody_pulled() {
    let up = upstream().await;
    let clock = Arc::new(berth_core::clock::ManualClock::new());
    let config = RegistryConfig {
        clock: clock.clone(),
        ..RegistryConfig::default()
    };
    let cache = downstream(&up, config, None).await;
    let admin = Principal::SystemAdmin;
    cache
        .get_manifest(&admin, &app(), &v1())
        .await
        .expect("pull");
    read_all(&cache, &up.layer_digest).await;
    cache.flush_pulls().await.expect("flush");
    let used = |cache: Arc<Registry>| async move {
        cache
            .metadata()
            .repository(&RepositoryName::parse("cache").unwrap())
            .await
            .unwrap()
            .unwrap()
            .used
    };
    assert!(used(cache.clone()).await > LAYER_SIZE as u64);

    // Six days on, a pull keeps it; eight days after that pull, it goes.
    clock.advance(std::time::Duration::from_secs(6 * 24 * 3600));
    assert_eq!(cache.collect_garbage().await.expect("gc").evicted, 0);
    let by_digest = Reference::from(up.manifest_digest.clone());
    cache
        .get_manifest(&admin, &app(), &by_digest)
        .await
        .expect("pull");
    cache.flush_pulls().await.expect("flush");
    clock.advance(std::time::Duration::from_secs(6 * 24 * 3600));
    assert_eq!(
        cache.collect_garbage().await.expect("gc").evicted,
        0,
        "pulled 6 days ago"
    );
    clock.advance(std::time::Duration::from_secs(2 * 24 * 3600));
    let report = cache.collect_garbage().await.expect("gc");
    assert_eq!(report.evicted, 1);
    assert!(
        report.bytes >= LAYER_SIZE as u64,
        "its blobs go too: {report:?}"
    );
    assert_eq!(used(cache.clone()).await, 0, "the quota is freed");
    assert!(cache.blob_store().stat(&up.layer_digest).await.is_err());

    cache
        .get_manifest(&admin, &app(), &v1())
        .await
        .expect("pull again");
    assert_eq!(read_all(&cache, &up.layer_digest).await, up.layer);
    assert_eq!(
        up.counts.blob_gets.load(Ordering::SeqCst),
        2,
        "fetched again"
    );
}

/// A multi-platform index is cached with the platform manifests clients ask for, each fetched
/// when first asked by digest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_index_is_cached_with_the_platforms_asked_for() {
    let up = upstream().await;
    let child = up.manifest_digest.clone();
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": child,
             "size": up.manifest_size, "platform": {"architecture": "amd64", "os": "linux"}},
        ],
    });
    let index = Bytes::from(serde_json::to_vec(&index).unwrap());
    up.engine
        .put_manifest(
            &Principal::SystemAdmin,
            &Name::parse("team/base/app").unwrap(),
            &Reference::parse("multi").unwrap(),
            RequestBody::from_bytes(index.clone()),
            Some("application/vnd.oci.image.index.v1+json"),
        )
        .await
        .expect("push the index upstream");

    let cache = downstream(&up, RegistryConfig::default(), None).await;
    let admin = Principal::SystemAdmin;
    let multi = Reference::parse("multi").unwrap();
    let got = cache
        .get_manifest(&admin, &app(), &multi)
        .await
        .expect("the index");
    assert_eq!(got.bytes, index);
    assert_eq!(got.digest, Digest::sha256(&index));
    let gets = up.counts.manifest_gets.load(Ordering::SeqCst);
    let platform = cache
        .get_manifest(&admin, &app(), &Reference::from(child.clone()))
        .await
        .expect("the platform manifest");
    assert_eq!(platform.digest, child);
    assert_eq!(
        up.counts.manifest_gets.load(Ordering::SeqCst),
        gets + 1,
        "fetched when asked"
    );
    cache
        .get_manifest(&admin, &app(), &Reference::from(child))
        .await
        .expect("again");
    assert_eq!(
        up.counts.manifest_gets.load(Ordering::SeqCst),
        gets + 1,
        "then cached"
    );
    let artifacts = cache
        .metadata()
        .list_artifacts(&app(), berth_meta::Page { page: 1, size: 10 })
        .await
        .unwrap();
    assert_eq!(artifacts.total, 2, "the index and the platform asked for");
}
