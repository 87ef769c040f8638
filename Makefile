# The two commands a new user runs: `make e2e` (the main job) and `make test`.
SHELL := /bin/bash
GO ?= go
GINKGO := $(GO) tool ginkgo
ARTIFACTS ?= $(CURDIR)/_artifacts
PROVIDER ?= process
# Extra ginkgo flags, e.g. GINKGO_ARGS="-p".
GINKGO_ARGS ?=
# Parallel Ginkgo processes of make e2e on the process provider. A process path mostly waits on
# etcd (its 5 s health interval before each membership change, restarts, elections), so more
# processes than cores pay: the 51 paths took 633 s with 4 and 506 s with 8 on 2 cores busy with a
# node image build (2026-11-30). With writes batched and checks made at once, on 2 otherwise idle
# cores: 384-407 s with 8, 389 s with 12 (the cores are then saturated: more processes only
# stretch every spec); 332-350 s with 8 once binaries were verified once per process rather than
# at every member start. Kind specs run KIND_PROCS at a time whatever this says. With
# --randomize-all each spec is scheduled on its own, so that their SpecPriority (longest path
# first, e2e/labels.go) decides the order and the long replacement chains do not run last.
E2E_PROCS ?= 8
# Kind specs that run at once (make e2e PROVIDER=kind: that many Ginkgo processes, and as many
# -kind-parallel slots, a host-wide lock each). 1 keeps them one at a time. On 2 idle cores, four
# paths took 628 s one at a time and 444 s two at once (2026-11-30).
KIND_PROCS ?= 1
# Ginkgo label filter of make e2e, e.g. LABEL_FILTER="kind && replace && chain" (the Prow jobs' shards).
LABEL_FILTER ?=
# Ginkgo's own --timeout: make e2e (GINKGO_TIMEOUT) and each suite of make test (FAST_TIMEOUT). A
# Prow job sets it below its decoration timeout, so that Ginkgo, not Prow, stops a run that is too
# long and reports the spec that was running. The whole kind matrix (47 specs) needs about 3 h of
# path time on 2 idle cores, about 2 h with KIND_PROCS=2.
GINKGO_TIMEOUT ?= 5h
FAST_TIMEOUT ?= 1h
# Flags for the suite itself (after --), e.g. E2E_ARGS="-path=3.5.19,3.5.21,3.6.4 -strategy=replace -keep".
E2E_ARGS ?=
# The suite binary holds the e2e package's unit tests too (make unit runs them): Ginkgo would run
# them again in every parallel process, and one failing there ends the suite with no spec named.
SUITE_ONLY := -test.run='^TestE2E$$'

.PHONY: all test unit e2e e2e-fast e2e-kind-fast node-image etcd lint clean bench-etcd stress bench-matrix qualify bench-kind bench-report

all: lint test

## test: unit tests, the fast process-provider e2e specs (one failing and one consistent path),
## then the kind specs CI runs: node image, single-node and HA clusters, one failing and one
## consistent kind path (skipped, with the reason, where Docker cannot run kind).
## The etcd binaries come first, one version at a time: on a cold machine, test packages
## building the same versions at once on 2 cores ran past their timeouts.
test: etcd unit e2e-fast e2e-kind-fast

unit:
	$(GO) test -race -timeout 30m ./framework/... ./scenarios/... ./cmd/... ./kindconfigs/...
	$(GO) test -run 'Test[^E]' ./e2e ./e2e/interrupt

e2e-fast:
	$(GINKGO) -v --timeout=$(FAST_TIMEOUT) --label-filter='fast && process' ./e2e -- $(SUITE_ONLY) -provider=process -artifacts=$(ARTIFACTS) -junit=junit_e2e_fast.xml $(E2E_ARGS)

## e2e-kind-fast adds its rows to the matrix e2e-fast wrote: one matrix.json for `make test`.
e2e-kind-fast:
	$(GINKGO) -v --timeout=$(FAST_TIMEOUT) --label-filter='kind && (fast || node-image)' ./e2e -- $(SUITE_ONLY) -provider=kind -artifacts=$(ARTIFACTS) -junit=junit_e2e_kind_fast.xml -merge-matrix $(E2E_ARGS)

## node-image: the offline kind node image for K8S_VERSION with the etcd images the scenarios use
## (debootstrap is installed with apt-get when missing and running as root).
K8S_VERSION ?= v1.33.13
node-image:
	$(GO) run ./cmd/node-image -install-deps -k8s-version=$(K8S_VERSION) $(if $(ETCD_VERSIONS),-etcd-versions=$(ETCD_VERSIONS),) $(if $(FORCE_BUILD),-force-build,)

## e2e: the whole matrix on $(PROVIDER) (process, kind or all), or the specs LABEL_FILTER selects;
## reports in $(ARTIFACTS). The suite writes junit_e2e.xml itself (stable test case names; -junit).
## Without -p, kind specs run in one process, which builds the node image once for all of them.
e2e:
	$(GINKGO) -v --timeout=$(GINKGO_TIMEOUT) $(if $(filter process,$(PROVIDER)),--procs=$(E2E_PROCS) --randomize-all,$(if $(filter-out 1,$(KIND_PROCS)),--procs=$(KIND_PROCS) --randomize-all)) $(if $(LABEL_FILTER),--label-filter='$(LABEL_FILTER)') $(GINKGO_ARGS) ./e2e -- $(SUITE_ONLY) -provider=$(PROVIDER) -kind-parallel=$(KIND_PROCS) -artifacts=$(ARTIFACTS) -junit=junit_e2e.xml $(E2E_ARGS)

