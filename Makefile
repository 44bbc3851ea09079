# pitstop — the commands users and CI run. See README.md.
SHELL := /bin/bash
CARGO ?= cargo
export RUST_BACKTRACE ?= 0
# Where cargo puts what it builds: CARGO_TARGET_DIR when set (cargo's own rule), else
# target/. Every target that runs a built binary takes it from here.
TARGET_DIR := $(or $(CARGO_TARGET_DIR),target)

.PHONY: demo test e2e bench bench-operator bench-plugin build lint fmt manifests docs images docker-images run-operator kind-up kind-deploy kind-e2e kind-down

## demo: a short accelerated Monza race through throwaway Redis and PostgreSQL, with a summary.
demo:
	$(CARGO) build --release --bin pitstop
	scripts/services.sh -- $(TARGET_DIR)/release/pitstop demo $(DEMO_ARGS)

## test: everything CI runs (format, lint, unit, integration against real Redis and
## PostgreSQL, Prometheus rules against the real promtool, reconcile tests against the real
## kube-apiserver of ../shared/k8s-local where it is present: scripts/kit.sh).
test: lint
	tools=$$(scripts/tools.sh) && PATH="$$tools:$$PATH" scripts/services.sh --reuse-local --server-binaries -- scripts/kit.sh run -- $(CARGO) test --workspace --all-targets --locked

## e2e: the whole product on a real node (../shared/k8s-local; E2E_CLUSTER=current for the
## current kubeconfig's cluster): images built without Docker, the chart, a short race with
## four faults, exact per-car counts, the post-race DAG, a clean uninstall (scripts/e2e.py).
## Skips, saying why, where no cluster can be had.
e2e:
	$(CARGO) build --locked --bin pitstop --bin pitstop-operator
	scripts/e2e.py

## bench: criterion micro-benchmarks, an end-to-end run through real Redis and PostgreSQL
## (its throughput phase also on a throwaway 3-master Redis Cluster, scripts/redis-cluster.sh),
## then the operator at league scale (bench-operator) and the kubectl plugin's start-up
## (bench-plugin).
bench:
	$(CARGO) bench --bench codec --bench analytics --bench game --locked
	$(CARGO) build --release --bin pitstop --locked
	scripts/services.sh --server-binaries -- scripts/redis-cluster.sh -- $(TARGET_DIR)/release/pitstop bench $(BENCH_ARGS)
	$(MAKE) bench-operator
	$(MAKE) bench-plugin

