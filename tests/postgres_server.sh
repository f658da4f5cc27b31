#!/usr/bin/env bash
# A throwaway PostgreSQL server for the tests: its own cluster in DIR, listening only on a Unix
# socket in DIR/socket (no TCP port, so it cannot collide with anything), trust authentication
# for the local superuser `postgres`, gone after `stop`. CTest starts it once (fixture
# `postgres`) and hands the tests its URI in KEYGATE_TEST_POSTGRES.
# Usage: tests/postgres_server.sh start|stop DIR
set -euo pipefail
action="$1"
dir="$2"
bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
if [ -z "$bin" ]; then
  echo "PostgreSQL server not installed (apt-get install postgresql; scripts/test.sh does)" >&2
  exit 1
fi

# initdb and postgres refuse to run as root: as root, the cluster belongs to `postgres`.
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

case "$action" in
  start)
    if [ -f "$dir/data/postmaster.pid" ]; then
      as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
    mkdir -p "$dir/socket"
    if [ "$(id -u)" -eq 0 ]; then
      chown -R postgres "$dir"
      # The path down to DIR must be searchable by `postgres`.
      p="$dir"
      while [ "$p" != "/" ]; do
        chmod o+x "$p" 2>/dev/null || true
        p="$(dirname "$p")"
      done
    fi
    as_owner "$bin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --no-sync >"$dir/initdb.log" 2>&1 ||
      { cat "$dir/initdb.log" >&2; exit 1; }
    # fsync off: a test server's data is thrown away, and each test's commit should not wait
    # for the disk of a shared machine.
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
      -o "-c listen_addresses='' -c unix_socket_directories='$dir/socket' -c fsync=off \
          -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" start >/dev/null ||
      { cat "$dir/server.log" >&2; exit 1; }
    echo "postgresql:///postgres?host=$dir/socket&user=postgres"
    ;;
  stop)
    if [ -f "$dir/data/postmaster.pid" ]; then
      as_owner "$bin/pg_ctl" -D "$dir/data" -m fast stop >/dev/null
    fi
    rm -rf "$dir"
    ;;
  *)
    echo "usage: $0 start|stop DIR" >&2
    exit 2
    ;;
esac
