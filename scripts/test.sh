#!/usr/bin/env bash
# Runs every test of the workspace in the one shared release profile.
# Installs libclang first when the machine lacks it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-deps.sh
source scripts/env.sh
cargo test --release --workspace "$@"
