//! One workload against every blob backend: a 1 GiB streamed put, 1,000 puts of 4 KiB, and
//! 1 MiB ranged reads from a 64 MiB blob. Criterion prints the throughput of each; a summary at
//! the end gives MB/s per backend next to single-core SHA-256 measured in the same run, the
//! ceiling of any verified put.
//!
//! The S3 backend needs a server: run `scripts/bench-storage.sh`, which starts s3s-fs and sets
//! `BERTH_TEST_S3_*`, or set those variables yourself; without them S3 is left out (and said so).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use berth_model::{Algorithm, ByteRange, Digest, Hasher};
use berth_storage::{BlobStore, ByteStream, MemoryStore, body_from, collect};
use berth_storage_fs::FsStore;
use berth_storage_s3::{S3Config, S3Store};
use bytes::Bytes;
use criterion::{Criterion, Throughput};
use futures::StreamExt as _;

const MIB: usize = 1 << 20;
const GIB: u64 = 1 << 30;

fn chunk(seed: u64, len: usize) -> Bytes {
    berth_storage::conformance::data(seed, len)
}

/// A 1 GiB body cycling through 16 distinct 1 MiB chunks, and its digest.
struct Gib {
    chunks: Vec<Bytes>,
    digest: Digest,
}

impl Gib {
    fn new() -> Self {
        let chunks: Vec<Bytes> = (0..16).map(|i| chunk(i, MIB)).collect();
        let mut hasher = Hasher::new(Algorithm::Sha256);
        for i in 0..1024 {
            hasher.update(&chunks[i % 16]);
        }
        Gib {
            chunks,
            digest: hasher.finish(),
        }
    }

    fn body(&self) -> ByteStream {
        let chunks = self.chunks.clone();
        Box::pin(futures::stream::iter(0..1024).map(move |i| Ok(chunks[i % 16].clone())))
    }
}

/// The backends under test, by name.
type Stores = Vec<(String, Arc<dyn BlobStore>)>;

