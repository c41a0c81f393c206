//! Cases about accounts, users, repositories, blobs, uploads, pulls and history.

use std::collections::BTreeSet;

use berth_model::Digest;

use super::*;
use crate::{Entity, Error};

/// Accounts, console users (unique usernames), password changes and API tokens.
pub async fn accounts_and_console_users(h: &Harness) {
    let s = &*h.store;
    let account = s
        .create_account(AccountId(10042), "acme", T0)
        .await
        .expect("create");
    assert_eq!(
        s.account(AccountId(10042)).await.expect("get"),
        Some(account)
    );
    assert!(matches!(
        s.create_account(AccountId(10042), "again", T0).await,
        Err(Error::AlreadyExists {
            entity: Entity::Account,
            ..
        })
    ));
    assert_eq!(s.account(AccountId(1)).await.expect("get"), None);

    let admin = s
        .create_console_user(None, "admin", "$argon2id$x", T0)
        .await
        .expect("admin");
    let user = s
        .create_console_user(Some(AccountId(10042)), "alice", "$argon2id$a", T0)
        .await
        .expect("alice");
    assert_eq!(admin.account, None);
    assert!(matches!(
        s.create_console_user(None, "alice", "h", T0).await,
        Err(Error::AlreadyExists { .. })
    ));
    assert!(matches!(
        s.create_console_user(Some(AccountId(7)), "bob", "h", T0)
            .await,
        Err(Error::NotFound {
            entity: Entity::Account,
            ..
        })
    ));
    s.update_console_user(
        user.id,
        ConsoleUserUpdate {
            password_hash: Some("$argon2id$b".into()),
            ..ConsoleUserUpdate::default()
        },
    )
    .await
    .expect("password");
    assert_eq!(
        s.console_user("alice")
            .await
            .expect("get")
            .expect("exists")
            .password_hash,
        "$argon2id$b"
    );
    assert_eq!(s.console_user("nobody").await.expect("get"), None);

    let token = ApiToken {
        token_hash: vec![1, 2, 3],
        user: user.id,
        description: "ci".into(),
        created: T0,
        expires: Some(at(60)),
    };
    s.create_api_token(token.clone()).await.expect("token");
    assert_eq!(s.api_token(&[1, 2, 3]).await.expect("get"), Some(token));
    assert_eq!(s.api_token(&[9]).await.expect("get"), None);
}

/// Repository names are unique across accounts; listings page with totals; updates apply.
pub async fn repositories_are_unique_and_paged(h: &Harness) {
    let s = &*h.store;
    for n in ["b-repo", "a-repo", "c-repo"] {
        setup(s, 1, n, None).await;
    }
    setup(s, 2, "other", Some(5)).await;
    let taken = NewRepository {
        account: AccountId(2),
        name: repo("a-repo"),
        access: Access::Public,
        quota: None,
        delete_orphan_referrers: true,
        proxy: None,
    };
    assert!(matches!(
        s.create_repository(taken, "admin", T0).await,
        Err(Error::AlreadyExists {
            entity: Entity::Repository,
            ..
        })
    ));
    let missing_account = NewRepository {
        account: AccountId(99),
        name: repo("x"),
        access: Access::Public,
        quota: None,
        delete_orphan_referrers: true,
        proxy: None,
    };
    assert!(matches!(
        s.create_repository(missing_account, "admin", T0).await,
        Err(Error::NotFound {
            entity: Entity::Account,
            ..
        })
    ));

    let page = s
        .list_repositories(AccountId(1), Page { page: 1, size: 2 })
        .await
        .expect("list");
    assert_eq!(page.total, 3);
    assert_eq!(
        page.items
            .iter()
            .map(|r| r.name.as_str())
            .collect::<Vec<_>>(),
        ["a-repo", "b-repo"]
    );
    let page = s
        .list_repositories(AccountId(1), Page { page: 2, size: 2 })
        .await
        .expect("list");
    assert_eq!(
        page.items
            .iter()
            .map(|r| r.name.as_str())
            .collect::<Vec<_>>(),
        ["c-repo"]
    );

    assert!(
        s.repository(&repo("a-repo"))
            .await
            .expect("get")
            .expect("exists")
            .delete_orphan_referrers
    );
    let update = RepositoryUpdate {
        access: Some(Access::Public),
        quota: Some(Some(1 << 30)),
        delete_orphan_referrers: Some(false),
    };
    let updated = s
        .update_repository(&repo("a-repo"), update, "admin", at(1))
        .await
        .expect("update");
    assert_eq!(
        (
            updated.access,
            updated.quota,
            updated.delete_orphan_referrers
        ),
        (Access::Public, Some(1 << 30), false)
    );
    let cleared = s
        .update_repository(
            &repo("a-repo"),
            RepositoryUpdate {
                quota: Some(None),
                ..Default::default()
            },
            "admin",
            at(2),
        )
        .await
        .expect("update");
    assert_eq!(
        (
            cleared.access,
            cleared.quota,
            cleared.delete_orphan_referrers
        ),
        (Access::Public, None, false)
    );
    assert!(matches!(
        s.update_repository(&repo("nope"), RepositoryUpdate::default(), "admin", T0)
            .await,
        Err(Error::NotFound { .. })
    ));
    assert_eq!(
        s.repository(&repo("other"))
            .await
            .expect("get")
            .expect("exists")
            .quota,
        Some(5)
    );
}

