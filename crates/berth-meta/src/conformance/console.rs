//! Cases about what the management API lists, counts and deletes: accounts, console users, API
//! tokens, image search, image counts, and deleting repositories and repository users.

use super::*;
use crate::{Entity, Error};

/// Accounts list by id; console users by id, and per account (or the administrators) by
/// username, bytewise.
pub async fn console_users_and_accounts_are_listed(h: &Harness) {
    let s = &*h.store;
    for id in [3, 1, 2] {
        s.create_account(AccountId(id), &format!("account {id}"), at(id))
            .await
            .expect("account");
    }
    let page = s
        .list_accounts(Page { page: 1, size: 2 })
        .await
        .expect("accounts");
    assert_eq!(page.total, 3);
    assert_eq!(
        page.items.iter().map(|a| a.id).collect::<Vec<_>>(),
        [AccountId(1), AccountId(2)]
    );
    assert_eq!(page.items[1].name, "account 2");
    let last = s
        .list_accounts(Page { page: 2, size: 2 })
        .await
        .expect("accounts");
    assert_eq!(
        last.items.iter().map(|a| a.id).collect::<Vec<_>>(),
        [AccountId(3)]
    );

    let mut users = Vec::new();
    for (account, username) in [
        (None, "root"),
        (Some(1), "zed"),
        (None, "admin"),
        (Some(1), "alice"),
        (Some(2), "bob"),
        (Some(1), "Carol"),
    ] {
        users.push(
            s.create_console_user(account.map(AccountId), username, "$argon2id$h", T0)
                .await
                .expect("console user"),
        );
    }
    let names = |page: &Paged<ConsoleUser>| {
        page.items
            .iter()
            .map(|u| u.username.clone())
            .collect::<Vec<_>>()
    };
    let admins = s
        .list_console_users(None, Page::first(10))
        .await
        .expect("admins");
    assert_eq!(
        (admins.total, names(&admins)),
        (2, vec!["admin".into(), "root".into()])
    );
    assert!(admins.items.iter().all(|u| u.account.is_none()));
    let first = s
        .list_console_users(Some(AccountId(1)), Page { page: 1, size: 2 })
        .await
        .expect("account 1");
    assert_eq!(
        (first.total, names(&first)),
        (3, vec!["Carol".into(), "alice".into()]),
        "bytewise: upper case first"
    );
    let second = s
        .list_console_users(Some(AccountId(1)), Page { page: 2, size: 2 })
        .await
        .expect("account 1");
    assert_eq!(names(&second), ["zed"]);
    assert_eq!(
        s.list_console_users(Some(AccountId(99)), Page::first(10))
            .await
            .expect("unknown account")
            .total,
        0
    );

    let alice = users
        .iter()
        .find(|u| u.username == "alice")
        .expect("alice")
        .clone();
    assert_eq!(
        s.console_user_by_id(alice.id).await.expect("by id"),
        Some(alice.clone())
    );
    s.update_console_user(
        alice.id,
        ConsoleUserUpdate {
            password_hash: Some("$argon2id$new".into()),
            ..ConsoleUserUpdate::default()
        },
    )
    .await
    .expect("password");
    assert_eq!(
        s.console_user_by_id(alice.id)
            .await
            .expect("by id")
            .expect("exists")
            .password_hash,
        "$argon2id$new"
    );
    assert_eq!(
        s.console_user_by_id(ConsoleUserId(i64::MAX))
            .await
            .expect("by id"),
        None
    );
}