type Summary = Arc<Mutex<BTreeMap<(String, &'static str), f64>>>;

fn record(summary: &Summary, backend: &str, workload: &'static str, mb_per_s: f64) {
    let mut s = summary.lock().unwrap_or_else(|e| e.into_inner());
    let best = s.entry((backend.to_owned(), workload)).or_insert(0.0);
    *best = best.max(mb_per_s);
}

fn mb_per_s(bytes: u64, elapsed: Duration) -> f64 {
    bytes as f64 / 1e6 / elapsed.as_secs_f64()
}

/// Temporary directories for the fs backend: on the disk (the working directory's file system)
/// and, where there is one, on tmpfs, which shows the backend's own cost without the disk's.
fn fs_dirs() -> Vec<(String, tempfile::TempDir)> {
    let mut dirs = vec![(
        "fs".to_owned(),
        tempfile::tempdir_in(".").expect("temp dir on disk"),
    )];
    if let Ok(dir) = tempfile::tempdir_in("/dev/shm") {
        dirs.push(("fs-tmpfs".to_owned(), dir));
    }
    dirs
}

fn backends(rt: &tokio::runtime::Runtime, dirs: &[(String, tempfile::TempDir)]) -> Stores {
    let mut out: Stores = vec![("memory".into(), Arc::new(MemoryStore::new()))];
    for (name, dir) in dirs {
        out.push((
            name.clone(),
            Arc::new(FsStore::open(dir.path()).expect("fs store")),
        ));
    }
    match std::env::var("BERTH_TEST_S3_ENDPOINT") {
        Ok(endpoint) => {
            let var =
                |name: &str| std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set"));
            let config = S3Config {
                endpoint: Some(endpoint),
                allow_http: true,
                prefix: format!("bench{}", std::process::id()),
                ..S3Config::new(
                    var("BERTH_TEST_S3_BUCKET"),
                    var("BERTH_TEST_S3_ACCESS_KEY"),
                    var("BERTH_TEST_S3_SECRET_KEY"),
                )
            };
            let store = rt
                .block_on(async { S3Store::new(config) })
                .expect("s3 store");
            out.push(("s3".into(), Arc::new(store)));
        }
        Err(_) => {
            eprintln!("s3: left out (no BERTH_TEST_S3_ENDPOINT; run scripts/bench-storage.sh)")
        }
    }
    out
}

/// Writes the 1 GiB body straight to a file and fsyncs it: what the file system and disk allow
/// a durable put, without hashing or any store logic.
fn raw_write(dir: &std::path::Path, gib: &Gib) -> Duration {
    use std::io::Write as _;
    let path = dir.join("raw-write");
    let start = Instant::now();
    let mut file = std::fs::File::create(&path).expect("create");
    for i in 0..1024 {
        file.write_all(&gib.chunks[i % 16]).expect("write");
    }
    file.sync_all().expect("fsync");
    let elapsed = start.elapsed();
    std::fs::remove_file(path).expect("remove");
    elapsed
}

fn bench(c: &mut Criterion, rt: &tokio::runtime::Runtime, summary: &Summary) {
    let gib = Gib::new();

    // The reference: single-core SHA-256 over the same bytes.
    let mut group = c.benchmark_group("sha256_single_core");
    group.throughput(Throughput::Bytes(GIB)).sample_size(10);
    group.bench_function("1GiB", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                let mut hasher = Hasher::new(Algorithm::Sha256);
                for i in 0..1024 {
                    hasher.update(&gib.chunks[i % 16]);
                }
                std::hint::black_box(hasher.finish());
            }
            let elapsed = start.elapsed();
            record(
                summary,
                "reference",
                "sha256",
                mb_per_s(GIB * iters, elapsed),
            );
            elapsed
        })
    });
    group.finish();

    let dirs = fs_dirs();
    let mut group = c.benchmark_group("raw_file_write_fsync");
    group.throughput(Throughput::Bytes(GIB)).sample_size(10);
    for (name, dir) in &dirs {
        let label = if name == "fs" { "disk" } else { "tmpfs" };
        group.bench_function(label, |b| {
            b.iter_custom(|iters| {
                let total: Duration = (0..iters).map(|_| raw_write(dir.path(), &gib)).sum();
                record(summary, "reference", label, mb_per_s(GIB * iters, total));
                total
            })
        });
    }
    group.finish();

    let stores = backends(rt, &dirs);
    let small: Vec<(Bytes, Digest)> = (0..1000)
        .map(|i| {
            let bytes = chunk(1_000_000 + i, 4096);
            let digest = Digest::sha256(&bytes);
            (bytes, digest)
        })
        .collect();
    let ranged = chunk(7, 64 * MIB);
    let ranged_digest = Digest::sha256(&ranged);

    for (name, store) in &stores {
        let mut group = c.benchmark_group(format!("blob_store/{name}"));
        group
            .sample_size(10)
            .warm_up_time(Duration::from_millis(500));

        group.throughput(Throughput::Bytes(GIB));
        group.bench_function("put_1GiB_streamed", |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let start = Instant::now();
                    rt.block_on(store.put(&gib.digest, gib.body()))
                        .expect("put");
                    let elapsed = start.elapsed();
                    total += elapsed;
                    record(summary, name, "put 1 GiB", mb_per_s(GIB, elapsed));
                    rt.block_on(store.delete(&gib.digest)).expect("delete");
                }
                total
            })
        });

        group.throughput(Throughput::Elements(small.len() as u64));
        group.bench_function("put_1000x4KiB", |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let start = Instant::now();
                    rt.block_on(async {
                        for (bytes, digest) in &small {
                            store
                                .put(digest, body_from(bytes.clone()))
                                .await
                                .expect("put");
                        }
                    });
                    let elapsed = start.elapsed();
                    total += elapsed;
                    record(
                        summary,
                        name,
                        "1000 puts of 4 KiB",
                        mb_per_s(4096 * 1000, elapsed),
                    );
                    rt.block_on(async {
                        for (_, digest) in &small {
                            store.delete(digest).await.expect("delete");
                        }
                    });
                }
                total
            })
        });

        rt.block_on(store.put(&ranged_digest, body_from(ranged.clone())))
            .expect("put ranged");
        group.throughput(Throughput::Bytes(64 * MIB as u64));
        group.bench_function("ranged_reads_64x1MiB", |b| {
            b.iter_custom(|iters| {
                let start = Instant::now();
                rt.block_on(async {
                    for _ in 0..iters {
                        for i in 0..64u64 {
                            // Spread over the blob, not aligned to chunk boundaries.
                            let first = (i * 997 * 4096 + 12_345) % (63 * MIB as u64);
                            let range = ByteRange::Bounded {
                                first,
                                last: first + MIB as u64 - 1,
                            };
                            let read = store.get(&ranged_digest, Some(range)).await.expect("get");
                            std::hint::black_box(collect(read.body).await.expect("read"));
                        }
                    }
                });
                let elapsed = start.elapsed();
                record(
                    summary,
                    name,
                    "ranged reads",
                    mb_per_s(64 * MIB as u64 * iters, elapsed),
                );
                elapsed
            })
        });
        rt.block_on(store.delete(&ranged_digest))
            .expect("delete ranged");
        group.finish();
    }
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let summary = Summary::default();
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c, &rt, &summary);
    c.final_summary();

    let s = summary.lock().unwrap_or_else(|e| e.into_inner());
    let reference = |w| {
        s.get(&("reference".to_owned(), w))
            .copied()
            .unwrap_or(f64::NAN)
    };
    let sha = reference("sha256");
    println!(
        "\nbest MB/s per backend; references in this run: single-core sha256 {sha:.0} MB/s, \
         raw write + fsync of 1 GiB on disk {:.0} MB/s, on tmpfs {:.0} MB/s",
        reference("disk"),
        reference("tmpfs")
    );
    println!(
        "{:<9} {:>14} {:>9} {:>20} {:>14}",
        "backend", "put 1 GiB", "vs sha256", "1000 puts of 4 KiB", "ranged reads"
    );
    let backends: Vec<String> = s
        .keys()
        .map(|(b, _)| b.clone())
        .filter(|b| b != "reference")
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    for backend in backends {
        let get = |w| s.get(&(backend.clone(), w)).copied().unwrap_or(f64::NAN);
        let put = get("put 1 GiB");
        println!(
            "{backend:<9} {put:>14.0} {:>8.0}% {:>20.1} {:>14.0}",
            100.0 * put / sha,
            get("1000 puts of 4 KiB"),
            get("ranged reads")
        );
    }
}
