//! Garbage collection: what it frees, and that running it concurrently with pushes, pulls and
//! deletes never breaks an image whose push succeeded.

mod support;

use std::sync::Arc;
use std::time::Duration;

use berth_core::clock::{Clock as _, ManualClock};
use berth_core::{Error, Registry, RegistryConfig, RequestBody};
use berth_meta::{MemoryMetadata, MetadataStore};
use berth_model::{Algorithm, Digest, Manifest, Name, Reference};
use berth_policy::Principal;
use berth_storage::{BlobStore, body_from, collect};
use bytes::Bytes;
use support::*;

/// An aggressive collector: no grace period, no idle allowance, on a clock the test moves.
fn eager(clock: &ManualClock) -> RegistryConfig {
    RegistryConfig {
        gc_grace: Duration::ZERO,
        upload_idle_limit: Duration::ZERO,
        clock: Arc::new(clock.clone()),
        ..RegistryConfig::default()
    }
}

/// An eager registry and its clock: nothing is garbage until the test moves the clock past it.
async fn eager_registry(
    blobs: Arc<dyn BlobStore>,
    meta: Arc<dyn MetadataStore>,
) -> (Registry, ManualClock) {
    let base = registry(blobs.clone(), meta.clone(), None).await;
    drop(base);
    let clock = ManualClock::new();
    (Registry::new(blobs, meta, eager(&clock)), clock)
}

