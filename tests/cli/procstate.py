"""Waiting for a process to be really stopped (SIGSTOP takes effect when each
thread next runs: a reader thread may still take a batch in between)."""

from __future__ import annotations

import os
import time


def wait_stopped(pid: int, timeout: float = 10.0) -> None:
    """Until every thread of *pid* is stopped (state T in /proc/PID/task/*/stat)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        states = []
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                states.append(f.read().rsplit(")", 1)[1].split()[0])
        if all(st in ("T", "t") for st in states):
            return
        time.sleep(0.001)
    raise AssertionError(f"process {pid} did not stop")
