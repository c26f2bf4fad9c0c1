# M3O developer targets. Each target is thin; longer steps live in scripts/.
MODULES := proto pkg services services/heldmetrics cli
GO      ?= go

.DEFAULT_GOAL := help

.PHONY: help
help: ## Show the targets.
	@awk 'BEGIN {FS = ":.*## "} /^[a-z0-9-]+:.*## / {printf "  %-12s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: build
build: ## Build bin/micro and the per-service binaries.
	@scripts/build.sh

.PHONY: run
run: build ## Build, then start the whole platform with embedded backends (micro server).
	bin/micro server $(ARGS)

.PHONY: test
test: ## Run every test, starting a throwaway PostgreSQL unless MICRO_TEST_POSTGRES_DSN is set.
	@scripts/with-postgres.sh scripts/test.sh

.PHONY: test-faults
test-faults: ## Run the fault suite (kill -9 of the store, auth and the registry with its etcd, PostgreSQL and micro server restarts, one of two store, auth, config, billing or proxy replicas or user service instances killed, all under load) and print its figures.
	@scripts/with-postgres.sh scripts/test-faults.sh

.PHONY: test-k8s
test-k8s: ## Run the tests that need a Kubernetes API server (built from scripts/k8s, started on loopback).
	@scripts/test-k8s.sh

.PHONY: bench
bench: ## Run the benchmarks against their direct baselines.
	@scripts/with-postgres.sh scripts/bench.sh

.PHONY: lint
lint: ## go vet, gofmt and buf lint.
	@scripts/lint.sh

.PHONY: proto
proto: ## Regenerate Go, gRPC, gateway and OpenAPI code from proto/.
	@scripts/protogen.sh

.PHONY: check-proto
check-proto: ## Fail when committed generated code differs from what proto/ generates.
	@scripts/check-proto.sh

.PHONY: breaking
breaking: ## Compare the protos with main for breaking changes (advisory until the APIs are stable).
	@PATH="$$(scripts/tools.sh):$$PATH" buf breaking --against '.git#branch=main'

.PHONY: tidy
tidy: ## go mod tidy in every module.
	@for m in $(MODULES) scripts/tools scripts/k8s; do (cd $$m && GOWORK=off $(GO) mod tidy) || exit 1; done
