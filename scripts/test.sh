#!/usr/bin/env bash
# Runs every test of the workspace in the one shared release profile.
# Installs libclang first when the machine lacks it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-deps.sh
source scripts/env.sh
# tests/tests/disk_full.rs mounts a tmpfs: it fails unless run as root or
# explicitly skipped.
if [ "$(id -u)" != 0 ] && [ "${ROCKHOLD_SKIP_DISK_FULL:-}" != 1 ]; then
    echo "note: the disk-full tests need root (they mount a tmpfs) and fail otherwise;" \
        "set ROCKHOLD_SKIP_DISK_FULL=1 to skip them" >&2
fi
cargo test --release --workspace "$@"
# The engine without its RocksDB backend (the in-memory one only): it must
# build, and its unit tests (storage seam, commit plan, uniqueness, catalog
# versions) run without RocksDB. Its own target folder keeps the workspace
# build's artifacts untouched.
CARGO_TARGET_DIR="$CARGO_TARGET_DIR/no-rocksdb" cargo test --release -p rockhold --no-default-features --lib
# The fuzz crate is its own workspace (no RocksDB): replay its seed corpus and
# every saved crash input as plain tests.
(cd fuzz && CARGO_TARGET_DIR="$CARGO_TARGET_DIR/fuzz" cargo test --release)
