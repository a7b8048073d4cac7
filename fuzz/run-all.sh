#!/usr/bin/env bash
# Runs every fuzz target (rockhold-format's, and engine_model) for FUZZ_SECONDS seconds each
# (default 30), then replays the checked-in corpus and regressions with
# `cargo test`. Installs cargo-fuzz first if it is missing.
#
#   fuzz/run-all.sh                   # every target, 30 s each
#   FUZZ_SECONDS=300 fuzz/run-all.sh  # longer
#   fuzz/run-all.sh key_decode        # only the named target(s)
#
# Environment:
#   FUZZ_SECONDS     seconds per target (default 30)
#   FUZZ_SANITIZER   cargo-fuzz --sanitizer: address (default), none, ...
#   FUZZ_WORK_DIR    where libFuzzer writes the inputs it finds, one folder
#                    per target (default /var/tmp/rockhold-fuzz-corpus); the
#                    checked-in seeds of corpus/<target>/ are only read
#   FUZZ_ARGS        extra libFuzzer flags, e.g. "-jobs=2 -workers=2"
#   CARGO_TARGET_DIR build folder (default /var/tmp/rockhold-fuzz-target)
#   RUSTC_BOOTSTRAP  set to 1 when unset: cargo-fuzz uses nightly-only rustc
#                    flags, which a stable toolchain accepts with it
#
# Exits non-zero if a target finds a crash or the replay fails. A crash input
# is written to fuzz/artifacts/<target>/ (ignored by git); to keep it as a
# regression test, copy it to fuzz/regressions/<target>/ under a telling name.
set -euo pipefail

cd "$(dirname "$0")"

seconds="${FUZZ_SECONDS:-30}"
sanitizer="${FUZZ_SANITIZER:-address}"
work="${FUZZ_WORK_DIR:-/var/tmp/rockhold-fuzz-corpus}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/rockhold-fuzz-target}"
export RUSTC_BOOTSTRAP="${RUSTC_BOOTSTRAP:-1}"

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "== installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi

if [ "$#" -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo fuzz list)
fi
if [ "${#targets[@]}" -eq 0 ]; then
    echo "!! no fuzz target found (cargo fuzz list)" >&2
    exit 1
fi

echo "== building ${#targets[@]} target(s) (sanitizer: $sanitizer)"
cargo fuzz build --sanitizer "$sanitizer"

failed=()
for target in "${targets[@]}"; do
    mkdir -p "$work/$target"
    log="$work/$target.log"
    echo "== $target: ${seconds}s, new inputs in $work/$target, log in $log"
    # The first corpus folder receives new inputs; corpus/<target> is read only.
    # shellcheck disable=SC2086 # FUZZ_ARGS is a list of flags
    if cargo fuzz run --sanitizer "$sanitizer" "$target" "$work/$target" "corpus/$target" \
        -- -max_total_time="$seconds" ${FUZZ_ARGS:-} >"$log" 2>&1; then
        grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -n 1 || true
    else
        failed+=("$target")
        echo "!! $target failed; end of its log:"
        tail -n 40 "$log"
        echo "!! to keep the input as a regression test:"
        echo "   cp fuzz/artifacts/$target/crash-<hash> fuzz/regressions/$target/<what-it-is>"
    fi
done

echo "== replaying corpus/ and regressions/ with cargo test"
cargo test --quiet

if [ "${#failed[@]}" -gt 0 ]; then
    echo "!! crashes found by: ${failed[*]}"
    exit 1
fi
echo "== all ${#targets[@]} target(s) ran ${seconds}s without a crash"
