#!/usr/bin/env bash
# Runs a command with MICRO_TEST_POSTGRES_DSN pointing at a PostgreSQL server.
#
# When MICRO_TEST_POSTGRES_DSN is already set the command runs against that
# server. Otherwise a throwaway PostgreSQL 15 is started in a temporary
# directory on a free loopback port (trust auth, loopback only), and stopped
# and removed when the command ends, whether it passes, fails or is
# interrupted.
set -euo pipefail

if [[ -n "${MICRO_TEST_POSTGRES_DSN:-}" ]]; then
  exec "$@"
fi

pg_bin() {
  local name=$1 dir
  for dir in /usr/lib/postgresql/15/bin /usr/lib/postgresql/*/bin; do
    if [[ -x "$dir/$name" ]]; then echo "$dir/$name"; return; fi
  done
  command -v "$name" || { echo "PostgreSQL binary '$name' not found; install postgresql-15." >&2; exit 1; }
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null ||
    echo $((20000 + RANDOM % 20000))
}

# PostgreSQL refuses to run as root, so as root the server runs as 'postgres'.
as_pg() {
  if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

dir=$(mktemp -d "${TMPDIR:-/tmp}/m3o-pg.XXXXXX")
[[ $(id -u) -eq 0 ]] && chown postgres: "$dir" && chmod 0700 "$dir"
port=$(free_port)

stop() {
  as_pg "$(pg_bin pg_ctl)" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap stop EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

as_pg "$(pg_bin initdb)" -D "$dir/data" -U postgres -A trust --no-sync -E UTF8 >"$dir/initdb.log" 2>&1 ||
  { cat "$dir/initdb.log" >&2; exit 1; }
as_pg "$(pg_bin pg_ctl)" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
  -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=on -c max_connections=200" start >/dev/null ||
  { cat "$dir/server.log" >&2; exit 1; }

export MICRO_TEST_POSTGRES_DSN="postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"
echo "PostgreSQL test server on 127.0.0.1:$port" >&2
"$@"
