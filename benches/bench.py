#!/usr/bin/env python3
"""The growatt-onboard benchmark: every contender, the same workloads, figures from the simulator.

Run through `bash benches/run.sh [--quick]`, which builds the binary and installs the peers'
needs first. Python 3.11 standard library only: it runs before the peers' virtual environment
exists, and starts the peers with that environment's interpreter (--venv-python).

For every run it starts a fresh simulator (`growatt-onboard sim --open-world`, pinned to core 0),
runs one contender (pinned to core 1) on a generated fleet, waits for it with os.wait4 (CPU
seconds and peak RSS of the contender and every process it waited for), then reads the
simulator's own record (`GET /__sim/stats`): arrivals per second, the busiest one-second window,
requests per serial, answers per code. Each contender's results file is checked for
completeness against the fleet and against what the simulator registered.

Per workload and contender: one warm-up run (a tenth of the rows, cut off after a few seconds),
then --reps measured runs; the report gives medians (and the worst run for the "never above"
figures). Peers that cannot finish the full fleet within the workload's time box run a prefix of
it sized from their warm-up (the report says how many rows); growatt-onboard always runs the
full fleet.

The harness is three modules: this one (the `Bench` class that runs every case, the command line
and `main`), bench_common.py (constants, workloads, helpers, the measured process and the
simulator) and bench_report.py (the figures and the report). Imports run one way: bench.py uses
both, bench_report.py uses bench_common.py only.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

from bench_common import (
    AIOHTTP, BACKOFF_S, CONTENDERS, FULL_STATS_LIMIT, GNU_TIME, GO, PARALLEL, PEERS, REQUESTS,
    ROOT, UNPACED_RATE, WARM_CAP, WARM_CAP_QUICK, ProcResult, Sim, Workload, clean_env, fleet,
    measure, run_text, say, steal_ms, tail, w5_sizes, workloads,
)
from bench_report import analyse, fmt, fmt_mib, machine, report_md, summarise, svg_w1, targets


# ---------------------------------------------------------------------------------------------
# Contenders


class Bench:
    """One benchmark: the contenders available, every run's record (warm-ups included) and the
    command lines the report shows."""

    def __init__(self, args):
        self.args = args
        self.quick = args.quick
        self.work = (ROOT / args.work).resolve()
        self.work.mkdir(parents=True, exist_ok=True)
        self.binary = ROOT / "target" / "release" / "growatt-onboard"
        # abspath, not resolve: the venv's python is a symlink that must stay the venv's
        self.venv_py = os.path.abspath(args.venv_python) if args.venv_python else ""
        self.pin = bool(shutil.which("taskset")) and (os.cpu_count() or 1) >= 2 and not args.no_pin
        self.notes: list[str] = []
        if not GNU_TIME:
            self.notes.append(
                "GNU time (/usr/bin/time) is missing: CPU and peak RSS come from wait4 in the "
                "orchestrator, so peak RSS is at least the orchestrator's own (about 15-30 MiB)."
            )
        self.available = self.check_contenders()
        self.runs: list[dict] = []  # every run, warm-ups included
        self.commands: dict[str, list[str]] = {}
        if self.pin:
            os.sched_setaffinity(0, {0})

    def check_contenders(self) -> dict[str, bool]:
        ok = {GO: self.binary.exists()}
        if not ok[GO]:
            sys.exit(f"bench: {self.binary} is missing: build it with cargo build --release")
        py_ok = bool(self.venv_py) and subprocess.run(
            [self.venv_py, "-c", "import requests, aiohttp, aiolimiter"], capture_output=True
        ).returncode == 0
        if not py_ok:
            self.notes.append(
                "Python peers skipped: no virtual environment with requests, aiohttp and "
                "aiolimiter (--venv-python)."
            )
        ok[AIOHTTP] = ok[REQUESTS] = py_ok
        gnu = "GNU parallel" in run_text(["parallel", "--version"])
        ok[PARALLEL] = gnu and bool(shutil.which("curl"))
        if not ok[PARALLEL]:
            why = self.args.setup_note or "GNU parallel or curl is not installed"
            self.notes.append(f"parallel+curl skipped: {why}.")
        wanted = set(self.args.contenders.split(",")) if self.args.contenders else set(CONTENDERS)
        return {c: ok[c] and c in wanted for c in CONTENDERS}

    def record(self, key: str, sim_cmd: list[str] | None, cmd: list[str]) -> None:
        """Keep the exact command lines of a measured run for the report (paths relative to
        the repository)."""
        wrap = self.pinned(1) + ([GNU_TIME, "-f", "'%e %U %S %M'", "-o", "TIMEFILE"] if GNU_TIME else [])
        lines = ([" ".join(sim_cmd)] if sim_cmd else []) + [" ".join(wrap + cmd)]
        self.commands.setdefault(key, [ln.replace(str(ROOT) + "/", "") for ln in lines])

    def pinned(self, core: int) -> list[str]:
        return ["taskset", "-c", str(core)] if self.pin else []

    def command(self, c: str, wl: Workload, inp: Path, out: Path, url: str) -> list[str]:
        if c == GO:
            rate = wl.rate if wl.rate else UNPACED_RATE
            return [
                str(self.binary), "run", str(inp), "-o", str(out), "--base-url", url,
                "--rate", f"{rate:g}/s", "--concurrency", str(wl.concurrency),
                "--timeout", f"{wl.timeout:g}", "--max-attempts", str(wl.max_attempts),
                "--backoff", f"{int(BACKOFF_S * 1000)}ms", "--no-progress", "-q",
            ] + wl.go_extra
        common = [
            "--input", str(inp), "--base-url", url, "--out", str(out),
            "--concurrency", str(wl.concurrency), "--timeout", f"{wl.timeout:g}",
            "--max-attempts", str(wl.max_attempts),
        ] + (["--rate", f"{wl.rate:g}"] if wl.rate else [])
        if c == AIOHTTP:
            return [self.venv_py, str(PEERS / "aiohttp_paced.py")] + common
        if c == REQUESTS:
            return [self.venv_py, str(PEERS / "requests_serial.py")] + common
        if c == PARALLEL:
            return ["bash", str(PEERS / "parallel_curl.sh")] + common
        raise ValueError(c)

    # -- one run ----------------------------------------------------------------------------

    def fresh_rundir(self, name: str) -> Path:
        """An empty folder for one run, its results file inside."""
        rundir = self.work / "runs" / name
        shutil.rmtree(rundir, ignore_errors=True)
        rundir.mkdir(parents=True)
        return rundir

    def contend(self, key: str, label: str, sim_cmd: list[str] | None, cmd: list[str],
                rundir: Path, deadline: float) -> ProcResult:
        """Measure the contender's command on its own core; the first measured run of a case
        keeps its command lines for the report."""
        if label == "rep1":
            self.record(key, sim_cmd, cmd)
        return measure(self.pinned(1), cmd, rundir, clean_env(), deadline,
                       rundir / "contender.log")

    def keep(self, rec: dict, rundir: Path) -> None:
        """Keep a run's record; its folder only with --keep-runs."""
        self.runs.append(rec)
        if not self.args.keep_runs:
            shutil.rmtree(rundir, ignore_errors=True)

    def run_once(self, wl: Workload, c: str, n: int, label: str, deadline: float) -> dict:
        rundir = self.fresh_rundir(f"{wl.key}-{c.replace(' ', '_').replace('+', '_')}-{label}")
        inp = fleet(self.work, n)
        out = rundir / "results.csv"
        sim = Sim(self.binary, wl.sim_args(), self.pinned(0), rundir / "sim.log")
        try:
            cmd = self.command(c, wl, inp, out, sim.url)
            stolen_before = steal_ms()
            proc = self.contend(f"{wl.key} {c}", label, sim.cmd, cmd, rundir, deadline)
            stolen_after = steal_ms()
            try:
                stats = sim.stats(summary=n > FULL_STATS_LIMIT)
            except OSError as e:
                # The simulator is gone: record the run as measured-nothing, keep the rest.
                stats = {}
                sim_gone = f"simulator unreachable after the run: {e}; exit {sim.p.poll()}"
            else:
                sim_gone = ""
        finally:
            sim.stop()
        rec = analyse(c, n, stats, proc, out)
        rec.update(workload=wl.key, contender=c, label=label)
        rec["steal_ms"] = (stolen_after - stolen_before
                           if stolen_before is not None and stolen_after is not None else None)
        if sim_gone:
            rec["log_tail"] = sim_gone + "\n" + tail(rundir / "sim.log", 300)
        if proc.exit_code not in (0, 3) or proc.killed:
            rec["log_tail"] = tail(rundir / "contender.log", 400)
        self.keep(rec, rundir)
        say(
            f"{wl.key} {c:16} {label:6} rows={n:<7} wall={proc.wall_s:6.2f}s "
            f"req={rec['requests']:<7} rate={fmt(rec['rate'], 1):>8}/s "
            f"cpu={fmt(proc.cpu_s, 2)}s rss={fmt_mib(proc.maxrss_kib)} "
            f"correct={rec['correct']}/{n}" + (" KILLED" if proc.killed else "")
        )
        return rec

    def workload(self, wl: Workload) -> None:
        warm_cap = WARM_CAP_QUICK if self.quick else WARM_CAP
        for c in wl.contenders:
            if not self.available.get(c):
                continue
            warm_rows = max(20, wl.rows // 10)
            warm = self.run_once(wl, c, warm_rows, "warmup", warm_cap)
            done = warm["results_rows"] or warm["requests"]
            est = done / warm["wall_s"] if warm["wall_s"] > 0 and done else 1.0
            if c == GO:
                n = wl.rows
            else:
                n = min(wl.rows, max(min(wl.rows, 50), int(est * wl.peer_box)))
            deadline = 30 + 4 * n / max(est, 0.1)
            for rep in range(1, self.args.reps + 1):
                self.run_once(wl, c, n, f"rep{rep}", deadline)

    # -- W5 ---------------------------------------------------------------------------------

    def w5(self) -> None:
        sizes = w5_sizes(self.quick)
        wl = Workload("W5", "size", sizes[-1], None, 64, latency_ms=0, timeout=30, contenders=[GO])
        for mode in ("check", "run"):
            for size, label in [(sizes[0] // 10, "warmup")] + [
                (s, f"rep{r}") for s in sizes for r in range(1, self.args.reps + 1)
            ]:
                self.w5_once(wl, mode, size, label)

    def w5_once(self, wl: Workload, mode: str, n: int, label: str) -> dict:
        rundir = self.fresh_rundir(f"W5-{mode}-{n}-{label}")
        inp = fleet(self.work, n)
        out = rundir / "results.csv"
        deadline = 60 + n / 2000
        if mode == "check":
            cmd = [str(self.binary), "check", str(inp), "-q", "-o", str(out)]
            proc = self.contend(f"W5 check {n:,}", label, None, cmd, rundir, deadline)
            rec = {
                "rows": n, "wall_s": proc.wall_s, "cpu_s": proc.cpu_s,
                "maxrss_kib": proc.maxrss_kib, "exit_code": proc.exit_code, "killed": proc.killed,
            }
        else:
            sim = Sim(self.binary, wl.sim_args(), self.pinned(0), rundir / "sim.log")
            try:
                cmd = self.command(GO, wl, inp, out, sim.url)
                proc = self.contend(f"W5 run {n:,}", label, sim.cmd, cmd, rundir, deadline)
                stats = sim.stats(summary=n > FULL_STATS_LIMIT)
            finally:
                sim.stop()
            rec = analyse(GO, n, stats, proc, out)
        rec.update(workload="W5", contender=GO, mode=mode, label=label,
                   rows_per_s=n / proc.wall_s if proc.wall_s else None)
        if proc.exit_code != 0 or proc.killed:
            rec["log_tail"] = tail(rundir / "contender.log", 400)
        self.keep(rec, rundir)
        say(
            f"W5 {mode:5} {label:6} rows={n:<8} wall={proc.wall_s:6.2f}s "
            f"rows/s={fmt(rec['rows_per_s'], 0):>9} rss={fmt_mib(proc.maxrss_kib)}"
            + (f" correct={rec['correct']}/{n}" if mode == "run" else "")
            + (" KILLED" if proc.killed else "")
        )
        return rec


def main() -> int:
    p = argparse.ArgumentParser(description="growatt-onboard benchmark (use benches/run.sh)")
    p.add_argument("--quick", action="store_true", help="tiny sizes, one repetition (~1 min)")
    p.add_argument("--reps", type=int, default=None, help="measured runs per case [3; quick: 1]")
    p.add_argument("--only", default="", help="workloads to run, e.g. W1,W3 [all]")
    p.add_argument("--contenders", default="", help=f"comma-separated subset of: {', '.join(CONTENDERS)}")
    p.add_argument("--out", default=None, help="report folder [reports; quick: target/bench/quick-report]")
    p.add_argument("--work", default="target/bench", help="scratch folder for fleets and runs")
    p.add_argument("--venv-python", default="", help="the peers' Python (with requests, aiohttp, aiolimiter)")
    p.add_argument("--build-seconds", default="?", help="(from run.sh) how long the build took")
    p.add_argument("--setup-note", default="", help="(from run.sh) why a peer could not be installed")
    p.add_argument("--no-pin", action="store_true", help="do not pin processes to cores")
    p.add_argument("--keep-runs", action="store_true", help="keep each run's folder under --work")
    args = p.parse_args()
    if args.reps is None:
        args.reps = 1 if args.quick else 3
    out_dir = ROOT / (args.out or ("target/bench/quick-report" if args.quick else "reports"))
    started = time.time()
    bench = Bench(args)
    wls = workloads(args.quick)
    only = {w.strip().upper() for w in args.only.split(",") if w.strip()}
    if only:
        wls = {k: v for k, v in wls.items() if k in only}
    say(f"contenders: {', '.join(c for c, ok in bench.available.items() if ok)}; "
        f"workloads: {', '.join(list(wls) + (['W5'] if not only or 'W5' in only else []))}")
    try:
        for wl in wls.values():
            bench.workload(wl)
        if not only or "W5" in only:
            bench.w5()
    except KeyboardInterrupt:
        say("interrupted: writing what was measured")
    total = time.time() - started
    s = summarise(bench, wls)
    tg = targets(s, wls, args.quick)
    mach = machine(bench, started)
    out_dir.mkdir(parents=True, exist_ok=True)
    md = report_md(bench, wls, s, tg, mach, total)
    (out_dir / "benchmark.md").write_text(md, encoding="utf-8")
    raw = {"quick": args.quick, "machine": mach, "total_seconds": total,
           "build_seconds": args.build_seconds, "notes": bench.notes,
           "workloads": {k: asdict(v) for k, v in wls.items()}, "w5_sizes": w5_sizes(args.quick),
           "commands": bench.commands, "summary": s, "targets": tg, "runs": bench.runs}
    (out_dir / "benchmark.json").write_text(json.dumps(raw, indent=1) + "\n", encoding="utf-8")
    if "W1" in s:
        (out_dir / "w1_rate.svg").write_text(
            svg_w1(s["W1"], wls["W1"].rate, "W1 paced: requests per second at the simulator"),
            encoding="utf-8")
    print(md)
    say(f"wrote {out_dir.relative_to(ROOT)}/benchmark.md, benchmark.json"
        + (", w1_rate.svg" if "W1" in s else "") + f" in {total / 60:.1f} min")
    return 0


if __name__ == "__main__":
    sys.exit(main())
