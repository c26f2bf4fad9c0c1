#!/usr/bin/env bash
# Times `micro run` of the skeleton `micro new hello` writes, from the
# command's start until it returns with the service running: cold, the
# first build in a fresh namespace, whose build and module caches are
# empty; then warm, the same folder again after `micro kill`. It starts a
# `micro server` of its own on free ports, in a temporary directory, with
# this machine's Go module cache to seed builds from. A report, not a test.
#
#   scripts/time-run.sh [RUNS]     # RUNS warm runs after the cold one (default 3)
set -euo pipefail
runs=${1:-3}
root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d /tmp/m3o-time-run-XXXXXX)
chmod 711 "$tmp"
server_pid=
cleanup() {
  if [[ -n "$server_pid" ]]; then kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

(cd "$root/cli" && go build -o "$tmp/micro" ./cmd/micro)
micro="$tmp/micro"
GOMODCACHE=$(go env GOMODCACHE)
GOCACHE=$(go env GOCACHE)
export GOMODCACHE GOCACHE HOME="$tmp/home"
mkdir -p "$HOME"

MICRO_ADMIN_PASSWORD=time-run-admin-password "$micro" server --data-dir "$tmp/data" --runtime-dir "$tmp/runtime" \
  --address 127.0.0.1:0 --http-address 127.0.0.1:0 >"$tmp/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 180); do
  grep -q 'is ready' "$tmp/server.log" && break
  sleep 1
done
addr=$(sed -n 's/.*ready: gRPC \([^,]*\),.*/\1/p' "$tmp/server.log")
[[ -n "$addr" ]] || { echo "micro server did not start:" >&2; cat "$tmp/server.log" >&2; exit 1; }

"$micro" env add timing "$addr" --ca-file "$tmp/data/ca.pem" >/dev/null
"$micro" env set timing >/dev/null
echo time-run-admin-password | "$micro" login --namespace micro --username admin --password-stdin >/dev/null
"$micro" auth accounts create dev@example.com --namespace time-run --roles developer --password time-run-password >/dev/null
echo time-run-password | "$micro" login --namespace time-run --username dev@example.com --password-stdin >/dev/null
(cd "$tmp" && "$micro" new hello >/dev/null)

# seconds runs `micro run .` in the skeleton and prints how long it took.
seconds() {
  local start end
  start=$(date +%s.%N)
  (cd "$tmp/hello" && "$micro" run . >/dev/null)
  end=$(date +%s.%N)
  awk -v s="$start" -v e="$end" 'BEGIN { printf "%.1f", e - s }'
}

cold=$(seconds)
printf 'micro run, cold:   %6.1f s\n' "$cold"
for i in $(seq 1 "$runs"); do
  "$micro" kill hello >/dev/null
  printf 'micro run, warm %d: %6.1f s\n' "$i" "$(seconds)"
done
