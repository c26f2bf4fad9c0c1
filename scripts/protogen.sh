#!/usr/bin/env bash
# Regenerates Go messages, gRPC stubs, grpc-gateway handlers and OpenAPI
# documents from proto/. Each service's HTTP mapping lives beside its proto
# as <service>_gateway.yaml.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
PATH="$(scripts/tools.sh):$PATH"
export PATH

buf lint
find proto/m3o -name '*.pb.go' -o -name '*.pb.gw.go' -o -name '*.swagger.json' | xargs -r rm -f
buf generate

for dir in proto/m3o/*/v1; do
  svc=$(basename "$(dirname "$dir")")
  mapping="$dir/${svc}_gateway.yaml"
  buf generate --path "$dir" --template "$(cat <<JSON
{"version":"v2","managed":{"enabled":true,"override":[{"file_option":"go_package_prefix","value":"m3o.dev/proto"}]},
 "plugins":[
  {"local":"protoc-gen-grpc-gateway","out":"proto","opt":["paths=source_relative","grpc_api_configuration=$mapping"]},
  {"local":"protoc-gen-openapiv2","out":"proto","opt":["grpc_api_configuration=$mapping","disable_default_errors=false"]}]}
JSON
)"
done

# The SDK's test service stands for a user's API, so it lives outside
# proto/, in the package name a user would give it.
(cd pkg/service/servicetest/hellopb && buf generate . --template buf.gen.yaml)
