#!/usr/bin/env bash
# Prints the workspace version (the crates' version.workspace), used for image tags and labels.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
sed -n '/^\[workspace.package\]/,/^\[/s/^version *= *"\(.*\)"/\1/p' "$root/Cargo.toml"