## stress: run the paths STRESS_FILTER selects N times and print, per path, the verdicts and time spread.
N ?= 5
STRESS_FILTER ?= process && !faults
stress:
	@mkdir -p $(ARTIFACTS)/stress; rm -rf $(ARTIFACTS)/stress/*
	@for i in $$(seq 1 $(N)); do \
	  start=$$(date +%s); \
	  $(GINKGO) $(GINKGO_ARGS) --label-filter='$(STRESS_FILTER)' --output-dir=$(ARTIFACTS)/stress/$$i ./e2e -- $(SUITE_ONLY) -provider=$(PROVIDER) -artifacts=$(ARTIFACTS)/stress/$$i $(E2E_ARGS) > $(ARTIFACTS)/stress/$$i.log 2>&1; \
	  echo "stress run $$i of $(N): exit $$?, $$(( $$(date +%s) - start ))s"; \
	done
	$(GO) run ./cmd/matrix-summary $(ARTIFACTS)/stress/*/matrix.json

## bench-matrix: time of each path and of the whole matrix with warm binaries.
bench-matrix:
	@start=$$(date +%s); $(GINKGO) $(GINKGO_ARGS) --label-filter='process' --output-dir=$(ARTIFACTS)/bench ./e2e -- $(SUITE_ONLY) -provider=process -artifacts=$(ARTIFACTS)/bench > $(ARTIFACTS)/bench.log 2>&1; \
	  echo "whole matrix: $$(( $$(date +%s) - start ))s (exit $$?)"
	$(GO) run ./cmd/matrix-summary $(ARTIFACTS)/bench/matrix.json || true

## bench-kind: run BENCH_KIND_PATHS on kind (default one in-place and one replacement path; the
## first step of each creates the HA cluster), then print per-step and per-path figures, with the
## parts the kind provider times (kind's create stages, kubeadm's phases, static pod restarts).
## Figures only, no timed assertion. The run's output goes to $(ARTIFACTS)/bench-kind.log.
BENCH_KIND_PATHS ?= 3.5.21-to-3.6.5-in-place 3.5.21-to-3.6.5-replace
bench-kind:
	@mkdir -p $(ARTIFACTS)/bench-kind; rm -rf $(ARTIFACTS)/bench-kind/*; start=$$(date +%s); \
	  $(GINKGO) -v --timeout=$(GINKGO_TIMEOUT) $(if $(filter-out 1,$(KIND_PROCS)),--procs=$(KIND_PROCS)) $(foreach p,$(BENCH_KIND_PATHS),--focus=' $(subst .,\.,$(p)) \[kind\]$$') ./e2e -- $(SUITE_ONLY) -provider=kind -kind-parallel=$(KIND_PROCS) -artifacts=$(ARTIFACTS)/bench-kind -junit= $(E2E_ARGS) > $(ARTIFACTS)/bench-kind.log 2>&1; \
	  rc=$$?; echo "bench-kind: $(words $(BENCH_KIND_PATHS)) paths in $$(( $$(date +%s) - start ))s, ginkgo exit $$rc (log: $(ARTIFACTS)/bench-kind.log)"
	$(GO) run ./cmd/bench-report -v $(ARTIFACTS)/bench-kind

## bench-report: the same figures from the result.json files of any run under ARTIFACTS
## (e.g. make bench-report ARTIFACTS=/tmp/kindfull).
bench-report:
	$(GO) run ./cmd/bench-report $(if $(V),-v) $(ARTIFACTS)

## etcd: provision every etcd version the scenarios use (VERSIONS="3.5.17 3.6.5" for others).
etcd:
	$(GO) run ./cmd/etcd-binaries $(VERSIONS)

## qualify: every known etcd 3.5 → 3.6 risk (scenarios/risks.go) bisected, on the process
## provider, for the first release where it stops reproducing, and every Kubernetes 1.33.z → 1.34.z
## upgrade judged by kubeadm's etcd pins; CANDIDATE=3.5.x (or 3.6.x) runs that release in every
## risk's path and prints GO, NO-GO or CANNOT TELL. Reports: $(ARTIFACTS)/qualify.md, qualify.json, heatmap.html.
## QUALIFY_ARGS passes flags, e.g. QUALIFY_ARGS="-risks=20793 -range35=3.5.20..3.5.25 -targets=3.6.5 -j=2".
QUALIFY_ARGS ?=
qualify:
	$(GO) run ./cmd/qualify -artifacts=$(ARTIFACTS) $(if $(CANDIDATE),-candidate=$(CANDIDATE),) $(QUALIFY_ARGS)

## bench-etcd: cold and warm provisioning time of one version (VERSION=3.5.17).
bench-etcd:
	$(GO) run ./cmd/etcd-binaries -bench $(or $(VERSION),3.5.17)

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) tool staticcheck ./...

## clean: remove artifacts and any kind cluster, node container or network the harness left behind.
clean:
	rm -rf $(ARTIFACTS)
	$(GO) run ./cmd/kind-cleanup
