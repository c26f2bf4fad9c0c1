#!/usr/bin/env bash
# Reports how long `micro env` (no network) takes to start and exit: wall and
# CPU time over many runs, and the packages whose init costs the most. A
# report for people, never a test. Given another binary, such as Micro
# v3's, it times both, run for run in turn.
#
#   scripts/startup-time.sh [BINARY] [RUNS] [OTHER]     (default bin/micro, 200)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(realpath "${1:-bin/micro}")
runs=${2:-200}
home=$(mktemp -d)
trap 'rm -rf "$home"' EXIT
unset MICRO_ENV MICRO_OUTPUT
vs=()
[[ -n "${3:-}" ]] && vs=(-vs "$(realpath "$3")")
HOME=$home GOWORK=off go run scripts/startuptime/main.go -n "$runs" "${vs[@]}" "$bin" env
