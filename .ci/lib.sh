# What the archive scripts (.ci/windows.sh, .ci/linux-archive.sh) share. Sourced after they `cd`
# to the repository's root, with CI_NAME set to the words their messages start with.

t0=$SECONDS
step_start=$SECONDS
# A step done, with the seconds it took.
step() {
  echo "$CI_NAME: $1 ($((SECONDS - step_start)) s)"
  step_start=$SECONDS
}
fail() {
  echo "$CI_NAME: FAILED: $*" >&2
  exit 1
}

# Installs the Debian packages named (none: nothing to do), without their recommendations.
install_missing() {
  [ $# -gt 0 ] || return 0
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# Builds the release archive for a target (scripts/dist.sh) and sets version, name (the folder
# inside the archive) and archive (its path, the file ending given: tar.gz or zip).
build_archive() {
  bash scripts/dist.sh "$1"
  version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -1)
  name="growatt-onboard-$version-$1"
  archive="target/dist/$name.$2"
  [ -s "$archive" ] || fail "no $archive"
}

# Seconds between two `date +%s.%N` readings, to a tenth.
seconds_between() {
  python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$1" "$2"
}
