#!/usr/bin/env bash
# Builds the Kubernetes control plane the tests run against, from the Go
# modules pinned in scripts/k8s/go.mod: kube-apiserver,
# kube-controller-manager and etcd, into .cache/k8s/<version>/bin. Prints
# that directory. Go's build cache makes a second run a no-op; a cold build
# takes about ten minutes on two cores. Only the Go module proxy is needed.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
mod="$root/scripts/k8s"
version=$(awk '$1 == "k8s.io/kubernetes" { print $2 }' "$mod/go.mod")
if [[ ! $version =~ ^v([0-9]+)\.([0-9]+)\.[0-9]+$ ]]; then
  echo "k8s-bin.sh: no k8s.io/kubernetes version in $mod/go.mod" >&2
  exit 1
fi
bin="$root/.cache/k8s/$version/bin"
mkdir -p "$bin"

# The version the binaries report (kube-apiserver --version, /version),
# which is otherwise v0.0.0 for a build outside kubernetes' own scripts.
pkg=k8s.io/component-base/version
ldflags="-X $pkg.gitVersion=$version -X $pkg.gitMajor=${BASH_REMATCH[1]} -X $pkg.gitMinor=${BASH_REMATCH[2]} -X $pkg.gitTreeState=clean"

cd "$mod"
export GOWORK=off CGO_ENABLED=0
go build -trimpath -ldflags "$ldflags" -o "$bin/" \
  k8s.io/kubernetes/cmd/kube-apiserver \
  k8s.io/kubernetes/cmd/kube-controller-manager \
  ./etcd
echo "$bin"
