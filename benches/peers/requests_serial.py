#!/usr/bin/env python3
"""Register Growatt devices one row after another with `requests`.

The script most installers have today: read the CSV, POST each row to /v1/device/sn/add with
the `token` header, retry the API's transient 10001 a few times with a growing pause, keep at
most --rate requests a second by spacing request starts, and write one results line per row.
A request that fails outright (timeout, refused connection, not JSON) is recorded, not retried.

    python requests_serial.py --input fleet.csv --base-url URL --out results.csv \
        [--token T | GROWATT_TOKEN=T] [--rate 50] [--timeout 30] [--max-attempts 5]
"""

import csv
import sys
import time

import requests

from peer_common import RESULTS_HEADER, add_url, form, parse_args


def main() -> int:
    args = parse_args(__doc__, concurrency=1, concurrency_help="ignored: one request at a time")
    url = add_url(args.base_url)
    interval = 1.0 / args.rate if args.rate else 0.0
    session = requests.Session()
    session.headers["token"] = args.token
    next_start = time.monotonic()

    with open(args.input, newline="", encoding="utf-8-sig") as f, open(
        args.out, "w", newline="", encoding="utf-8"
    ) as out:
        writer = csv.writer(out)
        writer.writerow(RESULTS_HEADER)
        for row in csv.DictReader(f):
            data = form(row)
            code, error, attempts = None, "", 0
            while True:
                attempts += 1
                if interval:
                    now = time.monotonic()
                    if now < next_start:
                        time.sleep(next_start - now)
                    next_start = max(next_start, now) + interval
                try:
                    resp = session.post(url, data=data, timeout=args.timeout)
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
