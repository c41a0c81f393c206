//! A property test over random interleavings of push, tag, delete and garbage collection: after
//! every step, every tagged artifact is fully pullable (each byte checked against its digest) and
//! the repository's usage equals the usage recomputed from scratch.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use berth_core::clock::ManualClock;
use berth_core::{Registry, RegistryConfig, RequestBody};
use berth_meta::MemoryMetadata;
use berth_model::{Digest, Manifest, Reference};
use berth_storage::{MemoryStore, collect};
use bytes::Bytes;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestError, TestRunner};
use support::*;

const IMAGES: [&str; 2] = ["team/app", "team/app/worker"];
const LAYERS: usize = 5;

#[derive(Debug, Clone)]
enum Op {
    Push {
        image: usize,
        layers: BTreeSet<usize>,
        salt: u8,
        tag: usize,
    },
    Retag {
        image: usize,
        tag: usize,
        pick: usize,
    },
    DeleteTag {
        image: usize,
        tag: usize,
    },
    DeleteArtifact {
        image: usize,
        pick: usize,
    },
    Collect,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..IMAGES.len(), proptest::collection::btree_set(0..LAYERS, 1..4), 0u8..3, 0usize..3)
            .prop_map(|(image, layers, salt, tag)| Op::Push { image, layers, salt, tag }),
        1 => (0..IMAGES.len(), 0usize..3, any::<usize>()).prop_map(|(image, tag, pick)| Op::Retag { image, tag, pick }),
        1 => (0..IMAGES.len(), 0usize..3).prop_map(|(image, tag)| Op::DeleteTag { image, tag }),
        2 => (0..IMAGES.len(), any::<usize>()).prop_map(|(image, pick)| Op::DeleteArtifact { image, pick }),
        2 => Just(Op::Collect),
    ]
}

fn layer(i: usize) -> Bytes {
    data(1000 + i as u64, 2000 + 100 * i)
}

/// Per image: artifacts (digest → manifest bytes) and tags (tag → digest).
#[derive(Default)]
struct Model {
    artifacts: BTreeMap<(usize, Digest), Bytes>,
    tags: BTreeMap<(usize, usize), Digest>,
}

impl Model {
    fn usage(&self) -> u64 {
        let mut digests: BTreeMap<Digest, u64> = BTreeMap::new();
        for ((_, digest), bytes) in &self.artifacts {
            digests.insert(digest.clone(), bytes.len() as u64);
            for blob in Manifest::parse(bytes.clone(), None).unwrap().blobs() {
                digests.insert(blob.digest().clone(), blob.size());
            }
        }
        digests.values().sum()
    }
}

