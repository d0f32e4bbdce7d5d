#!/usr/bin/env bash
# Peak memory of `verify --locate` over many pending rows, measured with `/usr/bin/time -v`:
#
#   scripts/locate-memory.sh [ROWS] [BINARY]    # default: 200000 rows, target/release/growatt-onboard
#
# It writes a results file of ROWS registered rows (plant 1, serials DEV0000000…), starts the
# built-in simulator in an open world (no device is listed on its plant yet, and `plant/sn_plant`
# knows none of them: every row is pending and asked for once), runs `verify --locate` against
# it, and prints the run's peak resident memory, its wall time and its closing line. Plain
# `verify` (no `--locate`) is measured the same way for comparison. A measurement, not a test:
# nothing is asserted. Needs GNU time at /usr/bin/time (Debian: the `time` package) and python3.
set -euo pipefail
cd "$(dirname "$0")/.."

rows=${1:-200000}
bin=${2:-target/release/growatt-onboard}
[ -x "$bin" ] || { echo "locate-memory: no binary at $bin (cargo build --release)" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "locate-memory: needs GNU time at /usr/bin/time" >&2; exit 1; }

work=$(mktemp -d)
sim_pid=
cleanup() {
    [ -n "$sim_pid" ] && kill "$sim_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

python3 - "$rows" "$work/r.csv" <<'EOF'
import sys
rows, path = int(sys.argv[1]), sys.argv[2]
with open(path, "w") as f:
    f.write("row,plant_id,sn,c_user_id,outcome,error_code,error_msg,attempts,http_status,latency_ms,finished_at\n")
    for i in range(rows):
        f.write(f"{i + 2},1,DEV{i:07d},1,registered,0,,1,200,5,2026-11-25T00:00:00.000Z\n")
EOF

"$bin" sim --listen 127.0.0.1:0 --open-world >"$work/sim.out" 2>&1 &
sim_pid=$!
for _ in $(seq 100); do
    grep -q '^listening on ' "$work/sim.out" && break
    sleep 0.1
done
base=$(sed -n 's/^listening on //p' "$work/sim.out")
[ -n "$base" ] || { echo "locate-memory: the simulator did not start" >&2; cat "$work/sim.out" >&2; exit 1; }
export GROWATT_TOKEN=0123456789abcdef0123456789abcdef

measure() {
    local what=$1
    shift
    rm -f "$work/r.verify.csv"
    /usr/bin/time -v "$bin" verify "$work/r.csv" --base-url "$base" \
        --rate 100000/s --concurrency 64 --no-progress -q "$@" 2>"$work/err" || true
    local peak wall
    peak=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$work/err")
    wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$work/err")
    printf '%-22s %6d rows: peak %4d MiB, wall %s\n' "$what" "$rows" $((peak / 1024)) "$wall"
    grep -m1 'growatt-onboard verify:' "$work/err" | sed 's/^/    /'
}

echo "binary: $bin ($("$bin" --version 2>/dev/null | head -1))"
measure "verify"
measure "verify --locate" --locate
