//! Throughput of `DigestVerifier` on a 1 GiB stream fed in 1 MiB chunks (the size of a large
//! body read), next to the `sha2` crate hashing the same stream in the same run.
//!
//! Compare with `openssl speed -evp sha256 -bytes 1048576` on the same machine.

// criterion_group! generates an undocumented public function.
#![allow(missing_docs)]

use berth_model::{Algorithm, Digest, DigestVerifier};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use sha2::Digest as _;

const CHUNK: usize = 1 << 20;
const STREAM: u64 = 1 << 30;

fn chunk() -> Vec<u8> {
    // Not compressible, not constant: a simple xorshift stream.
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    (0..CHUNK)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn stream(c: &mut Criterion) {
    let data = chunk();
    let chunks = STREAM / CHUNK as u64;
    let mut group = c.benchmark_group("digest_1GiB_stream");
    group.throughput(Throughput::Bytes(STREAM)).sample_size(10);
    for algorithm in [Algorithm::Sha256, Algorithm::Sha512] {
        let expected = {
            let mut v = DigestVerifier::new(Digest::sha256(b""));
            (0..chunks).for_each(|_| v.update(&data));
            let digest = v.finish();
            if algorithm == Algorithm::Sha256 {
                digest
            } else {
                Digest::compute(algorithm, b"unused")
            }
        };
        group.bench_function(BenchmarkId::new("berth_DigestVerifier", algorithm), |b| {
            b.iter(|| {
                let mut verifier = DigestVerifier::new(expected.clone());
                for _ in 0..chunks {
                    verifier.update(std::hint::black_box(&data));
                }
                verifier.finish()
            })
        });
    }
    group.bench_function(BenchmarkId::new("sha2_crate", "sha256"), |b| {
        b.iter(|| {
            let mut hasher = sha2::Sha256::new();
            for _ in 0..chunks {
                hasher.update(std::hint::black_box(&data));
            }
            hasher.finalize()
        })
    });
    group.bench_function(BenchmarkId::new("sha2_crate", "sha512"), |b| {
        b.iter(|| {
            let mut hasher = sha2::Sha512::new();
            for _ in 0..chunks {
                hasher.update(std::hint::black_box(&data));
            }
            hasher.finalize()
        })
    });
    group.finish();
}

criterion_group!(benches, stream);
criterion_main!(benches);
