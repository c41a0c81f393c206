//! The property test: usage stays exact under random operations.

use std::collections::{BTreeMap, BTreeSet};

use berth_model::Digest;

use super::*;
use crate::Error;

/// One step of the property test.
#[derive(Debug, Clone)]
enum Op {
    Push {
        image: usize,
        blobs: BTreeSet<usize>,
        salt: u8,
        tag: Option<usize>,
    },
    DeleteArtifact {
        image: usize,
        pick: usize,
    },
    DeleteTag {
        image: usize,
        tag: usize,
    },
}

const BLOB_SIZES: [u64; 6] = [1_000, 2_000, 3_000, 5_000, 8_000, 13_000];
const IMAGES: [&str; 3] = ["app", "app/sub", "tools"];

fn op() -> impl proptest::strategy::Strategy<Value = Op> {
    use proptest::prelude::*;
    prop_oneof![
        4 => (0..IMAGES.len(), proptest::collection::btree_set(0..BLOB_SIZES.len(), 0..4), 0u8..3, proptest::option::of(0usize..3))
            .prop_map(|(image, blobs, salt, tag)| Op::Push { image, blobs, salt, tag }),
        2 => (0..IMAGES.len(), any::<usize>()).prop_map(|(image, pick)| Op::DeleteArtifact { image, pick }),
        1 => (0..IMAGES.len(), 0usize..3).prop_map(|(image, tag)| Op::DeleteTag { image, tag }),
    ]
}

/// The model: per image, artifacts (manifest name → blob indexes) and tags, and the images that
/// hold an artifact (an image goes with its last artifact).
#[derive(Default)]
struct Model {
    artifacts: BTreeMap<(usize, String), BTreeSet<usize>>,
    tags: BTreeMap<(usize, usize), String>,
    images: BTreeSet<usize>,
}

impl Model {
    /// Usage recomputed from scratch: distinct blobs and manifests of every artifact.
    fn usage(&self) -> u64 {
        let mut digests: BTreeMap<String, u64> = BTreeMap::new();
        for ((_, manifest), blobs) in &self.artifacts {
            digests.insert(manifest.clone(), 100);
            for b in blobs {
                digests.insert(format!("blob{b}"), BLOB_SIZES[*b]);
            }
        }
        digests.values().sum()
    }
}

/// After any random sequence of pushes, tag moves and deletes (under a random quota), the
/// recorded usage equals the usage recomputed from scratch, the image count is the model's, and
/// tags resolve as the model says.
pub async fn usage_matches_recomputation_after_random_operations(h: &Harness) {
    use proptest::strategy::{Strategy, ValueTree};
    use proptest::test_runner::{Config, TestRunner};

    let store = h.store.clone();
    store
        .create_account(AccountId(1), "prop", T0)
        .await
        .expect("account");
    for (b, size) in BLOB_SIZES.iter().enumerate() {
        store
            .record_blob(&digest(&format!("blob{b}")), *size, T0)
            .await
            .expect("blob");
    }
    let mut runner = TestRunner::new(Config {
        cases: 24,
        failure_persistence: None,
        ..Config::default()
    });
    let strategy = (
        proptest::collection::vec(op(), 1..40),
        proptest::option::of(5_000u64..40_000),
    );
    for case in 0..24 {
        let (ops, quota) = strategy.new_tree(&mut runner).expect("generate").current();
        let repository = format!("prop{case}");
        let new = NewRepository {
            account: AccountId(1),
            name: repo(&repository),
            access: Access::Private,
            quota,
            delete_orphan_referrers: true,
            proxy: None,
        };
        store
            .create_repository(new, "test", T0)
            .await
            .expect("repository");
        let mut model = Model::default();
        for (step, op) in ops.iter().enumerate() {
            let image_name = |image: usize| name(&format!("{repository}/{}", IMAGES[image]));
            match op {
                Op::Push {
                    image,
                    blobs,
                    salt,
                    tag: tag_index,
                } => {
                    let manifest = format!("{repository}-{image}-{blobs:?}-{salt}");
                    let refs = blobs
                        .iter()
                        .map(|b| BlobRef {
                            digest: digest(&format!("blob{b}")),
                            size: BLOB_SIZES[*b],
                        })
                        .collect();
                    let tag_name = tag_index.map(|t| format!("t{t}"));
                    let p = Push {
                        name: image_name(*image),
                        ..push("x/y", &manifest, refs, tag_name.as_deref(), T0)
                    };
                    let mut next = Model {
                        artifacts: model.artifacts.clone(),
                        tags: model.tags.clone(),
                        images: model.images.clone(),
                    };
                    next.images.insert(*image);
                    next.artifacts
                        .insert((*image, digest(&manifest).to_string()), blobs.clone());
                    if let Some(t) = tag_index {
                        next.tags
                            .insert((*image, *t), digest(&manifest).to_string());
                    }
                    let fits =
                        quota.is_none_or(|q| next.usage() <= q || next.usage() == model.usage());
                    match store.record_push(p).await {
                        Ok(_) => {
                            assert!(fits, "case {case} step {step}: accepted over quota");
                            model = next;
                        }
                        Err(Error::QuotaExceeded { .. }) => {
                            assert!(!fits, "case {case} step {step}: refused within quota")
                        }
                        Err(other) => panic!("case {case} step {step}: {other:?}"),
                    }
                }
                Op::DeleteArtifact { image, pick } => {
                    let mine: Vec<String> = model
                        .artifacts
                        .keys()
                        .filter(|(i, _)| i == image)
                        .map(|(_, d)| d.clone())
                        .collect();
                    if mine.is_empty() {
                        continue;
                    }
                    let victim = mine[pick % mine.len()].clone();
                    let d = Digest::parse(&victim).expect("digest");
                    store
                        .delete_artifact(&image_name(*image), &d, "test", T0)
                        .await
                        .expect("delete artifact");
                    model.artifacts.remove(&(*image, victim.clone()));
                    model
                        .tags
                        .retain(|(i, _), target| !(i == image && *target == victim));
                    if !model.artifacts.keys().any(|(i, _)| i == image) {
                        model.images.remove(image);
                    }
                }
                Op::DeleteTag { image, tag: t } => {
                    let result = store
                        .delete_tag(&image_name(*image), &tag(&format!("t{t}")), "test", T0)
                        .await;
                    match model.tags.remove(&(*image, *t)) {
                        Some(_) => {
                            result.expect("delete tag");
                        }
                        None => assert!(
                            matches!(result, Err(Error::NotFound { .. })),
                            "case {case} step {step}: {result:?}"
                        ),
                    }
                }
            }
            let stored = store
                .repository(&repo(&repository))
                .await
                .expect("repository")
                .expect("exists");
            assert_eq!(
                (stored.used, stored.image_count),
                (model.usage(), model.images.len() as u64),
                "case {case} step {step} after {op:?}"
            );
        }
        for ((image, t), target) in &model.tags {
            let resolved = store
                .resolve_tag(
                    &name(&format!("{repository}/{}", IMAGES[*image])),
                    &tag(&format!("t{t}")),
                )
                .await
                .expect("resolve");
            assert_eq!(
                resolved.map(|a| a.digest.to_string()).as_deref(),
                Some(target.as_str()),
                "case {case}"
            );
        }
    }
    let _ = Duration::ZERO;
}
