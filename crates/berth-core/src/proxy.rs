//! Proxy repositories: a pull-through cache of a remote registry.
//!
//! `<repository>/<image>` is fetched as `<namespace>/<image>` upstream (`library/<image>` for a
//! one-component name on Docker Hub, as docker does).
//!
//! - A manifest by digest is served from the cache once fetched, with no upstream call.
//! - A manifest by tag asks the upstream at most once per
//!   [`RegistryConfig::proxy_tag_check`](crate::RegistryConfig) (a `HEAD`, which registries do
//!   not count against pull limits); when the upstream is unreachable or fails, the cached
//!   artifact is served with a warning. What is fetched is recorded as an artifact (a `cached`
//!   push, counted against the quota) whose blobs and children are fetched when first pulled.
//! - A blob is fetched once however many clients want it at the same moment: one task (not tied
//!   to any client, so a client that goes away does not waste the fetch) streams it from the
//!   upstream into the blob store, which hashes it and publishes it only if the digest matches,
//!   and into an unnamed spool file that every waiting client reads as it grows. The last byte
//!   is released only once the store verified and published the blob, so a client never
//!   receives a whole blob whose digest did not match; a failed fetch ends each client's body
//!   with an error. A crash leaves no visible blob: the spool file has no name, and the store's
//!   session is removed by the idle-upload sweep.

use std::collections::HashMap;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use berth_meta::{Artifact, MetadataStore, Proxy, Repository};
use berth_model::{ByteRange, Digest, ImageName, Manifest, Name, Reference, RepositoryName};
use berth_policy::Principal;
use berth_remote::{Client, RemoteBlob, RemoteManifest, RemoteName};
use berth_storage::{BlobRead, BlobStore, BlobStream};
use bytes::Bytes;
use futures::StreamExt as _;
use tokio::sync::{mpsc, watch};
use tracing::{info, warn};

use crate::manifests::{meta_push_error, push_of};
use crate::{Error, Registry, Result, clock::Clock};

/// Hosts that are Docker Hub, where a one-component image lives under `library/`.
const DOCKER_HUB: [&str; 4] = [
    "registry-1.docker.io",
    "docker.io",
    "index.docker.io",
    "registry.hub.docker.com",
];

/// Bytes read from a spool file per chunk sent to a client.
const SPOOL_CHUNK: u64 = 256 << 10;

/// The cache's state on this node.
#[derive(Debug, Default)]
pub(crate) struct ProxyState {
    /// When each `<name>:<tag>` was last checked upstream.
    checked: Mutex<HashMap<String, Instant>>,
    /// Blob fetches in progress, by repository and digest.
    flights: Mutex<HashMap<(RepositoryName, Digest), Arc<Flight>>>,
}

/// One blob on its way from the upstream.
#[derive(Debug)]
struct Flight {
    /// The spool, unnamed; read with positional reads, so handles share it safely.
    spool: Arc<File>,
    progress: watch::Receiver<Progress>,
}

#[derive(Debug, Clone)]
struct Progress {
    /// The blob's size, once the upstream answered (when it declared one).
    size: Option<u64>,
    /// Bytes in the spool.
    written: u64,
    state: FlightState,
}

#[derive(Debug, Clone)]
enum FlightState {
    /// Asking the upstream.
    Starting,
    /// The upstream does not have it.
    Missing,
    Running,
    /// Verified and published in the blob store.
    Stored,
    Failed(Arc<str>),
}

/// The upstream path of `image` in a proxy repository.
pub(crate) fn upstream_name(url: &str, proxy: &Proxy, image: &ImageName) -> Result<RemoteName> {
    let path = match &proxy.namespace {
        Some(namespace) => format!("{namespace}/{image}"),
        None => image.to_string(),
    };
    let host = url
        .split_once("://")
        .map_or(url, |(_, rest)| rest)
        .split(['/', ':'])
        .next()
        .unwrap_or_default();
    let path = if DOCKER_HUB.contains(&host) && !path.contains('/') {
        format!("library/{path}")
    } else {
        path
    };
    RemoteName::parse(&path).map_err(|e| Error::Upstream {
        registry: proxy.registry.clone(),
        message: format!("{path:?} is not a name it can serve: {e}"),
    })
}

