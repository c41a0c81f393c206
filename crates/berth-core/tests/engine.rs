//! Every engine operation and its errors, on the in-memory backends, on the filesystem blob store,
//! and on the embedded default (filesystem blobs + SQLite metadata).

mod support;

use std::sync::Arc;

use berth_core::{Error, Mount, Registry, RequestBody};
use berth_meta::{MemoryMetadata, MetadataStore, Permission, Timestamp};
use berth_model::{Algorithm, ByteRange, Digest, Reference};
use berth_policy::{Denial, Principal};
use berth_storage::{BlobStore, MemoryStore, body_from, collect};
use bytes::Bytes;
use support::*;

on_backends!(
    uploads_commit_and_read_back,
    upload_errors,
    manifests_push_pull_and_delete,
    manifest_errors,
    quota_refuses_with_a_readable_message,
    permissions_are_enforced,
    mount_needs_pull_on_the_source,
    catalog_and_referrers,
    pulls_are_counted_in_memory_and_flushed,
);

async fn uploads_commit_and_read_back(blobs: Arc<dyn BlobStore>, meta: Arc<dyn MetadataStore>) {
    let registry = registry(blobs, meta, None).await;
    let (who, image) = (pusher(), name("team/app"));
    let bytes = data(1, 100_000);
    let (digest, size) = upload(&registry, &who, &image, bytes.clone()).await;
    assert_eq!(size, 100_000);
    assert_eq!(
        registry.stat_blob(&who, &image, &digest).await.unwrap(),
        100_000
    );
    let read = registry
        .read_blob(
            &who,
            &image,
            &digest,
            Some(ByteRange::Bounded {
                first: 10,
                last: 19,
            }),
        )
        .await
        .unwrap();
    assert_eq!((read.size, read.range.clone()), (100_000, 10..20));
    assert_eq!(collect(read.body).await.unwrap(), bytes.slice(10..20));
    let monolithic = data(2, 5000);
    let d2 = Digest::sha256(&monolithic);
    assert_eq!(
        registry
            .put_blob(
                &who,
                &image,
                &d2,
                RequestBody::new(body_from(monolithic), None)
            )
            .await
            .unwrap(),
        5000
    );
    assert!(
        registry.metadata().blob(&d2).await.unwrap().is_some(),
        "recorded as known"
    );
    let puller = robot("10042-read", &[("team", Permission::Pull)], None);
    assert!(matches!(
        registry.delete_blob(&puller, &image, &d2).await,
        Err(Error::Denied(_))
    ));
    registry.delete_blob(&who, &image, &d2).await.unwrap();
    assert!(
        matches!(
            registry.stat_blob(&who, &image, &d2).await,
            Err(Error::BlobUnknown(_))
        ),
        "unlinked"
    );
    assert_eq!(
        registry.blob_store().stat(&d2).await.unwrap(),
        5000,
        "the bytes go at collection"
    );
    let unknown = Digest::sha256(b"never stored");
    assert!(matches!(
        registry.delete_blob(&who, &image, &unknown).await,
        Err(Error::BlobUnknown(_))
    ));
}

