#!/usr/bin/env bash
# go vet and a GOWORK=off build in every module (go vet in scripts/k8s), a gofmt check over tracked Go files, and buf lint.
set -euo pipefail
cd "$(dirname "$0")/.."
for m in proto pkg services services/heldmetrics cli; do
  (cd "$m" && go vet ./...)
  # Each module also builds on its own, through its replace lines.
  (cd "$m" && GOWORK=off go build ./...)
done
# The control-plane tools module (scripts/k8s) is not in go.work; vetting
# its one package of our own reuses what scripts/k8s-bin.sh compiled.
(cd scripts/k8s && GOWORK=off go vet ./...)
unformatted=$(gofmt -l proto pkg services cli scripts/k8s)
if [[ -n "$unformatted" ]]; then
  echo "gofmt would change:" >&2
  echo "$unformatted" >&2
  exit 1
fi
PATH="$(scripts/tools.sh):$PATH" buf lint
