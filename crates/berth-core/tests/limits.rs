//! What one tenant may hold of the registry: a quota that bounds what uploads store (one-request
//! uploads, chunks and the final PUT alike, with the bytes of open sessions counted), a cap on
//! open sessions, sessions that belong to a repository's identity, manifests whose descriptors
//! must give the stored sizes, and another account's private repository answering like a
//! missing one.

mod support;

use std::sync::Arc;

use berth_core::{Error, Mount, RegistryConfig, RequestBody};
use berth_meta::{
    Access, AccountStore, MemoryMetadata, MetadataStore, NewRepository, Permission, RegistryStore,
    Timestamp,
};
use berth_model::{AccountId, Algorithm, Digest, Reference};
use berth_policy::{Denial, Principal, RepositoryUserFacts};
use berth_storage::{BlobStore, MemoryStore, body_from};
use bytes::Bytes;
use futures::StreamExt as _;
use support::*;

on_backends!(
    a_one_request_upload_over_the_quota_stores_nothing,
    chunks_and_the_final_put_are_held_to_the_room_left,
    open_sessions_are_capped_per_repository,
    a_recreated_repository_cannot_continue_an_old_session,
    descriptors_must_give_the_stored_sizes,
);

/// A body of `len` bytes in chunks of 64 KiB, declared or not.
fn chunked(bytes: Bytes, declared: bool) -> RequestBody {
    let len = bytes.len() as u64;
    let chunks: Vec<std::io::Result<Bytes>> = (0..bytes.len())
        .step_by(64 << 10)
        .map(|i| Ok(bytes.slice(i..(i + (64 << 10)).min(bytes.len()))))
        .collect();
    RequestBody::new(
        futures::stream::iter(chunks).boxed(),
        declared.then_some(len),
    )
}

async fn stored_blobs(blobs: &dyn BlobStore) -> usize {
    blobs.list().await.unwrap().len()
}

async fn a_one_request_upload_over_the_quota_stores_nothing(
    blobs: Arc<dyn BlobStore>,
    meta: Arc<dyn MetadataStore>,
) {
    let registry = registry(blobs.clone(), meta, Some(1 << 20)).await;
    let (who, image) = (pusher(), name("team/app"));
    let before = stored_blobs(&*blobs).await;
    // Twenty times the quota, as one request, declared and undeclared: refused, nothing kept.
    let big = data(1, 20 << 20);
    let digest = Digest::sha256(&big);
    for declared in [true, false] {
        let err = registry
            .put_blob(&who, &image, &digest, chunked(big.clone(), declared))
            .await
            .unwrap_err();
        assert!(matches!(err, Error::QuotaExceeded(_)), "{err:?}");
        assert!(
            err.to_string().contains("over the limit of 1.0 MiB"),
            "{err}"
        );
    }
    assert_eq!(stored_blobs(&*blobs).await, before, "no bytes were kept");
    assert!(matches!(
        registry.stat_blob(&who, &image, &digest).await,
        Err(Error::BlobUnknown(_))
    ));
    // What fits goes in; the same blob again adds nothing and is not refused.
    let small = data(2, 512 << 10);
    let small_digest = Digest::sha256(&small);
    registry
        .put_blob(&who, &image, &small_digest, chunked(small.clone(), false))
        .await
        .unwrap();
    registry
        .put_blob(&who, &image, &small_digest, chunked(small, true))
        .await
        .unwrap();
    // A repository without a quota takes anything.
    let public = name("public/app");
    registry
        .put_blob(&who, &public, &digest, chunked(big, false))
        .await
        .unwrap();
}