async fn upload_errors(blobs: Arc<dyn BlobStore>, meta: Arc<dyn MetadataStore>) {
    let registry = registry(blobs, meta, None).await;
    let (who, image) = (pusher(), name("team/app"));
    let id = registry
        .start_upload(&who, &image, Algorithm::Sha256)
        .await
        .unwrap();
    registry
        .append_upload(
            &who,
            &image,
            &id,
            None,
            RequestBody::new(body_from(data(3, 1000)), None),
        )
        .await
        .unwrap();
    assert_eq!(
        registry.upload_status(&who, &image, &id).await.unwrap(),
        1000
    );
    let err = registry
        .append_upload(
            &who,
            &image,
            &id,
            Some(10),
            RequestBody::new(body_from(data(4, 10)), None),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::UploadOffset {
                current: 1000,
                requested: 10,
                ..
            }
        ),
        "{err:?}"
    );
    let err = registry
        .upload_status(&who, &name("team/other"), &id)
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::UploadUnknown(_)),
        "a session belongs to its image: {err:?}"
    );
    let wrong = Digest::sha256(b"not these bytes");
    let err = registry
        .commit_upload(&who, &image, &id, &wrong, None)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::DigestMismatch(_)), "{err:?}");
    assert!(matches!(
        registry.stat_blob(&who, &image, &wrong).await,
        Err(Error::BlobUnknown(_))
    ));
    // A session refused at commit is removed at once (as distribution does): its bytes cannot
    // become a blob, and they would count against the quota until they expired.
    assert!(matches!(
        registry.upload_status(&who, &image, &id).await,
        Err(Error::UploadUnknown(_))
    ));
    assert!(matches!(
        registry.abort_upload(&who, &image, &id).await,
        Err(Error::UploadUnknown(_))
    ));
    let err = registry
        .read_blob(&who, &image, &wrong, None)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::BlobUnknown(_)), "{err:?}");
    let err = registry
        .start_upload(&who, &name("nope/app"), Algorithm::Sha256)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NameUnknown(_)), "{err:?}");
}

async fn manifests_push_pull_and_delete(blobs: Arc<dyn BlobStore>, meta: Arc<dyn MetadataStore>) {
    let registry = registry(blobs, meta, None).await;
    let (who, image) = (pusher(), name("team/app"));
    let (digest, manifest) = push_image(&registry, &who, &image, 1, 2, 10_000, "v1").await;
    let by_tag = registry
        .get_manifest(&who, &image, &Reference::parse("v1").unwrap())
        .await
        .unwrap();
    assert_eq!(
        (by_tag.digest.clone(), by_tag.bytes.clone()),
        (digest.clone(), manifest.clone()),
        "exact bytes"
    );
    assert_eq!(
        by_tag.media_type,
        "application/vnd.oci.image.manifest.v1+json"
    );
    let by_digest = registry
        .get_manifest(&who, &image, &Reference::Digest(digest.clone()))
        .await
        .unwrap();
    assert_eq!(by_digest, by_tag);
    let head = registry
        .head_manifest(&who, &image, &Reference::parse("v1").unwrap())
        .await
        .unwrap();
    assert_eq!(
        (head.digest.clone(), head.size),
        (digest.clone(), manifest.len() as u64)
    );
    registry
        .put_manifest(
            &who,
            &image,
            &Reference::Digest(digest.clone()),
            RequestBody::from_bytes(manifest.clone()),
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        registry
            .list_tags(&who, &image, 10, None)
            .await
            .unwrap()
            .len(),
        1
    );

    registry
        .put_manifest(
            &who,
            &image,
            &Reference::parse("v2").unwrap(),
            RequestBody::from_bytes(manifest),
            None,
        )
        .await
        .unwrap();
    registry
        .delete_manifest(&who, &image, &Reference::parse("v2").unwrap())
        .await
        .unwrap();
    let tags: Vec<String> = registry
        .list_tags(&who, &image, 10, None)
        .await
        .unwrap()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(tags, ["v1"], "delete by tag removes the tag only");
    assert!(used(&registry, "team").await > 20_000);
    registry
        .delete_manifest(&who, &image, &Reference::Digest(digest.clone()))
        .await
        .unwrap();
    assert_eq!(used(&registry, "team").await, 0, "usage drops at once");
    let err = registry
        .get_manifest(&who, &image, &Reference::parse("v1").unwrap())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::ManifestUnknown { .. }), "{err:?}");
    let err = registry
        .delete_manifest(&who, &image, &Reference::Digest(digest))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::ManifestUnknown { .. }), "{err:?}");
}