/// Pull counts from many concurrent flushes through two handles add up; times keep the latest.
pub async fn pulls_are_additive_across_handles(h: &Harness) {
    setup(&*h.store, 1, "team", None).await;
    let outcome = h
        .store
        .record_push(push("team/app", "m", Vec::new(), None, T0))
        .await
        .expect("push");
    let image = h
        .store
        .image(&name("team/app"))
        .await
        .expect("image")
        .expect("exists")
        .id;
    let artifact = outcome.artifact.id;
    let other = (h.reopen)().await;
    let mut tasks = Vec::new();
    for i in 0..20i64 {
        let store = if i % 2 == 0 {
            h.store.clone()
        } else {
            other.clone()
        };
        tasks.push(tokio::spawn(async move {
            let images = [ImagePulls {
                image,
                count: 3,
                last: at(100 + i),
            }];
            let artifacts = [ArtifactPulls {
                artifact,
                count: 2,
                last: at(200 - i),
            }];
            store.record_pulls(&images, &artifacts).await
        }));
    }
    for task in tasks {
        task.await.expect("task").expect("record pulls");
    }
    h.store
        .record_pulls(
            &[ImagePulls {
                image: ImageId(i64::MAX),
                count: 1,
                last: T0,
            }],
            &[],
        )
        .await
        .expect("unknown ids are skipped");
    let image = h
        .store
        .image(&name("team/app"))
        .await
        .expect("image")
        .expect("exists");
    assert_eq!((image.pull_count, image.last_pull), (60, Some(at(119))));
    assert_eq!(image.last_modified(), Some(at(119)));
    let artifact = h
        .store
        .artifact(&name("team/app"), &digest("m"))
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(
        (artifact.pull_count, artifact.pulled_at),
        (40, Some(at(200)))
    );
}

/// Known blobs: recorded, looked up, listed as unreferenced once old, forgotten only then.
pub async fn blobs_and_garbage_collection_queries(h: &Harness) {
    let s = &*h.store;
    setup(s, 1, "team", None).await;
    let first = s
        .record_blob(&digest("x"), 42, at(0))
        .await
        .expect("record");
    let again = s
        .record_blob(&digest("x"), 42, at(50))
        .await
        .expect("record again");
    assert_eq!(
        (again.first_seen, again.last_seen),
        (first.first_seen, at(50))
    );
    s.record_blob(&digest("used"), 7, at(0))
        .await
        .expect("record");
    s.record_push(push(
        "team/app",
        "m",
        vec![BlobRef {
            digest: digest("used"),
            size: 7,
        }],
        None,
        T0,
    ))
    .await
    .expect("push");
    s.record_blob(&digest("m"), 100, at(0))
        .await
        .expect("manifest bytes");

    let candidates: Vec<Digest> = s
        .unreferenced_blobs(at(100), 10)
        .await
        .expect("gc")
        .into_iter()
        .map(|b| b.digest)
        .collect();
    assert_eq!(
        candidates,
        [digest("x")],
        "referenced blobs and manifests are not candidates"
    );
    assert!(
        s.unreferenced_blobs(at(10), 10)
            .await
            .expect("gc")
            .is_empty(),
        "x was seen again at 50"
    );
    assert!(
        !s.forget_blob(&digest("used"), at(100))
            .await
            .expect("forget"),
        "still referenced"
    );
    assert!(
        !s.forget_blob(&digest("x"), at(10)).await.expect("forget"),
        "too recent"
    );
    assert!(s.forget_blob(&digest("x"), at(100)).await.expect("forget"));
    assert_eq!(s.blob(&digest("x")).await.expect("get"), None);
    s.delete_artifact(&name("team/app"), &digest("m"), "admin", T0)
        .await
        .expect("delete");
    let candidates: BTreeSet<Digest> = s
        .unreferenced_blobs(at(100), 10)
        .await
        .expect("gc")
        .into_iter()
        .map(|b| b.digest)
        .collect();
    assert_eq!(candidates, BTreeSet::from([digest("used"), digest("m")]));
    assert_eq!(
        s.unreferenced_blobs(at(100), 1).await.expect("gc").len(),
        1,
        "limit"
    );
}

