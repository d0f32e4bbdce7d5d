#!/usr/bin/env bash
# The release archives, built the same way here, in CI and in the release workflow:
#
#   scripts/dist.sh [TARGET...]   # build, strip and pack each target into target/dist/
#   scripts/dist.sh --checksums   # only write target/dist/SHA256SUMS over this version's archives
#
# Without targets: on x86_64 Linux, x86_64-unknown-linux-musl (one static binary) and
# x86_64-pc-windows-gnu (cross-built with MinGW); elsewhere, this machine's own target.
# Each archive, growatt-onboard-<version>-<target>.zip (Windows) or .tar.gz, holds one folder
# with the program, README.txt for installers, fleet-template.xlsx, sample-fleet.csv and the
# licence; the Linux and macOS ones also the man pages and shell completions. Every run rewrites
# SHA256SUMS over all archives of this version in target/dist/ and prints their sizes.
#
# The binaries are stripped in this build only (`-C strip=symbols` on the program's own compile
# and link), so development builds keep their debug information and the libraries of any release
# build made before are reused. CARGO_TARGET_DIR is honoured.
# Needs: rustup (targets are added when missing), python3, and for the cross builds from Linux
# MinGW (x86_64-w64-mingw32-gcc) or musl-gcc (Debian: gcc-mingw-w64-x86-64, musl-tools).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

fail() {
  echo "dist: $*" >&2
  exit 1
}

# python3, or python where that is the name (Windows); a name that exists but does not run (the
# Windows store's stand-in) does not count.
python=""
for p in python3 python; do
  if "$p" -c 'import zipfile' >/dev/null 2>&1; then
    python=$p
    break
  fi
done
[ -n "$python" ] || fail "needs python3 to pack the archives"

dist="$root/target/dist"
mkdir -p "$dist"
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -1)
[ -n "$version" ] || fail "no version in Cargo.toml"

# Sizes in MB, for the log.
sizes() {
  "$python" - "$@" <<'EOF'
import os, sys
for path in sys.argv[1:]:
    print(f"dist:   {os.path.getsize(path) / 1e6:7.2f} MB  {os.path.basename(path)}")
EOF
}

checksums() {
  "$python" scripts/dist/pack.py sums "$dist" "growatt-onboard-$version-"
  echo "dist: $dist/SHA256SUMS"
  sed 's/^/dist:   /' "$dist/SHA256SUMS"
}

if [ "${1:-}" = "--checksums" ]; then
  checksums
  exit 0
fi

host=$(rustc -vV | sed -n 's/^host: //p')
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  if [ "$host" = x86_64-unknown-linux-gnu ]; then
    targets=(x86_64-unknown-linux-musl x86_64-pc-windows-gnu)
  else
    targets=("$host")
  fi
fi

target_dir="${CARGO_TARGET_DIR:-$root/target}"
# Reproducible archives: the files are stamped with the commit's time. Given to the packer
# alone: in cargo's environment it would make build scripts that watch it build again.
stamp="${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 315532800)}"

# A binary of this machine that can write the man pages and completions, when the target's own
# cannot run here (a cross build).
host_bin=""
host_runner() {
  if [ -z "$host_bin" ]; then
    cargo build --release --locked --bin growatt-onboard >&2
    host_bin="$target_dir/release/growatt-onboard"
  fi
  echo "$host_bin"
}

for target in "${targets[@]}"; do
  t0=$SECONDS
  exe=growatt-onboard
  ext=tar.gz
  case "$target" in
    *windows*) exe=growatt-onboard.exe ext=zip ;;
  esac

  if command -v rustup >/dev/null 2>&1 && ! rustup target list --installed | grep -qx "$target"; then
    rustup target add "$target"
  fi
  # Cross builds from Linux: the C parts of the TLS stack and the final link need the target's C
  # toolchain.
  case "$target:$host" in
    x86_64-pc-windows-gnu:*linux*)
      command -v x86_64-w64-mingw32-gcc >/dev/null 2>&1 ||
        fail "$target needs MinGW's x86_64-w64-mingw32-gcc (Debian: gcc-mingw-w64-x86-64)"
      export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_LINKER="${CARGO_TARGET_X86_64_PC_WINDOWS_GNU_LINKER:-x86_64-w64-mingw32-gcc}"
      ;;
    *-unknown-linux-musl:*-linux-gnu)
      # Debian's musl-tools brings musl-gcc (and on some releases <arch>-linux-musl-gcc, which
      # the C builds find by themselves).
      if ! command -v "${target%%-*}-linux-musl-gcc" >/dev/null 2>&1; then
        command -v musl-gcc >/dev/null 2>&1 ||
          fail "$target needs musl-gcc (Debian: musl-tools)"
        cc_var="CC_${target//-/_}"
        export "$cc_var=${!cc_var:-musl-gcc}"
      fi
      ;;
  esac

  # The release build; the flag goes to the program's own compile and link only, so the
  # libraries of a release build made before are reused as they are.
  cargo rustc --release --locked --target "$target" --bin growatt-onboard -- -C strip=symbols
  built="$target_dir/$target/release/$exe"
  [ -f "$built" ] || fail "the build left no $built"

  name="growatt-onboard-$version-$target"
  stage="$dist/stage/$name"
  rm -rf "$stage"
  mkdir -p "$stage"
  # Copied at once: a later plain `cargo build` puts the unstripped program back in its place.
  cp "$built" "$stage/$exe"
  sed "s/@VERSION@/$version/" scripts/dist/README.txt >"$stage/README.txt"
  cp samples/fleet-template.xlsx "$stage/fleet-template.xlsx"
  cp samples/fleet.csv "$stage/sample-fleet.csv"
  cp LICENSE-MIT LICENSE-APACHE "$stage/"
  case "$target" in
    *windows*)
      # Notepad and every Windows editor read CRLF text.
      for f in README.txt LICENSE-MIT LICENSE-APACHE sample-fleet.csv; do
        "$python" -c 'import sys; p = sys.argv[1]; d = open(p, "rb").read().replace(b"\r\n", b"\n"); open(p, "wb").write(d.replace(b"\n", b"\r\n"))' "$stage/$f"
      done
      ;;
    *)
      runner="$stage/$exe"
      "$runner" --version >/dev/null 2>&1 || runner=$(host_runner)
      "$runner" manpage "$stage/man" >/dev/null
      mkdir -p "$stage/completions"
      "$runner" completions bash >"$stage/completions/growatt-onboard.bash"
      "$runner" completions zsh >"$stage/completions/_growatt-onboard"
      "$runner" completions fish >"$stage/completions/growatt-onboard.fish"
      "$runner" completions powershell >"$stage/completions/_growatt-onboard.ps1"
      ;;
  esac

  archive="$dist/$name.$ext"
  rm -f "$archive"
  SOURCE_DATE_EPOCH=$stamp "$python" scripts/dist/pack.py archive "$stage" "$archive"
  echo "dist: $archive ($((SECONDS - t0)) s); the program, stripped:"
  sizes "$stage/$exe"
  rm -rf "$dist/stage"
done

echo "dist: the archives of $version in $dist:"
shopt -s nullglob
sizes "$dist"/growatt-onboard-"$version"-*.zip "$dist"/growatt-onboard-"$version"-*.tar.gz
checksums