/// A user's API tokens list newest first (ties by hash); deleting one says whether it existed.
pub async fn api_tokens_are_listed_and_deleted(h: &Harness) {
    let s = &*h.store;
    s.create_account(AccountId(1), "acme", T0)
        .await
        .expect("account");
    let alice = s
        .create_console_user(Some(AccountId(1)), "alice", "h", T0)
        .await
        .expect("alice");
    let bob = s
        .create_console_user(Some(AccountId(1)), "bob", "h", T0)
        .await
        .expect("bob");
    let token = |hash: &[u8], user: ConsoleUserId, created: Timestamp| ApiToken {
        token_hash: hash.to_vec(),
        user,
        description: format!("token {hash:?}"),
        created,
        expires: None,
    };
    for t in [
        token(&[1], alice.id, at(1)),
        token(&[5], alice.id, at(3)),
        token(&[2], bob.id, at(2)),
        token(&[4, 0], alice.id, at(3)),
        token(&[4], alice.id, at(3)),
    ] {
        s.create_api_token(t).await.expect("token");
    }
    let hashes =
        |tokens: Vec<ApiToken>| tokens.into_iter().map(|t| t.token_hash).collect::<Vec<_>>();
    let listed = s.list_api_tokens(alice.id).await.expect("list");
    assert_eq!(listed[0], token(&[4], alice.id, at(3)));
    assert_eq!(
        hashes(listed),
        [vec![4], vec![4, 0], vec![5], vec![1]],
        "newest first, ties by hash bytewise"
    );
    assert_eq!(
        hashes(s.list_api_tokens(bob.id).await.expect("list")),
        [vec![2]]
    );
    assert!(
        s.list_api_tokens(ConsoleUserId(i64::MAX))
            .await
            .expect("list")
            .is_empty()
    );

    assert!(s.delete_api_token(&[5]).await.expect("delete"));
    assert!(!s.delete_api_token(&[5]).await.expect("delete again"));
    assert!(!s.delete_api_token(&[9, 9]).await.expect("delete unknown"));
    assert_eq!(s.api_token(&[5]).await.expect("get"), None);
    assert_eq!(
        hashes(s.list_api_tokens(alice.id).await.expect("list")),
        [vec![4], vec![4, 0], vec![1]]
    );
    assert!(
        s.api_token(&[2]).await.expect("get").is_some(),
        "other tokens stay"
    );
}

/// `list_images` filters by a literal substring, ASCII case-insensitively, with the total of
/// the matches; wildcard characters match only themselves.
pub async fn images_are_filtered_by_name(h: &Harness) {
    let s = &*h.store;
    setup(s, 1, "team", None).await;
    setup(s, 1, "other", None).await;
    for image in [
        "team/tools/axb",
        "team/api",
        "team/frontend/web",
        "team/docs",
        "team/tools/a_b",
        "team/backend/api",
        "other/api",
    ] {
        s.record_push(push(image, "m", Vec::new(), None, T0))
            .await
            .expect("push");
    }
    let list = |needle: Option<&'static str>, page: Page| async move {
        let listed = s
            .list_images(&repo("team"), needle, page)
            .await
            .expect("list images");
        let names: Vec<String> = listed
            .items
            .iter()
            .map(|i| i.name.as_str().to_owned())
            .collect();
        (listed.total, names)
    };
    let all = [
        "api",
        "backend/api",
        "docs",
        "frontend/web",
        "tools/a_b",
        "tools/axb",
    ];
    assert_eq!(
        list(None, Page::first(10)).await,
        (6, all.map(String::from).to_vec())
    );
    assert_eq!(
        list(Some(""), Page::first(10)).await,
        (6, all.map(String::from).to_vec())
    );
    assert_eq!(
        list(None, Page { page: 2, size: 4 }).await,
        (6, vec!["tools/a_b".into(), "tools/axb".into()])
    );
    assert_eq!(
        list(Some("API"), Page::first(10)).await,
        (2, vec!["api".into(), "backend/api".into()]),
        "ASCII letters match either case"
    );
    assert_eq!(
        list(Some("WeB"), Page::first(10)).await,
        (1, vec!["frontend/web".into()])
    );
    assert_eq!(
        list(Some("a"), Page { page: 2, size: 2 }).await,
        (4, vec!["tools/a_b".into(), "tools/axb".into()]),
        "the total counts the matches"
    );
    assert_eq!(
        list(Some("a_b"), Page::first(10)).await,
        (1, vec!["tools/a_b".into()]),
        "`_` is no wildcard"
    );
    assert_eq!(
        list(Some("_"), Page::first(10)).await,
        (1, vec!["tools/a_b".into()])
    );
    for literal in ["%", "%a%", "\\", "\\%", "a\\_b", "é", "tools/a_b/"] {
        assert_eq!(
            list(Some(literal), Page::first(10)).await,
            (0, Vec::new()),
            "{literal:?} matches nothing"
        );
    }
    assert_eq!(
        s.list_images(&repo("nope"), Some("api"), Page::first(10))
            .await
            .expect("unknown repository")
            .total,
        0
    );
}

