# Sourced by the scripts: one persistent target folder outside the clone, so
# RocksDB's C++ (about 15 minutes on two cores) is built once per machine and
# shared by tests, demo, bench and CI. Override with CARGO_TARGET_DIR.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/rockhold-target-ops}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
mkdir -p "$CARGO_TARGET_DIR"
