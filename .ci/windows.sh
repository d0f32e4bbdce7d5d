#!/usr/bin/env bash
# The Windows build, run under Wine: cross-builds the release archive for x86_64-pc-windows-gnu
# (scripts/dist.sh), then runs the program it holds the way a person on Windows would:
#   a. the whole `demo` (simulator and fleet in one process);
#   b. a resume after a torn results file, against `sim` started under Wine as well;
#   c. the lock refuses a second run on the same results file; Ctrl-C stops a run, which keeps
#      whole lines and exits 130, and the next run finishes the rest; `sim` ends on Ctrl-C;
#   d. the unit tests, as a Windows test binary;
#   e. the release archive: its contents, and its demo from an empty folder it was unpacked into.
# Installs what is missing first (rustup target, Debian's MinGW and Wine). Every Wine command has
# a timeout, and the Wine prefix lives in a temporary folder removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

CI_NAME=windows
source .ci/lib.sh

TARGET=x86_64-pc-windows-gnu
WINE=/usr/lib/wine/wine64
WINESERVER=/usr/lib/wine/wineserver64
export CARGO_TERM_COLOR=never
export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_LINKER=x86_64-w64-mingw32-gcc
# Unless told otherwise, the Windows build keeps its target folder outside the clone, so a machine
# that runs this again rebuilds only what changed (a cold release cross-build takes ~10 minutes
# on 2 cores).
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/growatt-onboard/target}"
# The simulator's token.
export GROWATT_TOKEN=0123456789abcdef0123456789abcdef

# --- Tools ---------------------------------------------------------------------------------------
if ! rustup target list --installed | grep -qx "$TARGET"; then
  rustup target add "$TARGET"
fi
# wine64 runs 64-bit programs and `wine` brings wineboot; no recommends: neither the 32-bit side,
# fonts nor a desktop are needed for a console program. python3 reads the results files.
missing=()
command -v x86_64-w64-mingw32-gcc >/dev/null 2>&1 || missing+=(gcc-mingw-w64-x86-64)
[ -x "$WINE" ] && [ -x "$WINESERVER" ] || missing+=(wine64)
command -v wineboot >/dev/null 2>&1 || missing+=(wine)
command -v python3 >/dev/null 2>&1 || missing+=(python3)
install_missing "${missing[@]}"
[ -x "$WINE" ] || fail "no Wine loader at $WINE"
step "tools ready"