/// A repository's `image_count` is exact on every read: pushes that create an image raise it,
/// re-pushes and refused pushes do not, and images (so the count) stay when their artifacts go.
pub async fn repositories_count_their_images(h: &Harness) {
    let s = &*h.store;
    let created = setup(s, 1, "team", Some(10_000)).await;
    assert_eq!(created.image_count, 0);
    setup(s, 1, "other", None).await;
    let count = |name: &'static str| async move {
        s.repository(&repo(name))
            .await
            .expect("repository")
            .expect("exists")
            .image_count
    };
    s.record_push(push("team/a", "m1", Vec::new(), Some("v1"), T0))
        .await
        .expect("push");
    s.record_push(push("team/b/c", "m1", Vec::new(), None, T0))
        .await
        .expect("push");
    s.record_push(push("team/a", "m2", Vec::new(), None, at(1)))
        .await
        .expect("second artifact of an image");
    s.record_push(push("team/a", "m1", Vec::new(), Some("v2"), at(2)))
        .await
        .expect("re-push");
    s.record_push(push("other/x", "m1", Vec::new(), None, T0))
        .await
        .expect("another repository");
    assert_eq!((count("team").await, count("other").await), (2, 1));
    let big = blobs(s, &["big"], 20_000).await;
    assert!(matches!(
        s.record_push(push("team/big", "m3", big, None, T0)).await,
        Err(Error::QuotaExceeded { .. })
    ));
    assert_eq!(count("team").await, 2, "a refused push creates no image");
    let listed = s
        .list_repositories(AccountId(1), Page::first(10))
        .await
        .expect("list");
    assert_eq!(
        listed
            .items
            .iter()
            .map(|r| (r.name.as_str(), r.image_count))
            .collect::<Vec<_>>(),
        [("other", 1), ("team", 2)]
    );
    let updated = s
        .update_repository(
            &repo("team"),
            RepositoryUpdate {
                access: Some(Access::Public),
                ..Default::default()
            },
            "admin",
            at(3),
        )
        .await
        .expect("update");
    assert_eq!(updated.image_count, 2);
    for m in ["m1", "m2"] {
        s.delete_artifact(&name("team/a"), &digest(m), "admin", at(4))
            .await
            .expect("delete");
    }
    assert_eq!(
        count("team").await,
        1,
        "an image goes with its last artifact"
    );
    assert_eq!(
        s.list_images(&repo("team"), None, Page::first(1))
            .await
            .expect("images")
            .total,
        1
    );
}

/// A repository whose images hold artifacts is not deleted; the error counts those images, and
/// nothing changes.
pub async fn deleting_a_repository_with_artifacts_is_refused(h: &Harness) {
    let s = &*h.store;
    setup(s, 1, "team", None).await;
    let layer = blobs(s, &["layer"], 1_000).await;
    for image in ["team/a", "team/b", "team/c/d"] {
        s.record_push(push(image, "m", layer.clone(), Some("v1"), T0))
            .await
            .expect("push");
    }
    s.link_blob(&repo("team"), &digest("layer"))
        .await
        .expect("link");
    let before = s
        .repository(&repo("team"))
        .await
        .expect("get")
        .expect("exists");
    let history = s
        .history(&repo("team"), Page::first(1))
        .await
        .expect("history")
        .total;
    let err = s
        .delete_repository(&repo("team"), "admin", at(1))
        .await
        .expect_err("not empty");
    assert!(
        matches!(&err, Error::RepositoryNotEmpty { name, images: 3 } if *name == repo("team")),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "repository team still holds 3 images; delete them first"
    );
    s.delete_artifact(&name("team/a"), &digest("m"), "admin", at(2))
        .await
        .expect("delete");
    s.delete_artifact(&name("team/b"), &digest("m"), "admin", at(2))
        .await
        .expect("delete");
    let err = s
        .delete_repository(&repo("team"), "admin", at(3))
        .await
        .expect_err("still not empty");
    assert!(
        matches!(err, Error::RepositoryNotEmpty { images: 1, .. }),
        "only images holding artifacts count: {err:?}"
    );
    assert_eq!(
        err.to_string(),
        "repository team still holds 1 image; delete them first"
    );
    let after = s
        .repository(&repo("team"))
        .await
        .expect("get")
        .expect("kept");
    assert_eq!(
        (after.id, after.used, after.image_count),
        (before.id, before.used, 1),
        "the emptied images went; the one holding an artifact stays"
    );
    assert_eq!(
        s.history(&repo("team"), Page::first(1))
            .await
            .expect("history")
            .total,
        history + 2,
        "the two artifact deletes, nothing from the refusals"
    );
    assert_eq!(
        s.linked_blob(&repo("team"), &digest("layer"))
            .await
            .expect("linked"),
        Some(1_000)
    );
    assert!(
        s.resolve_tag(&name("team/c/d"), &tag("v1"))
            .await
            .expect("resolve")
            .is_some()
    );
}