async fn chunks_and_the_final_put_are_held_to_the_room_left(
    blobs: Arc<dyn BlobStore>,
    meta: Arc<dyn MetadataStore>,
) {
    let registry = registry(blobs, meta, Some(1 << 20)).await;
    let (who, image) = (pusher(), name("team/app"));
    // One session holds 600 KiB: another may add only what is left.
    let first = registry
        .start_upload(&who, &image, Algorithm::Sha256)
        .await
        .unwrap();
    registry
        .append_upload(
            &who,
            &image,
            &first,
            Some(0),
            chunked(data(1, 600 << 10), false),
        )
        .await
        .unwrap();
    let second = registry
        .start_upload(&who, &image, Algorithm::Sha256)
        .await
        .unwrap();
    for declared in [true, false] {
        let err = registry
            .append_upload(
                &who,
                &image,
                &second,
                Some(0),
                chunked(data(2, 500 << 10), declared),
            )
            .await
            .unwrap_err();
        assert!(
            matches!(err, Error::QuotaExceeded(_)),
            "{declared}: {err:?}"
        );
    }
    assert_eq!(
        registry.upload_status(&who, &image, &second).await.unwrap(),
        0,
        "a refused chunk keeps nothing"
    );
    registry
        .append_upload(
            &who,
            &image,
            &second,
            Some(0),
            chunked(data(2, 300 << 10), false),
        )
        .await
        .unwrap();
    // The final PUT of the first session is held to the room too, and refused, the session is
    // removed at once.
    let mut whole = data(1, 600 << 10).to_vec();
    whole.extend_from_slice(&data(3, 200 << 10));
    let err = registry
        .commit_upload(
            &who,
            &image,
            &first,
            &Digest::sha256(&whole),
            Some(chunked(data(3, 200 << 10), false)),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::QuotaExceeded(_)), "{err:?}");
    assert!(matches!(
        registry.upload_status(&who, &image, &first).await,
        Err(Error::UploadUnknown(_))
    ));
    // With the first session gone, the second finishes.
    let mut second_bytes = data(2, 300 << 10).to_vec();
    second_bytes.extend_from_slice(&data(4, 100 << 10));
    registry
        .commit_upload(
            &who,
            &image,
            &second,
            &Digest::sha256(&second_bytes),
            Some(RequestBody::new(body_from(data(4, 100 << 10)), None)),
        )
        .await
        .unwrap();
}

async fn open_sessions_are_capped_per_repository(
    blobs: Arc<dyn BlobStore>,
    meta: Arc<dyn MetadataStore>,
) {
    let config = RegistryConfig {
        max_open_uploads: 3,
        ..RegistryConfig::default()
    };
    let registry = registry_with(blobs, meta, None, config).await;
    let who = pusher();
    let mut open = Vec::new();
    for image in ["team/a", "team/b", "team/a"] {
        open.push(
            registry
                .start_upload(&who, &name(image), Algorithm::Sha256)
                .await
                .unwrap(),
        );
    }
    let err = registry
        .start_upload(&who, &name("team/c"), Algorithm::Sha256)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::TooManyUploads { limit: 3, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("3 uploads in progress"), "{err}");
    // A mount that falls back to an upload counts too.
    let err = registry
        .mount_blob(&who, &name("team/c"), &Digest::sha256(b"x"), None)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::TooManyUploads { .. }), "{err:?}");
    // Another repository has its own cap; a finished session frees a place.
    registry
        .start_upload(&who, &name("public/a"), Algorithm::Sha256)
        .await
        .unwrap();
    registry
        .abort_upload(&who, &name("team/a"), &open[0])
        .await
        .unwrap();
    registry
        .start_upload(&who, &name("team/c"), Algorithm::Sha256)
        .await
        .unwrap();
}

async fn a_recreated_repository_cannot_continue_an_old_session(
    blobs: Arc<dyn BlobStore>,
    meta: Arc<dyn MetadataStore>,
) {
    let registry = registry(blobs.clone(), meta.clone(), None).await;
    let (who, image) = (pusher(), name("team/app"));
    let id = registry
        .start_upload(&who, &image, Algorithm::Sha256)
        .await
        .unwrap();
    registry
        .append_upload(&who, &image, &id, Some(0), chunked(data(1, 1000), true))
        .await
        .unwrap();
    let admin = registry.manage(Principal::SystemAdmin, None);
    admin.delete_repository(&repo("team")).await.unwrap();
    assert!(
        blobs.upload_status(&id).await.is_err(),
        "deleting the repository removed the session's bytes"
    );
    let new = NewRepository {
        account: ACCOUNT,
        name: repo("team"),
        access: Access::Private,
        quota: None,
        delete_orphan_referrers: true,
        proxy: None,
    };
    admin.create_repository(new).await.unwrap();
    for result in [
        registry.upload_status(&who, &image, &id).await.map(|_| ()),
        registry
            .append_upload(&who, &image, &id, None, chunked(data(2, 10), true))
            .await
            .map(|_| ()),
        registry
            .commit_upload(&who, &image, &id, &Digest::sha256(b"x"), None)
            .await
            .map(|_| ()),
    ] {
        assert!(matches!(result, Err(Error::UploadUnknown(_))), "{result:?}");
    }
}