/// A forgotten blob is tombstoned: recording it again is refused until the forget finishes.
pub async fn forgotten_blobs_are_tombstoned_until_finished(h: &Harness) {
    let s = &*h.store;
    setup(s, 1, "team", None).await;
    s.record_blob(&digest("gone"), 5, at(0))
        .await
        .expect("record");
    s.record_blob(&digest("kept"), 5, at(0))
        .await
        .expect("record");
    s.record_push(push(
        "team/app",
        "m",
        vec![BlobRef {
            digest: digest("kept"),
            size: 5,
        }],
        None,
        T0,
    ))
    .await
    .expect("push");
    assert!(
        !s.forget_blob(&digest("kept"), at(100))
            .await
            .expect("forget")
    );
    assert!(
        s.forget_blob(&digest("gone"), at(100))
            .await
            .expect("forget")
    );
    assert_eq!(
        s.tombstones().await.expect("tombstones"),
        [digest("gone")],
        "a refused forget leaves none"
    );
    let refused = s.record_blob(&digest("gone"), 5, at(200)).await;
    assert!(
        matches!(&refused, Err(Error::BlobBeingDeleted(d)) if *d == digest("gone")),
        "{refused:?}"
    );
    let (other, d) = ((h.reopen)().await, digest("gone"));
    assert!(
        matches!(
            other.record_blob(&d, 5, at(200)).await,
            Err(Error::BlobBeingDeleted(_))
        ),
        "through another handle too"
    );
    let push_gone = push(
        "team/app",
        "m2",
        vec![BlobRef {
            digest: digest("gone"),
            size: 5,
        }],
        None,
        T0,
    );
    assert!(matches!(
        s.record_push(push_gone).await,
        Err(Error::BlobUnknown(_))
    ));
    s.finish_forget(&digest("gone")).await.expect("finish");
    s.finish_forget(&digest("gone"))
        .await
        .expect("finish again");
    assert!(s.tombstones().await.expect("tombstones").is_empty());
    let again = s
        .record_blob(&digest("gone"), 5, at(300))
        .await
        .expect("recorded again");
    assert_eq!(again.first_seen, at(300), "a new life");
}

/// Blobs are readable only through the repositories they are linked to; forgetting unlinks.
pub async fn blobs_are_linked_per_repository(h: &Harness) {
    let s = &*h.store;
    setup(s, 1, "alpha", None).await;
    setup(s, 2, "beta", None).await;
    s.record_blob(&digest("layer"), 77, at(0))
        .await
        .expect("record");
    assert_eq!(
        s.linked_blob(&repo("alpha"), &digest("layer"))
            .await
            .expect("linked"),
        None
    );
    s.link_blob(&repo("alpha"), &digest("layer"))
        .await
        .expect("link");
    s.link_blob(&repo("alpha"), &digest("layer"))
        .await
        .expect("link again");
    assert_eq!(
        s.linked_blob(&repo("alpha"), &digest("layer"))
            .await
            .expect("linked"),
        Some(77)
    );
    assert_eq!(
        s.linked_blob(&repo("beta"), &digest("layer"))
            .await
            .expect("linked"),
        None,
        "another tenant's repository"
    );
    assert_eq!(
        s.linked_blob(&repo("nope"), &digest("layer"))
            .await
            .expect("linked"),
        None
    );
    assert!(matches!(
        s.link_blob(&repo("alpha"), &digest("unknown")).await,
        Err(Error::BlobUnknown(_))
    ));
    assert!(matches!(
        s.link_blob(&repo("nope"), &digest("layer")).await,
        Err(Error::NotFound {
            entity: Entity::Repository,
            ..
        })
    ));
    s.link_blob(&repo("beta"), &digest("layer"))
        .await
        .expect("link into beta");
    assert!(
        s.unlink_blob(&repo("beta"), &digest("layer"))
            .await
            .expect("unlink")
    );
    assert!(
        !s.unlink_blob(&repo("beta"), &digest("layer"))
            .await
            .expect("unlink again")
    );
    assert_eq!(
        s.linked_blob(&repo("beta"), &digest("layer"))
            .await
            .expect("linked"),
        None
    );
    assert_eq!(
        s.linked_blob(&repo("alpha"), &digest("layer"))
            .await
            .expect("linked"),
        Some(77),
        "other links stay"
    );
    assert!(
        s.forget_blob(&digest("layer"), at(100))
            .await
            .expect("forget")
    );
    s.finish_forget(&digest("layer")).await.expect("finish");
    s.record_blob(&digest("layer"), 77, at(200))
        .await
        .expect("record again");
    assert_eq!(
        s.linked_blob(&repo("alpha"), &digest("layer"))
            .await
            .expect("linked"),
        None,
        "forgetting unlinked it"
    );
}

