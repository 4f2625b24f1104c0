"""Fixtures shared by every test of inwatch.

- ``_no_leaks`` (autouse): a test fails if it leaves a file descriptor open or a
  thread running. Tests must clean up after themselves, whatever they test.
- ``ino``: an :class:`inwatch.Inotify` closed after the test.
- ``tmpfs``: a fresh tmpfs mounted under ``tmp_path``, always unmounted afterwards
  (skipped when we may not mount).
"""

from __future__ import annotations

import gc
import os

# The pure-Python path is what the suite runs by default; .ci/run runs it a second
# time with INWATCH_ACCEL=1 (the C accelerator). Set before anything imports
# inwatch: inwatch.accel reads it once, at import.
os.environ.setdefault("INWATCH_ACCEL", "0")

import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from inwatch import Inotify

# The commands the tests start must see the signals a terminal's user sends
# (^C, a hang-up) as a terminal gives them. A suite started under nohup has
# SIGHUP ignored, and one started in the background by a non-interactive
# shell (`cmd &`, as a CI runner may) SIGINT and SIGQUIT; an ignored
# disposition is inherited across exec, so every command would ignore them
# too (and Python would install no KeyboardInterrupt handler in it).
# Restored for the whole run: a handler, unlike SIG_IGN, is reset to the
# default in the children. (A test that wants a command started under nohup
# ignores SIGHUP in the child itself.)
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)
for _sig in (signal.SIGHUP, signal.SIGQUIT):
    if signal.getsignal(_sig) == signal.SIG_IGN:
        signal.signal(_sig, signal.SIG_DFL)


def _open_fds() -> dict[int, str]:
    fds: dict[int, str] = {}
    for name in os.listdir("/proc/self/fd"):
        try:
            fds[int(name)] = os.readlink(f"/proc/self/fd/{name}")
        except OSError:  # the fd listdir itself used, closed by now
            continue
    return fds


@pytest.fixture(autouse=True)
def _no_leaks() -> Iterator[None]:
    fds_before = _open_fds()
    threads_before = set(threading.enumerate())
    yield
    # Threads get a moment to finish after being told to stop.
    deadline = time.monotonic() + 2.0
    leaked_threads = [t for t in threading.enumerate() if t not in threads_before]
    for t in leaked_threads:
        t.join(max(0.0, deadline - time.monotonic()))
    leaked_threads = [t for t in leaked_threads if t.is_alive()]
    gc.collect()
    fds_after = _open_fds()
    leaked_fds = {
        fd: target
        for fd, target in fds_after.items()
        if fd not in fds_before or fds_before[fd] != target
    }
    problems = []
    if leaked_fds:
        problems.append(f"file descriptors left open: {leaked_fds}")
    if leaked_threads:
        problems.append(f"threads left running: {leaked_threads}")
    if problems:
        pytest.fail("; ".join(problems), pytrace=False)


@pytest.fixture
def ino() -> Iterator[Inotify]:
    inotify = Inotify()
    try:
        yield inotify
    finally:
        inotify.close()


def _umount(path: Path) -> None:
    if not os.path.ismount(path):
        return
    result = subprocess.run(["umount", str(path)], capture_output=True, timeout=30)
    if result.returncode != 0 and os.path.ismount(path):
        # Busy (an fd left open by a failed test): detach it so nothing stays mounted.
        subprocess.run(["umount", "-l", str(path)], capture_output=True, timeout=30)


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A new tmpfs mounted at ``tmp_path / "mnt"``; unmounted after the test
    (the test may unmount it itself)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "inwatch-test", str(mnt)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {result.stderr.strip()}")
    try:
        yield mnt
    finally:
        _umount(mnt)
        assert not os.path.ismount(mnt), f"{mnt} is still mounted"
