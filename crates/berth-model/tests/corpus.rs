//! Runs the fuzz targets' `check_*` bodies over the seed corpora, so an ordinary `cargo test`
//! exercises what the fuzzers start from.

use std::path::PathBuf;

fn corpus(dir: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(dir);
    let mut files: Vec<_> = std::fs::read_dir(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            (p, bytes)
        })
        .collect();
    files.sort();
    assert!(files.len() >= 4, "corpus {dir} is too small");
    files
}

#[test]
fn manifest_corpus() {
    for (path, bytes) in corpus("manifests") {
        berth_model::check::manifest(&bytes);
        // Every seed in this corpus is a valid manifest: the fuzzer starts from real documents.
        berth_model::Manifest::parse(bytes.into(), None)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
}

#[test]
fn name_corpus() {
    for (_, bytes) in corpus("names") {
        berth_model::check::name(&bytes);
    }
}

#[test]
fn range_corpus() {
    for (_, bytes) in corpus("ranges") {
        berth_model::check::range(&bytes);
    }
}

#[test]
fn hasher_corpus() {
    for (_, bytes) in corpus("manifests") {
        berth_model::check::hasher(&bytes);
    }
}