/// Repository users: unique names, permissions on the account's own repositories only, updates.
pub async fn repository_users_and_permissions(h: &Harness) {
    let s = &*h.store;
    setup(s, 10042, "alpha", None).await;
    setup(s, 10042, "beta", None).await;
    setup(s, 7, "foreign", None).await;
    let new = NewRepositoryUser {
        account: AccountId(10042),
        name: "10042-ci".into(),
        secret_hash: vec![9; 32],
        description: "CI".into(),
        expires: Some(at(3600)),
        permissions: vec![
            (repo("beta"), Permission::Pull),
            (repo("alpha"), Permission::PushPull),
        ],
    };
    let user = s
        .create_repository_user(new.clone(), "admin", T0)
        .await
        .expect("create");
    assert_eq!(
        user.permissions,
        vec![
            (repo("alpha"), Permission::PushPull),
            (repo("beta"), Permission::Pull)
        ]
    );
    assert!(!user.disabled);
    assert_eq!(
        s.repository_user("10042-ci").await.expect("get"),
        Some(user.clone())
    );
    assert!(matches!(
        s.create_repository_user(new.clone(), "admin", T0).await,
        Err(Error::AlreadyExists {
            entity: Entity::RepositoryUser,
            ..
        })
    ));
    let foreign = NewRepositoryUser {
        name: "10042-x".into(),
        permissions: vec![(repo("foreign"), Permission::Pull)],
        ..new.clone()
    };
    assert!(
        matches!(s.create_repository_user(foreign, "admin", T0).await, Err(Error::ForeignRepository(r)) if r == repo("foreign"))
    );
    let missing = NewRepositoryUser {
        name: "10042-y".into(),
        permissions: vec![(repo("nope"), Permission::Pull)],
        ..new
    };
    assert!(matches!(
        s.create_repository_user(missing, "admin", T0).await,
        Err(Error::NotFound {
            entity: Entity::Repository,
            ..
        })
    ));

    let update = RepositoryUserUpdate {
        description: Some("nightly".into()),
        expires: Some(None),
        disabled: Some(true),
        permissions: Some(vec![(repo("beta"), Permission::PushPull)]),
        secret_hash: Some(vec![1; 32]),
    };
    let updated = s
        .update_repository_user("10042-ci", update, "admin", T0)
        .await
        .expect("update");
    assert_eq!(
        (
            updated.description.as_str(),
            updated.expires,
            updated.disabled,
            updated.permissions.clone(),
            updated.secret_hash.clone()
        ),
        (
            "nightly",
            None,
            true,
            vec![(repo("beta"), Permission::PushPull)],
            vec![1; 32]
        )
    );
    let bad = RepositoryUserUpdate {
        permissions: Some(vec![(repo("foreign"), Permission::Pull)]),
        ..Default::default()
    };
    assert!(matches!(
        s.update_repository_user("10042-ci", bad, "admin", T0).await,
        Err(Error::ForeignRepository(_))
    ));
    assert_eq!(
        s.repository_user("10042-ci").await.expect("get"),
        Some(updated),
        "a refused update changes nothing"
    );
    assert!(matches!(
        s.update_repository_user("nobody", RepositoryUserUpdate::default(), "admin", T0)
            .await,
        Err(Error::NotFound { .. })
    ));
    let listed = s
        .list_repository_users(AccountId(10042), Page::first(10))
        .await
        .expect("list");
    assert_eq!(
        (listed.total, listed.items[0].name.as_str()),
        (1, "10042-ci")
    );
    assert_eq!(
        s.list_repository_users(AccountId(7), Page::first(10))
            .await
            .expect("list")
            .total,
        0
    );
}

