#!/usr/bin/env bash
# The scale run of docs/PERFORMANCE.md: W1 (insert, one object per commit),
# the W2 load, W3 (cold unique lookup + get) and W4 (class scan + decode) at
# a large N, one system at a time, one repetition, and the per-op cost of
# each. Usage: `scripts/bench-scale.sh [N] [system ...]`, e.g.
# `scripts/bench-scale.sh 10000000 rockhold sqlite` (the default).
#
# Each system runs in `rockhold bench --system S` (the child mode of the
# full bench), so they run one after another and never share the cores. At
# N = 10,000,000 on the project's 2-core machine (docs/PERFORMANCE.md),
# rockhold took 397 s with a peak RSS of 3.0 GiB and SQLite 758 s with
# 2.8 GiB, the bench's generated objects included.
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-10000000}"
shift || true
systems=("$@")
if [ ${#systems[@]} -eq 0 ]; then
    systems=(rockhold sqlite)
fi
# Build once (bench.sh builds, then runs; `--help` only builds).
bash scripts/bench.sh --help >/dev/null
source scripts/env.sh
exe="$CARGO_TARGET_DIR/bench-user/rockhold"
echo "scale run: N = $n, systems ${systems[*]}, commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
for system in "${systems[@]}"; do
    dir=$(mktemp -d /var/tmp/rockhold-scale-XXXXXX)
    # A failed run must not leave gigabytes behind.
    trap 'rm -rf "$dir"' EXIT
    start=$(date +%s)
    out=$("$exe" bench --system "$system" --n "$n" --reps 1 --workloads w1,w3,w4 --dir "$dir")
    rm -rf "$dir"
    echo "$out" | awk -v s="$system" -v secs=$(( $(date +%s) - start )) '
        $1 == "SAMPLE" { printf "%-9s %-4s %10d ops %9.1f s %12.0f ops/s %8.2f us/op\n", s, $2, $3, $4, $3 / $4, 1e6 * $4 / $3 }
        $1 == "PEAK_RSS_KB" { printf "%-9s peak RSS %.0f MiB, %d s in all\n", s, $2 / 1024, secs }'
done
