#!/usr/bin/env bash
# Runs every module's tests. Tests that need PostgreSQL read
# MICRO_TEST_POSTGRES_DSN, which scripts/with-postgres.sh provides; tests
# that need a Kubernetes control plane (services/internal/k8stest) find
# its binaries in M3O_K8S_BIN, built here first (cached by Go's build
# cache; scripts/k8s-bin.sh). The browser tests need chromium, installed
# here when missing (scripts/chromium.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/chromium.sh
: "${MICRO_TEST_POSTGRES_DSN:?run through scripts/with-postgres.sh or set MICRO_TEST_POSTGRES_DSN}"
M3O_K8S_BIN=$(scripts/k8s-bin.sh)
export M3O_K8S_BIN
for m in proto pkg services services/heldmetrics cli; do
  echo "== go test: $m" >&2
  (cd "$m" && go test -count=1 -timeout 30m "$@" ./...)
done
