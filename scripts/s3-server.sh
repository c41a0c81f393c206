#!/usr/bin/env bash
# An S3 server for berth's tests: s3s-fs (a real S3 implementation that checks SigV4
# signatures), on a free loopback port, with a bucket in a fresh temporary directory.
#
# Usage: eval "$(scripts/s3-server.sh)"      start it; prints the `export` lines the S3 tests read
#        ...tests...                           (BERTH_TEST_S3_ENDPOINT, _ACCESS_KEY, _SECRET_KEY,
#                                              _BUCKET), plus BERTH_TEST_S3_PID and _DIR
#        kill "$BERTH_TEST_S3_PID"; rm -rf "$BERTH_TEST_S3_DIR"
#
#        scripts/s3-server.sh --install        only install s3s-fs (the tests then start one
#                                              server per test, which also lets them see pending
#                                              multipart uploads)
#
# s3s-fs 0.14.1 is installed into $BERTH_TOOLS (default $HOME/.cache/berth-tools) when missing:
# a 3-5 minute build, once. Progress goes to stderr; stdout carries only the export lines.
set -euo pipefail

version=0.14.1
tools="${BERTH_TOOLS:-$HOME/.cache/berth-tools}"
bin="$tools/bin/s3s-fs"

if ! "$bin" --version 2>/dev/null | grep -qx "s3s-fs $version"; then
  echo "installing s3s-fs $version into $tools (a few minutes)" >&2
  cargo install --locked "s3s-fs@$version" --features binary --root "$tools" >&2
fi
if [ "${1:-}" = --install ]; then
  exit 0
fi

dir=$(mktemp -d "${TMPDIR:-/tmp}/berth-s3.XXXXXX")
bucket=berth
mkdir -p "$dir/data/$bucket" # s3s-fs keeps each bucket as a directory of its data root
access_key="berth-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
secret_key="$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')"

# A port the kernel just gave out for 127.0.0.1:0, else a random high one; either may be taken
# by someone else before s3s-fs binds it, so a server that dies at start is retried.
free_port() {
  if command -v python3 >/dev/null 2>&1; then
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
  else
    echo $((20000 + RANDOM % 40000))
  fi
}

for _attempt in 1 2 3 4 5; do
  port=$(free_port)
  "$bin" --host 127.0.0.1 --port "$port" --access-key "$access_key" --secret-key "$secret_key" \
    "$dir/data" </dev/null >>"$dir/s3s-fs.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 200); do
    if ! kill -0 "$pid" 2>/dev/null; then
      break
    fi
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      # Still ours a moment later (not another process answering on a port we failed to bind)?
      sleep 0.1
      if kill -0 "$pid" 2>/dev/null; then
        cat <<EOF
export BERTH_TEST_S3_ENDPOINT=http://127.0.0.1:$port
export BERTH_TEST_S3_ACCESS_KEY=$access_key
export BERTH_TEST_S3_SECRET_KEY=$secret_key
export BERTH_TEST_S3_BUCKET=$bucket
export BERTH_TEST_S3_PID=$pid
export BERTH_TEST_S3_DIR=$dir
EOF
        exit 0
      fi
      break
    fi
    sleep 0.05
  done
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
done

echo "s3s-fs did not start; its log:" >&2
cat "$dir/s3s-fs.log" >&2
exit 1
