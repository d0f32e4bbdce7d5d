#!/usr/bin/env bash
# Peak memory and time of the report at a million rows, and of the commands meeting files built
# to exhaust them, measured with /usr/bin/time -v on the release binary. The figures in
# docs/reliability.md come from this script. Not part of CI (it writes about 300 MB under
# target/scale and takes a few minutes on 2 cores).
#
#   bash scripts/scale.sh            # 1,048,600 rows (more than a sheet holds)
#   bash scripts/scale.sh 200000     # another size
set -euo pipefail
cd "$(dirname "$0")/.."
rows=${1:-1048600}
work=$PWD/target/scale
mkdir -p "$work"
say() { printf 'scale: %s\n' "$*" >&2; }
[ -x /usr/bin/time ] || { say "needs GNU time (/usr/bin/time; Debian package time)"; exit 1; }

say "building the release binary"
cargo build --release --quiet
bin=$PWD/target/release/growatt-onboard

say "writing a results file of $rows rows and its verify file"
python3 - "$work" "$rows" <<'EOF'
import os, sys
work, n = sys.argv[1], int(sys.argv[2])
stamp = "2026-05-04T10:00:00.000Z"
with open(os.path.join(work, "big.results.csv"), "w") as r, \
     open(os.path.join(work, "big.results.verify.csv"), "w") as v:
    r.write("row,plant_id,sn,c_user_id,outcome,error_code,error_msg,attempts,http_status,latency_ms,finished_at\n")
    v.write("row,plant_id,sn,link_status,device_status,last_update_time,checked_at,located_plant_id,located_user_id,located_at\n")
    for i in range(n):
        row, sn = i + 2, f"DEV{i:07}"
        if i % 50 == 0:
            r.write(f"{row},1,{sn},1,rejected,10004,plant does not exist,1,200,35,{stamp}\n")
        elif i % 97 == 0:
            r.write(f"{row},1,{sn},1,failed,,timed out after 10 s,3,,10000,{stamp}\n")
        else:
            r.write(f"{row},1,{sn},1,registered,0,,1,200,35,{stamp}\n")
        status = "pending" if i % 40 == 0 else ("elsewhere" if i % 333 == 0 else "linked")
        located = "7,77," + stamp if status == "elsewhere" else ",,"
        v.write(f"{row},1,{sn},{status},1,,{stamp},{located}\n")
EOF

