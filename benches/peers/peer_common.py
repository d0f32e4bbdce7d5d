"""What the Python peers share: their command line (the same flags bench.py passes every peer),
the form one row sends, and the results file's header.

Each peer imports it from its own folder: Python puts a script's folder first on sys.path.
"""

import argparse
import os
import sys

#: The results file's columns, one line per row.
RESULTS_HEADER = ["sn", "error_code", "attempts", "error"]


def parse_args(doc: str, concurrency: int, concurrency_help: str | None = None) -> argparse.Namespace:
    """The peer's flags, described by the first line of its docstring; exits without a token."""
    p = argparse.ArgumentParser(description=doc.splitlines()[0])
    p.add_argument("--input", required=True)
    p.add_argument("--base-url", required=True)
    p.add_argument("--token", default=os.environ.get("GROWATT_TOKEN"))
    p.add_argument("--rate", type=float, default=None, help="requests per second (absent: unpaced)")
    p.add_argument("--concurrency", type=int, default=concurrency, help=concurrency_help)
    p.add_argument("--out", required=True)
    p.add_argument("--timeout", type=float, default=30.0)
    p.add_argument("--max-attempts", type=int, default=5)
    p.add_argument("--backoff", type=float, default=0.05, help="first pause before a retry, seconds")
    args = p.parse_args()
    if not args.token:
        sys.exit("no token: pass --token or set GROWATT_TOKEN")
    return args


def add_url(base_url: str) -> str:
    """The add endpoint under the base URL, however the URL ends."""
    return base_url.rstrip("/") + "/v1/device/sn/add"


def form(row: dict) -> dict:
    """The add form of one fleet row."""
    return {"plant_id": row["plant_id"], "sn": row["sn"], "c_user_id": row["c_user_id"]}