async fn manifest_errors(blobs: Arc<dyn BlobStore>, meta: Arc<dyn MetadataStore>) {
    let registry = registry(blobs, meta, None).await;
    let (who, image) = (pusher(), name("team/app"));
    let config = upload(&registry, &who, &image, Bytes::from_static(b"{}")).await;
    let missing = (Digest::sha256(b"never uploaded"), 10);
    let manifest = image_manifest(&config, std::slice::from_ref(&missing));
    let err = registry
        .put_manifest(
            &who,
            &image,
            &Reference::parse("v1").unwrap(),
            RequestBody::from_bytes(manifest.clone()),
            None,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::ManifestBlobUnknown(d) if *d == missing.0),
        "names the missing digest: {err:?}"
    );
    assert!(
        matches!(
            registry.list_tags(&who, &image, 10, None).await,
            Err(Error::ImageUnknown(_))
        ),
        "nothing recorded, not even the image"
    );
    let err = registry
        .put_manifest(
            &who,
            &image,
            &Reference::parse("v1").unwrap(),
            RequestBody::from_bytes(Bytes::from_static(b"{\"schemaVersion\": 1}")),
            None,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::ManifestInvalid(_)), "{err:?}");
    let good = image_manifest(&config, &[]);
    let other = Reference::Digest(Digest::sha256(b"another manifest"));
    let err = registry
        .put_manifest(&who, &image, &other, RequestBody::from_bytes(good), None)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::DigestMismatch(_)), "{err:?}");
    let huge = Bytes::from(vec![b' '; 5 << 20]);
    let err = registry
        .put_manifest(
            &who,
            &image,
            &Reference::parse("v1").unwrap(),
            RequestBody::from_bytes(huge),
            None,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::ManifestTooLarge { .. }), "{err:?}");
}

async fn quota_refuses_with_a_readable_message(
    blobs: Arc<dyn BlobStore>,
    meta: Arc<dyn MetadataStore>,
) {
    let registry = registry(blobs, meta, Some(100_000)).await;
    let (who, image) = (pusher(), name("team/app"));
    let (first, _) = push_image(&registry, &who, &image, 1, 1, 60_000, "v1").await;
    // Early refusal at blob commit: the blob alone cannot fit.
    let id = registry
        .start_upload(&who, &image, Algorithm::Sha256)
        .await
        .unwrap();
    let big = data(9, 50_000);
    let err = registry
        .commit_upload(
            &who,
            &image,
            &id,
            &Digest::sha256(&big),
            Some(RequestBody::new(body_from(big), None)),
        )
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("adding 48.8 KiB would bring usage to "),
        "{err}"
    );
    assert!(
        err.to_string().ends_with(", over the limit of 97.7 KiB"),
        "{err}"
    );
    // Definitive refusal at manifest put: blobs uploaded before the quota filled.
    let layer = upload(&registry, &who, &image, data(10, 30_000)).await;
    let config = upload(
        &registry,
        &who,
        &image,
        Bytes::from_static(b"{\"second\":1}"),
    )
    .await;
    let manifest = image_manifest(&config, &[layer]);
    let used_before = used(&registry, "team").await;
    let _filler = push_image(&registry, &who, &image, 3, 1, 9_000, "filler").await;
    let err = registry
        .put_manifest(
            &who,
            &image,
            &Reference::parse("v2").unwrap(),
            RequestBody::from_bytes(manifest),
            None,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::QuotaExceeded(_)), "{err:?}");
    assert!(
        err.to_string().contains("over the limit of 97.7 KiB"),
        "{err}"
    );
    let tags: Vec<String> = registry
        .list_tags(&who, &image, 10, None)
        .await
        .unwrap()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        tags,
        ["filler", "v1"],
        "earlier tags unchanged, v2 not created"
    );
    assert!(used(&registry, "team").await > used_before);
    assert_eq!(
        registry
            .get_manifest(&who, &image, &Reference::parse("v1").unwrap())
            .await
            .unwrap()
            .digest,
        first
    );
}

