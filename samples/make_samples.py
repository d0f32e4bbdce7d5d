#!/usr/bin/env python3
"""Generate the bundled sample data for growatt-onboard.

Writes, next to this script:
  fixture.json  the simulator's world: plants with their end-user accounts, the device
                serials that exist, and the serials already linked to a plant
  fleet.csv     an installer's fleet sheet to register against that world, with a
                realistic share of rows that the API or the tool's validation must reject

The output is deterministic (fixed seed, standard library only), so re-running the script
reproduces byte-identical files and tests may rely on the exact composition printed at the end.
"""

import csv
import json
import os
import random
import string

SEED = 20260101
HERE = os.path.dirname(os.path.abspath(__file__))

# Plants and the end-user (c_user) accounts allowed on each. One user may own several plants,
# as an installer's customer with a house and a barn would.
PLANTS = [
    (1001, [501, 502]),
    (1002, [503]),
    (1003, [504, 505]),
    (1004, [506]),
    (1005, [507, 508]),
    (1006, [509, 501]),
    (1007, [510, 511]),
    (1008, [512]),
]

N_GOOD = 265
N_ALREADY = 15
N_SPARE = 12  # devices that exist but are not in the sheet: the world is bigger than one fleet
OFFLINE_SHARE = 0.06

# Prefixes seen on Growatt inverter and battery nameplates; the rest is digit, letter,
# four digits, letter, giving the 10-character serials the portal shows.
PREFIXES = ["BQC", "BNE", "AFE", "DDD", "JNK", "NHB", "XSK", "QMN", "UKD", "TNE"]

STREETS = [
    "Mill Lane", "Church Road", "Station Road", "High Street", "Oak Avenue", "Kirchweg",
    "Dorfstrasse", "Rue des Lilas", "Via Roma", "Calle Mayor", "Bakery", "Dairy Farm",
]


def make_serial(rng, used):
    while True:
        sn = (
            rng.choice(PREFIXES)
            + rng.choice(string.digits)
            + rng.choice(string.ascii_uppercase)
            + "".join(rng.choice(string.digits) for _ in range(4))
            + rng.choice(string.ascii_uppercase)
        )
        if sn not in used:
            used.add(sn)
            return sn


def site_name(rng, i):
    # Some names carry a comma so the CSV needs quoting, as exports from real sheets do.
    street = rng.choice(STREETS)
    if rng.random() < 0.15:
        return f"{rng.choice(['Smith', 'Meyer', 'Rossi', 'Garcia', 'Dubois'])}, {street} {i}"
    return f"{street} {rng.randint(1, 180)}"