impl ProxyState {
    fn fresh(&self, key: &str, interval: std::time::Duration) -> bool {
        let checked = self.checked.lock().expect("proxy lock");
        checked.get(key).is_some_and(|at| at.elapsed() < interval)
    }

    fn note_checked(&self, key: String) {
        let mut checked = self.checked.lock().expect("proxy lock");
        if checked.len() >= crate::ttl::SWEEP_AT {
            checked.clear();
        }
        checked.insert(key, Instant::now());
    }
}

/// What a proxied manifest lookup found: the artifact, and a warning when it is served stale.
pub(crate) struct Found {
    pub(crate) artifact: Artifact,
    pub(crate) warning: Option<String>,
}

impl Registry {
    /// The upstream client and path of `name` in a proxy repository.
    async fn upstream(
        &self,
        repository: &Repository,
        proxy: &Proxy,
        name: &Name,
    ) -> Result<(Client, RemoteName)> {
        let record = self
            .remote_record(repository.account, &proxy.registry)
            .await?;
        let remote = upstream_name(&record.url, proxy, name.image())?;
        Ok((self.remote_client(&record)?, remote))
    }

    fn upstream_failed(proxy: &Proxy, e: &berth_remote::Error) -> Error {
        Error::Upstream {
            registry: proxy.registry.clone(),
            message: crate::error_chain(e),
        }
    }

    /// A manifest of a proxy repository, from the cache or the upstream.
    pub(crate) async fn proxied_manifest(
        &self,
        repository: &Repository,
        proxy: &Proxy,
        name: &Name,
        reference: &Reference,
    ) -> Result<Found> {
        let unknown = || Error::ManifestUnknown {
            name: name.clone(),
            reference: reference.to_string(),
        };
        let fresh = |artifact| Found {
            artifact,
            warning: None,
        };
        match reference {
            Reference::Digest(digest) => {
                if let Some(artifact) = self
                    .meta
                    .artifact(name, digest)
                    .await
                    .map_err(Error::metadata)?
                {
                    return Ok(fresh(artifact));
                }
                let (client, remote) = self.upstream(repository, proxy, name).await?;
                match client.get_manifest(&remote, reference).await {
                    Ok(Some(fetched)) => Ok(fresh(
                        self.cache_manifest(repository, proxy, name, fetched, None)
                            .await?,
                    )),
                    Ok(None) => Err(unknown()),
                    Err(e) => Err(Self::upstream_failed(proxy, &e)),
                }
            }
            Reference::Tag(tag) => {
                let local = self
                    .meta
                    .resolve_tag(name, tag)
                    .await
                    .map_err(Error::metadata)?;
                let key = format!("{name}:{tag}");
                if let Some(artifact) = &local
                    && self.proxy.fresh(&key, self.config.proxy_tag_check)
                {
                    return Ok(fresh(artifact.clone()));
                }
                let stale = |local: Option<Artifact>, e: Error| match local {
                    Some(artifact) => {
                        warn!(%name, %tag, error = %crate::error_chain(&e), "serving the cached manifest: the upstream failed");
                        Ok(Found {
                            artifact,
                            warning: Some(format!("{e}; serving the cached copy")),
                        })
                    }
                    None => Err(e),
                };
                let (client, remote) = match self.upstream(repository, proxy, name).await {
                    Ok(found) => found,
                    Err(e) => return stale(local, e),
                };
                let head = match client.head_manifest(&remote, reference).await {
                    Ok(head) => head,
                    Err(e) => return stale(local, Self::upstream_failed(proxy, &e)),
                };
                let Some(head) = head else {
                    // The upstream answers for its tags: one it no longer has is unknown.
                    self.proxy.note_checked(key);
                    return Err(unknown());
                };
                if let Some(artifact) = local.as_ref().filter(|a| a.digest == head.digest) {
                    self.proxy.note_checked(key);
                    return Ok(fresh(artifact.clone()));
                }
                // New or moved: fetch what the tag names now, by digest, and tag it here.
                let by_digest = Reference::Digest(head.digest.clone());
                let fetched = match client.get_manifest(&remote, &by_digest).await {
                    Ok(Some(fetched)) => fetched,
                    Ok(None) => return Err(unknown()),
                    Err(e) => return stale(local, Self::upstream_failed(proxy, &e)),
                };
                let artifact = self
                    .cache_manifest(repository, proxy, name, fetched, Some(tag.clone()))
                    .await?;
                self.proxy.note_checked(key);
                Ok(fresh(artifact))
            }
        }
    }