async fn permissions_are_enforced(blobs: Arc<dyn BlobStore>, meta: Arc<dyn MetadataStore>) {
    let registry = registry(blobs, meta, None).await;
    let image = name("team/app");
    push_image(&registry, &pusher(), &image, 1, 1, 1000, "v1").await;
    let v1 = Reference::parse("v1").unwrap();
    let puller = robot("10042-read", &[("team", Permission::Pull)], None);
    registry.get_manifest(&puller, &image, &v1).await.unwrap();
    let err = registry
        .start_upload(&puller, &image, Algorithm::Sha256)
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Denied(Denial::PullOnly { .. })),
        "{err:?}"
    );
    let err = registry
        .delete_manifest(&puller, &image, &v1)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Denied(_)), "{err:?}");
    let expired = robot(
        "10042-old",
        &[("team", Permission::PushPull)],
        Some(Timestamp::from_unix_millis(1)),
    );
    let err = registry
        .get_manifest(&expired, &image, &v1)
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Denied(Denial::Expired { .. })),
        "{err:?}"
    );
    let err = registry
        .get_manifest(&Principal::Anonymous, &image, &v1)
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Denied(Denial::AuthenticationRequired { .. })),
        "{err:?}"
    );
    let elsewhere = robot("10042-b", &[("public", Permission::PushPull)], None);
    let err = registry
        .get_manifest(&elsewhere, &image, &v1)
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Denied(Denial::NotPermitted { .. })),
        "a user of another repository: {err:?}"
    );
    push_image(
        &registry,
        &pusher(),
        &name("public/tool"),
        2,
        1,
        1000,
        "latest",
    )
    .await;
    registry
        .get_manifest(
            &Principal::Anonymous,
            &name("public/tool"),
            &Reference::parse("latest").unwrap(),
        )
        .await
        .unwrap();
    let err = registry
        .start_upload(
            &Principal::Anonymous,
            &name("public/tool"),
            Algorithm::Sha256,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Denied(_)), "{err:?}");
}

async fn mount_needs_pull_on_the_source(blobs: Arc<dyn BlobStore>, meta: Arc<dyn MetadataStore>) {
    let registry = registry(blobs, meta, None).await;
    let (who, source) = (pusher(), name("team/app"));
    let (digest, size) = upload(&registry, &who, &source, data(5, 3000)).await;
    let target = name("public/app");
    assert_eq!(
        registry
            .mount_blob(&who, &target, &digest, Some(&source))
            .await
            .unwrap(),
        Mount::Mounted(size)
    );
    let only_public = robot("10042-pub", &[("public", Permission::PushPull)], None);
    let mount = registry
        .mount_blob(&only_public, &target, &digest, Some(&source))
        .await
        .unwrap();
    assert!(
        matches!(mount, Mount::Started(_)),
        "no pull on the source: a normal upload starts"
    );
    let unknown = registry
        .mount_blob(&who, &target, &Digest::sha256(b"x"), Some(&source))
        .await
        .unwrap();
    assert!(matches!(unknown, Mount::Started(_)));
}

async fn catalog_and_referrers(blobs: Arc<dyn BlobStore>, meta: Arc<dyn MetadataStore>) {
    let registry = registry(blobs, meta, None).await;
    let who = pusher();
    let (subject, _) = push_image(&registry, &who, &name("team/app"), 1, 1, 1000, "v1").await;
    push_image(&registry, &who, &name("public/tool"), 2, 1, 1000, "v1").await;
    let config = upload(
        &registry,
        &who,
        &name("team/app"),
        Bytes::from_static(b"{}"),
    )
    .await;
    let signature = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "artifactType": "application/vnd.cncf.notary.signature",
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": config.0.to_string(), "size": config.1},
        "layers": [],
        "subject": {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": subject.to_string(), "size": 10},
    });
    let bytes = Bytes::from(serde_json::to_vec(&signature).unwrap());
    let sig_digest = Digest::sha256(&bytes);
    let pushed = registry
        .put_manifest(
            &who,
            &name("team/app"),
            &Reference::Digest(sig_digest.clone()),
            RequestBody::from_bytes(bytes),
            None,
        )
        .await
        .unwrap();
    assert_eq!(pushed.subject, Some(subject.clone()));
    let found = registry
        .referrers(&who, &name("team/app"), &subject, None)
        .await
        .unwrap();
    assert_eq!(
        found.iter().map(|a| a.digest.clone()).collect::<Vec<_>>(),
        [sig_digest]
    );
    assert!(
        registry
            .referrers(
                &who,
                &name("team/app"),
                &subject,
                Some("application/spdx+json")
            )
            .await
            .unwrap()
            .is_empty()
    );
    let all: Vec<String> = registry
        .catalog(&Principal::SystemAdmin, 10, None)
        .await
        .unwrap()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(all, ["public/tool", "team/app"]);
    let anonymous: Vec<String> = registry
        .catalog(&Principal::Anonymous, 10, None)
        .await
        .unwrap()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(anonymous, ["public/tool"]);
    let mine: Vec<String> = registry
        .catalog(&who, 10, None)
        .await
        .unwrap()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(mine, ["public/tool", "team/app"]);
}

