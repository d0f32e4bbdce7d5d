"""What the benchmark's runner and its report share: the contenders, the workloads, and the
processes of one run.

- constants: paths, the token, the contenders' names and colours, pacing and retry settings;
- `Workload` (one case: rows, rate, concurrency, the simulator's faults and limits), `workloads`
  and `w5_sizes` (the sizes, full or --quick);
- small helpers: `say`, `steal_ms`, `run_text`, `tail`, `first_line`, `median`, `serial`,
  `fleet` (the generated fleet files), `clean_env`;
- `ProcResult` and `measure` (one contender's command run to its end, with its rusage), and `Sim`
  (one simulator process for one run).

Python 3.11 standard library only, like the rest of the harness (see bench.py).
"""

from __future__ import annotations

import json
import os
import re
import select
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PEERS = ROOT / "benches" / "peers"
TOKEN = "0123456789abcdef0123456789abcdef"
UNPACED_RATE = 100_000  # growatt-onboard's "unpaced": a --rate far above anything reachable
FULL_STATS_LIMIT = 50_000  # above this many rows, fetch /__sim/stats?summary=1
BACKOFF_S = 0.05  # first retry pause, the same for every contender
WARM_CAP, WARM_CAP_QUICK = 4.0, 2.0  # seconds after which a warm-up run is cut off

GO = "growatt-onboard"
AIOHTTP = "aiohttp"
PARALLEL = "parallel+curl"
REQUESTS = "requests serial"
CONTENDERS = [GO, AIOHTTP, PARALLEL, REQUESTS]
PYTHON_PEERS = [AIOHTTP, REQUESTS]
COLORS = {GO: "#1f77b4", AIOHTTP: "#d62728", PARALLEL: "#2ca02c", REQUESTS: "#ff7f0e"}


@dataclass
class Workload:
    key: str
    title: str
    rows: int
    rate: float | None  # requests per second; None: unpaced
    concurrency: int
    latency_ms: int = 20
    jitter_ms: int = 0
    fail_rate: float = 0.0
    hang_rate: float = 0.0
    hang_ms: int = 3000
    timeout: float = 10.0
    max_attempts: int = 5
    peer_box: float = 8.0  # seconds a peer's measured run should take at most (rows cut to fit)
    contenders: list[str] = field(default_factory=lambda: list(CONTENDERS))
    sim_extra: list[str] = field(default_factory=list)  # the simulator's limits (W6, W7)
    go_extra: list[str] = field(default_factory=list)  # growatt-onboard's own flags for them
    cooldown_s: float = 0.0  # the simulator's cooldown, for W6's target
    allowed_rate: float | None = None  # what the simulator's bucket allows, for W7's target

    def sim_args(self) -> list[str]:
        args = ["--latency-ms", str(self.latency_ms), "--jitter-ms", str(self.jitter_ms)]
        args += self.sim_extra
        if self.fail_rate:
            args += ["--fail-rate", str(self.fail_rate)]
        if self.hang_rate:
            args += ["--hang-rate", str(self.hang_rate), "--hang-ms", str(self.hang_ms)]
        return args


def workloads(quick: bool) -> dict[str, Workload]:
    q = quick
    return {
        "W1": Workload("W1", "paced", 200 if q else 3000, 50.0, 8, peer_box=2 if q else 10),
        "W2": Workload("W2", "unpaced", 400 if q else 10_000, None, 32, peer_box=2 if q else 6),
        "W3": Workload(
            "W3", "CPU-bound", 600 if q else 20_000, None, 64, latency_ms=0, jitter_ms=1,
            peer_box=2 if q else 6,
        ),
        # 8 attempts: at 11% transient failures per attempt, 5 would leave a row failed in
        # about one run in seven, which would say nothing about the contender.
        "W4": Workload(
            "W4", "failures", 400 if q else 10_000, None, 32, fail_rate=0.10, hang_rate=0.01,
            hang_ms=3000, timeout=1.0, max_attempts=8, peer_box=3 if q else 8,
        ),
        # The vendor's best-supported limit: the identical request is refused for a while (5 min
        # in life, 5 s here). 10 % of rows are answered 10001 once, so their retry meets it.
        "W6": Workload(
            "W6", "cooldown", 300 if q else 1000, 50.0, 8, peer_box=3 if q else 10,
            sim_extra=["--throttle-model", "cooldown", "--cooldown", "5s",
                       "--fail-first-rate", "0.1"],
            go_extra=["--throttle-pause", "5s"], cooldown_s=5.0,
        ),
        # A global bucket allowing 20/s while the tool is set to 40/s.
        "W7": Workload(
            "W7", "bucket", 300 if q else 600, 40.0, 8, peer_box=3 if q else 10,
            sim_extra=["--throttle", "20/s"], go_extra=["--throttle-pause", "5s"],
            allowed_rate=20.0,
        ),
    }


def w5_sizes(quick: bool) -> list[int]:
    return [6_000, 60_000] if quick else [100_000, 1_000_000]


# ---------------------------------------------------------------------------------------------
# Helpers


def say(msg: str) -> None:
    print(f"bench: {msg}", file=sys.stderr, flush=True)


