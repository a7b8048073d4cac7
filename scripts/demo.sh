#!/usr/bin/env bash
# Builds (once) and runs the rockhold demo.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-deps.sh
source scripts/env.sh
cargo run --release --quiet -p rockhold-tools -- demo "$@"
