//! Cases about upload sessions: their repository's identity, the cap on open sessions, the
//! bytes they hold, and what a repository's deletion does to them.

use berth_model::UploadId;

use super::*;
use crate::{Entity, Error};

fn session(id: u8, repository: &Repository, image: &str) -> UploadSession {
    UploadSession {
        id: UploadId::from_random([id; 16]),
        repository: repository.id,
        name: name(&format!("{}/{image}", repository.name)),
        received: 0,
        short_chunk: false,
        started: at(0),
        last_activity: at(0),
    }
}

/// Upload sessions: created once, touched (time and bytes), found idle, deleted idempotently.
pub async fn upload_sessions(h: &Harness) {
    let s = &*h.store;
    let team = setup(s, 10042, "team", None).await;
    let session = session(1, &team, "app");
    let id = session.id;
    s.create_upload(session.clone(), 10).await.expect("create");
    assert!(matches!(
        s.create_upload(session.clone(), 10).await,
        Err(Error::AlreadyExists {
            entity: Entity::Upload,
            ..
        })
    ));
    assert_eq!(s.upload(&id).await.expect("get"), Some(session));
    s.touch_upload(&id, 4096, false, at(30))
        .await
        .expect("touch");
    // Activity never goes back in time; the bytes are what the session holds now.
    s.touch_upload(&id, 5000, true, at(10))
        .await
        .expect("touch");
    let stored = s.upload(&id).await.expect("get").expect("exists");
    assert_eq!(
        (stored.received, stored.short_chunk, stored.last_activity),
        (5000, true, at(30))
    );
    assert!(s.idle_uploads(at(20)).await.expect("idle").is_empty());
    let idle = s.idle_uploads(at(40)).await.expect("idle");
    assert_eq!(
        idle.iter()
            .map(|u| (u.id, u.last_activity))
            .collect::<Vec<_>>(),
        [(id, at(30))]
    );
    s.delete_upload(&id).await.expect("delete");
    s.delete_upload(&id).await.expect("delete again");
    assert_eq!(s.upload(&id).await.expect("get"), None);
    s.touch_upload(&id, 1, false, at(50))
        .await
        .expect("touching a session that is gone changes nothing");
    assert_eq!(s.upload(&id).await.expect("get"), None);
}

/// A repository holds at most `max_open` sessions; the bytes of open sessions are summed per
/// repository; other repositories are not affected.
pub async fn upload_sessions_are_capped_and_counted(h: &Harness) {
    let s = &*h.store;
    let open_before = s.open_uploads().await.expect("open uploads");
    let team = setup(s, 10042, "team", None).await;
    let other = setup(s, 10042, "other", None).await;
    for i in 0..3 {
        s.create_upload(session(i, &team, "app"), 3)
            .await
            .expect("under the cap");
    }
    let err = s
        .create_upload(session(9, &team, "app"), 3)
        .await
        .expect_err("over the cap");
    assert!(
        matches!(&err, Error::TooManyUploads { repository, limit: 3 } if *repository == team.name),
        "{err:?}"
    );
    assert_eq!(
        s.upload(&session(9, &team, "app").id).await.expect("get"),
        None
    );
    s.create_upload(session(10, &other, "app"), 3)
        .await
        .expect("another repository has its own cap");
    assert_eq!(
        s.open_uploads().await.expect("open uploads"),
        open_before + 4,
        "every repository's sessions count"
    );

    s.touch_upload(&session(0, &team, "app").id, 100, false, at(1))
        .await
        .expect("touch");
    s.touch_upload(&session(1, &team, "app").id, 23, false, at(1))
        .await
        .expect("touch");
    s.touch_upload(&session(10, &other, "app").id, 7, false, at(1))
        .await
        .expect("touch");
    assert_eq!(
        s.upload_usage(team.id).await.expect("usage"),
        UploadUsage {
            sessions: 3,
            bytes: 123
        }
    );
    s.delete_upload(&session(0, &team, "app").id)
        .await
        .expect("delete");
    assert_eq!(
        s.upload_usage(team.id).await.expect("usage"),
        UploadUsage {
            sessions: 2,
            bytes: 23
        }
    );
    s.create_upload(session(9, &team, "app"), 3)
        .await
        .expect("a slot is free again");
    assert_eq!(
        s.upload_usage(RepositoryId(i64::MAX)).await.expect("usage"),
        UploadUsage::default()
    );
}