def steal_ms() -> float | None:
    """Time the hypervisor ran something else while this machine's CPUs wanted to run (the
    "steal" column of /proc/stat, all CPUs), in milliseconds; None where there is none."""
    try:
        with open("/proc/stat") as f:
            fields = f.readline().split()
        return int(fields[8]) * 1000 / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def run_text(cmd: list[str], **kw) -> str:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=30, **kw).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def tail(path: Path, chars: int) -> str:
    """The last characters of a log, however it is encoded."""
    return path.read_text(errors="replace")[-chars:]


def first_line(text: str) -> str:
    return text.splitlines()[0] if text else ""


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def serial(i: int) -> str:
    return f"BM{i:08d}"


def fleet(work: Path, n: int) -> Path:
    """A fleet of n rows (the first n rows of every larger one): numeric plant and user ids,
    unique alphanumeric serials, all of which exist in the simulator's open world."""
    path = work / "data" / f"fleet-{n}.csv"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        with open(tmp, "w", encoding="utf-8", newline="") as f:
            f.write("plant_id,sn,c_user_id\n")
            f.writelines(
                f"{1000 + i % 997},{serial(i)},{50_000 + i % 4999}\n" for i in range(n)
            )
        tmp.replace(path)
    return path


def clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    env["GROWATT_TOKEN"] = TOKEN
    env.pop("RUST_LOG", None)
    return env


# ---------------------------------------------------------------------------------------------
# Processes


@dataclass
class ProcResult:
    wall_s: float
    cpu_s: float | None
    maxrss_kib: int | None
    exit_code: int | None
    killed: bool


GNU_TIME = "/usr/bin/time" if os.access("/usr/bin/time", os.X_OK) else None


def measure(pin: list[str], cmd: list[str], cwd: Path, env: dict, deadline_s: float,
            log: Path) -> ProcResult:
    """Run cmd to its end (or kill its process group after deadline_s) and take its rusage: its
    own CPU plus that of every descendant it waited for, and the peak RSS of the largest.

    The rusage comes from GNU time where it exists: a process forked from this (much larger)
    Python process and exec'd keeps this process's RSS as its high-water mark, so wait4 here
    would report at least the orchestrator's RSS. time forks the command from a small process.
    Without GNU time, wait4 here is used (peak RSS then has that floor; the report says so)."""
    timefile = log.with_suffix(".time")
    if GNU_TIME:
        cmd = [GNU_TIME, "-f", "%e %U %S %M", "-o", str(timefile)] + cmd
    cmd = pin + cmd
    with open(log, "wb") as logf:
        start = time.perf_counter()
        p = subprocess.Popen(
            cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=logf, stderr=logf,
            start_new_session=True,
        )
        got: list = []
        waiter = threading.Thread(target=lambda: got.append(os.wait4(p.pid, 0)), daemon=True)
        waiter.start()
        try:
            waiter.join(deadline_s)
        except KeyboardInterrupt:
            # The contender has its own session, so Ctrl-C did not reach it.
            os.killpg(p.pid, signal.SIGKILL)
            raise
        killed = False
        if waiter.is_alive():
            killed = True
            for sig, grace in ((signal.SIGTERM, 5), (signal.SIGKILL, 30)):
                try:
                    os.killpg(p.pid, sig)
                except ProcessLookupError:
                    pass
                waiter.join(grace)
                if not waiter.is_alive():
                    break
        wall = time.perf_counter() - start
    if not got:
        return ProcResult(wall, None, None, None, True)
    _, status, ru = got[0]
    p.returncode = os.waitstatus_to_exitcode(status)
    cpu, rss = ru.ru_utime + ru.ru_stime, ru.ru_maxrss
    if GNU_TIME:
        try:
            fields = timefile.read_text().split("\n")[-2].split()
            cpu, rss = float(fields[1]) + float(fields[2]), int(fields[3])
        except (OSError, IndexError, ValueError):
            rss = None  # the floor above would mislead
    return ProcResult(wall, cpu, rss, p.returncode, killed)


class Sim:
    """One simulator process for one run."""

    def __init__(self, binary: Path, args: list[str], pin: list[str], log: Path):
        self.cmd = pin + [str(binary), "sim", "--listen", "127.0.0.1:0", "--open-world",
                          "--seed", "7"] + args
        self.logf = open(log, "wb")
        self.p = subprocess.Popen(
            self.cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self.logf,
            env=clean_env(), start_new_session=True,
        )
        line = b""
        end = time.monotonic() + 20
        while not line.endswith(b"\n") and time.monotonic() < end:
            ready, _, _ = select.select([self.p.stdout], [], [], 0.5)
            if ready:
                chunk = os.read(self.p.stdout.fileno(), 256)
                if not chunk:
                    break
                line += chunk
        m = re.match(rb"listening on (http://\S+)", line)
        if not m:
            self.stop()
            raise RuntimeError(f"simulator did not start: {line!r} (see {log})")
        self.url = m.group(1).decode()
        self.opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def stats(self, summary: bool) -> dict:
        url = self.url + "/__sim/stats" + ("?summary=1" if summary else "")
        with self.opener.open(url, timeout=120) as r:
            return json.load(r)

    def stop(self) -> None:
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(10)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        self.logf.close()
