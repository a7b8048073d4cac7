#!/usr/bin/env bash
# Builds (once) and runs the rockhold demo.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-deps.sh
source scripts/env.sh
# The whole workspace with every target, as the tests build it: a
# `-p rockhold-tools` build (or one without the test targets) resolves
# librocksdb-sys's build features differently and compiles RocksDB's C++
# again, about 15 minutes, where this one shares the tests' build.
cargo build --release --workspace --all-targets --quiet
"$CARGO_TARGET_DIR/release/rockhold" demo "$@"