async fn pulls_are_counted_in_memory_and_flushed(
    blobs: Arc<dyn BlobStore>,
    meta: Arc<dyn MetadataStore>,
) {
    let registry = registry(blobs, meta, None).await;
    let (who, image) = (pusher(), name("team/app"));
    let (digest, _) = push_image(&registry, &who, &image, 1, 1, 1000, "v1").await;
    for _ in 0..3 {
        registry
            .get_manifest(&who, &image, &Reference::parse("v1").unwrap())
            .await
            .unwrap();
    }
    registry
        .head_manifest(&who, &image, &Reference::parse("v1").unwrap())
        .await
        .unwrap();
    assert_eq!(registry.pending_pulls(), 3, "HEAD is not a pull");
    assert_eq!(
        registry
            .metadata()
            .image(&image)
            .await
            .unwrap()
            .unwrap()
            .pull_count,
        0,
        "nothing written yet"
    );
    registry.flush_pulls().await.unwrap();
    assert_eq!(registry.pending_pulls(), 0);
    let img = registry.metadata().image(&image).await.unwrap().unwrap();
    assert_eq!(img.pull_count, 3);
    let artifact = registry
        .metadata()
        .artifact(&image, &digest)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(artifact.pull_count, 3);
}

/// The pull path (manifest GET and HEAD, blob HEAD and GET, tag list) makes no metadata write;
/// the counted pulls reach the store only through a flush.
#[tokio::test]
async fn the_pull_path_writes_no_metadata() {
    let watched = Arc::new(support::watched::WatchedMeta::new(Arc::new(
        MemoryMetadata::new(),
    )));
    let registry = registry(Arc::new(MemoryStore::new()), watched.clone(), None).await;
    let (who, image) = (pusher(), name("team/app"));
    let (digest, manifest) = push_image(&registry, &who, &image, 1, 2, 5000, "v1").await;
    let layers: Vec<Digest> = berth_model::Manifest::parse(manifest, None)
        .unwrap()
        .blobs()
        .map(|d| d.digest().clone())
        .collect();
    let before = watched.writes();
    for _ in 0..5 {
        let tag = Reference::parse("v1").unwrap();
        registry.head_manifest(&who, &image, &tag).await.unwrap();
        registry.get_manifest(&who, &image, &tag).await.unwrap();
        registry
            .get_manifest(&who, &image, &Reference::Digest(digest.clone()))
            .await
            .unwrap();
        for layer in &layers {
            registry.stat_blob(&who, &image, layer).await.unwrap();
            collect(
                registry
                    .read_blob(&who, &image, layer, None)
                    .await
                    .unwrap()
                    .body,
            )
            .await
            .unwrap();
        }
        registry.list_tags(&who, &image, 10, None).await.unwrap();
    }
    assert_eq!(
        watched.writes(),
        before,
        "pulls wrote to the metadata store"
    );
    registry.flush_pulls().await.unwrap();
    assert_eq!(
        watched.writes(),
        before + 1,
        "one batched write for all ten pulls"
    );
}

