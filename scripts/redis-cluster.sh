#!/usr/bin/env bash
# Runs a command beside a throwaway 3-master Redis Cluster (one replica each) on loopback,
# exported as REDIS_CLUSTER_URL (`redis+cluster://127.0.0.1:P1,…`), removed when the
# command exits. Needs redis-server and redis-cli (scripts/services.sh --server-binaries
# installs them).
#
#   scripts/redis-cluster.sh -- COMMAND...
set -euo pipefail
[ "${1:-}" = "--" ] && shift
[ $# -gt 0 ] || { echo "usage: $0 -- COMMAND..." >&2; exit 2; }
log() { echo "[redis-cluster] $*" >&2; }
command -v redis-server >/dev/null && command -v redis-cli >/dev/null \
  || { log "redis-server and redis-cli are needed (scripts/services.sh --server-binaries)"; exit 1; }

tmp=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
ports=()
while [ ${#ports[@]} -lt 6 ]; do
  p=$(( 20000 + RANDOM % 20000 ))
  port_free "$p" && port_free $((p + 10000)) && [[ ! " ${ports[*]} " =~ " $p " ]] && ports+=("$p")
done
for p in "${ports[@]}"; do
  mkdir -p "$tmp/$p"
  redis-server --port "$p" --bind 127.0.0.1 --cluster-enabled yes --cluster-node-timeout 2000 \
    --save '' --appendonly no --dir "$tmp/$p" >"$tmp/$p/log" 2>&1 &
  pids+=("$!")
done
for p in "${ports[@]}"; do
  for _ in $(seq 1 100); do redis-cli -p "$p" PING >/dev/null 2>&1 && break; sleep 0.1; done
done
nodes=()
for p in "${ports[@]}"; do nodes+=("127.0.0.1:$p"); done
redis-cli --cluster create "${nodes[@]}" --cluster-replicas 1 --cluster-yes >"$tmp/create.log" 2>&1 \
  || { cat "$tmp/create.log" >&2; exit 1; }
for _ in $(seq 1 100); do
  ok=1
  for p in "${ports[@]}"; do redis-cli -p "$p" CLUSTER INFO | grep -q cluster_state:ok || ok=0; done
  [ "$ok" = 1 ] && break
  sleep 0.2
done
[ "$ok" = 1 ] || { log "the cluster did not become healthy"; exit 1; }
REDIS_CLUSTER_URL="redis+cluster://$(IFS=,; echo "${nodes[*]}")"
export REDIS_CLUSTER_URL
log "3 masters, 3 replicas: $REDIS_CLUSTER_URL"
"$@"
