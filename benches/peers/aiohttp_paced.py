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

import asyncio
import contextlib
import csv
import random
import sys

import aiohttp
from aiolimiter import AsyncLimiter

from peer_common import RESULTS_HEADER, add_url, form, parse_args


async def add_one(session, url, row, sem, limiter, args):
    data = form(row)
    delay = args.backoff
    attempts = 0
    while True:
        attempts += 1
        code, error = None, ""
        async with sem:
            async with limiter:
                try:
                    async with session.post(url, data=data) as resp:
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
    url = add_url(args.base_url)
    with open(args.input, newline="", encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
    sem = asyncio.Semaphore(args.concurrency)
    limiter = AsyncLimiter(args.rate, 1) if args.rate else contextlib.nullcontext()
    connector = aiohttp.TCPConnector(limit=args.concurrency)
    timeout = aiohttp.ClientTimeout(total=args.timeout)
    with open(args.out, "w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(RESULTS_HEADER)

        async def one(row):
            code, error, attempts = await add_one(session, url, row, sem, limiter, args)
            writer.writerow([row["sn"], "" if code is None else code, attempts, error])

        async with aiohttp.ClientSession(
            connector=connector, timeout=timeout, headers={"token": args.token}
        ) as session:
            await asyncio.gather(*(one(row) for row in rows))


def main() -> int:
    asyncio.run(main_async(parse_args(__doc__, concurrency=8)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
