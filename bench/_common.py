"""What every workload shares: scratch trees, process meters, worker handles,
interleaved rounds, medians and table rendering.

The parent process (a workload's ``bench()``) never watches anything itself:
each peer runs in a child (``worker.py``), so CPU, wake-ups and memory are
measured per process from ``/proc``:

* CPU: the sum of ``/proc/PID/task/*/schedstat`` (nanoseconds on the CPU, every
  thread of the process; precise, unlike the 10 ms ticks of ``/proc/PID/stat``);
* wake-ups: voluntary + involuntary context switches of every thread;
* memory: ``VmHWM`` (peak RSS) and ``VmRSS`` from ``/proc/PID/status``.

For the command-line peers (the C reader, inotifywait, ``inwatch watch``) the
worker only relays their output to the callback; the process measured is the
tool itself.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import random
import select
import shutil
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

BENCH = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(BENCH, "out")
WORKER = os.path.join(BENCH, "worker.py")
SHM = "/dev/shm"

# The kernel's bits, as plain ints (the bench must not depend on inwatch to run).
IN_MODIFY = 0x2
IN_CLOSE_WRITE = 0x8
IN_MOVED_FROM = 0x40
IN_MOVED_TO = 0x80
IN_CREATE = 0x100
IN_DELETE = 0x200
IN_Q_OVERFLOW = 0x4000
IN_ISDIR = 0x40000000
IN_ALL_EVENTS = 0xFFF

NA = "n/a"

# Every peer, in table order: the floors first, then inwatch's ways, then the peers.
ALL_PEERS = [
    "c",
    "plain",
    "inotifywait",
    "inwatch",
    "inwatch-mask",
    "inwatch-async",
    "inwatch-thread",
    "inwatch-compat",
    "inwatch-cli",
    "inotify_simple",
    "asyncinotify",
    "pyinotify",
    "watchdog",
    "watchfiles",
]
# "inwatch-pure": the blocking Watcher of this checkout with INWATCH_ACCEL=0, next
# to "inwatch" (which runs the C accelerator when it is built): both paths, one run.
ALL_PEERS.insert(ALL_PEERS.index("inwatch") + 1, "inwatch-pure")
# INWATCH_BASELINE=/path/to/other/checkout/src adds "inwatch-baseline": the
# blocking Watcher of that checkout, measured in the same rounds (before/after).
if os.environ.get("INWATCH_BASELINE"):
    ALL_PEERS.insert(ALL_PEERS.index("inwatch-pure") + 1, "inwatch-baseline")

# A peer that is another one under another environment: (the peer worker.py runs,
# the variables it runs with).
ALIASES: dict[str, tuple[str, dict[str, str]]] = {
    "inwatch-pure": ("inwatch", {"INWATCH_ACCEL": "0"}),
}


def inwatch_path(peer: str) -> str:
    """Which path an inwatch peer's process runs (``inwatch.accel.ACTIVE``), asked
    of an interpreter started as the peer's worker is (same sys.path, same env)."""
    if peer in _PATHS:
        return _PATHS[peer]
    base, extra = ALIASES.get(peer, (peer, {}))
    env = {**os.environ, **extra}
    code = "import inwatch.accel as a; print(a.ACTIVE)"
    if base == "inwatch-baseline":
        env["PYTHONPATH"] = os.environ["INWATCH_BASELINE"]
    try:
        r = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
        )
        lines = (r.stdout or r.stderr).strip().splitlines()
        answer = lines[-1] if r.returncode == 0 else "pure Python (no inwatch.accel there)"
    except (OSError, subprocess.TimeoutExpired) as e:
        answer = f"unknown ({e})"
    _PATHS[peer] = answer
    return answer


_PATHS: dict[str, str] = {}


# --- scratch trees on /dev/shm --------------------------------------------------


@contextlib.contextmanager
def scratch(tag: str) -> Iterator[str]:
    """A fresh directory on /dev/shm, removed afterwards (whatever happens)."""
    path = os.path.join(SHM, f"inwatch-bench-{os.getpid()}-{tag}")
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def make_tree(root: str, ndirs: int, fanout: int = 10) -> int:
    """Fill *root* with a balanced tree of *ndirs* directories (breadth first,
    *fanout* children each); return how many were made (root not counted)."""
    level = [root]
    made = 0
    while made < ndirs:
        nxt = []
        for parent in level:
            for i in range(fanout):
                if made >= ndirs:
                    break
                path = f"{parent}/d{i}"
                os.mkdir(path)
                nxt.append(path)
                made += 1
        level = nxt
    return made


# --- /proc meters ---------------------------------------------------------------


def _tasks(pid: int) -> list[str]:
    try:
        return os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []


