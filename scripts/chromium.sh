#!/usr/bin/env bash
# Installs Debian's chromium when it is missing: the subscribe page's tests
# drive it headless. MICRO_TEST_CHROMIUM naming another browser binary
# stands in for it.
set -euo pipefail
if [[ -n "${MICRO_TEST_CHROMIUM:-}" ]] || command -v chromium >/dev/null 2>&1; then
  exit 0
fi
as_root=()
[[ $(id -u) -eq 0 ]] || as_root=(sudo)
echo "installing chromium from Debian's packages (the subscribe page's tests drive it headless)" >&2
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
