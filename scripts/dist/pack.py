#!/usr/bin/env python3
"""Packs a staged release folder into its archive, and writes SHA256SUMS; used by scripts/dist.sh.

    pack.py archive STAGED_DIR ARCHIVE   # .zip or .tar.gz, by ARCHIVE's name
    pack.py sums DIST_DIR PREFIX         # SHA256SUMS over DIST_DIR's archives named PREFIX...

The archive holds one top folder named like the staged one. Entries are sorted and stamped with
SOURCE_DATE_EPOCH (else 1980-01-01), the program is 0755 and every other file 0644, so the same
files always give the same bytes and the same checksum. Only Python's standard library is used:
it runs the same on Linux, macOS and Windows.
"""

import gzip
import hashlib
import io
import os
import sys
import tarfile
import time
import zipfile

# The earliest time a zip entry can carry.
EPOCH_1980 = 315532800


def stamp():
    return max(int(os.environ.get("SOURCE_DATE_EPOCH", EPOCH_1980)), EPOCH_1980)


def entries(staged):
    """(path inside the archive, file on disk) for every file, sorted."""
    top = os.path.basename(os.path.normpath(staged))
    found = []
    for folder, dirs, files in os.walk(staged):
        dirs.sort()
        for name in sorted(files):
            path = os.path.join(folder, name)
            rel = os.path.relpath(path, staged).replace(os.sep, "/")
            found.append((f"{top}/{rel}", path))
    return sorted(found)


def is_program(arc_name):
    base = arc_name.rsplit("/", 1)[-1]
    return base in ("growatt-onboard", "growatt-onboard.exe")


def pack_zip(staged, archive):
    when = time.gmtime(stamp())[:6]
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        for arc_name, path in entries(staged):
            info = zipfile.ZipInfo(arc_name, date_time=when)
            info.compress_type = zipfile.ZIP_DEFLATED
            mode = 0o755 if is_program(arc_name) else 0o644
            info.external_attr = (0o100000 | mode) << 16
            with open(path, "rb") as f:
                z.writestr(info, f.read(), compresslevel=9)


def pack_tar_gz(staged, archive):
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for arc_name, path in entries(staged):
            info = tarfile.TarInfo(arc_name)
            info.size = os.path.getsize(path)
            info.mtime = stamp()
            info.mode = 0o755 if is_program(arc_name) else 0o644
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            with open(path, "rb") as f:
                tar.addfile(info, f)
    with open(archive, "wb") as out:
        # mtime=0 and no file name in the gzip header: the same tar gives the same bytes.
        with gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0, compresslevel=9) as gz:
            gz.write(raw.getvalue())


def sums(dist, prefix):
    names = sorted(
        n
        for n in os.listdir(dist)
        if n.startswith(prefix) and (n.endswith(".zip") or n.endswith(".tar.gz"))
    )
    if not names:
        sys.exit(f"pack.py: no archives {prefix}* in {dist}")
    lines = []
    for name in names:
        h = hashlib.sha256()
        with open(os.path.join(dist, name), "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        lines.append(f"{h.hexdigest()}  {name}\n")
    # Binary mode: LF line ends on every system, as `sha256sum -c` expects.
    with open(os.path.join(dist, "SHA256SUMS"), "wb") as f:
        f.write("".join(lines).encode())


def main(argv):
    if len(argv) == 4 and argv[1] == "archive":
        staged, archive = argv[2], argv[3]
        if archive.endswith(".zip"):
            pack_zip(staged, archive)
        elif archive.endswith(".tar.gz"):
            pack_tar_gz(staged, archive)
        else:
            sys.exit(f"pack.py: {archive}: the archive's name must end in .zip or .tar.gz")
    elif len(argv) == 4 and argv[1] == "sums":
        sums(argv[2], argv[3])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