/// A multi-platform pull (the index by tag, then each child by digest) counts once on the image
/// and once on each artifact fetched.
#[tokio::test]
async fn a_multi_platform_pull_counts_once_on_the_image() {
    let registry: Registry = registry(
        Arc::new(MemoryStore::new()),
        Arc::new(MemoryMetadata::new()),
        None,
    )
    .await;
    let (who, image) = (pusher(), name("team/multi"));
    let mut children = Vec::new();
    for seed in 1..=2 {
        let config = upload(
            &registry,
            &who,
            &image,
            Bytes::from(format!("{{\"arch\":{seed}}}")),
        )
        .await;
        let layer = upload(&registry, &who, &image, data(seed, 2000)).await;
        let bytes = image_manifest(&config, &[layer]);
        let digest = Digest::sha256(&bytes);
        registry
            .put_manifest(
                &who,
                &image,
                &Reference::Digest(digest.clone()),
                RequestBody::from_bytes(bytes.clone()),
                None,
            )
            .await
            .unwrap();
        children.push((digest, bytes.len()));
    }
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": children.iter().map(|(d, s)| serde_json::json!({"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": d.to_string(), "size": s})).collect::<Vec<_>>(),
    });
    let index = Bytes::from(serde_json::to_vec(&index).unwrap());
    registry
        .put_manifest(
            &who,
            &image,
            &Reference::parse("latest").unwrap(),
            RequestBody::from_bytes(index),
            None,
        )
        .await
        .unwrap();
    registry
        .get_manifest(&who, &image, &Reference::parse("latest").unwrap())
        .await
        .unwrap();
    for (child, _) in &children {
        registry
            .get_manifest(&who, &image, &Reference::Digest(child.clone()))
            .await
            .unwrap();
    }
    registry.flush_pulls().await.unwrap();
    assert_eq!(
        registry
            .metadata()
            .image(&image)
            .await
            .unwrap()
            .unwrap()
            .pull_count,
        1
    );
    for (child, _) in &children {
        assert_eq!(
            registry
                .metadata()
                .artifact(&image, child)
                .await
                .unwrap()
                .unwrap()
                .pull_count,
            1
        );
    }
}

/// Blobs are stored once but read per repository: knowing a digest gives no access to another
/// repository's blob, through a read or through a manifest that names it.
#[tokio::test]
async fn blobs_are_isolated_per_repository() {
    let registry = registry(
        Arc::new(MemoryStore::new()),
        Arc::new(MemoryMetadata::new()),
        None,
    )
    .await;
    let who = pusher();
    let (secret, size) = upload(&registry, &who, &name("team/app"), data(11, 4000)).await;
    let err = registry
        .stat_blob(&Principal::SystemAdmin, &name("public/app"), &secret)
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::BlobUnknown(_)),
        "not through another repository: {err:?}"
    );
    let err = registry
        .read_blob(&Principal::Anonymous, &name("public/app"), &secret, None)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::BlobUnknown(_)), "{err:?}");
    let config = upload(
        &registry,
        &who,
        &name("public/app"),
        Bytes::from_static(b"{}"),
    )
    .await;
    let manifest = image_manifest(&config, &[(secret.clone(), size)]);
    let err = registry
        .put_manifest(
            &who,
            &name("public/app"),
            &Reference::parse("leak").unwrap(),
            RequestBody::from_bytes(manifest.clone()),
            None,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::ManifestBlobUnknown(d) if *d == secret),
        "{err:?}"
    );
    // A mount by someone who may pull the source makes it readable in the target.
    assert_eq!(
        registry
            .mount_blob(&who, &name("public/app"), &secret, Some(&name("team/app")))
            .await
            .unwrap(),
        Mount::Mounted(size)
    );
    registry
        .put_manifest(
            &who,
            &name("public/app"),
            &Reference::parse("shared").unwrap(),
            RequestBody::from_bytes(manifest),
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        registry
            .stat_blob(&Principal::Anonymous, &name("public/app"), &secret)
            .await
            .unwrap(),
        size
    );
}
