//! Cases about deleting images, and referrers deleted with their subject.

use super::*;
use crate::{Entity, Error};

fn referrer(image: &str, manifest: &str, subject: &str, refs: Vec<BlobRef>) -> Push {
    Push {
        subject: Some(digest(subject)),
        artifact_type: Some("application/vnd.example.signature".to_owned()),
        ..push(image, manifest, refs, None, at(1))
    }
}

/// Deleting an image deletes every artifact and tag of it and the image itself; usage drops at
/// once; other images stay.
pub async fn deleting_an_image_deletes_its_artifacts_and_tags(h: &Harness) {
    let s = &*h.store;
    setup(s, 1, "team", None).await;
    let shared = blobs(s, &["shared"], 1_000).await;
    let own = blobs(s, &["own"], 500).await;
    let mut both = shared.clone();
    both.extend(own.clone());
    s.record_push(push("team/app", "m1", both, Some("v1"), T0))
        .await
        .expect("push");
    s.record_push(push("team/app", "m2", own.clone(), Some("v2"), T0))
        .await
        .expect("push");
    s.record_push(push("team/other", "m3", shared, Some("v1"), T0))
        .await
        .expect("push");
    let before = s
        .repository(&repo("team"))
        .await
        .expect("get")
        .expect("exists");
    // Each artifact also counts its own manifest (100 bytes).
    assert_eq!((before.used, before.image_count), (1_800, 2));

    let deleted = s
        .delete_image(&name("team/app"), "admin", at(1))
        .await
        .expect("delete image");
    let mut artifacts = deleted.artifacts.clone();
    artifacts.sort();
    let mut expected = vec![digest("m1"), digest("m2")];
    expected.sort();
    assert_eq!(artifacts, expected);
    let mut tags = deleted.tags.clone();
    tags.sort();
    assert_eq!(tags, [tag("v1"), tag("v2")]);
    assert_eq!(
        deleted.freed, 700,
        "its manifests and its own blob; the shared blob is still used by team/other"
    );
    let after = s
        .repository(&repo("team"))
        .await
        .expect("get")
        .expect("exists");
    assert_eq!((after.used, after.image_count), (1_100, 1));
    assert_eq!(s.image(&name("team/app")).await.expect("image"), None);
    assert!(
        s.list_tags(&name("team/app"), 10, None)
            .await
            .expect("tags")
            .is_empty()
    );
    assert!(s.image(&name("team/other")).await.expect("image").is_some());
    assert_eq!(
        s.history(&repo("team"), Page::first(1))
            .await
            .expect("history")
            .items[0]
            .action,
        HistoryAction::DeleteImage
    );
    assert!(matches!(
        s.delete_image(&name("team/app"), "admin", at(2)).await,
        Err(Error::NotFound {
            entity: Entity::Image,
            ..
        })
    ));
    // Deleting the last image lets the repository go.
    s.delete_image(&name("team/other"), "admin", at(3))
        .await
        .expect("delete image");
    s.delete_repository(&repo("team"), "admin", at(4))
        .await
        .expect("an empty repository is deleted");
}

/// Deleting an artifact deletes its referrers, and theirs, when the repository says so (the
/// default); otherwise they stay.
pub async fn referrers_go_with_their_subject(h: &Harness) {
    let s = &*h.store;
    setup(s, 1, "team", None).await;
    let layer = blobs(s, &["layer"], 1_000).await;
    let sig = blobs(s, &["sig-blob", "sbom-blob", "attest-blob"], 10).await;
    s.record_push(push("team/app", "subject", layer.clone(), Some("v1"), T0))
        .await
        .expect("subject");
    s.record_push(referrer(
        "team/app",
        "signature",
        "subject",
        vec![sig[0].clone()],
    ))
    .await
    .expect("signature");
    s.record_push(referrer(
        "team/app",
        "sbom",
        "subject",
        vec![sig[1].clone()],
    ))
    .await
    .expect("sbom");
    s.record_push(referrer(
        "team/app",
        "sig-of-sbom",
        "sbom",
        vec![sig[2].clone()],
    ))
    .await
    .expect("a referrer of a referrer");
    s.record_push(push("team/app", "unrelated", layer, Some("v2"), T0))
        .await
        .expect("unrelated");
    let deleted = s
        .delete_artifact(&name("team/app"), &digest("subject"), "admin", at(2))
        .await
        .expect("delete");
    assert_eq!(
        deleted.artifacts[0],
        digest("subject"),
        "the one asked for first"
    );
    let mut rest = deleted.artifacts[1..].to_vec();
    rest.sort();
    let mut expected = vec![digest("signature"), digest("sbom"), digest("sig-of-sbom")];
    expected.sort();
    assert_eq!(rest, expected);
    assert_eq!(
        deleted.freed, 430,
        "four manifests and the referrers' blobs; the layer is still used"
    );
    for gone in ["signature", "sbom", "sig-of-sbom"] {
        assert_eq!(
            s.artifact(&name("team/app"), &digest(gone))
                .await
                .expect("artifact"),
            None,
            "{gone}"
        );
    }
    assert!(
        s.referrers(&name("team/app"), &digest("subject"), None)
            .await
            .expect("referrers")
            .is_empty()
    );
    assert_eq!(
        s.image(&name("team/app"))
            .await
            .expect("image")
            .expect("unrelated keeps it")
            .artifact_count,
        1
    );

    // A repository that keeps its referrers.
    setup(s, 1, "keeps", None).await;
    s.update_repository(
        &repo("keeps"),
        RepositoryUpdate {
            delete_orphan_referrers: Some(false),
            ..Default::default()
        },
        "admin",
        at(3),
    )
    .await
    .expect("update");
    let layer = blobs(s, &["keeps-layer"], 100).await;
    s.record_push(push("keeps/app", "subject", layer, Some("v1"), T0))
        .await
        .expect("subject");
    s.record_push(referrer("keeps/app", "signature", "subject", Vec::new()))
        .await
        .expect("signature");
    let deleted = s
        .delete_artifact(&name("keeps/app"), &digest("subject"), "admin", at(4))
        .await
        .expect("delete");
    assert_eq!(deleted.artifacts, [digest("subject")]);
    assert!(
        s.artifact(&name("keeps/app"), &digest("signature"))
            .await
            .expect("artifact")
            .is_some(),
        "kept"
    );
}