/// Deleting an empty repository removes it with its empty images, blob links, permissions and
/// history; the name can be used again and starts afresh; other repositories are untouched.
pub async fn deleting_an_empty_repository_removes_everything_of_it(h: &Harness) {
    let s = &*h.store;
    setup(s, 1, "team", None).await;
    setup(s, 1, "keep", None).await;
    let layer = blobs(s, &["layer"], 1_000).await;
    for r in ["team", "keep"] {
        s.link_blob(&repo(r), &digest("layer")).await.expect("link");
    }
    let user = NewRepositoryUser {
        account: AccountId(1),
        name: "1-ci".into(),
        secret_hash: vec![7; 32],
        description: "CI".into(),
        expires: None,
        permissions: vec![
            (repo("team"), Permission::PushPull),
            (repo("keep"), Permission::Pull),
        ],
    };
    s.create_repository_user(user, "admin", T0)
        .await
        .expect("user");
    s.record_push(push("team/app", "m", layer.clone(), Some("v1"), T0))
        .await
        .expect("push");
    s.record_push(push("keep/app", "m", layer, Some("v1"), T0))
        .await
        .expect("push");
    s.delete_artifact(&name("team/app"), &digest("m"), "admin", at(1))
        .await
        .expect("empty it");

    s.delete_repository(&repo("team"), "admin", at(2))
        .await
        .expect("delete");
    assert_eq!(s.repository(&repo("team")).await.expect("get"), None);
    assert_eq!(s.image(&name("team/app")).await.expect("image"), None);
    assert_eq!(
        s.list_images(&repo("team"), None, Page::first(10))
            .await
            .expect("images")
            .total,
        0
    );
    assert_eq!(
        s.history(&repo("team"), Page::first(10))
            .await
            .expect("history")
            .total,
        0
    );
    assert_eq!(
        s.linked_blob(&repo("team"), &digest("layer"))
            .await
            .expect("linked"),
        None
    );
    assert_eq!(
        s.repository_user("1-ci")
            .await
            .expect("user")
            .expect("kept")
            .permissions,
        vec![(repo("keep"), Permission::Pull)]
    );
    let catalog: Vec<String> = s
        .catalog(&CatalogScope::All, 100, None)
        .await
        .expect("catalog")
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(catalog, ["keep/app"]);
    let listed = s
        .list_repositories(AccountId(1), Page::first(10))
        .await
        .expect("list");
    assert_eq!((listed.total, listed.items[0].name.as_str()), (1, "keep"));
    // What another repository shares is untouched, and blobs stay for garbage collection.
    assert_eq!(
        s.linked_blob(&repo("keep"), &digest("layer"))
            .await
            .expect("linked"),
        Some(1_000)
    );
    assert_eq!(used(s, "keep").await, 1_100);
    assert!(s.blob(&digest("layer")).await.expect("blob").is_some());

    assert!(matches!(
        s.delete_repository(&repo("team"), "admin", at(3)).await,
        Err(Error::NotFound {
            entity: Entity::Repository,
            ..
        })
    ));
    assert!(matches!(
        s.record_push(push("team/app", "m2", Vec::new(), None, at(3)))
            .await,
        Err(Error::NotFound {
            entity: Entity::Repository,
            ..
        })
    ));

    let again = setup(s, 1, "team", None).await;
    assert_eq!((again.used, again.image_count), (0, 0));
    assert_eq!(
        s.history(&repo("team"), Page::first(10))
            .await
            .expect("history")
            .items
            .iter()
            .map(|e| e.action.as_str())
            .collect::<Vec<_>>(),
        ["create"],
        "no history from the deleted repository"
    );
    assert_eq!(
        s.linked_blob(&repo("team"), &digest("layer"))
            .await
            .expect("linked"),
        None
    );
    s.record_push(push("team/app", "m", Vec::new(), None, at(4)))
        .await
        .expect("push into the new repository");
    assert_eq!(
        s.repository(&repo("team"))
            .await
            .expect("get")
            .expect("exists")
            .image_count,
        1
    );
}