    /// Records a manifest fetched from the upstream: its bytes as a blob, then a `cached` push
    /// (the quota applies; its blobs and children are fetched when first pulled).
    async fn cache_manifest(
        &self,
        repository: &Repository,
        proxy: &Proxy,
        name: &Name,
        fetched: RemoteManifest,
        tag: Option<berth_model::Tag>,
    ) -> Result<Artifact> {
        let size = fetched.bytes.len() as u64;
        let manifest = Manifest::parse(fetched.bytes, Some(&fetched.media_type)).map_err(|e| {
            Error::Upstream {
                registry: proxy.registry.clone(),
                message: format!("it sent a manifest berth cannot store: {e}"),
            }
        })?;
        let digest = manifest.digest_with(fetched.digest.algorithm());
        if digest != fetched.digest {
            return Err(Error::Upstream {
                registry: proxy.registry.clone(),
                message: format!("manifest {} arrived as {digest}", fetched.digest),
            });
        }
        self.store_manifest_bytes(name, &digest, &manifest).await?;
        let actor = format!("proxy:{}", proxy.registry);
        let push = push_of(name, &digest, &manifest, size, tag, actor, self.now(), true);
        let outcome = self.meta.record_push(push).await.map_err(meta_push_error)?;
        self.forget_repository(name.repository());
        info!(repository = %repository.name, %name, %digest, "cached a manifest from the upstream");
        Ok(outcome.artifact)
    }

    /// The size of a blob of a proxy repository that is not linked to it yet: a blob the
    /// registry holds already is linked; else the upstream is asked.
    pub(crate) async fn proxied_blob_size(
        &self,
        repository: &Repository,
        proxy: &Proxy,
        name: &Name,
        digest: &Digest,
    ) -> Result<u64> {
        if let Some(size) = self.adopt_known_blob(name, digest).await? {
            return Ok(size);
        }
        let (client, remote) = self.upstream(repository, proxy, name).await?;
        match client.head_blob(&remote, digest).await {
            Ok(Some(size)) => Ok(size),
            Ok(None) => Err(Error::BlobUnknown(digest.clone())),
            Err(e) => Err(Self::upstream_failed(proxy, &e)),
        }
    }