def main():
    rng = random.Random(SEED)
    used = set()
    plant_ids = [p for p, _ in PLANTS]
    users_of = dict(PLANTS)

    def good_target():
        plant = rng.choice(plant_ids)
        return plant, rng.choice(users_of[plant])

    devices = []  # (sn, online)
    associated = []
    rows = []  # each: dict(plant_id, sn, c_user_id, site_name, expect)

    def add_device(sn):
        devices.append((sn, rng.random() >= OFFLINE_SHARE))

    for _ in range(N_GOOD):
        sn = make_serial(rng, used)
        add_device(sn)
        plant, user = good_target()
        rows.append(dict(plant_id=str(plant), sn=sn, c_user_id=str(user), expect="registered"))

    for _ in range(N_ALREADY):
        sn = make_serial(rng, used)
        add_device(sn)
        associated.append(sn)
        plant, user = good_target()
        rows.append(dict(plant_id=str(plant), sn=sn, c_user_id=str(user), expect="10003"))

    # Plants that do not exist: well-formed ids, so only the server can tell.
    for plant in (1099, 2001, 10010):
        sn = make_serial(rng, used)
        add_device(sn)
        rows.append(dict(plant_id=str(plant), sn=sn, c_user_id="501", expect="10004"))

    # Users that exist on another plant, or nowhere.
    for plant, user in ((1001, 503), (1004, 999), (1008, 505)):
        sn = make_serial(rng, used)
        add_device(sn)
        rows.append(dict(plant_id=str(plant), sn=sn, c_user_id=str(user), expect="10005"))

    # Serials that look right but belong to no device (a typo on the nameplate reading).
    for _ in range(2):
        sn = make_serial(rng, used)  # deliberately not added to devices
        plant, user = good_target()
        rows.append(dict(plant_id=str(plant), sn=sn, c_user_id=str(user), expect="10002"))

    # Rows the tool must catch locally and never send.
    def existing_sn():
        sn = make_serial(rng, used)
        add_device(sn)
        return sn

    invalid = [
        dict(plant_id="abc", sn=existing_sn(), c_user_id="501"),
        dict(plant_id="1002", sn="", c_user_id="503"),
        dict(plant_id="1003", sn="AB-123", c_user_id="504"),
        dict(plant_id="1005", sn="1.23457E+11", c_user_id="507"),
        dict(plant_id="1007", sn=existing_sn(), c_user_id="510.0"),
        dict(plant_id="-1004", sn=existing_sn(), c_user_id="506"),
        dict(plant_id="1008", sn=existing_sn(), c_user_id="0"),
    ]
    for r in invalid:
        r["expect"] = "invalid"
        rows.append(r)

    for _ in range(N_SPARE):
        add_device(make_serial(rng, used))
    # Serials linked long ago that this fleet does not mention.
    for _ in range(3):
        sn = make_serial(rng, used)
        add_device(sn)
        associated.append(sn)

    rng.shuffle(rows)

    # Duplicates: a good row repeated later in the sheet, once in lower case as a hand-typed
    # copy would be. Each is placed well after its original so the first one is the one sent.
    n_dups = 5
    for k in range(n_dups):
        while True:
            i = rng.randrange(0, len(rows) * 2 // 3)
            if rows[i]["expect"] == "registered" and not rows[i].get("duplicated"):
                break
        rows[i]["duplicated"] = True
        orig = rows[i]
        sn = orig["sn"].lower() if k == 0 else orig["sn"]
        dup = dict(plant_id=orig["plant_id"], sn=sn, c_user_id=orig["c_user_id"], expect="duplicate")
        j = rng.randrange(i + 10, len(rows) + 1)
        rows.insert(j, dup)

    for i, r in enumerate(rows):
        r["site_name"] = site_name(rng, i + 2)

    devices.sort()
    fixture = {
        "plants": [{"plant_id": p, "c_user_ids": u} for p, u in PLANTS],
        "devices": [{"sn": sn, "online": online} for sn, online in devices],
        "associated": sorted(associated),
    }
    with open(os.path.join(HERE, "fixture.json"), "w", encoding="utf-8", newline="\n") as f:
        # One record per line: readable, and a diff of a regenerated file stays small.
        f.write("{\n")
        for key in ("plants", "devices", "associated"):
            items = fixture[key]
            f.write(f'  "{key}": [\n')
            for n, item in enumerate(items):
                sep = "," if n + 1 < len(items) else ""
                f.write(f"    {json.dumps(item)}{sep}\n")
            f.write("  ],\n")
        # Two associated devices sit elsewhere, for `verify --locate`: one on another plant of
        # the account (a typo'd plant id), one on a previous owner's plant outside it.
        f.write('  "account": {\n    "located": [\n')
        f.write('      {"sn": "TNE9J4023K", "plant_id": 1003, "user_id": 504},\n')
        f.write('      {"sn": "DDD2L1402S", "plant_id": 2001, "user_id": 599}\n')
        f.write("    ]\n  }\n")
        f.write("}\n")

    with open(os.path.join(HERE, "fleet.csv"), "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["plant_id", "sn", "c_user_id", "site_name"])
        for r in rows:
            w.writerow([r["plant_id"], r["sn"], r["c_user_id"], r["site_name"]])

    counts = {}
    for r in rows:
        counts[r["expect"]] = counts.get(r["expect"], 0) + 1
    print(f"{len(rows)} rows, {len(devices)} devices, {len(associated)} associated")
    for k in sorted(counts):
        print(f"  {k}: {counts[k]}")


if __name__ == "__main__":
    main()
