//! Remote registries and proxy repositories.

use berth_model::{ImageName, RegistryName};

use super::*;
use crate::{Entity, Error};

pub(super) fn registry_name(s: &str) -> RegistryName {
    RegistryName::parse(s).expect("registry name")
}

pub(super) fn new_registry(account: i64, name: &str) -> NewRemoteRegistry {
    NewRemoteRegistry {
        account: AccountId(account),
        name: registry_name(name),
        url: format!("https://{name}.example"),
        username: Some("robot".to_owned()),
        sealed_password: Some(vec![1, 2, 3, 0, 255]),
        insecure: false,
    }
}

fn proxy_repository(
    account: i64,
    name: &str,
    registry: &str,
    namespace: Option<&str>,
) -> NewRepository {
    NewRepository {
        account: AccountId(account),
        name: repo(name),
        access: Access::Private,
        quota: None,
        delete_orphan_referrers: true,
        proxy: Some(Proxy {
            registry: registry_name(registry),
            namespace: namespace.map(|n| ImageName::parse(n).expect("namespace")),
        }),
    }
}

/// Registries are per account: created, read, listed by name, changed field by field, deleted;
/// the same name in another account is another registry.
pub async fn remote_registries_are_kept_per_account(h: &Harness) {
    let s = &*h.store;
    setup(s, 1, "first", None).await;
    setup(s, 2, "second", None).await;
    let hub = s
        .create_remote_registry(new_registry(1, "hub"), T0)
        .await
        .expect("create");
    assert_eq!(hub.name.as_str(), "hub");
    assert_eq!(
        hub.sealed_password.as_deref(),
        Some(&[1u8, 2, 3, 0, 255][..])
    );
    assert_eq!(hub.created, T0);
    let again = s.create_remote_registry(new_registry(1, "hub"), T0).await;
    assert!(
        matches!(
            again,
            Err(Error::AlreadyExists {
                entity: Entity::RemoteRegistry,
                ..
            })
        ),
        "{again:?}"
    );
    let other = s
        .create_remote_registry(new_registry(2, "hub"), T0)
        .await
        .expect("the same name in another account");
    assert_ne!(other.id, hub.id);
    s.create_remote_registry(new_registry(1, "alpha"), T0)
        .await
        .expect("second");
    let missing = s.create_remote_registry(new_registry(99, "x"), T0).await;
    assert!(
        matches!(
            missing,
            Err(Error::NotFound {
                entity: Entity::Account,
                ..
            })
        ),
        "{missing:?}"
    );

    let names: Vec<String> = s
        .list_remote_registries(AccountId(1))
        .await
        .expect("list")
        .into_iter()
        .map(|r| r.name.to_string())
        .collect();
    assert_eq!(names, ["alpha", "hub"]);
    assert_eq!(
        s.remote_registry(AccountId(2), &registry_name("hub"))
            .await
            .expect("read")
            .expect("present")
            .id,
        other.id
    );
    assert!(
        s.remote_registry(AccountId(2), &registry_name("alpha"))
            .await
            .expect("read")
            .is_none(),
        "another account's registry is not visible"
    );

    let changed = s
        .update_remote_registry(
            AccountId(1),
            &registry_name("hub"),
            RemoteRegistryUpdate {
                url: Some("http://127.0.0.1:5000".to_owned()),
                username: Some(None),
                sealed_password: None,
                insecure: Some(true),
            },
        )
        .await
        .expect("update");
    assert_eq!(changed.url, "http://127.0.0.1:5000");
    assert_eq!(changed.username, None);
    assert_eq!(
        changed.sealed_password.as_deref(),
        Some(&[1u8, 2, 3, 0, 255][..]),
        "kept"
    );
    assert!(changed.insecure);
    let reread = (h.reopen)().await;
    assert_eq!(
        reread
            .remote_registry(AccountId(1), &registry_name("hub"))
            .await
            .expect("read")
            .expect("present"),
        changed
    );
    let cleared = s
        .update_remote_registry(
            AccountId(1),
            &registry_name("hub"),
            RemoteRegistryUpdate {
                sealed_password: Some(None),
                ..Default::default()
            },
        )
        .await
        .expect("update");
    assert_eq!(cleared.sealed_password, None);
    assert_eq!(cleared.url, "http://127.0.0.1:5000");
    let nothing = s
        .update_remote_registry(
            AccountId(1),
            &registry_name("nope"),
            RemoteRegistryUpdate::default(),
        )
        .await;
    assert!(
        matches!(nothing, Err(Error::NotFound { .. })),
        "{nothing:?}"
    );

    s.delete_remote_registry(AccountId(1), &registry_name("alpha"))
        .await
        .expect("delete");
    let gone = s
        .delete_remote_registry(AccountId(1), &registry_name("alpha"))
        .await;
    assert!(
        matches!(
            gone,
            Err(Error::NotFound {
                entity: Entity::RemoteRegistry,
                ..
            })
        ),
        "{gone:?}"
    );
    assert_eq!(
        s.list_remote_registries(AccountId(1))
            .await
            .expect("list")
            .len(),
        1
    );
}

