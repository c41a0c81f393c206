//! Cases about pushes, usage and quota, tags, artifacts, deletes, catalog and referrers.

use berth_model::Digest;

use super::*;
use crate::{Entity, Error};

/// A push stores the artifact, the image, the tag, the usage and a history event.
pub async fn push_records_everything(h: &Harness) {
    let s = &*h.store;
    setup(s, 1, "team", None).await;
    let refs = blobs(s, &["config", "layer1", "layer2"], 1000).await;
    let mut p = push("team/backend/api", "m1", refs, Some("v1"), at(10));
    p.annotations
        .insert("org.opencontainers.image.title".into(), "api".into());
    let outcome = s.record_push(p).await.expect("push");
    assert!(outcome.created);
    assert_eq!((outcome.added, outcome.used), (3100, 3100));
    assert_eq!(outcome.artifact.tags, vec![tag("v1")]);
    assert_eq!(
        outcome
            .artifact
            .annotations
            .get("org.opencontainers.image.title")
            .map(String::as_str),
        Some("api")
    );

    let image = s
        .image(&name("team/backend/api"))
        .await
        .expect("image")
        .expect("exists");
    assert_eq!(
        (image.artifact_count, image.pull_count, image.last_push),
        (1, 0, Some(at(10)))
    );
    let by_tag = s
        .resolve_tag(&name("team/backend/api"), &tag("v1"))
        .await
        .expect("resolve")
        .expect("tagged");
    assert_eq!(by_tag.digest, digest("m1"));
    let by_digest = s
        .artifact(&name("team/backend/api"), &digest("m1"))
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(by_digest, by_tag);
    assert_eq!((by_digest.manifest_size, by_digest.total_size), (100, 3100));
    assert_eq!(used(s, "team").await, 3100);
    let history = s
        .history(&repo("team"), Page::first(10))
        .await
        .expect("history");
    assert_eq!(history.items[0].action, HistoryAction::Push);
    assert_eq!(
        history.items[0].target.as_deref(),
        Some(digest("m1").as_str())
    );
    assert_eq!(
        s.artifact(&name("team/other"), &digest("m1"))
            .await
            .expect("get"),
        None
    );
}

/// Unknown blobs, unknown children and unknown repositories are refused, and record nothing.
pub async fn push_requires_known_blobs_and_children(h: &Harness) {
    let s = &*h.store;
    setup(s, 1, "team", None).await;
    let mut refs = blobs(s, &["known"], 10).await;
    refs.push(BlobRef {
        digest: digest("unknown"),
        size: 10,
    });
    let err = s
        .record_push(push("team/app", "m", refs, Some("x"), T0))
        .await
        .expect_err("unknown blob");
    assert!(
        matches!(&err, Error::BlobUnknown(d) if *d == digest("unknown")),
        "{err:?}"
    );
    let mut index = push("team/app", "index", Vec::new(), None, T0);
    index.children = vec![digest("child")];
    assert!(matches!(
        s.record_push(index.clone()).await,
        Err(Error::ManifestUnknown(_))
    ));
    assert!(matches!(
        s.record_push(push("nope/app", "m", Vec::new(), None, T0))
            .await,
        Err(Error::NotFound {
            entity: Entity::Repository,
            ..
        })
    ));
    assert_eq!(s.image(&name("team/app")).await.expect("image"), None);
    assert_eq!(used(s, "team").await, 0);

    let child = blobs(s, &["child-config"], 10).await;
    s.record_push(push("team/app", "child", child, None, T0))
        .await
        .expect("child");
    let outcome = s.record_push(index).await.expect("index after its child");
    assert_eq!(
        outcome.added, 100,
        "an index adds its own manifest; its children count themselves"
    );
}

/// Re-pushing the same manifest adds nothing, and can move a tag to it.
pub async fn repush_changes_no_usage_and_moves_the_tag(h: &Harness) {
    let s = &*h.store;
    setup(s, 1, "team", None).await;
    let a = blobs(s, &["a"], 500).await;
    let b = blobs(s, &["b"], 700).await;
    s.record_push(push("team/app", "ma", a.clone(), Some("latest"), at(1)))
        .await
        .expect("push a");
    s.record_push(push("team/app", "mb", b, Some("latest"), at(2)))
        .await
        .expect("push b moves latest");
    assert_eq!(
        s.resolve_tag(&name("team/app"), &tag("latest"))
            .await
            .expect("resolve")
            .expect("tag")
            .digest,
        digest("mb")
    );
    let before = used(s, "team").await;
    let again = s
        .record_push(push("team/app", "ma", a, Some("latest"), at(3)))
        .await
        .expect("re-push a");
    assert!(!again.created);
    assert_eq!((again.added, used(s, "team").await), (0, before));
    assert_eq!(
        s.resolve_tag(&name("team/app"), &tag("latest"))
            .await
            .expect("resolve")
            .expect("tag")
            .digest,
        digest("ma")
    );
    assert_eq!(
        s.image(&name("team/app"))
            .await
            .expect("image")
            .expect("exists")
            .artifact_count,
        2
    );
}

