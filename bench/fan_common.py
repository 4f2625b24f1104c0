"""Shared by the fanotify benchmarks (bench/fan_*.py): a scratch tmpfs, the
inwatch fanotify listener in a child process, and fatrace beside it.

Run as root, with the worktree's interpreter (``.venv/bin/python bench/fan_storm.py``).
Each listener runs in its own process so its CPU time is its own: inwatch's is
``time.process_time`` inside the child (every thread), fatrace's the first field
of ``/proc/PID/schedstat`` (nanoseconds on a CPU) read just before it is stopped.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from typing import Any

BENCH = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(os.path.dirname(BENCH), "src")
STOP = ".stop-bench"


@contextlib.contextmanager
def tmpfs(size: str = "2g") -> Iterator[str]:
    """A fresh tmpfs, unmounted afterwards (root only)."""
    if os.geteuid() != 0:
        sys.exit("fan benchmarks need root (fanotify filesystem marks, the proc connector)")
    top = tempfile.mkdtemp(prefix="fanbench-")
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "fanbench", top], check=True)
    try:
        os.chmod(top, 0o777)
        yield top
    finally:
        subprocess.run(["umount", "-l", top], check=False)
        os.rmdir(top)


def _cpu_ns(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/schedstat") as f:
            return int(f.read().split()[0])
    except OSError:
        return 0


class Listener:
    """``fan_listen.py`` in a child: inwatch's fanotify backend on *top*."""

    def __init__(self, top: str, out: str, extra: tuple[str, ...] = ()) -> None:
        self.top, self.out = top, out
        env = {**os.environ, "PYTHONPATH": SRC}
        cmd = [sys.executable, os.path.join(BENCH, "fan_listen.py"), top, out, *extra]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, env=env)
        line = self._line(30)
        if not line.startswith("ready"):
            raise RuntimeError(f"listener did not start: {line!r}")

    def _line(self, timeout: float) -> str:
        assert self.proc.stdout is not None
        r, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not r:
            raise RuntimeError("listener silent")
        return self.proc.stdout.readline().decode().strip()

    def stop(self, timeout: float = 120) -> dict[str, Any]:
        """Make the stop marker (an event like any other) and wait for the summary."""
        with open(os.path.join(self.top, STOP), "w"):
            pass
        self.proc.wait(timeout)
        with open(self.out) as f:
            result: dict[str, Any] = json.load(f)
        return result


class Fatrace:
    """fatrace on the mount of *top* (``-c``), its output in *out*."""

    def __init__(self, top: str, out: str) -> None:
        exe = shutil.which("fatrace")
        if exe is None:
            raise FileNotFoundError("fatrace not installed (apt-get install fatrace)")
        self.out = out
        self.proc = subprocess.Popen([exe, "-c", "-o", out], cwd=top)
        # fatrace says nothing when ready and buffers its output: give it a moment.
        time.sleep(1.0)

    def stop(self) -> tuple[list[str], int]:
        """Its lines and its CPU time (ns)."""
        time.sleep(0.5)  # let it drain what is queued
        cpu = _cpu_ns(self.proc.pid)
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait(30)
        with open(self.out, errors="replace") as f:
            return f.read().splitlines(), cpu


def parse_fatrace(line: str) -> tuple[str, int, str, str] | None:
    """``comm(pid): FLAGS /path`` -> (comm, pid, flags, path)."""
    try:
        head, rest = line.split(": ", 1)
        comm, pid = head.rsplit("(", 1)
        flags, path = rest.split(" ", 1)
        return comm, int(pid.rstrip(")")), flags, path
    except ValueError:
        return None
