#!/usr/bin/env bash
# Builds bin/micro and, for production images, one binary per core service.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bin
# Static binaries, as the images build them (deploy/Dockerfile): no cgo
# part needs them, and a dynamically linked micro spends a millisecond or
# more of every command's start loading libc.
export CGO_ENABLED=0
# Without the symbol table and DWARF, as the images and Micro v3's own
# Makefile build: a panic still prints its stack, and micro's start is
# about a millisecond shorter (scripts/startup-time.sh, run for run).
ldflags="-s -w"
# A build from a checkout names its commit, so that 'micro version' in a bug
# report says which code ran; release images set a release (deploy/Dockerfile).
if version=$(git describe --tags --always --dirty 2>/dev/null); then
  [[ $version == v* ]] || version="dev-$version"
  ldflags="$ldflags -X m3o.dev/cli/command.Version=$version"
fi
# urfave_cli_no_docs leaves out urfave/cli's man page and Markdown writers,
# which micro never calls but whose Markdown parser every run initialises.
(cd cli && go build -tags urfave_cli_no_docs -ldflags "$ldflags" -o ../bin/micro ./cmd/micro)
for dir in services/cmd/*/; do
  [[ -f "$dir/main.go" ]] || continue
  name=$(basename "$dir")
  (cd services && go build -ldflags "$ldflags" -o "../bin/$name" "./cmd/$name")
done
