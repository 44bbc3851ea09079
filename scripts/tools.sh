#!/usr/bin/env bash
# Prints the directory holding the tools tests need that are not Rust crates (promtool,
# prometheus), installing them into .tools/ when they are not on PATH. Both come from
# Debian's `prometheus` package, unpacked rather than installed so no service is set up.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin="$root/.tools/bin"
mkdir -p "$bin"
have() { command -v "$1" >/dev/null || [ -x "$bin/$1" ]; }
if ! have promtool || ! have prometheus; then
  if command -v apt-get >/dev/null; then
    tmp=$(mktemp -d)
    echo "[tools] fetching promtool and prometheus from Debian's prometheus package" >&2
    (cd "$tmp" && { apt-get download prometheus >/dev/null 2>&1 || { apt-get update -qq >/dev/null 2>&1 && apt-get download prometheus >/dev/null 2>&1; }; })
    dpkg -x "$tmp"/prometheus_*.deb "$tmp/x"
    cp "$tmp/x/usr/bin/promtool" "$tmp/x/usr/bin/prometheus" "$bin/"
    rm -rf "$tmp"
  else
    echo "[tools] please install promtool and prometheus (Prometheus 2.x) and put them on PATH" >&2
    exit 1
  fi
fi
echo "$bin"