    /// Links a blob the registry holds already (another repository fetched or pushed it) into
    /// `name`'s repository; its size, or `None` when the registry does not hold it.
    pub(crate) async fn adopt_known_blob(
        &self,
        name: &Name,
        digest: &Digest,
    ) -> Result<Option<u64>> {
        let Some(blob) = self.meta.blob(digest).await.map_err(Error::metadata)? else {
            return Ok(None);
        };
        match self.link_stored_blob(name, digest).await {
            Ok(()) => Ok(Some(blob.size)),
            // Collected meanwhile: fetch it again.
            Err(Error::BlobBeingCollected(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Reads a blob of a proxy repository that is not linked to it yet: a blob the registry
    /// holds already is linked and read; else it is fetched (once, however many ask).
    pub(crate) async fn proxied_blob(
        &self,
        repository: &Repository,
        proxy: &Proxy,
        name: &Name,
        digest: &Digest,
        range: Option<ByteRange>,
    ) -> Result<BlobRead> {
        if self.adopt_known_blob(name, digest).await?.is_some() {
            return self.read_stored(digest, range).await;
        }
        let flight = self.flight(repository, proxy, name, digest).await?;
        let failed = |message: &str| Error::Upstream {
            registry: proxy.registry.clone(),
            message: message.to_owned(),
        };
        let mut progress = flight.progress.clone();
        let started = progress
            .wait_for(|p| !matches!(p.state, FlightState::Starting))
            .await
            .map(|p| p.clone())
            .map_err(|_| failed("the fetch stopped"))?;
        match (&started.state, started.size, range) {
            (FlightState::Missing, ..) => Err(Error::BlobUnknown(digest.clone())),
            (FlightState::Failed(message), ..) => Err(failed(message)),
            (FlightState::Running | FlightState::Stored, Some(size), None) => Ok(BlobRead {
                size,
                range: 0..size,
                body: follow(flight, digest.clone()),
            }),
            // A range, or a size the upstream did not declare: answered from the store once
            // the blob is there.
            _ => {
                let done = progress
                    .wait_for(|p| !matches!(p.state, FlightState::Running))
                    .await
                    .map(|p| p.state.clone());
                match done {
                    Ok(FlightState::Stored) => self.read_stored(digest, range).await,
                    Ok(FlightState::Failed(message)) => Err(failed(&message)),
                    Ok(FlightState::Missing) => Err(Error::BlobUnknown(digest.clone())),
                    _ => Err(failed("the fetch stopped")),
                }
            }
        }
    }

    async fn read_stored(&self, digest: &Digest, range: Option<ByteRange>) -> Result<BlobRead> {
        self.blobs
            .get(digest, range)
            .await
            .map_err(crate::blobs::storage_error)
    }

    /// The fetch of `digest` into `name`'s repository: the one in progress, or a new one.
    async fn flight(
        &self,
        repository: &Repository,
        proxy: &Proxy,
        name: &Name,
        digest: &Digest,
    ) -> Result<Arc<Flight>> {
        let key = (name.repository().clone(), digest.clone());
        if let Some(flight) = self.proxy.flights.lock().expect("proxy lock").get(&key) {
            return Ok(flight.clone());
        }
        let (client, remote) = self.upstream(repository, proxy, name).await?;
        let spool = match &self.config.spool_dir {
            Some(dir) => tempfile::tempfile_in(dir),
            None => tempfile::tempfile(),
        }
        .map_err(|e| Error::storage(berth_storage::Error::backend("proxy spool", e)))?;
        let spool = Arc::new(spool);
        let (progress, watcher) = watch::channel(Progress {
            size: None,
            written: 0,
            state: FlightState::Starting,
        });
        let flight = Arc::new(Flight {
            spool: spool.clone(),
            progress: watcher,
        });
        {
            // Decided under one lock: a fetch of this blob in progress is followed, so the
            // upstream is asked once however many clients arrive together.
            let mut flights = self.proxy.flights.lock().expect("proxy lock");
            if let Some(existing) = flights.get(&key) {
                return Ok(existing.clone());
            }
            if flights.len() >= self.config.max_proxy_fetches {
                return Err(Error::Busy);
            }
            flights.insert(key.clone(), flight.clone());
        }
        let task = Fetch {
            meta: self.meta.clone(),
            blobs: self.blobs.clone(),
            clock: self.config.clock.clone(),
            state: self.proxy.clone(),
            key,
            name: name.clone(),
            digest: digest.clone(),
            spool,
            progress,
        };
        tokio::spawn(task.run(client, remote));
        Ok(flight)
    }

    /// Refuses a change to a proxy repository: its content is the upstream's.
    pub(crate) fn refuse_proxy(repository: &Repository) -> Result<()> {
        match repository.proxy {
            Some(_) => Err(Error::ReadOnly(repository.name.clone())),
            None => Ok(()),
        }
    }

    /// Refuses a delete in a proxy repository over the registry protocol; the console (its
    /// managers and the administrator) may still clear what the cache holds.
    pub(crate) fn refuse_proxy_delete(
        principal: &Principal,
        repository: &Repository,
    ) -> Result<()> {
        match principal {
            Principal::ConsoleUser { .. } | Principal::SystemAdmin => Ok(()),
            _ => Self::refuse_proxy(repository),
        }
    }
}

/// The task that fetches one blob: upstream → blob store (hashed, published if it matches) and
/// → spool (for the clients).
struct Fetch {
    meta: Arc<dyn MetadataStore>,
    blobs: Arc<dyn BlobStore>,
    clock: Arc<dyn Clock>,
    state: Arc<ProxyState>,
    key: (RepositoryName, Digest),
    name: Name,
    digest: Digest,
    spool: Arc<File>,
    progress: watch::Sender<Progress>,
}

impl Fetch {
    async fn run(self, client: Client, remote: RemoteName) {
        let outcome = match client.get_blob(&remote, &self.digest).await {
            Ok(Some(blob)) => {
                self.progress.send_modify(|p| {
                    p.size = blob.size;
                    p.state = FlightState::Running;
                });
                self.copy(blob).await.map(Some)
            }
            Ok(None) => Ok(None),
            Err(e) => Err(crate::error_chain(&e)),
        };
        let state = match outcome {
            Ok(None) => FlightState::Missing,
            Ok(Some(size)) => {
                info!(name = %self.name, digest = %self.digest, size, "cached a blob from the upstream");
                FlightState::Stored
            }
            Err(message) => {
                warn!(name = %self.name, digest = %self.digest, error = %message, "fetching a blob from the upstream failed");
                FlightState::Failed(message.into())
            }
        };
        // Gone from the map first: a request arriving now finds the blob stored (or fetches it
        // again after a failure) rather than following a finished flight.
        self.state
            .flights
            .lock()
            .expect("proxy lock")
            .remove(&self.key);
        self.progress.send_modify(|p| p.state = state);
    }

    async fn copy(&self, blob: RemoteBlob) -> std::result::Result<u64, String> {
        let (chunks, received) = mpsc::channel::<std::io::Result<Bytes>>(8);
        let body = futures::stream::unfold(received, |mut received| async move {
            received.recv().await.map(|chunk| (chunk, received))
        })
        .boxed();
        let store = self.blobs.put(&self.digest, body);
        let pump = async {
            let mut upstream = blob.body;
            let mut written = 0u64;
            while let Some(chunk) = upstream.next().await {
                let chunk = match chunk {
                    Ok(chunk) => chunk,
                    Err(e) => {
                        let message = format!("the upstream's body failed: {e}");
                        let _ = chunks
                            .send(Err(std::io::Error::other(message.clone())))
                            .await;
                        return Err(message);
                    }
                };
                let spool = self.spool.clone();
                let (at, bytes) = (written, chunk.clone());
                tokio::task::spawn_blocking(move || spool.write_all_at(&bytes, at))
                    .await
                    .map_err(|e| e.to_string())?
                    .map_err(|e| format!("writing the spool file failed: {e}"))?;
                written += chunk.len() as u64;
                self.progress.send_modify(|p| p.written = written);
                if chunks.send(Ok(chunk)).await.is_err() {
                    return Err("the blob store stopped reading".to_owned());
                }
            }
            drop(chunks);
            Ok(written)
        };
        let (stored, pumped) = tokio::join!(store, pump);
        let written = pumped?;
        let size = stored.map_err(|e| format!("storing the blob failed: {e}"))?;
        if size != written {
            return Err(format!("stored {size} bytes of {written}"));
        }
        crate::record_stored(
            &*self.meta,
            &*self.blobs,
            &self.digest,
            size,
            self.clock.now(),
        )
        .await
        .map_err(|e| crate::error_chain(&e).to_string())?;
        crate::link_stored(&*self.meta, &self.name, &self.digest)
            .await
            .map_err(|e| crate::error_chain(&e).to_string())?;
        Ok(size)
    }
}

/// A failure of the spool or the fetch behind it, for a client's body.
fn spool_error(e: std::io::Error) -> berth_storage::Error {
    berth_storage::Error::backend("proxy spool", e)
}

/// A client's body: the spool as it grows, the last byte released once the blob is stored.
fn follow(flight: Arc<Flight>, digest: Digest) -> BlobStream {
    struct Reader {
        flight: Arc<Flight>,
        progress: watch::Receiver<Progress>,
        offset: u64,
        digest: Digest,
    }
    let progress = flight.progress.clone();
    let reader = Reader {
        flight,
        progress,
        offset: 0,
        digest,
    };
    futures::stream::unfold(Some(reader), |reader| async move {
        let mut reader = reader?;
        loop {
            let (written, state) = {
                let p = reader.progress.borrow_and_update();
                (p.written, p.state.clone())
            };
            let allowed = match &state {
                FlightState::Starting | FlightState::Missing => 0,
                FlightState::Running => written.saturating_sub(1),
                FlightState::Stored => written,
                FlightState::Failed(message) => {
                    let e = spool_error(std::io::Error::other(format!(
                        "fetching blob {} from the upstream failed: {message}",
                        reader.digest
                    )));
                    return Some((Err(e), None));
                }
            };
            if reader.offset < allowed {
                let len = (allowed - reader.offset).min(SPOOL_CHUNK);
                let (spool, at) = (reader.flight.spool.clone(), reader.offset);
                let read = tokio::task::spawn_blocking(move || {
                    let mut buf = vec![0u8; usize::try_from(len).unwrap_or(usize::MAX)];
                    spool.read_exact_at(&mut buf, at).map(|()| Bytes::from(buf))
                })
                .await
                .map_err(std::io::Error::other)
                .and_then(|r| r);
                return match read {
                    Ok(bytes) => {
                        reader.offset += bytes.len() as u64;
                        Some((Ok(bytes), Some(reader)))
                    }
                    Err(e) => Some((Err(spool_error(e)), None)),
                };
            }
            if matches!(state, FlightState::Stored | FlightState::Missing) {
                return None;
            }
            if reader.progress.changed().await.is_err() {
                // The task ended without a word (it panicked): the blob is not known good.
                let e = spool_error(std::io::Error::other(format!(
                    "fetching blob {} from the upstream stopped",
                    reader.digest
                )));
                return Some((Err(e), None));
            }
        }
    })
    .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_model::RegistryName;

    fn proxy(namespace: Option<&str>) -> Proxy {
        Proxy {
            registry: RegistryName::parse("up").unwrap(),
            namespace: namespace.map(|n| ImageName::parse(n).unwrap()),
        }
    }

    #[test]
    fn upstream_names() {
        let check = |url: &str, namespace, name: &str, expect: &str| {
            let image = ImageName::parse(name).unwrap();
            let got = upstream_name(url, &proxy(namespace), &image).unwrap();
            assert_eq!(got.as_str(), expect, "{url} {namespace:?} {name}");
        };
        check(
            "https://registry-1.docker.io",
            None,
            "alpine",
            "library/alpine",
        );
        check(
            "https://registry-1.docker.io",
            None,
            "grafana/grafana",
            "grafana/grafana",
        );
        check(
            "https://registry-1.docker.io",
            Some("bitnami"),
            "redis",
            "bitnami/redis",
        );
        check("https://ghcr.io", None, "alpine", "alpine");
        check(
            "http://127.0.0.1:5000",
            Some("team/sub"),
            "app",
            "team/sub/app",
        );
        check("https://docker.io/", None, "busybox", "library/busybox");
    }
}
