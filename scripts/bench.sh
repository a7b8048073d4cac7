#!/usr/bin/env bash
# Builds `rockhold bench` as users build their release binaries (profile
# bench-user: no debug assertions, no overflow checks) and runs it with the
# given arguments, e.g. `scripts/bench.sh --n 2000 --reps 1`.
#
# RocksDB's C++ is not compiled again: the release profile's build of it
# (shared with the tests) is linked through ROCKSDB_LIB_DIR/ROCKSDB_STATIC,
# so librocksdb-sys only runs bindgen. It is built first, once, if missing.
# A caller may set ROCKSDB_LIB_DIR to the folder of a librocksdb.a built
# elsewhere (another target folder's release build) to link that one.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-deps.sh
source scripts/env.sh

# The newest release build of RocksDB, or nothing.
newest_lib() {
    { ls -t "$CARGO_TARGET_DIR"/release/build/librocksdb-sys-*/out/librocksdb.a 2>/dev/null || true; } | head -n 1
}

if [ -n "${ROCKSDB_LIB_DIR:-}" ]; then
    lib="$ROCKSDB_LIB_DIR/librocksdb.a"
    if [ ! -f "$lib" ]; then
        echo "bench: ROCKSDB_LIB_DIR=$ROCKSDB_LIB_DIR holds no librocksdb.a" >&2
        exit 1
    fi
else
    lib=$(newest_lib)
fi
if [ -z "$lib" ]; then
    echo "bench: no release build of RocksDB in $CARGO_TARGET_DIR yet; building it (about 15 minutes)" >&2
    # The whole workspace, every target, as the tests build it: a `-p`
    # build, or one without the test targets, resolves build-dependency
    # features differently and compiles the C++ again.
    cargo build --release --workspace --all-targets
    lib=$(newest_lib)
fi
if [ -z "$lib" ]; then
    echo "bench: cargo build --release did not leave a librocksdb.a under $CARGO_TARGET_DIR/release/build" >&2
    exit 1
fi

export ROCKSDB_LIB_DIR
ROCKSDB_LIB_DIR=$(dirname "$lib")
export ROCKSDB_STATIC=1
echo "bench: linking $lib" >&2
cargo build --profile bench-user -p rockhold-tools
exec "$CARGO_TARGET_DIR/bench-user/rockhold" bench "$@"
