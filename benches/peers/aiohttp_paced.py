#!/usr/bin/env python3
"""Register Growatt devices with aiohttp: concurrent, paced, retrying.

The best quick script: every row is a task; an asyncio.Semaphore keeps --concurrency requests
in flight, an aiolimiter.AsyncLimiter(rate, 1) keeps --rate requests a second (retries
included), and the API's transient 10001, timeouts and connection errors are retried with
exponential backoff (with jitter) up to --max-attempts. One results line per row, written as
each row ends.

    python aiohttp_paced.py --input fleet.csv --base-url URL --out results.csv \
        [--token T | GROWATT_TOKEN=T] [--rate 50] [--concurrency 8] [--timeout 30] [--max-attempts 5]
"""

import argparse
import asyncio
import contextlib
import csv
import os
import random
import sys

import aiohttp
from aiolimiter import AsyncLimiter


async def add_one(session, url, row, sem, limiter, args):
    form = {"plant_id": row["plant_id"], "sn": row["sn"], "c_user_id": row["c_user_id"]}
    delay = args.backoff
    attempts = 0
    while True:
        attempts += 1
        code, error = None, ""
        async with sem:
            async with limiter:
                try:
                    async with session.post(url, data=form) as resp:
                        body = await resp.json(content_type=None)
                    code, error = body.get("error_code"), body.get("error_msg", "")
                except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as e:
                    error = type(e).__name__
        if (code is None or code == 10001) and attempts < args.max_attempts:
            await asyncio.sleep(delay * random.uniform(0.75, 1.25))
            delay = min(delay * 2, 60)
            continue
        return code, error, attempts


async def main_async(args) -> None:
    url = args.base_url.rstrip("/") + "/v1/device/sn/add"
    with open(args.input, newline="", encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
    sem = asyncio.Semaphore(args.concurrency)
    limiter = AsyncLimiter(args.rate, 1) if args.rate else contextlib.nullcontext()
    connector = aiohttp.TCPConnector(limit=args.concurrency)
    timeout = aiohttp.ClientTimeout(total=args.timeout)
    with open(args.out, "w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["sn", "error_code", "attempts", "error"])

        async def one(row):
            code, error, attempts = await add_one(session, url, row, sem, limiter, args)
            writer.writerow([row["sn"], "" if code is None else code, attempts, error])

        async with aiohttp.ClientSession(
            connector=connector, timeout=timeout, headers={"token": args.token}
        ) as session:
            await asyncio.gather(*(one(row) for row in rows))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--input", required=True)
    p.add_argument("--base-url", required=True)
    p.add_argument("--token", default=os.environ.get("GROWATT_TOKEN"))
    p.add_argument("--rate", type=float, default=None, help="requests per second (absent: unpaced)")
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--out", required=True)
    p.add_argument("--timeout", type=float, default=30.0)
    p.add_argument("--max-attempts", type=int, default=5)
    p.add_argument("--backoff", type=float, default=0.05, help="first pause before a retry, seconds")
    args = p.parse_args()
    if not args.token:
        sys.exit("no token: pass --token or set GROWATT_TOKEN")
    asyncio.run(main_async(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
