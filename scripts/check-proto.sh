#!/usr/bin/env bash
# Regenerates the proto outputs into a scratch copy of the repository and
# fails when they differ from the committed ones.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

mkdir -p "$scratch/scripts" "$scratch/pkg/service/servicetest"
cp -r "$root/proto" "$root/buf.yaml" "$root/buf.gen.yaml" "$scratch/"
# The SDK's test API is generated too (see protogen.sh).
hellopb=pkg/service/servicetest/hellopb
cp -r "$root/$hellopb" "$scratch/$hellopb"
cp -r "$root/scripts/tools" "$root/scripts/tools.sh" "$root/scripts/protogen.sh" "$scratch/scripts/"
# Reuse the tools already built in the repository's cache.
mkdir -p "$root/.cache/bin" "$scratch/.cache"
ln -s "$root/.cache/bin" "$scratch/.cache/bin"

"$scratch/scripts/protogen.sh" >/dev/null
if ! diff -r "$root/proto" "$scratch/proto" >&2 || ! diff -r "$root/$hellopb" "$scratch/$hellopb" >&2; then
  echo "Generated code in proto/ or $hellopb is out of date: run 'make proto' and commit the result." >&2
  exit 1
fi
echo "proto/ and $hellopb: generated code matches its sources."
