#!/usr/bin/env bash
# The real Kubernetes v1.36 control plane and node of ../shared/k8s-local, for the tests
# that need a real API server (operator/tests/apiserver.rs) and for `make e2e`.
#
#   scripts/kit.sh up [--node]   install the kit into .kit/ (git-ignored) and start the control
#                                plane; --node also starts the node and imports the datastore
#                                lookalikes (redis:7.4-alpine, postgres:16-alpine). Idempotent.
#   scripts/kit.sh kubeconfig    print the kubeconfig path when the control plane answers
#   scripts/kit.sh tools         print the folder holding the kit's kubectl and helm
#   scripts/kit.sh down          stop the node and the control plane
#   scripts/kit.sh run -- CMD    run CMD with PITSTOP_KUBECONFIG set to the control plane's
#                                kubeconfig (started for it, stopped after if it was not
#                                running); without a kit, CMD runs without it (its tests skip)
#
# Exit status 3 (and a line saying what is missing) when no kit can be had here: the kit
# folder is absent, this is not root on Debian 12 (the kit's own requirements), or another
# checkout's kit is running (one per host).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd -P)
kit=${PITSTOP_KIT:-$root/../shared/k8s-local}
dest=${PITSTOP_KIT_DEST:-$root/.kit}

say() { echo "kit.sh: $*" >&2; }
# CI sets PITSTOP_KIT_REQUIRED=1 where the kit is present: a kit that cannot start there
# fails the run instead of skipping what needs it.
unavailable() {
  say "no real cluster here: $*"
  [ "${PITSTOP_KIT_REQUIRED:-}" = 1 ] && { say "PITSTOP_KIT_REQUIRED=1: failing"; exit 1; }
  exit 3
}

available() {
  [ -x "$kit/install.sh" ] || unavailable "$kit/install.sh not found (set PITSTOP_KIT to a k8s-local kit)"
  [ "$(id -u)" = 0 ] || unavailable "the k8s-local kit runs as root"
  grep -q 'bookworm' /etc/os-release 2>/dev/null || unavailable "the k8s-local kit needs Debian 12"
}

# Only one kit can run on a host (ports, cni0, iptables): refuse to start a second one
# beside a kit that another checkout (another DEST) started.
foreign_kit() {
  local pid exe
  pid=$(pgrep -f -x '.*/k8s/kube-apiserver .*' | head -1 || true)
  [ -n "$pid" ] || return 1
  exe=$(readlink "/proc/$pid/exe" 2>/dev/null || true)
  exe=${exe% (deleted)}
  [ "$exe" != "$dest/k8s/kube-apiserver" ] && echo "$exe"
}

install() {
  # install.sh re-verifies checksums in ~3 s on later runs; skip it once installed.
  [ -x "$dest/k8s/up.sh" ] && [ -x "$dest/k8s/tools/kubectl" ] && return 0
  say "installing the kit into $dest (first time: ~45 s)"
  "$kit/install.sh" "$dest" >"$dest/.install.log" 2>&1 \
    || { tail -20 "$dest/.install.log" >&2; say "install.sh failed (log: $dest/.install.log)"; exit 1; }
}

# The datastore lookalikes take minutes to build (Debian packages into a root filesystem):
# keep them in a cache outside the checkout, keyed by the kit's build script, so a fresh
# clone (CI) builds them once per machine.
datastores() {
  local out=$dest/node/images/datastores/out script=$dest/node/images/datastores/build-datastore-images.sh
  local cache
  cache=${XDG_CACHE_HOME:-$HOME/.cache}/pitstop/kit-images/$(sha256sum "$script" | cut -c1-16)
  local images=(redis-7.4-alpine.tar postgres-16-alpine.tar) missing=0 f
  for f in "${images[@]}"; do
    [ -s "$out/$f" ] || { [ -s "$cache/$f" ] && mkdir -p "$out" && cp "$cache/$f" "$out/$f"; } || missing=1
  done
  if [ "$missing" = 1 ]; then
    say "building the datastore lookalikes redis:7.4-alpine and postgres:16-alpine (first time: 2-6 min)"
    # Once more on a failure: a CI run once saw the build exit at once with no output at
    # all, and the same build pass a minute later (a mirror or a transient failure).
    local attempt rc=1
    for attempt in 1 2; do
      "$script" redis postgres >"$dest/.datastores.log" 2>&1 && { rc=0; break; } || rc=$?
      tail -20 "$dest/.datastores.log" >&2
      say "datastore images failed (exit status $rc, attempt $attempt of 2)"
    done
    [ "$rc" = 0 ] || exit 1
  fi
  mkdir -p "$cache"
  for f in "${images[@]}"; do [ -s "$cache/$f" ] || cp "$out/$f" "$cache/$f"; done
  "$script" --import-only >/dev/null
}

case "${1:-}" in
  up)
    available
    if other=$(foreign_kit); then
      unavailable "another kit is running ($other); stop it with its node/down.sh and k8s/down.sh"
    fi
    mkdir -p "$dest"
    install
    "$dest/k8s/up.sh" >&2
    if [ "${2:-}" = --node ]; then
      "$dest/node/up.sh" >&2
      datastores
    fi
    ;;
  kubeconfig)
    [ -s "$dest/k8s/kubeconfig" ] || exit 3
    "$dest/k8s/tools/kubectl" --kubeconfig "$dest/k8s/kubeconfig" --request-timeout=3s \
      get --raw /readyz >/dev/null 2>&1 || exit 3
    echo "$dest/k8s/kubeconfig"
    ;;
  tools)
    [ -x "$dest/k8s/tools/kubectl" ] || exit 3
    echo "$dest/k8s/tools"
    ;;
  down)
    [ -x "$dest/node/down.sh" ] && "$dest/node/down.sh" >&2 || true
    [ -x "$dest/k8s/down.sh" ] && "$dest/k8s/down.sh" >&2 || true
    ;;
  run)
    shift; [ "${1:-}" = -- ] && shift
    started=0
    if ! kubeconfig=$("$0" kubeconfig 2>/dev/null); then
      if "$0" up; then started=1; kubeconfig=$("$0" kubeconfig); else
        rc=$?; [ "$rc" = 3 ] || exit "$rc"
        say "tests that need a real API server will skip"
        exec "$@"
      fi
    fi
    rc=0; PITSTOP_KUBECONFIG=$kubeconfig "$@" || rc=$?
    [ "$started" = 1 ] && "$0" down
    exit "$rc"
    ;;
  *)
    echo "usage: scripts/kit.sh up [--node] | kubeconfig | tools | down | run -- CMD" >&2
    exit 2
    ;;
esac
