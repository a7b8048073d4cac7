#!/usr/bin/env bash
# Runs every test of the workspace in the one shared release profile.
# Installs libclang first when the machine lacks it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-deps.sh
source scripts/env.sh
cargo test --release --workspace "$@"
# The fuzz crate is its own workspace (no RocksDB): replay its seed corpus and
# every saved crash input as plain tests.
(cd fuzz && CARGO_TARGET_DIR="$CARGO_TARGET_DIR/fuzz" cargo test --release)