/// A push that creates a repository's first image, racing its deletion through another handle:
/// exactly one wins, and a push is never recorded into a deleted repository. The rounds swap the
/// handles and stagger the starts: a quarter start together (either may win), the rest give one
/// side a head start of 10 to 30 ms, long enough on every backend for it to finish first, so the
/// test asserts that both orders occurred.
pub async fn deleting_a_repository_races_a_push(h: &Harness) {
    setup(&*h.store, 1, "seed", None).await;
    let layer = blobs(&*h.store, &["layer"], 1_000).await;
    let other = (h.reopen)().await;
    other.repository(&repo("seed")).await.expect("warm up");
    let (mut pushed, mut deleted) = (0, 0);
    for round in 0..16u64 {
        let repository = format!("race{round}");
        setup(&*h.store, 1, &repository, None).await;
        let (a, b) = if round % 2 == 0 {
            (h.store.clone(), other.clone())
        } else {
            (other.clone(), h.store.clone())
        };
        let head_start = Duration::from_millis(10 * (round % 4));
        let (push_delay, delete_delay) = if round % 8 < 4 {
            (head_start, Duration::ZERO)
        } else {
            (Duration::ZERO, head_start)
        };
        let p = push(
            &format!("{repository}/app"),
            "m",
            layer.clone(),
            Some("v1"),
            T0,
        );
        let target = repo(&repository);
        let (x, y) = tokio::join!(
            tokio::spawn(async move {
                tokio::time::sleep(push_delay).await;
                a.record_push(p).await
            }),
            tokio::spawn(async move {
                tokio::time::sleep(delete_delay).await;
                b.delete_repository(&target, "admin", T0).await
            })
        );
        let (push_result, delete_result) = (x.expect("task"), y.expect("task"));
        let stored = h.store.repository(&repo(&repository)).await.expect("get");
        let image = h
            .store
            .image(&name(&format!("{repository}/app")))
            .await
            .expect("image");
        match (&push_result, &delete_result) {
            (Ok(_), Err(Error::RepositoryNotEmpty { images: 1, .. })) => {
                pushed += 1;
                let stored = stored.expect("the repository stays");
                assert_eq!((stored.image_count, stored.used), (1, 1_100));
                assert_eq!(image.map(|i| i.artifact_count), Some(1));
            }
            (
                Err(Error::NotFound {
                    entity: Entity::Repository,
                    ..
                }),
                Ok(_),
            ) => {
                deleted += 1;
                assert_eq!(stored, None, "round {round}");
                assert_eq!(
                    image, None,
                    "round {round}: no image in a deleted repository"
                );
            }
            other => panic!("round {round}: {other:?}"),
        }
    }
    let catalog = h
        .store
        .catalog(&CatalogScope::All, 100, None)
        .await
        .expect("catalog");
    assert_eq!(catalog.len(), pushed, "only the pushes that won are listed");
    assert_eq!(pushed + deleted, 16);
    assert!(
        pushed > 0 && deleted > 0,
        "both orders occur: {pushed} pushes won, {deleted} deletes won"
    );
}

