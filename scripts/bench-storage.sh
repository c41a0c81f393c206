#!/usr/bin/env bash
# Runs the blob-store bench (benches/benches/storage.rs) against memory, fs and a real S3 server
# (s3s-fs on loopback, started here and stopped on exit). Extra arguments go to criterion.
set -euo pipefail
cd "$(dirname "$0")/.."
eval "$(scripts/s3-server.sh)"
trap 'kill "$BERTH_TEST_S3_PID" 2>/dev/null || true; rm -rf "$BERTH_TEST_S3_DIR"' EXIT
cargo bench -p berth-benches --bench storage -- "$@"
