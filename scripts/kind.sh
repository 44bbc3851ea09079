#!/usr/bin/env bash
# kind end to end: `up` creates a cluster, `deploy` loads the images and installs the
# chart and examples/minimal.yaml, `check` waits (no sleeps) for Ready=True and checks the
# HPA and NetworkPolicy, `down` deletes the cluster. Called by the kind-* make targets
# and by .github/workflows/kind-e2e.yml; needs docker, kind, kubectl and helm on PATH.
set -euo pipefail
cluster=${KIND_CLUSTER:-pitstop}
ns=racing
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

need() { command -v "$1" >/dev/null || { echo "kind.sh: $1 is required" >&2; exit 1; }; }

case "${1:-}" in
  up)
    need kind; need kubectl
    if ! kind get clusters | grep -qx "$cluster"; then
      kind create cluster --name "$cluster" --wait 120s
    fi
    ;;
  deploy)
    need kind; need helm; need kubectl
    : "${OPERATOR_IMAGE:?}" "${WORKLOADS_IMAGE:?}"
    kind load docker-image --name "$cluster" "$OPERATOR_IMAGE" "$WORKLOADS_IMAGE"
    helm upgrade --install pitstop-operator helm/pitstop-operator \
      --namespace pitstop-system --create-namespace \
      --set image.repository="${OPERATOR_IMAGE%:*}" --set image.tag="${OPERATOR_IMAGE##*:}" \
      --set image.pullPolicy=IfNotPresent \
      --set workloadsImage="$WORKLOADS_IMAGE" \
      --wait --timeout 5m
    kubectl create namespace "$ns" --dry-run=client -o yaml | kubectl apply -f -
    kubectl -n "$ns" apply -f examples/minimal.yaml
    ;;
  check)
    need kubectl
    # Ready=True means every child (datastores, simulator, processor, Prometheus, Grafana)
    # reports ready; waiting for the condition (kubectl), not sleeping.
    if ! kubectl -n "$ns" wait race/monza --for=condition=Ready --timeout=10m; then
      kubectl -n "$ns" get race monza -o yaml
      kubectl -n "$ns" get pods,events
      kubectl -n pitstop-system logs -l app.kubernetes.io/name=pitstop-operator --tail=100
      exit 1
    fi
    kubectl -n "$ns" get hpa monza-processor
    kubectl -n "$ns" get networkpolicy monza-processor monza-redis monza-postgres
    kubectl -n "$ns" get race
    echo "kind e2e: race Ready, HPA and NetworkPolicies present"
    ;;
  down)
    need kind
    kind delete cluster --name "$cluster"
    ;;
  *)
    echo "usage: scripts/kind.sh up|deploy|check|down" >&2
    exit 2
    ;;
esac
