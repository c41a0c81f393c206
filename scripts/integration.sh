#!/usr/bin/env bash
# berth's real-client integration suite: the `berth` binary (debug build) against skopeo,
# podman, buildah, containerd (ctr) and oras-py, with PostgreSQL 15 and s3s-fs for the two-node
# tests. Each test class starts its own servers on free loopback ports (tests/integration/,
# stdlib unittest).
#
# Usage: scripts/integration.sh                  install what is missing, build, run everything
#        scripts/integration.sh -k quota ...     only tests whose name contains a pattern
#        scripts/integration.sh --reference      check the harness against Debian's reference
#                                                registry (docker-registry) instead of berth
#        BERTH_IT_KEEP=1 ...                     keep the temporary directory (logs, data)
#
# Installs, only where missing: skopeo podman buildah umoci containerd, docker-registry and
# apache2-utils (the distribution registry, upstream of the cache tests), PostgreSQL 15,
# python3-venv (one apt-get call), a venv with oras-py under $BERTH_TOOLS/venv, and s3s-fs
# (scripts/s3-server.sh --install). The last line is cargo's `test result:` line, which
# scripts/test.sh adds to its totals; the exit code is non-zero when any test failed.
set -euo pipefail
cd "$(dirname "$0")/.."

oras_version=0.2.43
tools="${BERTH_TOOLS:-$HOME/.cache/berth-tools}"
venv="$tools/venv"
reference=
for arg in "$@"; do
  [ "$arg" = --reference ] && reference=1
done

step() { printf '\n==> %s\n' "$*" >&2; }

python=python3
if [ -x /usr/bin/python3 ]; then
  python=/usr/bin/python3 # Debian's, whose venv module python3-venv provides
fi

packages=()
# The package containerd brings `containerd` and `ctr`; the tests run a private daemon and
# never start the system service.
for tool in skopeo podman buildah umoci containerd; do
  command -v "$tool" >/dev/null 2>&1 || packages+=("$tool")
done
if [ ! -x /usr/lib/postgresql/15/bin/initdb ]; then
  packages+=(postgresql-15 postgresql-client-15)
fi
if ! "$python" -c 'import ensurepip, venv' >/dev/null 2>&1; then
  packages+=(python3-venv)
fi
# Debian's distribution registry (with htpasswd for its Basic auth): the upstream of the
# pull-through cache tests, and the reference of the harness self-check (--reference).
command -v docker-registry >/dev/null 2>&1 || packages+=(docker-registry)
command -v htpasswd >/dev/null 2>&1 || packages+=(apache2-utils)
if [ ${#packages[@]} -gt 0 ]; then
  step "apt-get install ${packages[*]}"
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${packages[@]}"
fi

if ! "$venv/bin/python" -c "import oras.version, sys; sys.exit(oras.version.__version__ != '$oras_version')" \
  >/dev/null 2>&1; then
  step "oras $oras_version into $venv"
  rm -rf "$venv"
  mkdir -p "$tools"
  "$python" -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "oras==$oras_version"
fi

if [ -z "$reference" ]; then
  scripts/s3-server.sh --install
  step "cargo build -p berth"
  cargo build -p berth
  export BERTH_BIN="${CARGO_TARGET_DIR:-$PWD/target}/debug/berth"
fi

step "integration suite"
exec "$venv/bin/python" tests/integration/run.py "$@"
