//! Test fixtures: a registry over chosen backends with an account, repositories and users, and
//! helpers to push images.

#![allow(dead_code, unreachable_pub)] // Test support: each test file uses its own part.

pub mod watched;

use std::collections::BTreeMap;
use std::sync::Arc;

use berth_core::{Registry, RegistryConfig, RequestBody};
use berth_meta::{Access, AccountId, MetadataStore, NewRepository, Permission, Timestamp};
use berth_model::{Algorithm, Digest, Name, Reference, RepositoryName};
use berth_policy::{Principal, RepositoryUserFacts};
use berth_storage::{BlobStore, body_from};
use bytes::Bytes;

/// Runs each listed test on memory blobs, on fs blobs (metadata in memory), and on fs + SQLite.
#[macro_export]
macro_rules! on_backends {
    ($($test:ident),* $(,)?) => {
        mod memory {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::$test(Arc::new(MemoryStore::new()), Arc::new(MemoryMetadata::new())).await;
                }
            )*
        }
        mod fs {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    let dir = tempfile::tempdir().unwrap();
                    let blobs = Arc::new(berth_storage_fs::FsStore::open(dir.path()).unwrap());
                    super::$test(blobs, Arc::new(MemoryMetadata::new())).await;
                }
            )*
        }
        mod fs_sqlite {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    let dir = tempfile::tempdir().unwrap();
                    let blobs = Arc::new(berth_storage_fs::FsStore::open(dir.path().join("blobs")).unwrap());
                    let meta = berth_meta_sqlite::SqliteMetadata::open(dir.path().join("meta.db")).await.unwrap();
                    super::$test(blobs, Arc::new(meta)).await;
                }
            )*
        }
    };
}

pub const ACCOUNT: AccountId = AccountId(10042);

pub fn name(s: &str) -> Name {
    Name::parse(s).unwrap()
}

pub fn repo(s: &str) -> RepositoryName {
    RepositoryName::parse(s).unwrap()
}

pub fn robot(
    user: &str,
    permissions: &[(&str, Permission)],
    expires: Option<Timestamp>,
) -> Principal {
    Principal::RepositoryUser(RepositoryUserFacts {
        name: user.to_owned(),
        account: ACCOUNT,
        expires,
        disabled: false,
        permissions: permissions.iter().map(|(r, p)| (repo(r), *p)).collect(),
    })
}

/// The account's pusher: push_pull on `team` and `public`.
pub fn pusher() -> Principal {
    robot(
        "10042-ci",
        &[
            ("team", Permission::PushPull),
            ("public", Permission::PushPull),
        ],
        None,
    )
}

/// A registry with account 10042 owning `team` (private, optional quota) and `public`.
pub async fn registry(
    blobs: Arc<dyn BlobStore>,
    meta: Arc<dyn MetadataStore>,
    quota: Option<u64>,
) -> Registry {
    registry_with(blobs, meta, quota, RegistryConfig::default()).await
}

/// [`registry`] with engine settings of the test's own.
pub async fn registry_with(
    blobs: Arc<dyn BlobStore>,
    meta: Arc<dyn MetadataStore>,
    quota: Option<u64>,
    config: RegistryConfig,
) -> Registry {
    meta.create_account(ACCOUNT, "acme", Timestamp::now())
        .await
        .unwrap();
    for (repository, access, quota) in [
        ("team", Access::Private, quota),
        ("public", Access::Public, None),
    ] {
        let new = NewRepository {
            account: ACCOUNT,
            name: repo(repository),
            access,
            quota,
            delete_orphan_referrers: true,
            proxy: None,
        };
        meta.create_repository(new, "admin", Timestamp::now())
            .await
            .unwrap();
    }
    Registry::new(blobs, meta, config)
}

/// Deterministic incompressible bytes.
pub fn data(seed: u64, len: usize) -> Bytes {
    berth_storage::conformance::data(seed, len)
}

/// Uploads a blob in two chunks; returns its digest and size.
pub async fn upload(
    registry: &Registry,
    who: &Principal,
    image: &Name,
    bytes: Bytes,
) -> (Digest, u64) {
    let digest = Digest::sha256(&bytes);
    let id = registry
        .start_upload(who, image, Algorithm::Sha256)
        .await
        .unwrap();
    let half = bytes.len() / 2;
    registry
        .append_upload(
            who,
            image,
            &id,
            Some(0),
            RequestBody::new(body_from(bytes.slice(..half)), None),
        )
        .await
        .unwrap();
    let size = registry
        .commit_upload(
            who,
            image,
            &id,
            &digest,
            Some(RequestBody::new(body_from(bytes.slice(half..)), None)),
        )
        .await
        .unwrap();
    (digest, size)
}

/// An OCI image manifest over a config and layers (digest, size).
pub fn image_manifest(config: &(Digest, u64), layers: &[(Digest, u64)]) -> Bytes {
    let descriptor = |media: &str, (d, s): &(Digest, u64)| serde_json::json!({"mediaType": media, "digest": d.to_string(), "size": s});
    let doc = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": descriptor("application/vnd.oci.image.config.v1+json", config),
        "layers": layers.iter().map(|l| descriptor("application/vnd.oci.image.layer.v1.tar+gzip", l)).collect::<Vec<_>>(),
    });
    Bytes::from(serde_json::to_vec(&doc).unwrap())
}

/// Pushes a fresh image (config + `layers` random layers of `layer_size`) under `tag`.
pub async fn push_image(
    registry: &Registry,
    who: &Principal,
    image: &Name,
    seed: u64,
    layers: usize,
    layer_size: usize,
    tag: &str,
) -> (Digest, Bytes) {
    let config = upload(
        registry,
        who,
        image,
        Bytes::from(format!("{{\"seed\":{seed}}}")),
    )
    .await;
    let mut refs = Vec::new();
    for i in 0..layers {
        refs.push(
            upload(
                registry,
                who,
                image,
                data(seed * 1000 + i as u64, layer_size),
            )
            .await,
        );
    }
    let manifest = image_manifest(&config, &refs);
    let pushed = registry
        .put_manifest(
            who,
            image,
            &Reference::parse(tag).unwrap(),
            RequestBody::from_bytes(manifest.clone()),
            Some("application/vnd.oci.image.manifest.v1+json"),
        )
        .await
        .unwrap();
    (pushed.digest, manifest)
}

/// A repository's recorded usage.
pub async fn used(registry: &Registry, repository: &str) -> u64 {
    registry
        .metadata()
        .repository(&repo(repository))
        .await
        .unwrap()
        .unwrap()
        .used
}

/// Annotations helper for artifacts.
pub fn no_annotations() -> BTreeMap<String, String> {
    BTreeMap::new()
}