/// A digest referenced by two artifacts (two images) of one repository counts once.
pub async fn shared_digests_count_once(h: &Harness) {
    let s = &*h.store;
    setup(s, 1, "team", None).await;
    setup(s, 1, "elsewhere", None).await;
    let base = blobs(s, &["base"], 10_000).await;
    let extra = blobs(s, &["extra"], 1_000).await;
    s.record_push(push("team/one", "m1", base.clone(), None, T0))
        .await
        .expect("one");
    let two = s
        .record_push(push(
            "team/two",
            "m2",
            [base.clone(), extra].concat(),
            None,
            T0,
        ))
        .await
        .expect("two");
    assert_eq!(
        two.added,
        1_000 + 100,
        "the shared base layer is not counted again"
    );
    assert_eq!(used(s, "team").await, 10_000 + 100 + 1_000 + 100);
    let other = s
        .record_push(push("elsewhere/app", "m1", base, None, T0))
        .await
        .expect("other repository");
    assert_eq!(other.added, 10_100, "usage is per repository");
    let deleted = s
        .delete_artifact(&name("team/one"), &digest("m1"), "admin", at(1))
        .await
        .expect("delete");
    assert_eq!(
        deleted.freed, 100,
        "the base layer is still used by team/two"
    );
    assert_eq!(used(s, "team").await, 10_000 + 1_000 + 100);
}

/// A digest listed twice in one push (with two sizes) is one reference, at the smaller size,
/// and its deletion frees exactly what it added.
pub async fn a_digest_listed_twice_counts_once(h: &Harness) {
    let s = &*h.store;
    setup(s, 1, "team", None).await;
    let mut refs = blobs(s, &["twice"], 1_000).await;
    refs.push(BlobRef {
        digest: digest("twice"),
        size: 5_000,
    });
    let outcome = s
        .record_push(push("team/app", "m", refs, None, T0))
        .await
        .expect("push");
    assert_eq!(outcome.added, 1_100);
    let deleted = s
        .delete_artifact(&name("team/app"), &digest("m"), "admin", T0)
        .await
        .expect("delete");
    assert_eq!(deleted.freed, 1_100);
    assert_eq!(used(s, "team").await, 0);
}

/// A push past the quota is refused with the numbers, and nothing changes.
pub async fn quota_refuses_and_records_nothing(h: &Harness) {
    let s = &*h.store;
    setup(s, 1, "team", Some(5_000)).await;
    let small = blobs(s, &["small"], 1_000).await;
    s.record_push(push("team/app", "m1", small, Some("v1"), T0))
        .await
        .expect("fits");
    let big = blobs(s, &["big"], 4_000).await;
    match s
        .record_push(push("team/app", "m2", big, Some("v1"), at(1)))
        .await
    {
        Err(Error::QuotaExceeded { used, delta, limit }) => {
            assert_eq!((used, delta, limit), (1_100, 4_100, 5_000))
        }
        other => panic!("expected QuotaExceeded, got {other:?}"),
    }
    assert_eq!(used(s, "team").await, 1_100);
    assert_eq!(
        s.resolve_tag(&name("team/app"), &tag("v1"))
            .await
            .expect("resolve")
            .expect("tag")
            .digest,
        digest("m1")
    );
    assert_eq!(
        s.artifact(&name("team/app"), &digest("m2"))
            .await
            .expect("get"),
        None
    );
    // Lowering the limit below usage does not block pushes that add nothing.
    s.update_repository(
        &repo("team"),
        RepositoryUpdate {
            quota: Some(Some(10)),
            ..Default::default()
        },
        "admin",
        T0,
    )
    .await
    .expect("lower");
    let small = blobs(s, &["small"], 1_000).await;
    s.record_push(push("team/app", "m1", small, Some("again"), at(2)))
        .await
        .expect("re-push adds nothing");
}