/// A proxy repository names a registry of its own account; the registry cannot be deleted while
/// it is used, and can once the repository is gone.
pub async fn proxy_repositories_hold_their_registry(h: &Harness) {
    let s = &*h.store;
    setup(s, 1, "plain", None).await;
    setup(s, 2, "elsewhere", None).await;
    s.create_remote_registry(new_registry(1, "hub"), T0)
        .await
        .expect("create");
    s.create_remote_registry(new_registry(2, "theirs"), T0)
        .await
        .expect("create");
    let foreign = s
        .create_repository(proxy_repository(1, "cache", "theirs", None), "admin", T0)
        .await;
    assert!(
        matches!(
            foreign,
            Err(Error::NotFound {
                entity: Entity::RemoteRegistry,
                ..
            })
        ),
        "another account's registry: {foreign:?}"
    );
    let created = s
        .create_repository(
            proxy_repository(1, "cache", "hub", Some("library")),
            "admin",
            T0,
        )
        .await
        .expect("create");
    let proxy = created.proxy.clone().expect("proxy");
    assert_eq!(proxy.registry.as_str(), "hub");
    assert_eq!(
        proxy.namespace.as_ref().map(|n| n.as_str()),
        Some("library")
    );
    let read = s
        .repository(&repo("cache"))
        .await
        .expect("read")
        .expect("present");
    assert_eq!(read.proxy, created.proxy);
    assert_eq!(
        s.repository(&repo("plain"))
            .await
            .expect("read")
            .expect("present")
            .proxy,
        None
    );
    let listed = s
        .list_repositories(AccountId(1), Page { page: 1, size: 50 })
        .await
        .expect("list");
    assert!(
        listed
            .items
            .iter()
            .any(|r| r.name == repo("cache") && r.proxy.is_some())
    );
    s.create_repository(proxy_repository(1, "bare", "hub", None), "admin", T0)
        .await
        .expect("no namespace");
    assert_eq!(
        s.repository(&repo("bare"))
            .await
            .expect("read")
            .expect("present")
            .proxy,
        Some(Proxy {
            registry: registry_name("hub"),
            namespace: None
        })
    );

    let refused = s
        .delete_remote_registry(AccountId(1), &registry_name("hub"))
        .await;
    match refused {
        Err(Error::RegistryInUse {
            registry,
            repository,
        }) => {
            assert_eq!(registry.as_str(), "hub");
            assert_eq!(repository, repo("bare"), "the first user by name");
        }
        other => panic!("deleting a registry in use: {other:?}"),
    }
    s.delete_repository(&repo("cache"), "admin", at(1))
        .await
        .expect("delete");
    s.delete_repository(&repo("bare"), "admin", at(1))
        .await
        .expect("delete");
    s.delete_remote_registry(AccountId(1), &registry_name("hub"))
        .await
        .expect("no longer used");
}

/// A cache records what it fetched before it holds the blobs and children: the push counts the
/// sizes the manifest gives, and a later push of the same digest with the blobs changes nothing.
pub async fn cached_pushes_need_no_blobs_yet(h: &Harness) {
    let s = &*h.store;
    setup(s, 1, "cache", Some(10_000)).await;
    let layer = BlobRef {
        digest: digest("absent layer"),
        size: 700,
    };
    let mut index = push("cache/app", "index", Vec::new(), Some("latest"), at(1));
    index.children = vec![digest("absent child")];
    index.cached = true;
    let recorded = s
        .record_push(index)
        .await
        .expect("an index whose child is not cached yet");
    assert!(recorded.created);
    let mut manifest = push("cache/app", "child", vec![layer.clone()], None, at(2));
    manifest.cached = true;
    let child = s
        .record_push(manifest)
        .await
        .expect("a manifest whose layer is not cached yet");
    assert_eq!(
        child.added, 800,
        "the layer counts at the size the manifest gives, with the manifest"
    );
    assert_eq!(used(s, "cache").await, 900);
    // Not cached: the same layer is still unknown, and a push says so.
    let refused = s
        .record_push(push("cache/app", "plain", vec![layer.clone()], None, at(3)))
        .await;
    assert!(matches!(refused, Err(Error::BlobUnknown(_))), "{refused:?}");
    // Nothing references the unknown layer as a blob, so it is no GC candidate; once it is
    // stored it is referenced and stays.
    s.record_blob(&layer.digest, layer.size, at(4))
        .await
        .expect("record");
    let candidates = s.unreferenced_blobs(at(100), 10).await.expect("candidates");
    assert!(
        candidates.iter().all(|b| b.digest != layer.digest),
        "{candidates:?}"
    );
    // A quota still refuses a cached push.
    let mut big = push(
        "cache/app",
        "big",
        vec![BlobRef {
            digest: digest("big layer"),
            size: 20_000,
        }],
        None,
        at(5),
    );
    big.cached = true;
    assert!(matches!(
        s.record_push(big).await,
        Err(Error::QuotaExceeded { .. })
    ));
}
