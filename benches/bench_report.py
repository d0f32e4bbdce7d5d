"""The benchmark's figures and report: from the measured runs to benchmark.md and w1_rate.svg.

- one run's figures: `read_results` (a contender's results file), `analyse` (the simulator's
  record, the rusage and the results file as one record), `late_rate`;
- `fmt`, `fmt_mib`: numbers as the report and the progress lines show them;
- `summarise` (medians per workload and contender), `targets` (each target, measured, met or not);
- the report: `machine` (what it ran on), `svg_w1` (the W1 chart, with `nice_step` and `esc`),
  `table` and `report_md`.

The functions that read the bench take it as it is (`BenchRun` lists what they read); this module
does not import bench.py. Python 3.11 standard library only (see bench.py).
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import time
from pathlib import Path
from typing import Protocol

from bench_common import (
    AIOHTTP, BACKOFF_S, COLORS, CONTENDERS, GO, PARALLEL, PYTHON_PEERS, REQUESTS, ROOT,
    UNPACED_RATE, WARM_CAP, WARM_CAP_QUICK, ProcResult, Workload, first_line, median, run_text,
    serial,
)


class BenchRun(Protocol):
    """What the report reads of a finished bench (bench.py's `Bench`)."""

    args: argparse.Namespace  # reps, build_seconds
    quick: bool
    binary: Path
    venv_py: str
    pin: bool
    notes: list[str]
    available: dict[str, bool]
    runs: list[dict]
    commands: dict[str, list[str]]


# ---------------------------------------------------------------------------------------------
# Figures


def read_results(c: str, path: Path) -> dict[str, bool]:
    """Serial -> whether its (latest) results line says it is registered. Missing file: {}."""
    done: dict[str, bool] = {}
    if not path.exists():
        return done
    with open(path, newline="", encoding="utf-8", errors="replace") as f:
        for row in csv.DictReader(f):
            sn = row.get("sn") or ""
            if c == GO:
                done[sn] = row.get("outcome") in ("registered", "already_registered")
            else:
                done[sn] = (row.get("error_code") or "").strip() in ("0", "10003")
    return done


def analyse(c: str, n: int, stats: dict, proc: ProcResult, results: Path) -> dict:
    req = stats.get("requests", 0)
    first, last = stats.get("first_request_unix_ms"), stats.get("last_request_unix_ms")
    span = (last - first) / 1000 if first is not None and last is not None else 0.0
    by_code = stats.get("by_code", {})
    failures = by_code.get("10001", 0) + stats.get("hung", 0)
    if "requests_per_sn" in stats:
        distinct = len(stats["requests_per_sn"])
        adds = stats["adds_per_sn"]
        dup_adds = sum(1 for v in adds.values() if v > 1)
    else:
        distinct = stats.get("serials_requested", 0)
        adds = None
        dup_adds = stats.get("duplicate_adds", 0)
    done = read_results(c, results)
    missing = correct = 0
    for i in range(n):
        sn = serial(i)
        ok = done.get(sn)
        if ok is None:
            missing += 1
        elif ok and (adds is None or adds.get(sn, 0) == 1):
            correct += 1
    if adds is None and stats.get("serials_added", n) < correct:
        correct = stats["serials_added"]  # the simulator's record bounds what a contender claims
    per_second = stats.get("per_second", [])
    late = late_rate(stats, 10.0)
    return {
        "n10012": by_code.get("10012", 0),
        "accepted_after_10s": late,
        "rows": n,
        "wall_s": proc.wall_s,
        "cpu_s": proc.cpu_s,
        "maxrss_kib": proc.maxrss_kib,
        "exit_code": proc.exit_code,
        "killed": proc.killed,
        "requests": req,
        "span_s": span,
        "rate": (req - 1) / span if req > 1 and span > 0 else None,
        "max_in_one_second": stats.get("max_in_one_second"),
        "first_second": per_second[0] if per_second else 0,
        "per_second": per_second,
        "max_in_flight": stats.get("max_in_flight"),
        "by_code": by_code,
        "hung": stats.get("hung", 0),
        "serials_requested": distinct,
        "repeats": req - distinct,
        "unneeded": req - distinct - failures,
        "duplicate_adds": dup_adds,
        "results_rows": len(done),
        "missing": missing,
        "correct": correct,
        "cpu_per_1000": proc.cpu_s / req * 1000 if proc.cpu_s is not None and req else None,
    }


def late_rate(stats: dict, skip_s: float) -> float | None:
    """Requests answered 0 per second from `skip_s` after the first request until the last
    row's first request (the rows deferred past it wait out a cooldown, not the pace). Needs the
    per-serial history of the full stats."""
    hist = stats.get("history_per_sn")
    first = stats.get("first_request_unix_ms")
    if not hist or first is None:
        return None
    start = first + skip_s * 1000
    end = max(h[0]["at_unix_ms"] for h in hist.values() if h)
    if end <= start:
        return None
    ok = sum(1 for h in hist.values() for r in h
             if r["code"] == 0 and start <= r["at_unix_ms"] <= end)
    return ok / ((end - start) / 1000)


def fmt(v, digits=2) -> str:
    if v is None:
        return "–"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return f"{v:,}"
    return f"{v:,.{digits}f}"


def fmt_mib(kib) -> str:
    return "–" if kib is None else f"{kib / 1024:.1f} MiB"


def summarise(bench: BenchRun, wls: dict[str, Workload]) -> dict:
    """Medians per workload and contender over the measured runs."""
    out: dict = {}
    for key, wl in wls.items():
        for c in wl.contenders:
            reps = [r for r in bench.runs if r["workload"] == key and r["contender"] == c
                    and r["label"].startswith("rep")]
            if not reps:
                continue
            m = {f: median([r[f] for r in reps]) for f in (
                "rows", "wall_s", "cpu_s", "maxrss_kib", "requests", "rate", "max_in_one_second",
                "first_second", "max_in_flight", "repeats", "unneeded", "duplicate_adds",
                "correct", "missing", "cpu_per_1000", "hung")}
            m["n10001"] = median([r["by_code"].get("10001", 0) for r in reps])
            m["n10012"] = median([r["n10012"] for r in reps])
            m["worst_n10012"] = max(r["n10012"] for r in reps)
            m["worst_wall_s"] = max(r["wall_s"] for r in reps)
            m["share_10012"] = median([r["n10012"] / r["requests"] if r["requests"] else 0
                                       for r in reps])
            lates = [r["accepted_after_10s"] for r in reps if r["accepted_after_10s"] is not None]
            m["accepted_after_10s"] = median(lates) if lates else None
            m["worst_accepted_after_10s"] = min(lates) if lates else None
            m["reps"] = len(reps)
            m["worst_max_in_one_second"] = max(r["max_in_one_second"] or 0 for r in reps)
            m["worst_first_second"] = max(r["first_second"] for r in reps)
            steals = [r["steal_ms"] for r in reps if r.get("steal_ms") is not None]
            m["worst_steal_ms"] = max(steals) if steals else None
            m["windows_and_steal"] = [(r["max_in_one_second"], r.get("steal_ms")) for r in reps]
            m["all_correct"] = all(r["correct"] == r["rows"] for r in reps)
            m["killed"] = any(r["killed"] for r in reps)
            m["exit_codes"] = sorted({r["exit_code"] for r in reps}, key=str)
            if wl.rate:
                m["rate_ratio"] = m["rate"] / wl.rate if m["rate"] else None
                m["wall_over_ideal"] = m["wall_s"] / (m["rows"] / wl.rate)
            if key == "W2":
                ideal = wl.concurrency / (wl.latency_ms / 1000)
                m["ideal_rate"] = ideal
                m["rate_ratio"] = m["rate"] / ideal if m["rate"] else None
            # the run whose rate is the median, for the chart
            ordered = sorted(reps, key=lambda r: r["rate"] or 0)
            m["per_second"] = ordered[len(ordered) // 2]["per_second"]
            out.setdefault(key, {})[c] = m
    reps = [r for r in bench.runs if r["workload"] == "W5" and r["label"].startswith("rep")]
    for mode in ("check", "run"):
        for size in sorted({r["rows"] for r in reps}):
            rs = [r for r in reps if r["mode"] == mode and r["rows"] == size]
            if not rs:
                continue
            m = {f: median([r.get(f) for r in rs]) for f in (
                "rows", "wall_s", "cpu_s", "maxrss_kib", "rows_per_s", "requests", "rate",
                "unneeded", "correct", "missing")}
            m["reps"] = len(rs)
            m["peak_rss_kib"] = max(r["maxrss_kib"] or 0 for r in rs)
            m["all_correct"] = mode == "check" or all(r["correct"] == r["rows"] for r in rs)
            m["killed"] = any(r["killed"] for r in rs)
            out.setdefault("W5", {}).setdefault(mode, {})[str(size)] = m
    return out


def targets(s: dict, wls: dict[str, Workload], quick: bool) -> list[dict]:
    """Each target with the measured value and whether it was met."""
    res = []

    def add(wk, text, measured, met):
        res.append({"workload": wk, "target": text, "measured": measured,
                    "verdict": "not measured" if met is None else ("met" if met else "not met")})

    go = lambda k: s.get(k, {}).get(GO)  # noqa: E731
    if "W1" in wls:
        rate = wls["W1"].rate
        g = go("W1")
        r = g and g.get("rate_ratio")
        add("W1", "achieved rate within 1% of the configured rate",
            f"{fmt(g['rate'])}/s of {rate:g}/s = {fmt(r, 4)}" if r else "–",
            abs(r - 1) <= 0.01 if r else None)
        add("W1", f"never above the rate in any one-second window (≤ {rate + 1:g})",
            f"worst {g['worst_max_in_one_second']}" if g else "–",
            g["worst_max_in_one_second"] <= rate + 1 if g else None)
        add("W1", f"first second not above the rate (≤ {rate:g})",
            f"worst {g['worst_first_second']}" if g else "–",
            g["worst_first_second"] <= rate if g else None)
    if "W2" in wls:
        g = go("W2")
        r = g and g.get("rate_ratio")
        add("W2", "≥ 0.95 of the ideal concurrency/latency rate",
            f"{fmt(g['rate'], 0)}/s of {fmt(g['ideal_rate'], 0)}/s = {fmt(r, 3)}" if r else "–",
            r >= 0.95 if r else None)
        py = [s["W2"][c]["cpu_per_1000"] for c in PYTHON_PEERS
              if c in s.get("W2", {}) and s["W2"][c]["cpu_per_1000"]]
        best = min(py) if py else None
        mine = g and g.get("cpu_per_1000")
        add("W2", "CPU per 1,000 requests ≤ ¼ of the best Python contender's",
            f"{fmt(mine, 3)} s vs {fmt(best, 3)} s (ratio {fmt(mine / best, 3)})"
            if mine and best else "–",
            mine <= best / 4 if mine and best else None)
    if "W3" in wls:
        g = go("W3")
        others = {c: m["rate"] for c, m in s.get("W3", {}).items() if c != GO and m["rate"]}
        best_c = max(others, key=others.get) if others else None
        mine = g and g.get("rate")
        add("W3", "≥ 3× the best other contender's requests per second",
            f"{fmt(mine, 0)}/s vs {best_c} {fmt(others[best_c], 0)}/s (×{fmt(mine / others[best_c], 1)})"
            if mine and best_c else "–",
            mine >= 3 * others[best_c] if mine and best_c else None)
    if "W4" in wls:
        g = go("W4")
        add("W4", "every row correct",
            f"{fmt(g['correct'])} of {fmt(g['rows'])} (worst run: "
            f"{'all' if g['all_correct'] else 'not all'})" if g else "–",
            g["all_correct"] if g else None)
        add("W4", "no request beyond what the retries need",
            f"{fmt(g['unneeded'])} unneeded of {fmt(g['requests'])}" if g else "–",
            g["unneeded"] <= 0 if g else None)
    if "W6" in wls:
        wl = wls["W6"]
        g = go("W6")
        bound = 1.05 * (wl.rows / wl.rate + wl.cooldown_s)
        add("W6", f"wall ≤ 1.05 × (rows ÷ rate + one cooldown) = {bound:.2f} s",
            f"median {fmt(g['wall_s'])} s, worst {fmt(g['worst_wall_s'])} s" if g else "–",
            g["worst_wall_s"] <= bound if g else None)
        add("W6", "at most 3 answers 10012",
            f"worst {fmt(g['worst_n10012'])}" if g else "–",
            g["worst_n10012"] <= 3 if g else None)
        add("W6", "every row correct",
            f"{fmt(g['correct'])} of {fmt(g['rows'])}" if g else "–",
            g["all_correct"] if g else None)
    if "W7" in wls:
        wl = wls["W7"]
        g = go("W7")
        want = 0.85 * wl.allowed_rate
        late = g and g.get("worst_accepted_after_10s")
        add("W7", f"after the first 10 s, achieved ≥ 0.85 × {wl.allowed_rate:g}/s = {want:g}/s",
            f"worst {fmt(late)}/s, median {fmt(g['accepted_after_10s'])}/s" if late else "–",
            late >= want if late else None)
        add("W7", "10012 on ≤ 5 % of requests",
            f"{fmt(g['share_10012'] * 100, 1)} % ({fmt(g['n10012'])} of {fmt(g['requests'])})"
            if g else "–",
            g["share_10012"] <= 0.05 if g else None)
        add("W7", "every row correct",
            f"{fmt(g['correct'])} of {fmt(g['rows'])}" if g else "–",
            g["all_correct"] if g else None)
    w5 = s.get("W5", {})
    if w5:
        big = max(w5.get("check", {}), key=int, default=None)
        chk = w5.get("check", {}).get(big) if big else None
        add("W5", "check ≥ 1,000,000 rows per second",
            f"{fmt(chk['rows_per_s'], 0)} rows/s at {int(big):,} rows" if chk else "–",
            chk["rows_per_s"] >= 1e6 if chk else None)
        big = max(w5.get("run", {}), key=int, default=None)
        run = w5.get("run", {}).get(big) if big else None
        add("W5", "run peak RSS ≤ 64 MiB at 1M rows",
            f"{fmt_mib(run['peak_rss_kib'])} at {int(big):,} rows" if run else "–",
            run["peak_rss_kib"] <= 64 * 1024 if run else None)
    if quick:
        for t in res:
            t["verdict"] += " (quick sizes)"
    return res


# ---------------------------------------------------------------------------------------------
# Report


def machine(bench: BenchRun, started: float) -> dict:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f"{kib / 1024 / 1024:.1f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    venv = ""
    if bench.available.get(AIOHTTP) or bench.available.get(REQUESTS):
        venv = run_text([bench.venv_py, "-c",
                         "import sys, requests, aiohttp, aiolimiter; print(sys.version.split()[0],"
                         " 'requests', requests.__version__, 'aiohttp', aiohttp.__version__,"
                         " 'aiolimiter', aiolimiter.__version__ if hasattr(aiolimiter,"
                         " '__version__') else '')"])
    commit = run_text(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT)
    dirty = run_text(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT)
    return {
        "date_utc": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(started)),
        "nproc": os.cpu_count(),
        "cpu_model": model,
        "kernel": f"{platform.system()} {platform.release()}",
        "memory": mem,
        "load_average_at_start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "pinning": "simulator on core 0, contender on core 1 (taskset)" if bench.pin
        else "none (taskset missing, one core, or --no-pin)",
        "git": commit + (" with uncommitted changes" if dirty else ""),
        "growatt_onboard": run_text([str(bench.binary), "--version"]),
        "rustc": run_text(["rustc", "--version"]),
        "python_orchestrator": platform.python_version(),
        "python_peers": venv,
        "gnu_parallel": first_line(run_text(["parallel", "--version"])) if bench.available.get(PARALLEL) else "",
        "curl": first_line(run_text(["curl", "--version"])) if bench.available.get(PARALLEL) else "",
    }


def svg_w1(s: dict, rate: float, title: str) -> str:
    """Requests per second over time, one polyline per contender, from the simulator's per_second."""
    series = {c: m["per_second"] for c, m in s.items() if m.get("per_second")}
    W, H, L, R, T, B = 760, 380, 60, 170, 40, 50
    pw, ph = W - L - R, H - T - B
    xmax = max([len(v) for v in series.values()] + [1])
    ymax = max([max(v) for v in series.values() if v] + [rate]) * 1.15
    ystep = nice_step(ymax / 5)
    ymax = ystep * (int(ymax / ystep) + 1)
    xstep = nice_step(xmax / 8) if xmax >= 8 else 1
    x = lambda t: L + pw * t / max(xmax, 1)  # noqa: E731
    y = lambda v: T + ph * (1 - v / ymax)  # noqa: E731
    o = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" '
         f'viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12">',
         f'<rect width="{W}" height="{H}" fill="white"/>',
         f'<text x="{L}" y="22" font-size="14" font-weight="bold">{esc(title)}</text>']
    v = 0.0
    while v <= ymax + 1e-9:
        o.append(f'<line x1="{L}" y1="{y(v):.1f}" x2="{L + pw}" y2="{y(v):.1f}" stroke="#e5e5e5"/>')
        o.append(f'<text x="{L - 6}" y="{y(v) + 4:.1f}" text-anchor="end">{v:g}</text>')
        v += ystep
    t = 0
    while t <= xmax:
        o.append(f'<line x1="{x(t):.1f}" y1="{T + ph}" x2="{x(t):.1f}" y2="{T + ph + 5}" stroke="black"/>')
        o.append(f'<text x="{x(t):.1f}" y="{T + ph + 18}" text-anchor="middle">{t}</text>')
        t += xstep
    o.append(f'<line x1="{L}" y1="{T}" x2="{L}" y2="{T + ph}" stroke="black"/>')
    o.append(f'<line x1="{L}" y1="{T + ph}" x2="{L + pw}" y2="{T + ph}" stroke="black"/>')
    o.append(f'<text x="{L + pw / 2}" y="{H - 10}" text-anchor="middle">seconds since the first '
             f'request (each point: the requests in that second; a run\'s last second is partial)</text>')
    o.append(f'<text x="16" y="{T + ph / 2}" text-anchor="middle" '
             f'transform="rotate(-90 16 {T + ph / 2})">requests per second (simulator)</text>')
    o.append(f'<line x1="{L}" y1="{y(rate):.1f}" x2="{L + pw}" y2="{y(rate):.1f}" '
             f'stroke="black" stroke-dasharray="6 4"/>')
    for c, vals in series.items():
        pts = " ".join(f"{x(t + 0.5):.1f},{y(v):.1f}" for t, v in enumerate(vals))
        color = COLORS.get(c, "#555")
        o.append(f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{pts}"/>')
        o += [f'<circle cx="{x(t + 0.5):.1f}" cy="{y(v):.1f}" r="2.5" fill="{color}"/>'
              for t, v in enumerate(vals)]
    ly = T + 10
    o.append(f'<line x1="{L + pw + 15}" y1="{ly}" x2="{L + pw + 40}" y2="{ly}" stroke="black" stroke-dasharray="6 4"/>')
    o.append(f'<text x="{L + pw + 46}" y="{ly + 4}">configured {rate:g}/s</text>')
    for i, c in enumerate(series):
        yy = ly + 20 * (i + 1)
        o.append(f'<line x1="{L + pw + 15}" y1="{yy}" x2="{L + pw + 40}" y2="{yy}" '
                 f'stroke="{COLORS.get(c, "#555")}" stroke-width="3"/>')
        o.append(f'<text x="{L + pw + 46}" y="{yy + 4}">{esc(c)}</text>')
    o.append("</svg>")
    return "\n".join(o) + "\n"


def nice_step(raw: float) -> float:
    raw = max(raw, 1e-9)
    mag = 10 ** int(f"{raw:e}".split("e")[1])
    for m in (1, 2, 5, 10):
        if raw <= m * mag:
            return m * mag
    return 10 * mag


def esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def table(head: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def report_md(bench: BenchRun, wls: dict[str, Workload], s: dict, tg: list[dict], mach: dict,
              total_s: float) -> str:
    q = bench.quick
    o = ["# growatt-onboard benchmark" + (" (quick smoke run)" if q else ""), ""]
    if q:
        o += ["> **Quick mode**: tiny sizes and one repetition, to check the harness end to end. "
              "These figures say nothing about performance; run `bash benches/run.sh` for the "
              "benchmark.", ""]
    o += [f"{mach['date_utc']}, {mach['nproc']} cores ({mach['cpu_model']}), {mach['memory']}, "
          f"{mach['kernel']}; load average at start {mach['load_average_at_start']}. "
          f"Took {total_s / 60:.1f} min (release build {bench.args.build_seconds} s of it).", ""]
    o += ["## Targets", "", table(["", "target", "measured", "verdict"],
                                  [[t["workload"], t["target"], t["measured"], f"**{t['verdict']}**"]
                                   for t in tg]), ""]
    o += ["## How it was measured", "",
          "- Every run has a fresh simulator (`growatt-onboard sim --open-world`), "
          f"{mach['pinning']}. Rates, the busiest one-second window, the first second, "
          "requests and repeats per serial come from the simulator's `GET /__sim/stats`; "
          "wall time, CPU (user + system, the contender and every process it waited for) and "
          "peak RSS (the largest single process) from the contender's rusage, taken by GNU "
          "`time` around it (its wait4 on the command, so neither the orchestrator nor `time` itself is counted).",
          "- An arrival is the moment the request's first bytes reached the simulator's socket "
          "(the kernel's receive stamp, `SO_TIMESTAMPNS`), not the moment its handler ran, so the "
          "simulator's own wake-ups do not move requests between seconds. *Host steal* is the "
          "time the hypervisor gave this machine's CPUs to something else during the run "
          "(`/proc/stat`); a vCPU stalled for tens of milliseconds sends or receives a request "
          "that late, and the requests after it, on time, can then crowd one second.",
          f"- One warm-up run (a tenth of the rows, cut off after {WARM_CAP_QUICK if q else WARM_CAP:g} s), then the "
          f"median of {bench.args.reps} measured run(s). *Worst* is the highest over the runs.",
          "- *Rate* is (requests − 1) ÷ (last arrival − first arrival). *Correct* rows: the "
          "results file says registered (0 or 10003), and the simulator registered that serial "
          "exactly once. *Unneeded* requests: requests − serials requested − 10001 answers − "
          "hung requests (a negative value means rows gave up).",
          "- growatt-onboard always runs the whole fleet. A peer runs the first N rows, N sized "
          "from its warm-up so that a run takes about the workload's time box; the *rows* "
          "column says N. Per-request figures (rate, CPU per 1,000) compare fairly; totals do not.",
          "- Pacing: growatt-onboard `--rate` (a reserved slot grid, burst 1); aiohttp `AsyncLimiter(rate, 1)` "
          "(a bucket of `rate` tokens, so the first second may burst); parallel `--delay 1/rate` "
          "between job starts (retries inside a job are not paced); requests: request starts "
          "spaced 1/rate apart. Unpaced: growatt-onboard `--rate "
          f"{UNPACED_RATE}/s`, the peers without `--rate`.",
          f"- Retries: first pause {int(BACKOFF_S * 1000)} ms, doubling; growatt-onboard, "
          "aiohttp and parallel+curl retry 10001 and timeouts; the serial requests script "
          "retries 10001 only (a timeout ends its row, as in the scripts installers have).", ""]
    for note in bench.notes:
        o.append(f"- **Note**: {note}")
    if bench.notes:
        o.append("")

    def rows_for(key, cols):
        body = []
        for c in CONTENDERS:
            m = s.get(key, {}).get(c)
            if m:
                body.append([c] + [f(m) for _, f in cols])
            elif c in wls[key].contenders:
                body.append([c] + ["not run"] + [""] * (len(cols) - 1))
        return table(["contender"] + [h for h, _ in cols], body)

    rows_col = ("rows", lambda m: fmt(int(m["rows"])))
    correct_col = ("correct rows", lambda m: fmt(int(m["correct"])) + ("" if m["all_correct"] else " ⚠"))
    dup_col = ("unneeded requests", lambda m: fmt(int(m["unneeded"])))
    for key, wl in wls.items():
        if key not in s:
            continue
        desc = (f"{wl.rows:,} rows, " + (f"{wl.rate:g}/s, " if wl.rate else "unpaced, ")
                + f"concurrency {wl.concurrency}, simulator latency {wl.latency_ms} ms"
                + (f" ± {wl.jitter_ms} ms" if wl.jitter_ms else "")
                + (f", {wl.fail_rate:.0%} answered 10001, {wl.hang_rate:.0%} held {wl.hang_ms} ms "
                   f"(client timeout {wl.timeout:g} s, {wl.max_attempts} attempts)"
                   if wl.fail_rate else "")
                + (f"; simulator `{' '.join(wl.sim_extra)}`, growatt-onboard `{' '.join(wl.go_extra)}`"
                   if wl.sim_extra else "")
                + f"; peers' time box {wl.peer_box:g} s")
        o += [f"## {key} {wl.title}", "", desc, ""]
        if key == "W1":
            cols = [rows_col, ("achieved rate", lambda m: fmt(m["rate"]) + "/s"),
                    ("÷ configured", lambda m: fmt(m.get("rate_ratio"), 4)),
                    ("max in 1 s (worst)", lambda m: fmt(m["worst_max_in_one_second"])),
                    ("first second (worst)", lambda m: fmt(m["worst_first_second"])),
                    ("wall ÷ ideal", lambda m: fmt(m.get("wall_over_ideal"), 3)),
                    correct_col, dup_col,
                    ("max in 1 s / host steal, each run", lambda m: ", ".join(
                        f"{w} / {fmt(st, 0)} ms" for w, st in m["windows_and_steal"]))]
            o += [rows_for(key, cols), "", "![requests per second, W1](w1_rate.svg)", ""]
        elif key == "W2":
            cols = [rows_col, ("requests/s", lambda m: fmt(m["rate"], 0)),
                    ("÷ ideal", lambda m: fmt(m.get("rate_ratio"), 3)),
                    ("CPU s per 1,000", lambda m: fmt(m["cpu_per_1000"], 3)),
                    ("peak RSS", lambda m: fmt_mib(m["maxrss_kib"])),
                    ("max in flight", lambda m: fmt(m["max_in_flight"])),
                    ("wall", lambda m: fmt(m["wall_s"]) + " s"), correct_col, dup_col]
            o += [rows_for(key, cols), ""]
        elif key == "W3":
            cols = [rows_col, ("requests/s", lambda m: fmt(m["rate"], 0)),
                    ("CPU s per 1,000", lambda m: fmt(m["cpu_per_1000"], 3)),
                    ("peak RSS", lambda m: fmt_mib(m["maxrss_kib"])),
                    ("wall", lambda m: fmt(m["wall_s"]) + " s"), correct_col, dup_col]
            o += [rows_for(key, cols), ""]
        elif key == "W4":
            cols = [rows_col, correct_col,
                    ("requests", lambda m: fmt(m["requests"])),
                    ("extra requests", lambda m: fmt(m["requests"] - m["rows"])),
                    ("10001 + hung", lambda m: f"{fmt(m['n10001'])} + {fmt(m['hung'])}"),
                    dup_col, ("wall", lambda m: fmt(m["wall_s"]) + " s")]
            o += [rows_for(key, cols), ""]
        elif key in ("W6", "W7"):
            cols = [rows_col, correct_col,
                    ("wall (worst)", lambda m: f"{fmt(m['wall_s'])} s ({fmt(m['worst_wall_s'])} s)"),
                    ("requests", lambda m: fmt(m["requests"])),
                    ("10012 (worst)", lambda m: f"{fmt(m['n10012'])} ({fmt(m['worst_n10012'])})"),
                    ("accepted/s after 10 s", lambda m: fmt(m.get("accepted_after_10s")))]
            o += [rows_for(key, cols), "",
                  "Peers do not know 10012: they end a refused row with it (not correct)."
                  if key == "W6" else
                  "Peers send at the configured 40/s and end every refused row with 10012.", ""]
    w5 = s.get("W5")
    if w5:
        o += ["## W5 size", "",
              "growatt-onboard only. `check` reads and validates the file; `run` registers "
              f"every row against the simulator (latency 0, concurrency 64, --rate {UNPACED_RATE}/s).", ""]
        body = []
        for mode in ("check", "run"):
            for size, m in sorted(w5.get(mode, {}).items(), key=lambda kv: int(kv[0])):
                body.append([mode, fmt(int(size)), fmt(m["rows_per_s"], 0), fmt(m["wall_s"]) + " s",
                             fmt_mib(m["peak_rss_kib"]),
                             fmt(int(m["correct"])) if mode == "run" else "–"])
        o += [table(["command", "rows", "rows/s", "wall", "peak RSS", "correct rows"], body), ""]
        runs = w5.get("run", {})
        if len(runs) >= 2:
            (a, ma), (b, mb) = sorted(runs.items(), key=lambda kv: int(kv[0]))[:2]
            growth = (mb["peak_rss_kib"] - ma["peak_rss_kib"]) * 1024 / (int(b) - int(a))
            o += [f"`run` peak RSS grows by {growth:.1f} bytes per row from {int(a):,} to {int(b):,} rows.", ""]
    changes = Path(__file__).with_name("changes.md")
    if changes.exists():
        o += [changes.read_text().strip(), ""]
    o += ["## Commands", "",
          "The one command: `bash benches/run.sh" + (" --quick" if q else "") + "`. "
          "Below, the first measured run of each case as bench.py started it (each run gets "
          "its own simulator and port; `TIMEFILE` is where GNU time writes the rusage):", "", "```"]
    for key, cmds in bench.commands.items():
        o.append(f"# {key}")
        o += cmds
    o += ["```", "", "## Machine", ""]
    o += [f"- {k.replace('_', ' ')}: {v}" for k, v in mach.items() if v]
    failed = [r for r in bench.runs if r.get("log_tail")]
    if failed:
        o += ["", "## Runs that ended badly", ""]
        for r in failed:
            o.append(f"- {r['workload']} {r['contender']} {r['label']}: exit {r['exit_code']}"
                     f"{', killed at its deadline' if r['killed'] else ''}: "
                     f"`{r['log_tail'].strip().splitlines()[-1][:200] if r['log_tail'].strip() else ''}`")
    return "\n".join(o) + "\n"
