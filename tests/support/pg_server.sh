#!/usr/bin/env bash
# A throwaway PostgreSQL server for the tests, in a temporary directory.
#
#   eval "$(tests/support/pg_server.sh start)"   # exports VIGIL_TEST_PG_DSN and VIGIL_TEST_PG_DIR
#   tests/support/pg_server.sh stop "$VIGIL_TEST_PG_DIR"
#
# `start` makes a cluster with initdb (as the `postgres` user when run as root: initdb refuses
# root), listening only on 127.0.0.1 on a free port and on a unix socket inside the directory,
# with password (SCRAM) authentication over TCP; creates the database vigil_test; and prints the
# shell lines that export the DSN. The password is in a 0600 passfile the DSN names, never in the
# DSN itself. `stop` stops the server and removes the directory.
# Environment: PG_BIN (default /usr/lib/postgresql/15/bin, else pg_config --bindir).
set -euo pipefail

pg_bin=${PG_BIN:-/usr/lib/postgresql/15/bin}
[ -x "$pg_bin/initdb" ] || pg_bin=$(pg_config --bindir 2>/dev/null || true)
[ -x "$pg_bin/initdb" ] || { echo "pg_server: initdb not found (install postgresql or set PG_BIN)" >&2; exit 1; }

# Runs a server binary as the cluster's owner.
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

# free_port: one chooser for every listener the tests start (below the ephemeral range).
# shellcheck source=packaging/loopback.sh
source "$(dirname "$0")/../../packaging/loopback.sh"

start() {
  local dir port password
  dir=$(mktemp -d /tmp/vigil-pg.XXXXXX)
  chmod 0755 "$dir"
  mkdir "$dir/data" "$dir/run"
  [ "$(id -u)" -eq 0 ] && chown postgres: "$dir/data" "$dir/run"
  password=$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')
  # initdb reads the superuser's password from a file the owner can read; removed right after.
  (umask 077 && printf '%s\n' "$password" >"$dir/run/pw")
  [ "$(id -u)" -eq 0 ] && chown postgres: "$dir/run/pw"
  if ! as_owner "$pg_bin/initdb" -D "$dir/data" -U postgres --pwfile="$dir/run/pw" --auth-host=scram-sha-256 \
      --auth-local=trust -E UTF8 --locale=C --no-sync >"$dir/initdb.log" 2>&1; then
    cat "$dir/initdb.log" >&2
    echo "pg_server: initdb failed" >&2
    rm -rf "$dir"
    exit 1
  fi
  rm -f "$dir/run/pw"
  # The passfile belongs to whoever runs the tests; libpq ignores it unless it is 0600.
  (umask 077 && printf '127.0.0.1:*:*:postgres:%s\n' "$password" >"$dir/pgpass")

  local tries=0
  while :; do
    port=$(free_port)
    # Durability is not needed for a test server: no fsync, no full-page writes.
    if as_owner "$pg_bin/pg_ctl" -D "$dir/data" -l "$dir/run/server.log" -w -t 30 \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $dir/run -c fsync=off -c synchronous_commit=off \
            -c full_page_writes=off -c max_connections=200" start >/dev/null; then
      break
    fi
    tries=$((tries + 1))
    if [ "$tries" -ge 3 ]; then
      cat "$dir/run/server.log" >&2 || true
      echo "pg_server: the server did not start" >&2
      rm -rf "$dir"
      exit 1
    fi
  done
  local dsn="host=127.0.0.1 port=$port user=postgres dbname=vigil_test passfile=$dir/pgpass connect_timeout=10"
  if ! PGPASSFILE="$dir/pgpass" "$pg_bin/psql" -X -q -v ON_ERROR_STOP=1 \
      "host=127.0.0.1 port=$port user=postgres dbname=postgres" -c "CREATE DATABASE vigil_test" >/dev/null; then
    echo "pg_server: cannot create the test database" >&2
    stop "$dir"
    exit 1
  fi
  echo "export VIGIL_TEST_PG_DIR='$dir'"
  echo "export VIGIL_TEST_PG_DSN='$dsn'"
}

stop() {
  local dir=${1:?usage: pg_server.sh stop DIR}
  case "$dir" in
    /tmp/vigil-pg.*) ;;
    *) echo "pg_server: '$dir' is not a directory this script made" >&2; exit 1 ;;
  esac
  if [ -f "$dir/data/postmaster.pid" ]; then
    as_owner "$pg_bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null || true
  fi
  rm -rf "$dir"
}

case "${1:-}" in
  start) start ;;
  stop) stop "${2:-}" ;;
  *) echo "usage: pg_server.sh start | stop DIR" >&2; exit 2 ;;
esac