/// Two pushes that each fit but together exceed the quota: exactly one succeeds, through two
/// independent handles at once.
pub async fn concurrent_pushes_cannot_both_exceed_the_quota(h: &Harness) {
    setup(&*h.store, 1, "team", Some(10_000)).await;
    for round in 0..8 {
        let (a, b) = (h.store.clone(), (h.reopen)().await);
        let ra = blobs(&*a, &[&format!("a{round}")], 6_000).await;
        let rb = blobs(&*a, &[&format!("b{round}")], 6_000).await;
        let pa = push("team/app", &format!("ma{round}"), ra, None, T0);
        let pb = push("team/app", &format!("mb{round}"), rb, None, T0);
        let (x, y) = tokio::join!(
            tokio::spawn(async move { a.record_push(pa).await }),
            tokio::spawn(async move { b.record_push(pb).await })
        );
        let results = [x.expect("task"), y.expect("task")];
        let ok = results.iter().filter(|r| r.is_ok()).count();
        let refused = results
            .iter()
            .filter(|r| matches!(r, Err(Error::QuotaExceeded { .. })))
            .count();
        assert_eq!((ok, refused), (1, 1), "round {round}: {results:?}");
        assert_eq!(used(&*h.store, "team").await, 6_100);
        let winner = results
            .iter()
            .find_map(|r| r.as_ref().ok())
            .expect("one won");
        h.store
            .delete_artifact(&name("team/app"), &winner.artifact.digest, "admin", T0)
            .await
            .expect("reset");
        assert_eq!(used(&*h.store, "team").await, 0);
    }
}

/// Deleting an artifact removes its tags and lowers usage; deleting a tag keeps the artifact.
pub async fn deletes_lower_usage_at_once(h: &Harness) {
    let s = &*h.store;
    setup(s, 1, "team", None).await;
    let refs = blobs(s, &["l1", "l2"], 2_000).await;
    s.record_push(push("team/app", "m", refs, Some("v1"), T0))
        .await
        .expect("push");
    let p = push("team/app", "m", Vec::new(), Some("v2"), T0);
    assert!(
        matches!(s.record_push(p).await, Ok(o) if !o.created),
        "tagging again by re-push"
    );
    let removed = s
        .delete_tag(&name("team/app"), &tag("v2"), "admin", at(1))
        .await
        .expect("delete tag");
    assert_eq!((removed.freed, removed.tags.clone()), (0, vec![tag("v2")]));
    assert!(
        s.artifact(&name("team/app"), &digest("m"))
            .await
            .expect("get")
            .is_some()
    );
    assert!(matches!(
        s.delete_tag(&name("team/app"), &tag("v2"), "admin", at(1))
            .await,
        Err(Error::NotFound {
            entity: Entity::Tag,
            ..
        })
    ));
    let deleted = s
        .delete_artifact(&name("team/app"), &digest("m"), "admin", at(2))
        .await
        .expect("delete");
    assert_eq!((deleted.freed, deleted.tags), (4_100, vec![tag("v1")]));
    assert_eq!(used(s, "team").await, 0);
    assert_eq!(
        s.resolve_tag(&name("team/app"), &tag("v1"))
            .await
            .expect("resolve"),
        None
    );
    assert_eq!(
        s.image(&name("team/app")).await.expect("image"),
        None,
        "an image goes with its last artifact"
    );
    assert!(matches!(
        s.delete_artifact(&name("team/app"), &digest("m"), "admin", at(3))
            .await,
        Err(Error::NotFound {
            entity: Entity::Artifact,
            ..
        })
    ));
}

/// Tags are sorted by name; `n` and `last` page through them.
pub async fn tags_are_sorted_with_n_and_last(h: &Harness) {
    let s = &*h.store;
    setup(s, 1, "team", None).await;
    let names = ["v10", "latest", "v2", "A", "v1", "_x", "v1.0"];
    for t in names {
        s.record_push(push("team/app", "m", Vec::new(), Some(t), T0))
            .await
            .expect("tag");
    }
    let mut sorted: Vec<Tag> = names.iter().map(|t| tag(t)).collect();
    sorted.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    assert_eq!(
        s.list_tags(&name("team/app"), 100, None)
            .await
            .expect("list"),
        sorted
    );
    assert_eq!(
        s.list_tags(&name("team/app"), 2, None).await.expect("list"),
        sorted[..2]
    );
    assert_eq!(
        s.list_tags(&name("team/app"), 3, Some(&sorted[1]))
            .await
            .expect("list"),
        sorted[2..5]
    );
    assert_eq!(
        s.list_tags(&name("team/app"), 3, Some(&sorted[6]))
            .await
            .expect("list"),
        Vec::<Tag>::new()
    );
    assert_eq!(
        s.list_tags(&name("team/none"), 3, None)
            .await
            .expect("list"),
        Vec::<Tag>::new()
    );
}