def cpu_ns(pids: Iterable[int]) -> int:
    """Nanoseconds of CPU used so far by every thread of *pids*."""
    total = 0
    for pid in pids:
        for tid in _tasks(pid):
            try:
                with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                    total += int(f.read().split()[0])
            except (OSError, ValueError, IndexError):
                pass
    return total


def wakeups(pids: Iterable[int]) -> int:
    """Context switches so far (voluntary + involuntary), every thread of *pids*."""
    total = 0
    for pid in pids:
        for tid in _tasks(pid):
            try:
                with open(f"/proc/{pid}/task/{tid}/status") as f:
                    for line in f:
                        if "ctxt_switches:" in line:
                            total += int(line.split()[1])
            except (OSError, ValueError, IndexError):
                pass
    return total


def vm_bytes(pid: int, key: str = "VmHWM") -> int:
    """``VmHWM`` (peak RSS) or ``VmRSS`` of *pid*, in bytes; 0 if unknown."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


# --- worker processes -------------------------------------------------------------


class PeerUnavailable(Exception):
    """The peer could not be imported, started or made ready: its cell reads n/a."""


class LineReader:
    """Whole lines from a pipe, with a timeout (no buffering surprises)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.buf = b""
        self.eof = False

    def readline(self, timeout: float | None) -> bytes | None:
        """The next line without its newline; None on timeout or end of file."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while b"\n" not in self.buf:
            if self.eof:
                return None
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            if not select.select([self.fd], [], [], left)[0]:
                return None
            chunk = os.read(self.fd, 65536)
            if not chunk:
                self.eof = True
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        return line


@dataclass
class Worker:
    """One peer running one workload in a child process (``worker.py``)."""

    peer: str
    workload: str
    spec: dict[str, Any]
    timeout: float = 60.0
    proc: subprocess.Popen[bytes] = field(init=False)
    ready: dict[str, Any] = field(init=False, default_factory=dict)
    pids: list[int] = field(init=False, default_factory=list)

    def __post_init__(self) -> None:
        os.makedirs(os.path.join(OUT, "logs"), exist_ok=True)
        self.log = os.path.join(OUT, "logs", f"{self.workload}-{self.peer}.log")
        base, extra = ALIASES.get(self.peer, (self.peer, {}))
        with open(self.log, "ab") as err:
            self.proc = subprocess.Popen(
                [sys.executable, WORKER, base, self.workload, json.dumps(self.spec)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=err,
                cwd=BENCH,
                env={**os.environ, **extra} if extra else None,
            )
        assert self.proc.stdout is not None
        self.lines = LineReader(self.proc.stdout.fileno())
        try:
            msg = self.recv(self.timeout)
        except BaseException:  # unavailable, timed out, or ^C: leave nothing running
            self.close()
            raise
        if "ready" not in msg:
            self.close()
            raise PeerUnavailable(msg.get("error", f"unexpected {msg!r}"))
        self.ready = msg["ready"]
        self.pids = list(self.ready["pids"])

    def recv(self, timeout: float | None) -> dict[str, Any]:
        """The child's next JSON message; PeerUnavailable if it died or timed out."""
        line = self.lines.readline(timeout)
        if line is None:
            status = self.proc.poll()
            why = "timed out" if status is None else f"exited with status {status}"
            raise PeerUnavailable(f"{self.peer} {why} (log: {os.path.relpath(self.log, BENCH)})")
        return dict(json.loads(line))

    def send(self, command: str) -> None:
        assert self.proc.stdin is not None
        with contextlib.suppress(OSError):
            self.proc.stdin.write(command.encode() + b"\n")
            self.proc.stdin.flush()

    def signal(self, sig: int) -> None:
        for pid in self.pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)

    def cpu(self) -> int:
        return cpu_ns(self.pids)

    def close(self) -> None:
        """End the child and the tool it relays (if any) at once: every measure is
        taken by now, and a peer's own teardown (watchdog joins its threads) only
        costs time."""
        for pid in {*self.pids, self.proc.pid}:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.proc.wait()
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()

    def __enter__(self) -> Worker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def spawn_generator(kind: str, *args: object) -> subprocess.Popen[bytes]:
    """The "second process" that makes the files (``_gen.py``)."""
    return subprocess.Popen([sys.executable, os.path.join(BENCH, "_gen.py"), kind, *map(str, args)])


# --- rounds, statistics -------------------------------------------------------------


def interleave(peers: Sequence[str], rounds: int) -> Iterator[tuple[int, str]]:
    """(round, peer): every peer once a round, in a new order each round (the
    same orders in every run: seeded). The machine's noise comes in spells of
    seconds; in one fixed order a spell hit the same neighbours round after
    round (in the run of 2026-12-01 06:52 UTC, the peers after inwatch-thread,
    compat and inotify_simple, were 1.5-1.7x slower in the same three of five
    burst rounds, cli in two of them, and their medians with them), while a
    peer and its reference are compared within a round."""
    rng = random.Random(len(peers) * 1000 + rounds)
    for r in range(rounds):
        order = list(peers)
        rng.shuffle(order)
        for peer in order:
            yield r, peer


