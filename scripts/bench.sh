#!/usr/bin/env bash
# Runs the benchmarks. Each compares a path through the platform with its
# direct baseline in the same run; figures are reported as custom metrics.
set -euo pipefail
cd "$(dirname "$0")/.."
for m in pkg services cli; do
  echo "== go test -bench: $m" >&2
  (cd "$m" && go test -run '^$' -bench . -benchtime "${BENCHTIME:-2000x}" -timeout 30m ./...)
done
