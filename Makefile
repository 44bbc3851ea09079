# pitstop — the commands users and CI run. See README.md.
SHELL := /bin/bash
CARGO ?= cargo
export RUST_BACKTRACE ?= 0

.PHONY: demo test bench build lint fmt manifests run-operator

## demo: a short accelerated Monza race through throwaway Redis and PostgreSQL, with a summary.
demo:
	$(CARGO) build --release --bin pitstop
	scripts/services.sh -- target/release/pitstop demo $(DEMO_ARGS)

## test: everything CI runs (format, lint, unit, integration against real Redis and
## PostgreSQL, Prometheus rules against the real promtool).
test: lint
	tools=$$(scripts/tools.sh) && PATH="$$tools:$$PATH" scripts/services.sh --reuse-local -- $(CARGO) test --workspace --all-targets --locked

## bench: criterion micro-benchmarks, then an end-to-end run through real Redis and PostgreSQL.
bench:
	$(CARGO) bench --bench codec --bench analytics --locked
	$(CARGO) build --release --bin pitstop --locked
	scripts/services.sh -- target/release/pitstop bench $(BENCH_ARGS)

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

fmt:
	$(CARGO) fmt --all

build:
	$(CARGO) build --workspace --release --locked

## manifests: regenerate generated YAML (the CRD, the prometheus-adapter files) from the Rust code.
manifests:
	$(CARGO) build --quiet -p pitstop-operator --locked
	target/debug/pitstop-operator crd > crds/racesessions.pitstop.io.yaml
	mkdir -p k8s/prometheus-adapter
	target/debug/pitstop-operator prometheus-adapter values > k8s/prometheus-adapter/values.yaml
	target/debug/pitstop-operator prometheus-adapter manifests > k8s/prometheus-adapter/manifests.yaml

## run-operator: install the CRD into the current kubeconfig's cluster and run the operator locally.
run-operator:
	kubectl apply --server-side -f crds/
	$(CARGO) run --release -p pitstop-operator -- run --leader-election=false