def median(values: Iterable[float]) -> float | None:
    vals = [v for v in values if v is not None]
    return statistics.median(vals) if vals else None


def percentile(values: Sequence[float], q: float) -> float | None:
    """The *q*-th percentile (0..100), nearest rank."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def ratios(per_round: dict[str, list[float | None]], peer: str, ref: str) -> float | None:
    """Median over rounds of peer/ref, each pair measured in the same round."""
    mine, theirs = per_round.get(peer, []), per_round.get(ref, [])
    pairs = [a / b for a, b in zip(mine, theirs, strict=False) if a is not None and b]
    return statistics.median(pairs) if pairs else None


# --- rendering ----------------------------------------------------------------------


def fmt(value: float | None, spec: str = ".1f", suffix: str = "") -> str:
    return NA if value is None else f"{value:{spec}}{suffix}"


def table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


@dataclass
class Section:
    """One workload's contribution to RESULTS.md, and the events inwatch lost."""

    title: str
    body: str
    losses: list[str] = field(default_factory=list)
    seconds: float = 0.0
    #: rows of the headline table: what, inwatch, plain, inotifywait, target, verdict
    headline: list[list[str]] = field(default_factory=list)
    #: every round's raw result, by variant and peer (written to bench/out/results*.json)
    data: dict[str, Any] = field(default_factory=dict)


def verdict(ok: bool | None) -> str:
    return NA if ok is None else ("met" if ok else "**missed**")


def machine() -> str:
    model = "?"
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        model = next((ln.split(":", 1)[1].strip() for ln in f if "model name" in ln), "?")
    return (
        f"{os.cpu_count()} CPUs ({model}), Linux {platform.release()}, "
        f"Python {platform.python_version()}"
    )


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def timed(fn: Callable[[], Section]) -> Section:
    t0 = time.monotonic()
    section = fn()
    section.seconds = time.monotonic() - t0
    return section


# --- running rounds and tabulating them -------------------------------------------------


def wait_stopped(pids: Iterable[int], timeout: float = 5.0) -> None:
    """Block until every thread of *pids* is stopped (SIGSTOP is asynchronous)."""
    deadline = time.monotonic() + timeout
    for pid in pids:
        for tid in _tasks(pid):
            while time.monotonic() < deadline:
                try:
                    with open(f"/proc/{pid}/task/{tid}/stat") as f:
                        state = f.read().rsplit(")", 1)[1].split()[0]
                except OSError:
                    break
                if state in ("T", "t", "Z", "X"):
                    break
                time.sleep(0.001)


Result = dict[str, Any]


@dataclass
class Runs:
    """Every round's result per peer (None where a round failed) and why cells read n/a."""

    peers: list[str]
    rounds: int
    results: dict[str, list[Result | None]] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)

    def values(self, peer: str, key: str) -> list[float | None]:
        return [None if r is None else r.get(key) for r in self.results.get(peer, [])]

    def med(self, peer: str, key: str) -> float | None:
        return median(v for v in self.values(peer, key) if v is not None)

    def ratio(self, peer: str, ref: str, key: str) -> float | None:
        return ratios({p: self.values(p, key) for p in (peer, ref)}, peer, ref)


def run_rounds(
    workload: str, peers: Sequence[str], rounds: int, measure: Callable[[str, int], Result]
) -> Runs:
    """Call ``measure(peer, round)`` interleaved (see interleave). A peer that is
    unavailable once is skipped for the remaining rounds; a failed round is None."""
    only = os.environ.get("BENCH_PEERS")
    if only:
        peers = [p for p in peers if p in only.split(",")]
    runs = Runs(list(peers), rounds, {p: [] for p in peers})
    for rnd, peer in interleave(peers, rounds):
        if peer in runs.notes and not any(runs.results[peer]):
            runs.results[peer].append(None)
            continue
        progress(f"  {workload} round {rnd + 1}/{rounds}: {peer}")
        try:
            runs.results[peer].append(measure(peer, rnd))
        except PeerUnavailable as e:
            runs.results[peer].append(None)
            runs.notes.setdefault(peer, str(e))
            progress(f"    n/a: {e}")
    return runs


def ratio_cells(runs: Runs, peer: str, key: str, refs: Sequence[str]) -> list[str]:
    return [fmt(runs.ratio(peer, ref, key), ".2f", "×") for ref in refs]


def notes_block(runs: Runs) -> str:
    if not runs.notes:
        return ""
    return "\n\n" + "\n".join(["n/a:", *(f"- {p}: {why}" for p, why in runs.notes.items())])
