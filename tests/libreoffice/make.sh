#!/bin/sh
# Regenerates fleet.xlsx, fleet.ods, fleet.xls and fleet-roundtrip.csv from typed.csv with
# LibreOffice Calc, as an installer's spreadsheet program would write them. Not run by CI: the
# files are committed. Needs `soffice` (Debian: apt-get install libreoffice-calc-nogui).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$here/typed.csv" "$work/fleet.csv"
cd "$work"
# A profile of its own, so a running LibreOffice or the user's settings change nothing.
lo() { soffice -env:UserInstallation="file://$work/profile" --headless "$@"; }
lo --convert-to xlsx fleet.csv
lo --convert-to ods fleet.csv
lo --convert-to xls fleet.csv
# The .xlsx saved back as CSV, as people do before a tool run.
mkdir roundtrip
lo --convert-to csv --outdir roundtrip fleet.xlsx
cp fleet.xlsx fleet.ods fleet.xls "$here/"
cp roundtrip/fleet.csv "$here/fleet-roundtrip.csv"
soffice --version
