#!/usr/bin/env bash
# Runs the fault suite: each test injects a fault while writes (or calls
# to a user service) are in flight and checks that nothing acknowledged is
# lost, that they succeed again, and that failures meanwhile are
# Unavailable or DeadlineExceeded.
# Each logs its figures (writes, lost, recovery time, codes); run with -v
# to see them. The same tests run within 'make test'.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${MICRO_TEST_POSTGRES_DSN:?run through scripts/with-postgres.sh or set MICRO_TEST_POSTGRES_DSN}"
cd services
go test -count=1 -v -run '^Test(CrashPebble|CrashCockroach|PostgresRestart|SIGTERMUnderLoad|AuthKilled|RegistryKilled|StoreReplicaKilled|AuthReplicaKilled|ConfigReplicaKilled|ProxyReplicaKilled|BillingReplicaKilled|UserInstanceKilled)$' ./cmd/store/ ./server/ ./internal/faulttest/ "$@" |
  grep -E '^(=== RUN|--- |\s+\S+_test\.go:[0-9]+: .*(lost|acknowledged|answered)|ok|FAIL|PASS)'
