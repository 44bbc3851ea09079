#!/usr/bin/env bash
# Prints the directory holding the tools tests need that are not Rust crates (promtool),
# installing them into .tools/ when they are not on PATH. promtool comes from Debian's
# `prometheus` package, unpacked rather than installed so no service is set up.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin="$root/.tools/bin"
mkdir -p "$bin"
if ! command -v promtool >/dev/null && [ ! -x "$bin/promtool" ]; then
  if command -v apt-get >/dev/null; then
    tmp=$(mktemp -d)
    echo "[tools] fetching promtool from Debian's prometheus package" >&2
    (cd "$tmp" && { apt-get download prometheus >/dev/null 2>&1 || { apt-get update -qq >/dev/null 2>&1 && apt-get download prometheus >/dev/null 2>&1; }; })
    dpkg -x "$tmp"/prometheus_*.deb "$tmp/x"
    cp "$tmp/x/usr/bin/promtool" "$bin/promtool"
    rm -rf "$tmp"
  else
    echo "[tools] please install promtool (Prometheus) and put it on PATH" >&2
    exit 1
  fi
fi
echo "$bin"
