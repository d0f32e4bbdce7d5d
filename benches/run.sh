#!/usr/bin/env bash
# The benchmark of growatt-onboard against the scripts installers write (see README, Benchmark).
#
#   bash benches/run.sh            # full run: reports/benchmark.md, .json, w1_rate.svg (< 15 min on 2 cores)
#   bash benches/run.sh --quick    # tiny sizes, one repetition, about a minute: a smoke test of the harness
#
# Workloads: W1 paced, W2 unpaced, W3 CPU-bound, W4 failures, W5 size, W6 the vendor's cooldown
# per identical request (scaled to 5 s), W7 a global bucket allowing half the configured rate
# (`--only W6,W7` runs just those). It builds the release binary, makes a Python virtual
# environment for the Python peers
# (target/bench/venv, from benches/requirements.txt), installs GNU parallel with apt where it is
# missing (that peer is skipped, with a note in the report, if it cannot be had), then hands over
# to benches/bench.py, which starts the simulator for every run and writes the report. Extra
# arguments go to bench.py (`python3 benches/bench.py --help`). Not part of CI.
set -euo pipefail
cd "$(dirname "$0")/.."
work=target/bench
mkdir -p "$work"
say() { printf 'bench: %s\n' "$*" >&2; }

python=${PYTHON:-python3}
"$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
    || { say "needs Python 3.11 or later as \$PYTHON or python3"; exit 1; }

say "building the release binary"
start=$(date +%s)
cargo build --release --quiet
build_seconds=$(($(date +%s) - start))

venv=$work/venv
if ! cmp -s benches/requirements.txt "$venv/requirements.txt" 2>/dev/null; then
    say "creating the Python virtual environment $venv"
    rm -rf "$venv"
    "$python" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r benches/requirements.txt
    cp benches/requirements.txt "$venv/requirements.txt"
fi

setup_note=
missing=()
parallel --version 2>/dev/null | grep -q 'GNU parallel' || missing+=(parallel)
command -v curl >/dev/null || missing+=(curl)
command -v taskset >/dev/null || missing+=(util-linux)
[ -x /usr/bin/time ] || missing+=(time)
if [ ${#missing[@]} -gt 0 ]; then
    sudo=
    [ "$(id -u)" = 0 ] || sudo="sudo -n"
    if command -v apt-get >/dev/null; then
        say "installing ${missing[*]} with apt-get"
        if ! { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"; } \
            >"$work/apt.log" 2>&1; then
            setup_note="apt-get install ${missing[*]} failed (see $work/apt.log)"
        fi
    else
        setup_note="no apt-get to install ${missing[*]}"
    fi
fi
if [ -n "$setup_note" ]; then say "$setup_note"; fi

exec "$python" benches/bench.py --venv-python "$venv/bin/python" \
    --build-seconds "$build_seconds" --setup-note "$setup_note" "$@"
