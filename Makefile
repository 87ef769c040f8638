# The two commands a new user runs: `make e2e` (the main job) and `make test`.
SHELL := /bin/bash
GO ?= go
GINKGO := $(GO) tool ginkgo
ARTIFACTS ?= $(CURDIR)/_artifacts
PROVIDER ?= process
# Extra ginkgo flags, e.g. GINKGO_ARGS="-p" or GINKGO_ARGS="--label-filter=risk".
GINKGO_ARGS ?=
# Flags for the suite itself (after --), e.g. E2E_ARGS="-path=3.5.19,3.5.21,3.6.4 -strategy=replace -keep".
E2E_ARGS ?=

.PHONY: all test unit e2e e2e-fast etcd lint clean bench-etcd

all: lint test

## test: unit tests, then the fast process-provider e2e specs (one failing and one consistent path).
test: unit e2e-fast

unit:
	$(GO) test ./framework/... ./scenarios/... ./cmd/...

e2e-fast:
	$(GINKGO) -v --label-filter='fast && process' --junit-report=junit_e2e_fast.xml --output-dir=$(ARTIFACTS) ./e2e -- -provider=process -artifacts=$(ARTIFACTS) $(E2E_ARGS)

## e2e: the whole matrix on $(PROVIDER) (process, kind or all); reports in $(ARTIFACTS).
e2e:
	$(GINKGO) -v $(GINKGO_ARGS) --junit-report=junit_e2e.xml --output-dir=$(ARTIFACTS) ./e2e -- -provider=$(PROVIDER) -artifacts=$(ARTIFACTS) $(E2E_ARGS)

## etcd: provision every etcd version the scenarios use (VERSIONS="3.5.17 3.6.5" for others).
etcd:
	$(GO) run ./cmd/etcd-binaries $(VERSIONS)

## bench-etcd: cold and warm provisioning time of one version (VERSION=3.5.17).
bench-etcd:
	$(GO) run ./cmd/etcd-binaries -bench $(or $(VERSION),3.5.17)

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

clean:
	rm -rf $(ARTIFACTS)