/// Concurrent starts from two handles cannot pass the cap together.
pub async fn concurrent_upload_starts_cannot_pass_the_cap(h: &Harness) {
    let team = setup(&*h.store, 10042, "team", None).await;
    let other = (h.reopen)().await;
    let mut tasks = Vec::new();
    for i in 0..16u8 {
        let store = if i % 2 == 0 {
            h.store.clone()
        } else {
            other.clone()
        };
        let session = session(i, &team, "app");
        tasks.push(tokio::spawn(async move {
            store.create_upload(session, 5).await
        }));
    }
    let mut created = 0;
    for task in tasks {
        match task.await.expect("task") {
            Ok(()) => created += 1,
            Err(Error::TooManyUploads { limit: 5, .. }) => {}
            Err(e) => panic!("unexpected: {e:?}"),
        }
    }
    assert_eq!(created, 5);
    assert_eq!(
        h.store.upload_usage(team.id).await.expect("usage").sessions,
        5
    );
}

/// Deleting a repository removes its sessions and names them; a repository created again under
/// the same name is another one: the old sessions' repository id no longer exists, so no session
/// can be created for it.
pub async fn deleting_a_repository_removes_its_upload_sessions(h: &Harness) {
    let s = &*h.store;
    let team = setup(s, 10042, "team", None).await;
    let stays = setup(s, 10042, "stays", None).await;
    let (a, b, c) = (
        session(1, &team, "app"),
        session(2, &team, "lib/x"),
        session(3, &stays, "app"),
    );
    for one in [&a, &b, &c] {
        s.create_upload(one.clone(), 10).await.expect("create");
    }
    let mut expected = vec![a.id, b.id];
    expected.sort();
    let removed = s
        .delete_repository(&team.name, "admin", at(1))
        .await
        .expect("delete");
    assert_eq!(removed, expected);
    assert_eq!(s.upload(&a.id).await.expect("get"), None);
    assert_eq!(s.upload(&b.id).await.expect("get"), None);
    assert_eq!(s.upload(&c.id).await.expect("get"), Some(c));

    let again = setup(s, 10042, "team", None).await;
    assert_ne!(again.id, team.id, "a new repository has a new identity");
    assert!(matches!(
        s.create_upload(session(4, &team, "app"), 10).await,
        Err(Error::NotFound {
            entity: Entity::Repository,
            ..
        })
    ));
    s.create_upload(session(4, &again, "app"), 10)
        .await
        .expect("the new repository takes sessions");
}

/// The repositories of one account a blob is readable through, by name, bounded; another
/// account's are never listed.
pub async fn linked_repositories_are_listed_per_account(h: &Harness) {
    let s = &*h.store;
    for name in ["zeta", "alpha", "mid", "unlinked"] {
        setup(s, 10042, name, None).await;
    }
    setup(s, 7, "foreign", None).await;
    let layer = digest("layer");
    s.record_blob(&layer, 10, at(0)).await.expect("record");
    for name in ["zeta", "alpha", "mid", "foreign"] {
        s.link_blob(&repo(name), &layer).await.expect("link");
    }
    let found = s
        .linked_repositories(AccountId(10042), &layer, 10)
        .await
        .expect("list");
    assert_eq!(found, [repo("alpha"), repo("mid"), repo("zeta")]);
    let found = s
        .linked_repositories(AccountId(10042), &layer, 2)
        .await
        .expect("list");
    assert_eq!(found, [repo("alpha"), repo("mid")]);
    assert_eq!(
        s.linked_repositories(AccountId(7), &layer, 10)
            .await
            .expect("list"),
        [repo("foreign")]
    );
    assert!(
        s.linked_repositories(AccountId(10042), &digest("other"), 10)
            .await
            .expect("list")
            .is_empty()
    );
}
