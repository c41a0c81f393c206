//! Time to parse and validate each fixture manifest, the work a manifest PUT does before any IO.

// criterion_group! generates an undocumented public function.
#![allow(missing_docs)]

use berth_model::Manifest;
use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

fn parse(c: &mut Criterion) {
    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../crates/berth-model/fixtures/manifests"
    );
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("fixtures")
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort();
    let mut group = c.benchmark_group("manifest_parse");
    for path in files {
        let bytes = Bytes::from(std::fs::read(&path).expect("fixture"));
        let name = path
            .file_stem()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        group.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.iter(|| Manifest::parse(std::hint::black_box(bytes.clone()), None).expect("valid"))
        });
    }
    group.finish();
}

criterion_group!(benches, parse);
criterion_main!(benches);
