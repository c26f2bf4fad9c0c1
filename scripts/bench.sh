#!/usr/bin/env bash
# Runs the benchmarks. Each compares a path through the platform with its
# direct baseline in the same run; figures are reported as custom metrics.
set -euo pipefail
cd "$(dirname "$0")/.."
# The proxy's cost beyond a plain forwarding hop is a few µs of CPU in a
# hop of about sixty: at BENCHTIME's 2000 calls the machine's noise hides
# it, so the proxy's benchmark runs apart, at one P (no thread spinning for
# work inflates the CPU measured) and at two. At two, threads spinning for
# work move the difference by about ±10 µs at 20,000 calls a path, and by
# a few at 60,000, which takes two minutes.
proxy=BenchmarkStoreRead
# What a hop between services costs depends on whether another thread
# must be woken for it, which a store write's commit wait makes likely: the
# hop taken apart and the store's write also run at one P and at two.
hop='BenchmarkHop|BenchmarkUpsert'
for m in pkg services cli; do
  echo "== go test -bench: $m" >&2
  (cd "$m" && go test -run '^$' -bench . -skip "^($proxy|$hop)\$" -benchtime "${BENCHTIME:-2000x}" -timeout 30m ./...)
done
echo "== go test -bench: one hop between services taken apart, and the store's write" >&2
(cd services && go test -run '^$' -bench "^($hop)\$" -benchtime "${BENCHTIME:-2000x}" -cpu 1,2 -timeout 30m ./internal/corekit/ ./store/storeserver/)
echo "== go test -bench: the proxy beside a plain hop" >&2
(cd services && go test -run '^$' -bench "^$proxy\$" -benchtime "${PROXY_BENCHTIME:-60000x}" -cpu 1,2 -timeout 30m ./proxy/)
