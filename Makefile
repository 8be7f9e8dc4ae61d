# TraderX plugin suite. `make help` lists the targets.
SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := build

export GOTOOLCHAIN := local
export GOFLAGS := -buildvcs=false

VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
# The commit date, not the build time, so rebuilding a commit gives the same bytes.
DATE    ?= $(shell git log -1 --format=%cI 2>/dev/null || echo unknown)
CLI_PKG := github.com/finos/traderx-plugins/pkg/cli
LDFLAGS := -s -w -X $(CLI_PKG).version=$(VERSION) -X $(CLI_PKG).commit=$(COMMIT) -X $(CLI_PKG).date=$(DATE)
# Release archives need a semantic version (krew, cub): the v* tag on HEAD, else
# v0.0.0-g<commit>, with .dirty when tracked files have local changes.
DIST_VERSION ?= $(shell git describe --tags --exact-match --match 'v[0-9]*' 2>/dev/null || \
	echo "v0.0.0-g$(COMMIT)$$(git diff --quiet HEAD -- 2>/dev/null || echo .dirty)")

GO_TEST_FLAGS ?= -count=1 -timeout 30m

.PHONY: help
help: ## list targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

.PHONY: build
build: ## build kubectl-traderx, cub-traderx and the sandbox into bin/
	go build -trimpath -ldflags "$(LDFLAGS)" -o bin/ ./cmd/kubectl-traderx ./cmd/cub-traderx
	go build -trimpath -o bin/traderx-sandbox ./test/sandbox

.PHONY: cluster
cluster: ## build the local control plane binaries (cached outside the clone)
	bash test/cluster/build.sh >/dev/null

.PHONY: test
test: lint cluster build ## everything: lint, unit + control-plane tests, e2e
	TRADERX_CLUSTER_DIR="$$(bash test/cluster/build.sh)" go test $(GO_TEST_FLAGS) ./...
	$(MAKE) e2e monitoring dist-test

.PHONY: monitoring
monitoring: ## promtool checks and rule tests, dashboard PromQL checks (builds promtool once, cached)
	bash monitoring/check.sh
	cd monitoring/tools && go test $(GO_TEST_FLAGS) ./...

.PHONY: unit
unit: ## fast tests only: no control plane (go test -short)
	go test -short $(GO_TEST_FLAGS) ./...

.PHONY: e2e
e2e: cluster build ## end-to-end tests: real binaries through kubectl plugin dispatch
	TRADERX_CLUSTER_DIR="$$(bash test/cluster/build.sh)" TRADERX_BIN_DIR="$(CURDIR)/bin" \
		go test -tags e2e $(GO_TEST_FLAGS) ./test/e2e/...

.PHONY: bench
bench: cluster build ## the binaries with default flags on the local control plane + ConfigHub stand-in; writes docs/benchmarks.md
	TRADERX_CLUSTER_DIR="$$(bash test/cluster/build.sh)" TRADERX_BIN_DIR="$(CURDIR)/bin" \
		TRADERX_BENCH_DOC="$(CURDIR)/docs/benchmarks.md" TRADERX_BENCH_COMMIT="$(VERSION)" \
		go test -tags bench -count=1 -v -timeout 30m ./test/bench/

.PHONY: dist
dist: ## reproducible archives for every platform of plugins.yaml + the krew manifest into dist/
	rm -rf dist
	go run ./hack/dist -version $(DIST_VERSION) -commit $(COMMIT) -date $(DATE) -out dist

.PHONY: dist-test
dist-test: dist ## dist archives: krew validation + real krew install, cub install protocol, reproducibility
	go vet -tags dist ./test/dist/...
	TRADERX_DIST_DIR="$(CURDIR)/dist" TRADERX_KREW_DIR="$$(bash hack/krew.sh)" \
		go test -tags dist $(GO_TEST_FLAGS) ./test/dist/...

.PHONY: docs
docs: ## regenerate the command reference (docs/commands) from the cobra trees
	go run ./hack/gendocs docs/commands

.PHONY: lint
lint: ## gofmt check and go vet
	@unformatted="$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))"; \
	if [[ -n "$$unformatted" ]]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	go vet ./...
	go vet -tags e2e ./test/e2e/...
	go vet -tags bench ./test/bench/...

.PHONY: sandbox
sandbox: cluster build ## start two local control planes (dev+staging, prod) in the background; writes .sandbox/env
	bash hack/sandbox-up.sh

.PHONY: sandbox-down
sandbox-down: ## stop the sandbox by PID
	bash hack/sandbox-down.sh

.PHONY: demo
demo: sandbox ## sandbox + cub traderx install + apply dev + kubectl traderx health/validate dev
	bash hack/demo.sh

.PHONY: demo-full
demo-full: cluster build ## the whole operations runbook (docs/runbook.md) end to end, verbose
	TRADERX_CLUSTER_DIR="$$(bash test/cluster/build.sh)" TRADERX_BIN_DIR="$(CURDIR)/bin" \
		go test -tags e2e -count=1 -v -run TestRunbook ./test/e2e/

.PHONY: clean
clean: sandbox-down ## remove build output and sandbox state (the control-plane cache stays)
	rm -rf bin .sandbox
