#!/usr/bin/env bash
# Builds bin/micro and, for production images, one binary per core service.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bin
(cd cli && go build -o ../bin/micro ./cmd/micro)
for dir in services/cmd/*/; do
  [[ -f "$dir/main.go" ]] || continue
  name=$(basename "$dir")
  (cd services && go build -o "../bin/$name" "./cmd/$name")
done
