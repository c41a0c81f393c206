#!/usr/bin/env bash
# A throwaway PostgreSQL 15 cluster for berth's tests, on a free loopback port, in a fresh
# temporary directory, with fsync off (as the `postgres` user when run as root).
#
# Usage: eval "$(scripts/pg-server.sh)"        start it; prints the `export` lines the tests read
#        ...tests...                             (BERTH_TEST_PG_URL), plus BERTH_TEST_PG_DIR
#        scripts/pg-server.sh --stop "$BERTH_TEST_PG_DIR"    stop it and remove its directory
#
# The PostgreSQL tests do not need this script: without BERTH_TEST_PG_URL each test binary
# starts (and stops) a cluster of its own. It is for sharing one server between binaries, or
# for pointing psql at what the tests see. Binaries come from $BERTH_TEST_PG_BIN (default
# /usr/lib/postgresql/15/bin); install them with
#   apt-get update && apt-get install -y --no-install-recommends postgresql-15 postgresql-client-15
# Progress and errors go to stderr; stdout carries only the export lines.
set -euo pipefail

bin="${BERTH_TEST_PG_BIN:-/usr/lib/postgresql/15/bin}"
as_postgres=()
if [ "$(id -u)" = 0 ]; then
  as_postgres=(runuser -u postgres --)
fi

if [ "${1:-}" = --stop ]; then
  dir="${2:?usage: $0 --stop DIR}"
  [ -f "$dir/data/PG_VERSION" ] || { echo "$dir is not a cluster of this script" >&2; exit 1; }
  "${as_postgres[@]}" "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >&2 || true
  rm -rf "$dir"
  exit 0
fi

if [ ! -x "$bin/initdb" ]; then
  echo "no PostgreSQL binaries in $bin; install them with:" >&2
  echo "  apt-get update && apt-get install -y --no-install-recommends postgresql-15 postgresql-client-15" >&2
  exit 1
fi

dir=$(mktemp -d "${TMPDIR:-/tmp}/berth-pg.XXXXXX")
password=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
printf '%s' "$password" >"$dir/pwfile"
if [ ${#as_postgres[@]} -gt 0 ]; then
  chown -R postgres: "$dir"
fi
"${as_postgres[@]}" "$bin/initdb" -D "$dir/data" -U postgres --pwfile="$dir/pwfile" \
  --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 --no-sync >&2
rm -f "$dir/pwfile"

# A port the kernel just gave out for 127.0.0.1:0, else a random high one; either may be taken
# by someone else before PostgreSQL binds it, so a failed start is retried on another port.
free_port() {
  if command -v python3 >/dev/null 2>&1; then
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
  else
    echo $((20000 + RANDOM % 40000))
  fi
}

for _attempt in 1 2 3 4 5; do
  port=$(free_port)
  if "${as_postgres[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
    </dev/null >&2; then
    cat <<EOF
export BERTH_TEST_PG_URL=postgres://postgres:$password@127.0.0.1:$port/postgres
export BERTH_TEST_PG_DIR=$dir
EOF
    exit 0
  fi
done

echo "PostgreSQL did not start; its log:" >&2
cat "$dir/server.log" >&2 || true
rm -rf "$dir"
exit 1