/// Pulls an image completely and checks every byte against its digest.
async fn assert_pullable(
    registry: &Registry,
    who: &Principal,
    image: &Name,
    tag: &str,
    expected: &Digest,
) {
    let manifest = registry
        .get_manifest(who, image, &Reference::parse(tag).unwrap())
        .await
        .unwrap_or_else(|e| panic!("{image}:{tag}: {e}"));
    assert_eq!(&manifest.digest, expected, "{image}:{tag}");
    assert_eq!(&Digest::sha256(&manifest.bytes), expected);
    for blob in Manifest::parse(manifest.bytes, None).unwrap().blobs() {
        let read = registry
            .read_blob(who, image, blob.digest(), None)
            .await
            .unwrap_or_else(|e| panic!("{image}:{tag} blob {}: {e}", blob.digest()));
        let bytes = collect(read.body).await.unwrap();
        assert_eq!(
            Digest::sha256(&bytes),
            *blob.digest(),
            "{image}:{tag}: blob bytes intact"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn collection_frees_what_nothing_references_and_idle_uploads() {
    let dir = tempfile::tempdir().unwrap();
    let blobs: Arc<dyn BlobStore> = Arc::new(berth_storage_fs::FsStore::open(dir.path()).unwrap());
    let meta: Arc<dyn MetadataStore> = Arc::new(MemoryMetadata::new());
    let (registry, clock) = eager_registry(blobs.clone(), meta.clone()).await;
    let who = pusher();
    let (kept, _) = push_image(&registry, &who, &name("team/kept"), 1, 2, 10_000, "v1").await;
    let (gone, gone_manifest) =
        push_image(&registry, &who, &name("team/gone"), 2, 2, 20_000, "v1").await;
    let gone_blobs: Vec<Digest> = Manifest::parse(gone_manifest.clone(), None)
        .unwrap()
        .blobs()
        .map(|d| d.digest().clone())
        .collect();
    registry
        .delete_manifest(&who, &name("team/gone"), &Reference::Digest(gone.clone()))
        .await
        .unwrap();
    let idle = registry
        .start_upload(&who, &name("team/kept"), Algorithm::Sha256)
        .await
        .unwrap();
    registry
        .append_upload(
            &who,
            &name("team/kept"),
            &idle,
            None,
            RequestBody::new(body_from(data(7, 100)), None),
        )
        .await
        .unwrap();
    clock.advance(Duration::from_secs(1));

    let report = registry.collect_garbage().await.unwrap();
    assert_eq!(
        report.blobs, 4,
        "the deleted image's config, two layers and manifest: {report:?}"
    );
    let config_size = format!("{{\"seed\":{}}}", 2).len() as u64;
    assert_eq!(
        report.bytes,
        config_size + 2 * 20_000 + gone_manifest.len() as u64,
        "{report:?}"
    );
    assert_eq!(report.uploads, 1);
    for digest in gone_blobs.iter().chain([&gone]) {
        assert!(
            matches!(
                blobs.stat(digest).await,
                Err(berth_storage::Error::BlobNotFound(_))
            ),
            "{digest} freed"
        );
    }
    assert!(matches!(
        registry
            .upload_status(&who, &name("team/kept"), &idle)
            .await,
        Err(Error::UploadUnknown(_))
    ));
    assert!(
        blobs
            .list_uploads(std::time::SystemTime::now() + Duration::from_secs(60))
            .await
            .unwrap()
            .is_empty()
    );
    assert_pullable(&registry, &who, &name("team/kept"), "v1", &kept).await;
    assert_eq!(
        registry.collect_garbage().await.unwrap(),
        Default::default(),
        "nothing left to free"
    );
    assert!(meta.tombstones().await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashed_collection_is_finished_by_the_next() {
    let blobs: Arc<dyn BlobStore> = Arc::new(berth_storage::MemoryStore::new());
    let meta: Arc<dyn MetadataStore> = Arc::new(MemoryMetadata::new());
    let (registry, clock) = eager_registry(blobs.clone(), meta.clone()).await;
    let bytes = data(3, 1000);
    let digest = Digest::sha256(&bytes);
    registry
        .put_blob(
            &pusher(),
            &name("team/app"),
            &digest,
            RequestBody::new(body_from(bytes.clone()), None),
        )
        .await
        .unwrap();
    clock.advance(Duration::from_secs(1));
    // A collector that died after forgetting, before deleting the bytes:
    assert!(meta.forget_blob(&digest, clock.now()).await.unwrap());
    let err = registry
        .put_blob(
            &pusher(),
            &name("team/app"),
            &digest,
            RequestBody::new(body_from(bytes.clone()), None),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::BlobBeingCollected(_)),
        "a re-upload is told to retry: {err:?}"
    );
    registry.collect_garbage().await.unwrap();
    assert!(meta.tombstones().await.unwrap().is_empty());
    registry
        .put_blob(
            &pusher(),
            &name("team/app"),
            &digest,
            RequestBody::new(body_from(bytes), None),
        )
        .await
        .unwrap();
    assert_eq!(
        registry
            .stat_blob(&pusher(), &name("team/app"), &digest)
            .await
            .unwrap(),
        1000
    );
}

/// Pushes an image, retrying from the start when the collector took one of its blobs first
/// (the errors a client sees then are "manifest blob unknown" or "upload again").
async fn push_with_retries(
    registry: &Registry,
    who: &Principal,
    image: &Name,
    seed: u64,
    tag: &str,
) -> Digest {
    for _attempt in 0..200 {
        let attempt = async {
            let config = upload_checked(
                registry,
                who,
                image,
                Bytes::from(format!("{{\"seed\":{seed}}}")),
            )
            .await?;
            let mut layers = Vec::new();
            for i in 0..3 {
                // Layer 0 is shared by every image: collection races re-uploads of it.
                let bytes = if i == 0 {
                    data(424_242, 4096)
                } else {
                    data(seed * 10 + i, 3000 + i as usize)
                };
                layers.push(upload_checked(registry, who, image, bytes).await?);
            }
            let manifest = image_manifest(&config, &layers);
            registry
                .put_manifest(
                    who,
                    image,
                    &Reference::parse(tag).unwrap(),
                    RequestBody::from_bytes(manifest),
                    None,
                )
                .await
                .map(|p| p.digest)
        };
        match attempt.await {
            Ok(digest) => return digest,
            Err(
                Error::ManifestBlobUnknown(_)
                | Error::BlobBeingCollected(_)
                | Error::BlobUnknown(_)
                | Error::UploadUnknown(_),
            ) => {
                tokio::task::yield_now().await;
            }
            Err(other) => panic!("{image}: {other}"),
        }
    }
    panic!("{image}: the collector starved the push");
}

async fn upload_checked(
    registry: &Registry,
    who: &Principal,
    image: &Name,
    bytes: Bytes,
) -> Result<(Digest, u64), Error> {
    let digest = Digest::sha256(&bytes);
    let id = registry.start_upload(who, image, Algorithm::Sha256).await?;
    let size = registry
        .commit_upload(
            who,
            image,
            &id,
            &digest,
            Some(RequestBody::new(body_from(bytes), None)),
        )
        .await?;
    Ok((digest, size))
}

/// What this checks: with a collector running back to back while three workers push, delete and
/// pull, every image whose push succeeded stays fully pullable, byte for byte, and the deleted
/// images' blobs are freed in the end. Whether a given push lost a race to the collector (and
/// was retried) depends on scheduling and is not asserted.
async fn concurrent_collection(
    blobs: Arc<dyn BlobStore>,
    meta: Arc<dyn MetadataStore>,
    grace: Duration,
) {
    drop(registry(blobs.clone(), meta.clone(), None).await);
    // Time is the collector's: each run moves the clock 1 ms, so `grace` is a number of runs. A
    // grace of a few runs is about as long as a push takes, so the collector races pushes often
    // (with none it would take every layer before its manifest arrives, forever: the grace is
    // what gives a client time between uploading layers and pushing their manifest); sessions in
    // use are not idle, so they keep the usual allowance.
    let clock = ManualClock::new();
    let config = RegistryConfig {
        gc_grace: grace,
        upload_idle_limit: Duration::from_secs(24 * 3600),
        ..eager(&clock)
    };
    let registry = Arc::new(Registry::new(blobs, meta, config));
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let collector = {
        let (registry, done, clock) = (registry.clone(), done.clone(), clock.clone());
        tokio::spawn(async move {
            let (mut runs, mut freed) = (0u64, 0u64);
            while !done.load(std::sync::atomic::Ordering::SeqCst) {
                clock.advance(Duration::from_millis(1));
                freed += registry.collect_garbage().await.expect("collect").blobs;
                runs += 1;
                tokio::task::yield_now().await;
            }
            (runs, freed)
        })
    };
    let mut pushers = Vec::new();
    for worker in 0..3u64 {
        let registry = registry.clone();
        pushers.push(tokio::spawn(async move {
            let who = pusher();
            let mut kept = Vec::new();
            for i in 0..8u64 {
                let image = name(&format!("team/w{worker}/img{i}"));
                let digest =
                    push_with_retries(&registry, &who, &image, worker * 100 + i, "v1").await;
                // Every other image is deleted again, to give the collector real garbage.
                if i % 2 == 1 {
                    registry
                        .delete_manifest(&who, &image, &Reference::Digest(digest))
                        .await
                        .unwrap();
                } else {
                    assert_pullable(&registry, &who, &image, "v1", &digest).await;
                    kept.push((image, digest));
                }
                for (image, digest) in &kept {
                    assert_pullable(&registry, &who, image, "v1", digest).await;
                }
            }
            kept
        }));
    }
    let mut kept = Vec::new();
    for pusher in pushers {
        kept.extend(pusher.await.unwrap());
    }
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let (runs, freed) = collector.await.unwrap();
    clock.advance(grace + Duration::from_millis(1));
    let last = registry.collect_garbage().await.unwrap();
    // How much was freed while pushes ran depends on timing; that the deleted images' blobs were
    // freed in all does not.
    assert!(
        runs > 0 && freed + last.blobs > 0,
        "{runs} runs freed {freed} blobs, then {} more",
        last.blobs
    );
    let who = pusher();
    for (image, digest) in &kept {
        assert_pullable(&registry, &who, image, "v1", digest).await;
    }
    assert!(used(&registry, "team").await > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn collection_alongside_pushes_and_pulls_never_breaks_an_image_memory() {
    concurrent_collection(
        Arc::new(berth_storage::MemoryStore::new()),
        Arc::new(MemoryMetadata::new()),
        Duration::from_millis(2),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn collection_alongside_pushes_and_pulls_never_breaks_an_image_fs_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let blobs = Arc::new(berth_storage_fs::FsStore::open(dir.path().join("blobs")).unwrap());
    let meta = berth_meta_sqlite::SqliteMetadata::open(dir.path().join("meta.db"))
        .await
        .unwrap();
    concurrent_collection(blobs, Arc::new(meta), Duration::from_millis(100)).await;
}
