#!/usr/bin/env bash
# The Linux release archive, proven rather than just built: scripts/dist.sh builds it; then its
# contents are compared with what it must hold, the program is checked to need no shared library
# (one static binary runs on any x86_64 Linux), and the archive is unpacked into an empty folder
# on a clean path and its demo run from there with a bare environment, as someone who just
# downloaded it would. Installs musl-gcc (Debian's musl-tools) when missing.
set -euo pipefail
cd "$(dirname "$0")/.."

CI_NAME="linux archive"
source .ci/lib.sh

TARGET=x86_64-unknown-linux-musl
export CARGO_TERM_COLOR=never

missing=()
command -v musl-gcc >/dev/null 2>&1 || missing+=(musl-tools)
command -v python3 >/dev/null 2>&1 || missing+=(python3)
command -v readelf >/dev/null 2>&1 || missing+=(binutils)
install_missing "${missing[@]}"

build_archive "$TARGET" tar.gz
step "built $archive"

# An empty folder on a clean path (with a space, like a download folder), and a bare environment:
# no cargo, no token, no home folder settings.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
clean="$work/Downloads for installers"
mkdir -p "$clean" "$work/home" "$work/tmp"
start=$(date +%s.%N)
tar xzf "$archive" -C "$clean"
bin="$clean/$name/growatt-onboard"

# What it must hold, no more and no less: the files every archive has, the completions, and one
# man page per command (as many as the program itself writes).
"$bin" manpage "$work/man" >/dev/null
expected=$(
  {
    printf "$name/%s\n" LICENSE-APACHE LICENSE-MIT README.txt fleet-template.xlsx \
      growatt-onboard sample-fleet.csv completions/_growatt-onboard \
      completions/_growatt-onboard.ps1 completions/growatt-onboard.bash \
      completions/growatt-onboard.fish
    (cd "$work/man" && ls) | sed "s|^|$name/man/|"
  } | sort
)
listed=$(tar tzf "$archive" | sort)
[ "$listed" = "$expected" ] || {
  diff <(echo "$expected") <(echo "$listed") || true
  fail "the archive's contents differ from the list above (< expected, > found)"
}
echo "$listed" | grep -q "/man/growatt-onboard.1$" || fail "no growatt-onboard.1 in man/"
step "contents: $(echo "$listed" | wc -l) files, as listed"

# Static: no program interpreter, no shared library needed.
echo "linux archive: file: $(file -b "$bin")"
ldd_out=$(ldd "$bin" 2>&1 || true)
echo "linux archive: ldd: $ldd_out"
echo "$ldd_out" | grep -qE "not a dynamic executable|statically linked" ||
  fail "ldd lists shared libraries: $ldd_out"
if readelf -d "$bin" | grep -q NEEDED; then
  readelf -d "$bin" | grep NEEDED
  fail "the program needs shared libraries"
fi
readelf -l "$bin" | grep -q "INTERP" && fail "the program asks for a dynamic loader"
if readelf -S -W "$bin" | grep -qE "\.debug_(info|line|str|abbrev|ranges) "; then
  fail "the program still carries debug information"
fi
step "static and stripped: no shared library, no loader, no debug sections"

# The demo, from the unpacked folder, as the README and README.txt tell it.
rc=0
(cd "$clean/$name" && env -i PATH=/usr/bin:/bin HOME="$work/home" TMPDIR="$work/tmp" \
  timeout -k 10 300 ./growatt-onboard demo >"$work/demo.out" 2>"$work/demo.err") || rc=$?
end=$(date +%s.%N)
cat "$work/demo.err" "$work/demo.out"
[ "$rc" -eq 0 ] || fail "the demo exited $rc"
grep -q "300 rows in" "$work/demo.err" || fail "no summary line in the demo's output"
folder=$(sed -n 's/^demo folder: //p' "$work/demo.out")
case "$folder" in
  "$work/tmp/"*) ;;
  *) fail "the demo folder '$folder' is not under the temp dir it was given" ;;
esac
lines=$(($(wc -l <"$folder/fleet.results.csv") - 1))
[ "$lines" -eq 300 ] || fail "the demo's results have $lines lines, not 300"
[ -s "$folder/report.html" ] && [ -s "$folder/report.xlsx" ] || fail "the demo left no reports"
"$bin" --version | grep -q "^growatt-onboard $version (commit [^,]*, $TARGET)$" ||
  fail "--version says: $("$bin" --version)"
elapsed=$(seconds_between "$start" "$end")
step "unpacked to the demo's summary in $elapsed s ($lines results lines, reports written)"

(cd target/dist && sha256sum -c SHA256SUMS) || fail "SHA256SUMS does not match the archives"
echo "linux archive: all passed in $((SECONDS - t0)) s"