# --- Build ---------------------------------------------------------------------------------------
work=$(mktemp -d)
bg_pids=()
cleanup() {
  for p in "${bg_pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  WINEPREFIX="$work/prefix" timeout 30 "$WINESERVER" -k 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# Wine 8 has no bcryptprimitives.dll, whose ProcessPrng Rust's standard library needs; the shim
# stands in for it beside the .exe, in this folder only.
mkdir -p "$work/bin"
x86_64-w64-mingw32-gcc -shared -O2 -Wall -Werror -o "$work/bin/bcryptprimitives.dll" \
  .ci/wine-shim/bcryptprimitives.c -ladvapi32
# The release archive (scripts/dist.sh: the release build, the program stripped, packed with
# README.txt, the template, the sample fleet and the licence); the program tested below is the
# one it holds, and e. unpacks the whole archive.
build_archive "$TARGET" zip
python3 - "$archive" "$name/growatt-onboard.exe" "$work/bin/growatt-onboard.exe" <<'EOF'
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, z.open(sys.argv[2]) as src, open(sys.argv[3], "wb") as dst:
    shutil.copyfileobj(src, dst)
EOF
step "cross-built and packed $archive ($(du -h "$archive" | cut -f1); the program $(du -h "$work/bin/growatt-onboard.exe" | cut -f1))"

# --- Wine ----------------------------------------------------------------------------------------
export WINEPREFIX="$work/prefix" WINEDEBUG=-all WINEARCH=win64
# No Mono or Gecko prompts: the program needs neither.
export WINEDLLOVERRIDES="mscoree,mshtml="
exe="$work/bin/growatt-onboard.exe"
# A Unix path as the Windows program sees it (Wine maps / to Z:).
win() { printf 'Z:%s' "${1//\//\\}"; }
# Runs the program under Wine with a time limit; the rest of the arguments are the program's.
wine_run() {
  local limit=$1
  shift
  timeout -k 10 "$limit" "$WINE" "$exe" "$@"
}

# The very first prefix on a machine can fail to set up (exit 53) while Wine builds its own
# caches; a second try succeeds.
for attempt in 1 2 3; do
  timeout -k 10 180 "$WINE" wineboot --init >/dev/null 2>&1 && break
  [ "$attempt" -lt 3 ] || fail "wineboot could not set up the prefix"
  timeout 30 "$WINESERVER" -k 2>/dev/null || true
  rm -rf "$WINEPREFIX"
  sleep 2
done
step "Wine prefix ready ($("$WINE" --version 2>/dev/null))"

# Whole lines, 11 columns each, and the file ends with a newline; prints the number of data lines.
# With a line number and a serial: that serial has a line at or after that data line too.
check_results() {
  python3 - "$@" <<'EOF'
import csv, sys
data = open(sys.argv[1], "rb").read()
assert data.endswith(b"\n"), "results file ends in a cut-off line"
rows = list(csv.reader(data.decode("utf-8").splitlines()))
assert rows[0][:3] == ["row", "plant_id", "sn"], rows[0]
bad = [r for r in rows if len(r) != 11]
assert not bad, f"lines without 11 cells: {bad[:3]}"
if len(sys.argv) > 3:
    after, sn = int(sys.argv[2]), sys.argv[3]
    assert any(r[2] == sn for r in rows[after:]), f"{sn} has no line after data line {after}"
print(len(rows) - 1)
EOF
}

# The serial of a results file's last line.
last_serial() {
  python3 -c 'import csv, sys; print(list(csv.reader(open(sys.argv[1])))[-1][2])' "$1"
}

# a. The demo, end to end; it exits 0 on Linux too.
demo="$work/demo"
rc=0
wine_run 300 demo --dir "$(win "$demo")" >"$work/demo.out" 2>"$work/demo.err" || rc=$?
cat "$work/demo.err" "$work/demo.out"
[ "$rc" -eq 0 ] || fail "demo exited $rc"
results="$demo/fleet.results.csv"
[ -s "$results" ] || fail "the demo left no results file"
[ -s "$demo/report.html" ] || fail "the demo left no report"
lines=$(check_results "$results")
[ "$lines" -eq 300 ] || fail "the demo's results have $lines lines, not one per row (300)"
step "demo: exit 0, $lines results lines"

# b. A resume after a torn last line, against the simulator running under Wine too.
# Started without job control, a background command would ignore SIGINT (Ctrl-C, for c. below);
# env gives it back.
env --default-signal=INT timeout -k 10 300 "$WINE" "$exe" sim --listen 127.0.0.1:0 \
  >"$work/sim.out" 2>"$work/sim.err" &
sim_pid=$!
bg_pids+=("$sim_pid")
base=""
for _ in $(seq 1 600); do
  base=$(sed -n 's/^listening on \(http:[^ ]*\).*/\1/p' "$work/sim.out" | head -1)
  [ -n "$base" ] && break
  kill -0 "$sim_pid" 2>/dev/null || { cat "$work/sim.err"; fail "sim ended before listening"; }
  sleep 0.1
done
[ -n "$base" ] || fail "sim did not print its address"
size=$(stat -c %s "$results")
last_sn=$(last_serial "$results")
# Cut the last line short, as a power loss mid-write would.
truncate -s $((size - 20)) "$results"
rc=0
wine_run 300 run "$(win "$demo/fleet.csv")" --base-url "$base" \
  --no-progress --rate 200/s >"$work/resume.out" 2>"$work/resume.err" || rc=$?
cat "$work/resume.err"
# The sample fleet has invalid and rejected rows on purpose: 3 is its expected exit.
[ "$rc" -eq 3 ] || fail "the resumed run exited $rc"
grep -q "cut-off line" "$work/resume.err" || fail "the resumed run did not report the torn line"
grep -q "continuing:" "$work/resume.err" || fail "the resumed run did not skip what was done"
lines=$(check_results "$results" 299 "$last_sn") || fail "the torn row has no whole line"
step "resume: torn line cut, run continued (exit 3), $lines whole lines"

# c. Ctrl-C: Wine turns SIGINT into a console Ctrl-C event for the program.
stopped="$work/stopped.csv"
env --default-signal=INT timeout -k 10 300 "$WINE" "$exe" run "$(win "$demo/fleet.csv")" \
  --base-url "$base" -o "$(win "$stopped")" --no-progress --rate 10/s \
  >"$work/stop.out" 2>"$work/stop.err" &
run_pid=$!
bg_pids+=("$run_pid")
for _ in $(seq 1 600); do
  [ "$(wc -l 2>/dev/null <"$stopped" || echo 0)" -gt 20 ] && break
  kill -0 "$run_pid" 2>/dev/null || break
  sleep 0.1
done
# Meanwhile a second run on the same results file is refused at once: the OS file lock.
rc=0
wine_run 60 run "$(win "$demo/fleet.csv")" --base-url "$base" -o "$(win "$stopped")" \
  --no-progress >/dev/null 2>"$work/locked.err" || rc=$?
[ "$rc" -eq 1 ] && grep -q "is using" "$work/locked.err" ||
  { cat "$work/locked.err"; fail "a second run on a locked results file exited $rc"; }
# `timeout` hands the signal on to Wine, which turns it into a console Ctrl-C event.
kill -INT "$run_pid" || fail "the run ended before it could be interrupted"
rc=0
wait "$run_pid" || rc=$?
cat "$work/stop.err"
[ "$rc" -eq 130 ] || fail "Ctrl-C: the run exited $rc, not 130"
grep -q "stopping" "$work/stop.err" || fail "Ctrl-C: no stopping message"
lines=$(check_results "$stopped")
[ "$lines" -lt 300 ] || fail "Ctrl-C came after the run had ended"
rc=0
wine_run 300 run "$(win "$demo/fleet.csv")" --base-url "$base" -o "$(win "$stopped")" \
  --no-progress --rate 200/s >/dev/null 2>"$work/after.err" || rc=$?
[ "$rc" -eq 3 ] || { cat "$work/after.err"; fail "the run after Ctrl-C exited $rc"; }
grep -q "continuing:" "$work/after.err" || fail "the run after Ctrl-C started over"
after=$(check_results "$stopped")
step "Ctrl-C: exit 130 after $lines lines; the next run finished ($after lines)"

# The simulator stops on Ctrl-C too (through `timeout`, like the run above).
kill -INT "$sim_pid"
rc=0
wait "$sim_pid" || rc=$?
[ "$rc" -eq 0 ] || { cat "$work/sim.err"; fail "sim exited $rc on Ctrl-C"; }
step "sim: exit 0 on Ctrl-C"

# d. The unit tests (among them the results file's torn-line cut and lock) as a Windows program:
# the release profile, so the dependencies built above serve again, but this crate unoptimised
# (2.5 minutes less). WINEPATH lets it find the shim.
export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER="timeout -k 10 300 $WINE"
export WINEPATH
WINEPATH=$(win "$work/bin")
cargo test --release --locked --target "$TARGET" --lib \
  --config 'profile.release.package.growatt-onboard.opt-level=0'

step "unit tests under Wine"

# e. The release archive, as a person gets it: its contents, then unpacked into an empty folder on
# a clean path and its demo run from there. The stand-in DLL stays outside the folder (found
# through WINEPATH, as in d.), so the folder holds exactly what ships.
expected=$(printf "$name/%s\n" LICENSE-APACHE LICENSE-MIT README.txt fleet-template.xlsx \
  growatt-onboard.exe sample-fleet.csv)
listed=$(python3 -c 'import sys, zipfile; print("\n".join(sorted(zipfile.ZipFile(sys.argv[1]).namelist())))' "$archive")
[ "$listed" = "$expected" ] || {
  diff <(echo "$expected") <(echo "$listed") || true
  fail "the archive's contents differ from the list above (< expected, > found)"
}
clean="$work/Downloads for installers"
mkdir -p "$clean"
start=$(date +%s.%N)
python3 -m zipfile -e "$archive" "$clean"
grep -q $'\r$' "$clean/$name/README.txt" || fail "README.txt does not have Windows line ends"
rc=0
(cd "$clean/$name" && WINEPATH=$(win "$work/bin") timeout -k 10 300 "$WINE" \
  "$clean/$name/growatt-onboard.exe" demo --dir "$(win "$work/archive-demo")" \
  >"$work/archive-demo.out" 2>"$work/archive-demo.err") || rc=$?
end=$(date +%s.%N)
cat "$work/archive-demo.err" "$work/archive-demo.out"
[ "$rc" -eq 0 ] || fail "the archive's demo exited $rc"
grep -q "300 rows in" "$work/archive-demo.err" || fail "no summary line in the archive's demo"
lines=$(check_results "$work/archive-demo/fleet.results.csv")
[ "$lines" -eq 300 ] || fail "the archive's demo has $lines results lines, not 300"
[ -s "$work/archive-demo/report.html" ] || fail "the archive's demo left no report"
said=$(WINEPATH=$(win "$work/bin") timeout -k 10 60 "$WINE" "$clean/$name/growatt-onboard.exe" --version | tr -d '\r')
[[ "$said" == "growatt-onboard $version (commit "*", $TARGET)" ]] || fail "--version says: $said"
elapsed=$(seconds_between "$start" "$end")
step "archive: $(du -h "$archive" | cut -f1) zip, unpacked to the demo's summary in $elapsed s under Wine"
echo "windows: all passed in $((SECONDS - t0)) s"