async fn run(ops: Vec<Op>) {
    let (blobs, meta) = (
        Arc::new(MemoryStore::new()),
        Arc::new(MemoryMetadata::new()),
    );
    drop(registry(blobs.clone(), meta.clone(), None).await);
    let clock = ManualClock::new();
    let grace = Duration::from_secs(3600);
    let config = RegistryConfig {
        gc_grace: grace,
        clock: Arc::new(clock.clone()),
        ..RegistryConfig::default()
    };
    let registry = Registry::new(blobs, meta, config);
    let who = pusher();
    let mut model = Model::default();
    for (step, op) in ops.iter().enumerate() {
        match op {
            Op::Push {
                image,
                layers,
                salt,
                tag,
            } => {
                let name = name(IMAGES[*image]);
                let config = upload(
                    &registry,
                    &who,
                    &name,
                    Bytes::from(format!("{{\"salt\":{salt}}}")),
                )
                .await;
                let mut refs = Vec::new();
                for l in layers {
                    refs.push(upload(&registry, &who, &name, layer(*l)).await);
                }
                let manifest = image_manifest(&config, &refs);
                let pushed = registry
                    .put_manifest(
                        &who,
                        &name,
                        &Reference::parse(&format!("t{tag}")).unwrap(),
                        RequestBody::from_bytes(manifest.clone()),
                        None,
                    )
                    .await
                    .unwrap();
                model
                    .artifacts
                    .insert((*image, pushed.digest.clone()), manifest);
                model.tags.insert((*image, *tag), pushed.digest);
            }
            Op::Retag { image, tag, pick } => {
                let mine: Vec<(Digest, Bytes)> = model
                    .artifacts
                    .iter()
                    .filter(|((i, _), _)| i == image)
                    .map(|((_, d), b)| (d.clone(), b.clone()))
                    .collect();
                if mine.is_empty() {
                    continue;
                }
                let (digest, bytes) = mine[pick % mine.len()].clone();
                let name = name(IMAGES[*image]);
                registry
                    .put_manifest(
                        &who,
                        &name,
                        &Reference::parse(&format!("t{tag}")).unwrap(),
                        RequestBody::from_bytes(bytes),
                        None,
                    )
                    .await
                    .unwrap();
                model.tags.insert((*image, *tag), digest);
            }
            Op::DeleteTag { image, tag } => {
                let result = registry
                    .delete_manifest(
                        &who,
                        &name(IMAGES[*image]),
                        &Reference::parse(&format!("t{tag}")).unwrap(),
                    )
                    .await;
                match model.tags.remove(&(*image, *tag)) {
                    Some(_) => result.unwrap(),
                    None => assert!(result.is_err(), "step {step}: deleting a missing tag"),
                }
            }
            Op::DeleteArtifact { image, pick } => {
                let mine: Vec<Digest> = model
                    .artifacts
                    .keys()
                    .filter(|(i, _)| i == image)
                    .map(|(_, d)| d.clone())
                    .collect();
                if mine.is_empty() {
                    continue;
                }
                let digest = mine[pick % mine.len()].clone();
                registry
                    .delete_manifest(
                        &who,
                        &name(IMAGES[*image]),
                        &Reference::Digest(digest.clone()),
                    )
                    .await
                    .unwrap();
                model.artifacts.remove(&(*image, digest.clone()));
                model.tags.retain(|(i, _), d| !(i == image && *d == digest));
            }
            Op::Collect => {
                // Move past the grace of everything recorded so far: the collector may take
                // any blob that nothing references.
                clock.advance(grace + Duration::from_millis(1));
                registry.collect_garbage().await.unwrap();
            }
        }
        for ((image, tag), digest) in &model.tags {
            let name = name(IMAGES[*image]);
            let manifest = registry
                .get_manifest(&who, &name, &Reference::parse(&format!("t{tag}")).unwrap())
                .await
                .unwrap_or_else(|e| panic!("step {step} after {op:?}: {name}:t{tag}: {e}"));
            assert_eq!(&manifest.digest, digest, "step {step}");
            for blob in Manifest::parse(manifest.bytes, None).unwrap().blobs() {
                let read = registry
                    .read_blob(&who, &name, blob.digest(), None)
                    .await
                    .unwrap_or_else(|e| {
                        panic!("step {step} after {op:?}: blob {}: {e}", blob.digest())
                    });
                assert_eq!(
                    Digest::sha256(&collect(read.body).await.unwrap()),
                    *blob.digest(),
                    "step {step}"
                );
            }
        }
        assert_eq!(
            used(&registry, "team").await,
            model.usage(),
            "step {step} after {op:?}"
        );
    }
}

/// proptest's own runner: a failing sequence is shrunk to a minimal one before it is reported
/// (fewer steps, smaller choices), and the report names it.
#[test]
fn tagged_artifacts_stay_pullable_and_usage_exact_under_random_interleavings() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let mut runner = TestRunner::new(Config {
        cases: 16,
        failure_persistence: None,
        ..Config::default()
    });
    let strategy = proptest::collection::vec(op(), 1..30);
    match runner.run(&strategy, |ops| {
        runtime.block_on(run(ops));
        Ok(())
    }) {
        Ok(()) => {}
        Err(TestError::Fail(reason, ops)) => {
            panic!(
                "{reason}\nminimal failing sequence ({} steps): {ops:#?}",
                ops.len()
            )
        }
        Err(e) => panic!("{e}"),
    }
}