/// History is per repository, newest first, paged.
pub async fn history_is_newest_first(h: &Harness) {
    let s = &*h.store;
    setup(s, 1, "team", None).await;
    setup(s, 1, "other", None).await;
    for i in 1..=3 {
        let update = RepositoryUpdate {
            quota: Some(Some(i as u64 * 1000)),
            ..RepositoryUpdate::default()
        };
        s.update_repository(&repo("team"), update, &format!("t{i}"), at(i))
            .await
            .expect("update");
    }
    let page = s
        .history(&repo("team"), Page { page: 1, size: 2 })
        .await
        .expect("history");
    assert_eq!(page.total, 4, "three updates and the creation");
    assert_eq!(
        page.items
            .iter()
            .map(|e| e.actor.as_str())
            .collect::<Vec<_>>(),
        ["t3", "t2"]
    );
    let last = s
        .history(&repo("team"), Page { page: 2, size: 2 })
        .await
        .expect("history");
    assert_eq!(
        last.items
            .iter()
            .map(|e| e.action.as_str())
            .collect::<Vec<_>>(),
        ["update", "create"]
    );
    assert_eq!(
        s.history(&repo("other"), Page::first(10))
            .await
            .expect("history")
            .total,
        1
    );
}

/// A repository user's changes leave history in the repositories they concern, in the same
/// transaction as the change: a grant, a changed permission or setting, a withdrawn grant, a
/// deletion; a change of a repository it has no permission on leaves nothing there.
pub async fn repository_user_changes_are_recorded(h: &Harness) {
    let s = &*h.store;
    setup(s, 10042, "alpha", None).await;
    setup(s, 10042, "beta", None).await;
    setup(s, 10042, "quiet", None).await;
    let new = NewRepositoryUser {
        account: AccountId(10042),
        name: "10042-ci".into(),
        secret_hash: vec![9; 32],
        description: String::new(),
        expires: None,
        permissions: vec![(repo("alpha"), Permission::Pull)],
    };
    s.create_repository_user(new, "alice", at(1))
        .await
        .expect("create");
    let grants = RepositoryUserUpdate {
        permissions: Some(vec![
            (repo("alpha"), Permission::PushPull),
            (repo("beta"), Permission::Pull),
        ]),
        ..RepositoryUserUpdate::default()
    };
    s.update_repository_user("10042-ci", grants, "bob", at(2))
        .await
        .expect("grant");
    let secret = RepositoryUserUpdate {
        secret_hash: Some(vec![7; 32]),
        ..RepositoryUserUpdate::default()
    };
    s.update_repository_user("10042-ci", secret, "bob", at(3))
        .await
        .expect("refresh");
    s.delete_repository_user("10042-ci", "carol", at(4))
        .await
        .expect("delete");
    let told = |repository: &'static str| async move {
        s.history(&repo(repository), Page::first(20))
            .await
            .expect("history")
            .items
            .into_iter()
            .filter(|e| e.target.as_deref() == Some("10042-ci"))
            .map(|e| (e.action, e.actor, e.detail.unwrap_or_default()))
            .collect::<Vec<_>>()
    };
    let own = |a: &str| a.to_owned();
    assert_eq!(
        told("alpha").await,
        [
            (HistoryAction::RemoveUser, own("carol"), own("push_pull")),
            (
                HistoryAction::ChangeUser,
                own("bob"),
                own("secret refreshed")
            ),
            (
                HistoryAction::ChangeUser,
                own("bob"),
                own("pull -> push_pull")
            ),
            (HistoryAction::AddUser, own("alice"), own("pull")),
        ]
    );
    assert_eq!(
        told("beta").await,
        [
            (HistoryAction::RemoveUser, own("carol"), own("pull")),
            (
                HistoryAction::ChangeUser,
                own("bob"),
                own("secret refreshed")
            ),
            (HistoryAction::AddUser, own("bob"), own("pull")),
        ]
    );
    assert!(told("quiet").await.is_empty());
}