/// Deleting a repository while, through another handle, a repository user's permissions are
/// rewritten to name it, an event is recorded in it and a blob is linked into it: the delete
/// succeeds, each of the others either lands first (and is removed with the repository) or finds
/// no repository; none fails otherwise (a deadlock, a violated key) or leaves a row behind.
pub async fn deleting_a_repository_races_writes_that_refer_to_it(h: &Harness) {
    setup(&*h.store, 1, "stays", None).await;
    blobs(&*h.store, &["layer"], 10).await;
    let other = (h.reopen)().await;
    other.repository(&repo("stays")).await.expect("warm up");
    let user = NewRepositoryUser {
        account: AccountId(1),
        name: "1-ci".into(),
        secret_hash: vec![1; 32],
        description: "CI".into(),
        expires: None,
        permissions: vec![(repo("stays"), Permission::Pull)],
    };
    h.store
        .create_repository_user(user, "admin", T0)
        .await
        .expect("user");
    let refused = |result: &Result<(), Error>| {
        matches!(
            result,
            Ok(())
                | Err(Error::NotFound {
                    entity: Entity::Repository,
                    ..
                })
        )
    };
    for round in 0..12u64 {
        let repository = format!("gone{round}");
        setup(&*h.store, 1, &repository, None).await;
        // The user already has a permission on it: the rewrite deletes that row and inserts it
        // again, the order in which a lock taken late would deadlock with the delete.
        let update = |permissions| RepositoryUserUpdate {
            permissions: Some(permissions),
            ..Default::default()
        };
        h.store
            .update_repository_user(
                "1-ci",
                update(vec![
                    (repo("stays"), Permission::Pull),
                    (repo(&repository), Permission::Pull),
                ]),
                "admin",
                T0,
            )
            .await
            .expect("permission");
        let (deleter, writer) = if round % 2 == 0 {
            (h.store.clone(), other.clone())
        } else {
            (other.clone(), h.store.clone())
        };
        let delay = Duration::from_micros(400 * (round % 3));
        let target = repo(&repository);
        let deleted = tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            deleter.delete_repository(&target, "admin", T0).await
        });
        let (w1, w2, w3) = (writer.clone(), writer.clone(), writer);
        let target = repo(&repository);
        let permissions = update(vec![
            (repo(&repository), Permission::PushPull),
            (repo("stays"), Permission::PushPull),
        ]);
        let updated = tokio::spawn(async move {
            w1.update_repository_user("1-ci", permissions, "admin", T0)
                .await
                .map(|_| ())
        });
        let changed = target.clone();
        let recorded = tokio::spawn(async move {
            w2.update_repository(&changed, RepositoryUpdate::default(), "alice", T0)
                .await
                .map(|_| ())
        });
        let linked = tokio::spawn(async move { w3.link_blob(&target, &digest("layer")).await });
        deleted
            .await
            .expect("task")
            .unwrap_or_else(|e| panic!("round {round}: delete: {e:?}"));
        for (what, result) in [
            ("update", updated.await.expect("task")),
            ("event", recorded.await.expect("task")),
            ("link", linked.await.expect("task")),
        ] {
            assert!(refused(&result), "round {round}: {what}: {result:?}");
        }
        let s = &*h.store;
        assert_eq!(s.repository(&repo(&repository)).await.expect("get"), None);
        assert_eq!(
            s.history(&repo(&repository), Page::first(10))
                .await
                .expect("history")
                .total,
            0,
            "round {round}"
        );
        let permissions = s
            .repository_user("1-ci")
            .await
            .expect("user")
            .expect("exists")
            .permissions;
        assert_eq!(permissions.len(), 1, "round {round}: {permissions:?}");
        assert_eq!(permissions[0].0, repo("stays"), "round {round}");
    }
    // Nothing that referred to the deleted repositories is left to block deleting the last one.
    h.store
        .delete_repository(&repo("stays"), "admin", T0)
        .await
        .expect("delete the last repository");
}

/// Deleting a repository user removes it with its permissions; its name is free again, and the
/// repositories it could use can then be deleted.
pub async fn repository_users_are_deleted(h: &Harness) {
    let s = &*h.store;
    setup(s, 10042, "alpha", None).await;
    let new = NewRepositoryUser {
        account: AccountId(10042),
        name: "10042-ci".into(),
        secret_hash: vec![9; 32],
        description: "CI".into(),
        expires: None,
        permissions: vec![(repo("alpha"), Permission::PushPull)],
    };
    s.create_repository_user(new.clone(), "admin", T0)
        .await
        .expect("create");
    s.delete_repository_user("10042-ci", "admin", T0)
        .await
        .expect("delete");
    assert_eq!(s.repository_user("10042-ci").await.expect("get"), None);
    assert_eq!(
        s.list_repository_users(AccountId(10042), Page::first(10))
            .await
            .expect("list")
            .total,
        0
    );
    assert!(matches!(
        s.delete_repository_user("10042-ci", "admin", T0).await,
        Err(Error::NotFound {
            entity: Entity::RepositoryUser,
            ..
        })
    ));
    let again = s
        .create_repository_user(
            NewRepositoryUser {
                permissions: Vec::new(),
                ..new
            },
            "admin",
            T0,
        )
        .await
        .expect("the name is free again");
    assert!(again.permissions.is_empty(), "no permission comes back");
    s.delete_repository(&repo("alpha"), "admin", T0)
        .await
        .expect("delete the repository");
    assert!(
        s.repository_user("10042-ci")
            .await
            .expect("get")
            .expect("kept")
            .permissions
            .is_empty()
    );
}
