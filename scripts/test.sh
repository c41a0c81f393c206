#!/usr/bin/env bash
# The whole berth test suite, as the README gives it: formatting, lints, the hermetic tests, and
# the suites against real servers and clients, which this script installs where missing and
# which the tests start on loopback: s3s-fs for the S3 blob backend, PostgreSQL 15 for the
# PostgreSQL metadata backend, skopeo, podman, buildah, containerd and oras against the berth binary
# (scripts/integration.sh), and Chromium driving the web console (scripts/browser.sh).
#
# Usage: scripts/test.sh            everything
#        BERTH_TEST_QUICK=1 ...     skip the fuzz-workspace build check
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

# Rust components the checks need (present on a standard rustup install).
for component in rustfmt clippy; do
  if ! rustup component list --installed 2>/dev/null | grep -q "^$component"; then
    rustup component add "$component"
  fi
done

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (deny warnings)"
cargo clippy --workspace --all-targets --all-features -- -D warnings

step "cargo doc (deny warnings: broken intra-doc links fail)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --all-features --quiet

log_dir=$(mktemp -d)
trap 'rm -rf "$log_dir"' EXIT
# Sums every `test result:` line of a cargo test log into the totals printed at the end.
passed=0 failed=0
count() {
  local p f
  read -r p f < <(awk '/^test result:/ { p += $4; f += $6 } END { print p+0, f+0 }' "$1")
  passed=$((passed + p)) failed=$((failed + f))
}

step "cargo test (hermetic)"
cargo test --workspace 2>&1 | tee "$log_dir/hermetic.log"
count "$log_dir/hermetic.log"

step "S3 backend against a real S3 server (s3s-fs, installed once into ~/.cache/berth-tools)"
scripts/s3-server.sh --install
cargo test -p berth-storage-s3 --features s3-server-tests 2>&1 | tee "$log_dir/s3.log"
count "$log_dir/s3.log"

step "PostgreSQL backend against a real PostgreSQL 15 (one throwaway cluster per test binary)"
if [ ! -x /usr/lib/postgresql/15/bin/initdb ] && [ -z "${BERTH_TEST_PG_URL:-}" ]; then
  # The tests start their own cluster from these binaries on a free loopback port.
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql-15 postgresql-client-15
fi
cargo test -p berth-meta-postgres --features postgres-server-tests 2>&1 | tee "$log_dir/postgres.log"
count "$log_dir/postgres.log"

step "real clients against the berth binary (skopeo, podman, buildah, oras; two nodes on PostgreSQL + S3)"
scripts/integration.sh 2>&1 | tee "$log_dir/integration.log"
count "$log_dir/integration.log"

step "the web console in Chromium (playwright-core, axe-core), with skopeo pushing through what it shows"
scripts/browser.sh 2>&1 | tee "$log_dir/browser.log"
count "$log_dir/browser.log"

if [ -z "${BERTH_TEST_QUICK:-}" ]; then
  step "fuzz targets build (stable check of the detached fuzz workspace)"
  cargo check --manifest-path fuzz/Cargo.toml --bins
fi

step "all checks passed"
echo "tests: $passed passed, $failed failed"
