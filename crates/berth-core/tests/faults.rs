//! A storage failure at any step of a push leaves nothing recorded: the push fails with the
//! backend's error, no tag, artifact, image or usage appears, every blob metadata knows has its
//! bytes, and the same push succeeds once storage works again.

mod support;

use std::sync::Arc;

use berth_core::{Error, Registry, RequestBody};
use berth_meta::{MemoryMetadata, MetadataStore};
use berth_model::{Algorithm, Digest, Name, Reference};
use berth_policy::Principal;
use berth_storage::{BlobStore, Faults, FaultyStore, MemoryStore, body_from};
use bytes::Bytes;
use support::*;

/// The blobs of the image, in upload order: config, then two layers.
fn contents() -> Vec<Bytes> {
    vec![
        Bytes::from_static(b"{\"seed\":7}"),
        data(71, 30_000),
        data(72, 40_000),
    ]
}

/// Uploads each blob in two chunks, then pushes the manifest under `v1`; stops at the first error.
async fn push(registry: &Registry, who: &Principal, image: &Name) -> Result<Digest, Error> {
    let mut refs = Vec::new();
    for bytes in contents() {
        let digest = Digest::sha256(&bytes);
        let id = registry.start_upload(who, image, Algorithm::Sha256).await?;
        let half = bytes.len() / 2;
        let first = RequestBody::new(body_from(bytes.slice(..half)), None);
        registry
            .append_upload(who, image, &id, Some(0), first)
            .await?;
        let rest = RequestBody::new(body_from(bytes.slice(half..)), None);
        let size = registry
            .commit_upload(who, image, &id, &digest, Some(rest))
            .await?;
        refs.push((digest, size));
    }
    let manifest = image_manifest(&refs[0], &refs[1..]);
    let reference = Reference::parse("v1").unwrap();
    let body = RequestBody::from_bytes(manifest);
    Ok(registry
        .put_manifest(who, image, &reference, body, None)
        .await?
        .digest)
}

#[tokio::test]
async fn a_storage_failure_at_any_step_of_a_push_leaves_nothing_recorded() {
    let (who, image) = (pusher(), name("team/app"));
    let mut failed_steps = 0;
    for nth in 1.. {
        let store = FaultyStore::new(
            MemoryStore::new(),
            Faults {
                fail_nth_write: Some(nth),
                ..Faults::default()
            },
        );
        let blobs: Arc<dyn BlobStore> = Arc::new(store);
        let meta: Arc<dyn MetadataStore> = Arc::new(MemoryMetadata::new());
        let registry = registry(blobs.clone(), meta.clone(), None).await;
        match push(&registry, &who, &image).await {
            Ok(_) => {
                assert!(failed_steps >= 7, "every write of the push was failed once");
                break;
            }
            Err(e) => {
                failed_steps += 1;
                assert!(
                    matches!(
                        e,
                        Error::Backend {
                            what: "storage",
                            ..
                        }
                    ),
                    "write #{nth}: {e:?}"
                );
            }
        }
        let tag = registry
            .get_manifest(&who, &image, &Reference::parse("v1").unwrap())
            .await;
        assert!(
            matches!(
                tag,
                Err(Error::ManifestUnknown { .. } | Error::ImageUnknown(_))
            ),
            "write #{nth}: {tag:?}"
        );
        let team = meta.repository(&repo("team")).await.unwrap().unwrap();
        assert_eq!((team.used, team.image_count), (0, 0), "write #{nth}");
        assert!(meta.image(&image).await.unwrap().is_none(), "write #{nth}");
        for bytes in contents() {
            let digest = Digest::sha256(&bytes);
            if meta.blob(&digest).await.unwrap().is_some() {
                assert_eq!(
                    blobs.stat(&digest).await.unwrap(),
                    bytes.len() as u64,
                    "write #{nth}: a blob metadata knows has its bytes"
                );
            }
        }
        // The failure was one write: the same push now goes through, on the same stores.
        let digest = push(&registry, &who, &image)
            .await
            .unwrap_or_else(|e| panic!("write #{nth}: the retry failed: {e}"));
        let pulled = registry
            .get_manifest(&who, &image, &Reference::parse("v1").unwrap())
            .await
            .unwrap();
        assert_eq!(pulled.digest, digest, "write #{nth}");
    }
}