# A fleet of three rows and 2 GB of NUL bytes (a hole: no disk used), and an .xlsx bomb whose
# shared strings really inflate to 1.5 GiB, once declaring it and once declaring 100 bytes.
printf 'plant_id,sn,c_user_id\n1,AAA0000001,1\n1,AAA0000002,1\n1,AAA0000003,1\n' > "$work/nul.csv"
truncate -s 2G "$work/nul.csv"
python3 - "$work" <<'EOF'
import os, struct, sys, zipfile, zlib
work = sys.argv[1]
MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG = "http://schemas.openxmlformats.org/package/2006/relationships"
parts = {
    "[Content_Types].xml": '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/></Types>',
    "_rels/.rels": f'<Relationships xmlns="{PKG}"><Relationship Id="rId1" Type="{REL}/officeDocument" Target="xl/workbook.xml"/></Relationships>',
    "xl/workbook.xml": f'<workbook xmlns="{MAIN}" xmlns:r="{REL}"><sheets><sheet name="Fleet" sheetId="1" r:id="rId1"/></sheets></workbook>',
    "xl/_rels/workbook.xml.rels": f'<Relationships xmlns="{PKG}"><Relationship Id="rId1" Type="{REL}/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="{REL}/sharedStrings" Target="sharedStrings.xml"/></Relationships>',
    "xl/worksheets/sheet1.xml": f'<worksheet xmlns="{MAIN}"><sheetData><row r="1"><c r="A1" t="s"><v>0</v></c></row></sheetData></worksheet>',
}
# 1.5 GiB of shared strings: one string of spaces, compressed in chunks.
size = 3 << 29
head, tail = f'<sst xmlns="{MAIN}"><si><t>'.encode(), b"</t></si></sst>"
comp, crc, data = zlib.compressobj(9, zlib.DEFLATED, -15), 0, []
chunk = b" " * (1 << 24)
left = size - len(head) - len(tail)
for piece in [head] + [None] * (left // len(chunk)) + [b" " * (left % len(chunk)), tail]:
    piece = chunk if piece is None else piece
    crc = zlib.crc32(piece, crc)
    data.append(comp.compress(piece))
data.append(comp.flush())
deflated = b"".join(data)
for name, declared in (("bomb.xlsx", size), ("liar.xlsx", 100)):
    path = os.path.join(work, name)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for part, text in parts.items():
            z.writestr(part, text)
        z.writestr("xl/sharedStrings.xml", b" ")  # replaced below
    # Rewrite the last entry by hand: the real deflated bomb, with its declared size.
    with zipfile.ZipFile(path) as z:
        entries = [(i.filename, z.read(i.filename)) for i in z.infolist() if i.filename != "xl/sharedStrings.xml"]
    out, central = bytearray(), bytearray()
    def add(name, raw, method, crc32, csize, usize):
        global out, central
        n = name.encode()
        off = len(out)
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, method, 0, 0, crc32, csize, usize, len(n), 0) + n + raw
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, method, 0, 0, crc32, csize, usize, len(n), 0, 0, 0, 0, 0, off) + n
    for name, text in entries:
        c = zlib.compressobj(9, zlib.DEFLATED, -15)
        raw = c.compress(text) + c.flush()
        add(name, raw, 8, zlib.crc32(text), len(raw), len(text))
    add("xl/sharedStrings.xml", deflated, 8, crc, len(deflated), declared)
    cd_off = len(out)
    out += central + struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(entries) + 1, len(entries) + 1, len(central), cd_off, 0)
    open(path, "wb").write(out)
EOF
ls -l "$work"/bomb.xlsx "$work"/liar.xlsx >&2

# The run history: its lines, then 2 GB of NUL bytes.
hist="$work/big.results.history.jsonl"
printf '{"started_at":"2026-05-04T10:00:00.000Z","wall_seconds":100.0,"rows_ended":%s,"requests":%s,"outcomes":{},"exit_code":3}\n' "$rows" "$rows" > "$hist"

measure() {
    local what=$1
    shift
    local rc=0
    /usr/bin/time -v "$@" >/dev/null 2>"$work/time.txt" || rc=$?
    local peak wall
    peak=$(awk -F': ' '/Maximum resident/ { printf "%.0f", $2 / 1024 }' "$work/time.txt")
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/ { print $2 }' "$work/time.txt")
    printf '| %s | %s MiB | %s | %s |\n' "$what" "$peak" "$wall" "$rc"
}

echo "| case ($rows rows) | peak memory | wall time | exit |"
echo "|---|---|---|---|"
cd "$work"
measure "report (text)" "$bin" report big.results.csv
measure "report --html" "$bin" report big.results.csv --html big.html
measure "report --xlsx" "$bin" report big.results.csv --xlsx big.xlsx
truncate -s 2G big.results.history.jsonl
measure "report, history with a 2 GB NUL tail" "$bin" report big.results.csv
printf '{"started_at":"2026-05-04T10:00:00.000Z","wall_seconds":100.0,"rows_ended":1,"requests":1,"outcomes":{},"exit_code":0}\n' > big.results.history.jsonl
measure "check, fleet with a 2 GB NUL tail" "$bin" check nul.csv
measure "check, fleet /dev/zero" "$bin" check /dev/zero
measure "check, .xlsx bomb (1.5 GiB shared strings)" "$bin" check bomb.xlsx
measure "check, .xlsx bomb declaring 100 bytes" "$bin" check liar.xlsx
measure "sim --fixture /dev/zero" "$bin" sim --fixture /dev/zero
ls -l big.html big.xlsx >&2