/// The catalog shows what the scope allows, sorted, with `n` and `last`.
pub async fn catalog_respects_scope_and_paging(h: &Harness) {
    let s = &*h.store;
    let private = setup(s, 1, "private", None).await;
    setup(s, 2, "public", None).await;
    setup(s, 3, "hidden", None).await;
    s.update_repository(
        &repo("public"),
        RepositoryUpdate {
            access: Some(Access::Public),
            ..Default::default()
        },
        "admin",
        T0,
    )
    .await
    .expect("public");
    for n in ["private/b", "private/a/x", "public/app", "hidden/secret"] {
        s.record_push(push(n, "m", Vec::new(), None, T0))
            .await
            .expect("push");
    }
    let all: Vec<String> = s
        .catalog(&CatalogScope::All, 100, None)
        .await
        .expect("all")
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        all,
        ["hidden/secret", "private/a/x", "private/b", "public/app"]
    );
    let visible = CatalogScope::Visible(vec![private.id]);
    let seen: Vec<String> = s
        .catalog(&visible, 100, None)
        .await
        .expect("visible")
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(seen, ["private/a/x", "private/b", "public/app"]);
    let page: Vec<String> = s
        .catalog(&visible, 1, Some(&name("private/a/x")))
        .await
        .expect("page")
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(page, ["private/b"]);
    let anonymous: Vec<String> = s
        .catalog(&CatalogScope::Visible(Vec::new()), 100, None)
        .await
        .expect("anon")
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(anonymous, ["public/app"]);
}

/// Referrers are the artifacts of the image whose subject is the digest, filterable by type.
pub async fn referrers_filter_by_artifact_type(h: &Harness) {
    let s = &*h.store;
    setup(s, 1, "team", None).await;
    s.record_push(push("team/app", "image", Vec::new(), Some("v1"), T0))
        .await
        .expect("image");
    for (m, kind) in [
        ("sig", "application/vnd.cncf.notary.signature"),
        ("sbom", "application/spdx+json"),
        ("sig2", "application/vnd.cncf.notary.signature"),
    ] {
        let mut p = push("team/app", m, Vec::new(), None, T0);
        p.subject = Some(digest("image"));
        p.artifact_type = Some(kind.to_owned());
        s.record_push(p).await.expect("referrer");
    }
    let all = s
        .referrers(&name("team/app"), &digest("image"), None)
        .await
        .expect("all");
    assert_eq!(all.len(), 3);
    assert!(all.iter().all(|a| a.subject == Some(digest("image"))));
    let sigs = s
        .referrers(
            &name("team/app"),
            &digest("image"),
            Some("application/vnd.cncf.notary.signature"),
        )
        .await
        .expect("sigs");
    let mut got: Vec<Digest> = sigs.iter().map(|a| a.digest.clone()).collect();
    got.sort();
    let mut want = vec![digest("sig"), digest("sig2")];
    want.sort();
    assert_eq!(got, want);
    assert!(
        s.referrers(&name("team/app"), &digest("sig"), None)
            .await
            .expect("none")
            .is_empty()
    );
    assert!(
        s.referrers(&name("team/other"), &digest("image"), None)
            .await
            .expect("none")
            .is_empty()
    );
}

/// Artifacts list most recently pushed first, paged, with their tags.
pub async fn artifacts_list_newest_first(h: &Harness) {
    let s = &*h.store;
    setup(s, 1, "team", None).await;
    for (i, m) in ["m0", "m1", "m2", "m3", "m4"].iter().enumerate() {
        s.record_push(push(
            "team/app",
            m,
            Vec::new(),
            Some(&format!("t{i}")),
            at(i as i64),
        ))
        .await
        .expect("push");
    }
    let page = s
        .list_artifacts(&name("team/app"), Page { page: 1, size: 2 })
        .await
        .expect("list");
    assert_eq!(page.total, 5);
    assert_eq!(
        page.items
            .iter()
            .map(|a| a.digest.clone())
            .collect::<Vec<_>>(),
        [digest("m4"), digest("m3")]
    );
    assert_eq!(page.items[0].tags, vec![tag("t4")]);
    let last = s
        .list_artifacts(&name("team/app"), Page { page: 3, size: 2 })
        .await
        .expect("list");
    assert_eq!(
        last.items
            .iter()
            .map(|a| a.digest.clone())
            .collect::<Vec<_>>(),
        [digest("m0")]
    );
    let images = s
        .list_images(&repo("team"), None, Page::first(10))
        .await
        .expect("images");
    assert_eq!((images.total, images.items[0].artifact_count), (1, 5));
}
