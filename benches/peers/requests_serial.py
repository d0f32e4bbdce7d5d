#!/usr/bin/env python3
"""Register Growatt devices one row after another with `requests`.

The script most installers have today: read the CSV, POST each row to /v1/device/sn/add with
the `token` header, retry the API's transient 10001 a few times with a growing pause, keep at
most --rate requests a second by spacing request starts, and write one results line per row.
A request that fails outright (timeout, refused connection, not JSON) is recorded, not retried.

    python requests_serial.py --input fleet.csv --base-url URL --out results.csv \
        [--token T | GROWATT_TOKEN=T] [--rate 50] [--timeout 30] [--max-attempts 5]
"""

import argparse
import csv
import os
import sys
import time

import requests


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--input", required=True)
    p.add_argument("--base-url", required=True)
    p.add_argument("--token", default=os.environ.get("GROWATT_TOKEN"))
    p.add_argument("--rate", type=float, default=None, help="requests per second (absent: unpaced)")
    p.add_argument("--concurrency", type=int, default=1, help="ignored: one request at a time")
    p.add_argument("--out", required=True)
    p.add_argument("--timeout", type=float, default=30.0)
    p.add_argument("--max-attempts", type=int, default=5)
    p.add_argument("--backoff", type=float, default=0.05, help="first pause before a retry, seconds")
    args = p.parse_args()
    if not args.token:
        sys.exit("no token: pass --token or set GROWATT_TOKEN")

    url = args.base_url.rstrip("/") + "/v1/device/sn/add"
    interval = 1.0 / args.rate if args.rate else 0.0
    session = requests.Session()
    session.headers["token"] = args.token
    next_start = time.monotonic()

    with open(args.input, newline="", encoding="utf-8-sig") as f, open(
        args.out, "w", newline="", encoding="utf-8"
    ) as out:
        writer = csv.writer(out)
        writer.writerow(["sn", "error_code", "attempts", "error"])
        for row in csv.DictReader(f):
            form = {"plant_id": row["plant_id"], "sn": row["sn"], "c_user_id": row["c_user_id"]}
            code, error, attempts = None, "", 0
            while True:
                attempts += 1
                if interval:
                    now = time.monotonic()
                    if now < next_start:
                        time.sleep(next_start - now)
                    next_start = max(next_start, now) + interval
                try:
                    resp = session.post(url, data=form, timeout=args.timeout)
                    body = resp.json()
                    code, error = body.get("error_code"), body.get("error_msg", "")
                except (requests.RequestException, ValueError) as e:
                    code, error = None, type(e).__name__
                    break
                if code == 10001 and attempts < args.max_attempts:
                    time.sleep(args.backoff * 2 ** (attempts - 1))
                    continue
                break
            writer.writerow([row["sn"], "" if code is None else code, attempts, error])
    return 0


if __name__ == "__main__":
    sys.exit(main())
