#!/usr/bin/env bash
# go vet and a GOWORK=off build in every module, a gofmt check over tracked Go files, and buf lint.
set -euo pipefail
cd "$(dirname "$0")/.."
for m in proto pkg services cli; do
  (cd "$m" && go vet ./...)
  # Each module also builds on its own, through its replace lines.
  (cd "$m" && GOWORK=off go build ./...)
done
unformatted=$(gofmt -l proto pkg services cli)
if [[ -n "$unformatted" ]]; then
  echo "gofmt would change:" >&2
  echo "$unformatted" >&2
  exit 1
fi
PATH="$(scripts/tools.sh):$PATH" buf lint
