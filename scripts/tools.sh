#!/usr/bin/env bash
# Builds the pinned code generators (scripts/tools/go.mod) into .cache/bin and
# prints that directory. Only the Go module proxy is needed.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin="$root/.cache/bin"
mkdir -p "$bin"
(cd "$root/scripts/tools" && GOWORK=off GOBIN="$bin" go install tool)
echo "$bin"
