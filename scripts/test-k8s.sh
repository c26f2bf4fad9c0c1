#!/usr/bin/env bash
# Runs the tests that need a Kubernetes control plane: every services
# package whose tests import services/internal/k8stest, and k8stest itself.
# Builds kube-apiserver, kube-controller-manager and etcd first (cached;
# scripts/k8s-bin.sh); each test binary starts its own control plane on
# free loopback ports in a temporary directory and stops it when it ends,
# however it ends. Arguments go to go test (-run, -v, ...).
set -euo pipefail
cd "$(dirname "$0")/.."
M3O_K8S_BIN=$(scripts/k8s-bin.sh)
export M3O_K8S_BIN
cd services
harness=m3o.dev/services/internal/k8stest
mapfile -t pkgs < <(go list -f '{{.ImportPath}}{{range .TestImports}} {{.}}{{end}}{{range .XTestImports}} {{.}}{{end}}' ./... |
  awk -v h="$harness" '{ for (i = 1; i <= NF; i++) if ($i == h) { print $1; next } }')
if [[ ${#pkgs[@]} -eq 0 ]]; then
  echo "test-k8s.sh: no package imports $harness" >&2
  exit 1
fi
echo "== go test (Kubernetes control plane): ${pkgs[*]}" >&2
go test -count=1 -timeout 30m "$@" "${pkgs[@]}"