async fn descriptors_must_give_the_stored_sizes(
    blobs: Arc<dyn BlobStore>,
    meta: Arc<dyn MetadataStore>,
) {
    let registry = registry(blobs, meta, None).await;
    let (who, image) = (pusher(), name("team/app"));
    let config = upload(&registry, &who, &image, Bytes::from_static(b"{}")).await;
    let layer = upload(&registry, &who, &image, data(1, 750)).await;
    // 750 bytes claimed as 931 GiB.
    let lying = image_manifest(&config, &[(layer.0.clone(), 1_000_000_000_000)]);
    let err = registry
        .put_manifest(
            &who,
            &image,
            &Reference::parse("v1").unwrap(),
            RequestBody::from_bytes(lying),
            None,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::ManifestBlobSize { digest, declared: 1_000_000_000_000, stored: 750 } if *digest == layer.0),
        "{err:?}"
    );
    assert!(err.to_string().contains(&layer.0.to_string()), "{err}");
    let honest = image_manifest(&config, &[layer]);
    registry
        .put_manifest(
            &who,
            &image,
            &Reference::parse("v1").unwrap(),
            RequestBody::from_bytes(honest),
            None,
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn anothers_private_repository_looks_missing() {
    let meta = Arc::new(MemoryMetadata::new());
    let registry = registry(Arc::new(MemoryStore::new()), meta.clone(), None).await;
    meta.create_account(AccountId(7), "other", Timestamp::now())
        .await
        .unwrap();
    for (name, access) in [
        ("theirs", Access::Private),
        ("their-public", Access::Public),
    ] {
        let new = NewRepository {
            account: AccountId(7),
            name: repo(name),
            access,
            quota: None,
            delete_orphan_referrers: true,
            proxy: None,
        };
        meta.create_repository(new, "admin", Timestamp::now())
            .await
            .unwrap();
    }
    let outsider = pusher();
    let same = |result: Result<(), Error>, missing: Result<(), Error>| {
        assert_eq!(
            format!("{result:?}"),
            format!("{missing:?}").replace("nosuch", "theirs")
        );
    };
    let theirs = name("theirs/app");
    let nosuch = name("nosuch/app");
    same(
        registry
            .list_tags(&outsider, &theirs, 10, None)
            .await
            .map(|_| ()),
        registry
            .list_tags(&outsider, &nosuch, 10, None)
            .await
            .map(|_| ()),
    );
    same(
        registry
            .start_upload(&outsider, &theirs, Algorithm::Sha256)
            .await
            .map(|_| ()),
        registry
            .start_upload(&outsider, &nosuch, Algorithm::Sha256)
            .await
            .map(|_| ()),
    );
    assert!(matches!(
        registry.list_tags(&outsider, &theirs, 10, None).await,
        Err(Error::NameUnknown(_))
    ));
    // Anonymous: asked to log in, for both.
    for image in [&theirs, &nosuch] {
        assert!(matches!(
            registry
                .list_tags(&Principal::Anonymous, image, 10, None)
                .await,
            Err(Error::Denied(Denial::AuthenticationRequired { .. }))
        ));
    }
    // A public repository of another account is visible: pulling works (the blob is simply
    // unknown), pushing is denied.
    let public = name("their-public/app");
    assert!(matches!(
        registry
            .stat_blob(&outsider, &public, &Digest::sha256(b"x"))
            .await,
        Err(Error::BlobUnknown(_))
    ));
    assert!(matches!(
        registry
            .start_upload(&outsider, &public, Algorithm::Sha256)
            .await,
        Err(Error::Denied(_))
    ));
    // Its own account's repository without permission: denied, not hidden.
    let limited = Principal::RepositoryUser(RepositoryUserFacts {
        name: "10042-reader".into(),
        account: ACCOUNT,
        expires: None,
        disabled: false,
        permissions: vec![(repo("public"), Permission::Pull)],
    });
    assert!(matches!(
        registry
            .list_tags(&limited, &name("team/app"), 10, None)
            .await,
        Err(Error::Denied(_))
    ));
}

#[tokio::test]
async fn a_mount_without_from_finds_the_blob_in_the_account_only() {
    let meta = Arc::new(MemoryMetadata::new());
    let registry = registry(Arc::new(MemoryStore::new()), meta.clone(), None).await;
    meta.create_account(AccountId(7), "other", Timestamp::now())
        .await
        .unwrap();
    for (account, name) in [(ACCOUNT, "secret"), (AccountId(7), "theirs")] {
        let new = NewRepository {
            account,
            name: repo(name),
            access: Access::Private,
            quota: None,
            delete_orphan_referrers: true,
            proxy: None,
        };
        meta.create_repository(new, "admin", Timestamp::now())
            .await
            .unwrap();
    }
    let admin = Principal::SystemAdmin;
    let pusher = pusher(); // push_pull on team and public only
    // The same blob in another account's repository, and in one of this account's the pusher
    // may not pull: a mount without `from` finds neither.
    let (digest, size) = upload(&registry, &admin, &name("theirs/base"), data(1, 4000)).await;
    upload(&registry, &admin, &name("secret/base"), data(1, 4000)).await;
    let started = registry
        .mount_blob(&pusher, &name("team/app"), &digest, None)
        .await
        .unwrap();
    assert!(matches!(started, Mount::Started(_)), "{started:?}");
    assert!(matches!(
        registry
            .stat_blob(&pusher, &name("team/app"), &digest)
            .await,
        Err(Error::BlobUnknown(_))
    ));
    // In a repository of its account it may pull: mounted, no `from` needed.
    upload(&registry, &admin, &name("public/base"), data(1, 4000)).await;
    let mounted = registry
        .mount_blob(&pusher, &name("team/app"), &digest, None)
        .await
        .unwrap();
    assert_eq!(mounted, Mount::Mounted(size));
    assert_eq!(
        registry
            .stat_blob(&pusher, &name("team/app"), &digest)
            .await
            .unwrap(),
        size
    );
    // Mounting what the repository holds already answers at once.
    assert_eq!(
        registry
            .mount_blob(&pusher, &name("team/other"), &digest, None)
            .await
            .unwrap(),
        Mount::Mounted(size)
    );
}

#[tokio::test]
async fn a_chunk_after_a_short_one_is_refused_where_the_store_wants_a_minimum() {
    let parts = registry(
        Arc::new(MemoryStore::with_min_chunk(1000)),
        Arc::new(MemoryMetadata::new()),
        None,
    )
    .await;
    let (who, image) = (pusher(), name("team/app"));
    let bytes = data(1, 3500);
    let id = parts
        .start_upload(&who, &image, berth_model::Algorithm::Sha256)
        .await
        .unwrap();
    let chunk = |range: std::ops::Range<usize>| RequestBody::from_bytes(bytes.slice(range));
    // Chunks of the minimum or more, then a short one: fine so far (it may be the last).
    for (start, range) in [(0, 0..1000), (1000, 1000..3000), (3000, 3000..3200)] {
        parts
            .append_upload(&who, &image, &id, Some(start), chunk(range))
            .await
            .unwrap();
    }
    // Another chunk after the short one, by PATCH or in the PUT: refused, nothing kept.
    let err = parts
        .append_upload(&who, &image, &id, Some(3200), chunk(3200..3500))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::ChunkTooSmall { min: 1000 }), "{err:?}");
    assert!(err.to_string().contains("at least 1000 bytes"), "{err}");
    let digest = Digest::sha256(&bytes);
    let err = parts
        .commit_upload(&who, &image, &id, &digest, Some(chunk(3200..3500)))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::ChunkTooSmall { .. }), "{err:?}");
    assert_eq!(parts.upload_status(&who, &image, &id).await.unwrap(), 3200);
    // The short chunk was the last: the PUT without a body closes the session.
    let first = Digest::sha256(&bytes[..3200]);
    parts
        .commit_upload(
            &who,
            &image,
            &id,
            &first,
            Some(RequestBody::from_bytes(Bytes::new())),
        )
        .await
        .unwrap();
    // Where the store wants no minimum, any chunking goes.
    let plain = registry(
        Arc::new(MemoryStore::new()),
        Arc::new(MemoryMetadata::new()),
        None,
    )
    .await;
    let id = plain
        .start_upload(&who, &image, berth_model::Algorithm::Sha256)
        .await
        .unwrap();
    for (start, range) in [(0, 0..10), (10, 10..20), (20, 20..3500)] {
        plain
            .append_upload(&who, &image, &id, Some(start), chunk(range))
            .await
            .unwrap();
    }
}
