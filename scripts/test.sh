#!/usr/bin/env bash
# Runs every module's tests. Tests that need PostgreSQL read
# MICRO_TEST_POSTGRES_DSN, which scripts/with-postgres.sh provides.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${MICRO_TEST_POSTGRES_DSN:?run through scripts/with-postgres.sh or set MICRO_TEST_POSTGRES_DSN}"
for m in proto pkg services cli; do
  echo "== go test: $m" >&2
  (cd "$m" && go test -count=1 -timeout 30m "$@" ./...)
done
