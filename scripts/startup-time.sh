#!/usr/bin/env bash
# Reports how long `micro env` (no network) takes to start and exit: wall and
# CPU time over many runs, and the packages whose init costs the most. A
# report for people, never a test.
#
#   scripts/startup-time.sh [BINARY] [RUNS]     (default bin/micro, 200)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(realpath "${1:-bin/micro}")
runs=${2:-200}
home=$(mktemp -d)
trap 'rm -rf "$home"' EXIT
unset MICRO_ENV MICRO_OUTPUT
HOME=$home GOWORK=off go run scripts/startuptime/main.go -n "$runs" "$bin" env
