//! Criterion benchmarks of berth's hot paths; the benches live in `benches/` of this package.
//!
//! Run them with `cargo bench -p berth-benches`. Each reports throughput next to a reference
//! measured in the same run (for digests, the `sha2` crate itself), since this machine is too
//! noisy for absolute numbers to compare across runs.