## bench-plugin: start-up time of the release kubectl-pitstop, median of PLUGIN_RUNS runs
## (wall clock, `date +%s%N`): `--help`, and `status` against an API server that refuses
## connections (kubeconfig, client, one failed request, the error line).
PLUGIN_RUNS ?= 21
PLUGIN_BIN := $(TARGET_DIR)/release/kubectl-pitstop
bench-plugin:
	$(CARGO) build --release --locked -p pitstop-operator --bin kubectl-pitstop
	@kc=$$(mktemp); trap 'rm -f $$kc' EXIT; \
	printf 'apiVersion: v1\nkind: Config\ncurrent-context: c\nclusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]\ncontexts: [{name: c, context: {cluster: c, user: u}}]\nusers: [{name: u, user: {token: t}}]\n' >$$kc; \
	for case in "--help|--help" "status (server refusing)|--kubeconfig $$kc status bench"; do \
	  label=$${case%%|*}; args=$${case#*|}; ts=(); \
	  for i in $$(seq $(PLUGIN_RUNS)); do \
	    s=$$(date +%s%N); $(PLUGIN_BIN) $$args >/dev/null 2>&1; e=$$(date +%s%N); ts+=($$((e - s))); \
	  done; \
	  printf '%s\n' "$${ts[@]}" | sort -n | awk -v l="$$label" -v n=$(PLUGIN_RUNS) \
	    '{ a[NR] = $$1 } END { printf "kubectl-pitstop %-26s median %6.2f ms (min %.2f, max %.2f) of %d runs\n", l, a[int((n + 1) / 2)] / 1e6, a[1] / 1e6, a[n] / 1e6, n }'; \
	done

## bench-operator: RACES RaceSessions (default 1000; a list such as RACES=200,1000 also
## prints the growth per race) against the in-memory API server over TCP, reconciled by the
## release `pitstop-operator run`: time until every race has a status, reconciles/s, API
## requests per race, p50/p99 reconcile time, CPU, RSS settled and at its peak
## (operator/tests/at_scale.rs; `make test` runs its 20-race smoke version); then
## RACES_REAL races (default 200) on the real kube-apiserver of the local kit
## (scripts/kit.sh; skipped with a message without one), in namespaces of its own with a
## zero-pod quota.
RACES ?= 1000
RACES_REAL ?= 200
bench-operator:
	RACES=$(RACES) RACES_REAL=$(RACES_REAL) $(CARGO) test --release -p pitstop-operator --test at_scale --locked -- --ignored --nocapture --test-threads=1 bench

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

fmt:
	$(CARGO) fmt --all

build:
	$(CARGO) build --workspace --release --locked

## manifests: regenerate every generated file: the CRD (crds/ and the chart's copy), the
## prometheus-adapter files (Helm values helm/prometheus-adapter-values.yaml, manifests
## k8s/prometheus-adapter/), the plain install bundle k8s/ (from the Helm chart) and the
## rendered references k8s/stream-processor-hpa.yaml and k8s/networkpolicy.yaml.
## Tests fail when any of them is stale.
OPERATOR_DEBUG := $(TARGET_DIR)/debug/pitstop-operator
manifests:
	$(CARGO) build --quiet -p pitstop-operator --locked
	$(OPERATOR_DEBUG) crd > crds/racesessions.pitstop.io.yaml
	cp crds/racesessions.pitstop.io.yaml helm/pitstop-operator/files/
	mkdir -p k8s/prometheus-adapter
	$(OPERATOR_DEBUG) prometheus-adapter values > helm/prometheus-adapter-values.yaml
	$(OPERATOR_DEBUG) prometheus-adapter manifests > k8s/prometheus-adapter/manifests.yaml
	tools=$$(scripts/tools.sh) && scripts/render-k8s.sh "$$tools/helm" $(OPERATOR_DEBUG)

## docs: regenerate the RaceSession reference in docs/racesession.md from the CRD's
## descriptions, and docs/openapi.json (the processor API's OpenAPI document) from the
## handlers' types.
docs:
	$(CARGO) run --quiet -p pitstop-operator --bin pitstop-operator --locked -- reference --file docs/racesession.md
	$(CARGO) run --quiet -p pitstop-workloads --bin pitstop --locked -- openapi > docs/openapi.json.tmp
	mv docs/openapi.json.tmp docs/openapi.json

VERSION := $(shell scripts/version.sh)
REGISTRY ?= ghcr.io/pitstop-io
OPERATOR_IMAGE ?= $(REGISTRY)/pitstop-operator:$(VERSION)
WORKLOADS_IMAGE ?= $(REGISTRY)/pitstop:$(VERSION)
KIND_CLUSTER ?= pitstop

## images: the two container images as OCI archives in images/ of the target directory
## (target/images/, or $CARGO_TARGET_DIR/images/), without a Docker engine: the release
## binaries on the Dockerfiles' final stage (scripts/oci-image.py). Push with
## `skopeo copy oci-archive:<target dir>/images/pitstop.oci.tar docker://REGISTRY/pitstop:TAG`.
images:
	$(CARGO) build --release --locked --bin pitstop --bin pitstop-operator
	scripts/oci-image.py --dockerfile operator/Dockerfile --binary $(TARGET_DIR)/release/pitstop-operator --name $(OPERATOR_IMAGE) --version $(VERSION) --out $(TARGET_DIR)/images/pitstop-operator.oci.tar
	scripts/oci-image.py --dockerfile workloads/Dockerfile --binary $(TARGET_DIR)/release/pitstop --name $(WORKLOADS_IMAGE) --version $(VERSION) --out $(TARGET_DIR)/images/pitstop.oci.tar

## docker-images: the same two images built by a Docker engine from the Dockerfiles (static musl).
docker-images:
	docker build -f operator/Dockerfile --build-arg VERSION=$(VERSION) -t $(OPERATOR_IMAGE) .
	docker build -f workloads/Dockerfile --build-arg VERSION=$(VERSION) -t $(WORKLOADS_IMAGE) .

## kind-up / kind-deploy / kind-e2e / kind-down: a local cluster with the operator and a
## race (needs Docker and kind; see scripts/kind.sh). kind-e2e is `make e2e` on a kind
## cluster (images loaded with `kind load image-archive`), then deletes the cluster.
kind-up:
	KIND_CLUSTER=$(KIND_CLUSTER) scripts/kind.sh up
kind-deploy: docker-images
	KIND_CLUSTER=$(KIND_CLUSTER) OPERATOR_IMAGE=$(OPERATOR_IMAGE) WORKLOADS_IMAGE=$(WORKLOADS_IMAGE) scripts/kind.sh deploy
kind-e2e: kind-up
	$(CARGO) build --locked --bin pitstop --bin pitstop-operator
	E2E_CLUSTER=current KIND_CLUSTER=$(KIND_CLUSTER) scripts/e2e.py; rc=$$?; KIND_CLUSTER=$(KIND_CLUSTER) scripts/kind.sh down; exit $$rc
kind-down:
	KIND_CLUSTER=$(KIND_CLUSTER) scripts/kind.sh down

## run-operator: install the CRD into the current kubeconfig's cluster and run the operator locally.
run-operator:
	kubectl apply --server-side -f crds/
	$(CARGO) run --release -p pitstop-operator --bin pitstop-operator -- run --leader-election=false
