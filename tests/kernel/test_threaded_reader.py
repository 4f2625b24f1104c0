"""The threaded driver on the real kernel: the handler waits on the kernel's
fd itself while idle (one wake-up to the callback); the reader drains the
kernel queue while a callback runs, and parks (no wake-ups) once all is quiet.
See inwatch/drivers/threaded.py."""

from __future__ import annotations

import os
import tempfile
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from inwatch import Event, Watcher
from inwatch.drivers import threaded as threaded_module
from inwatch.inotify import _sys

_CREATE = 0x100


@pytest.fixture
def scratch() -> Iterator[str]:
    with tempfile.TemporaryDirectory(dir="/dev/shm") as d:
        yield d


def _until(check: Any, timeout: float, what: str) -> None:
    end = time.monotonic() + timeout
    while not check():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.002)


def _switches(native_id: int) -> int:
    with open(f"/proc/self/task/{native_id}/status") as f:
        lines = [line for line in f if "ctxt_switches" in line]
    return sum(int(line.split()[1]) for line in lines)


def _reader_drains_while_the_callback_runs(scratch: str, after_quiet: bool) -> None:
    n = 300
    inside = threading.Event()
    release = threading.Event()
    names: list[str] = []

    def callback(ev: Event[Any]) -> None:
        if ev.name == "first":
            inside.set()
            assert release.wait(10)
        elif ev.mask & _CREATE:
            names.append(ev.name)

    with Watcher() as w:
        w.add(scratch)
        w.start(callback)
        t = w._threaded
        assert t is not None
        if after_quiet:
            _until(lambda: t.parked, 5, "the reader to park")
        os.mknod(os.path.join(scratch, "first"))
        assert inside.wait(5)
        # The handler is inside the callback: the reader takes what comes.
        for i in range(n):
            os.mknod(os.path.join(scratch, f"f{i:04d}"))
        fd = w._core.kernel_fd()
        try:
            _until(
                lambda: _sys.fionread(fd) == 0 and w._core.backlog > 0,
                5,
                "the reader to take the kernel's bytes while the callback runs",
            )
        finally:
            release.set()
        assert w.drain(10)
        w.stop()
        w.join(10)
    assert names == [f"f{i:04d}" for i in range(n)]


def test_the_reader_drains_the_kernel_queue_while_a_callback_runs(scratch: str) -> None:
    _reader_drains_while_the_callback_runs(scratch, after_quiet=False)


def test_a_parked_reader_is_woken_by_the_first_event_after_a_quiet_spell(scratch: str) -> None:
    _reader_drains_while_the_callback_runs(scratch, after_quiet=True)


def test_once_quiet_neither_thread_wakes(scratch: str) -> None:
    seen: list[str] = []
    with Watcher() as w:
        w.add(scratch)
        w.start(lambda ev: seen.append(ev.name))
        t = w._threaded
        assert t is not None
        os.mknod(os.path.join(scratch, "x"))
        _until(lambda: "x" in seen, 5, "the event")
        _until(lambda: t.parked, 5, "the reader to park")
        ids = [th.native_id for th in t.threads]
        assert all(i is not None for i in ids)
        # `parked` is set just before the reader blocks in poll(2), and the
        # handler may still be on its way back to its wait: the measure starts
        # once both threads' switch counts have stopped moving (a loaded
        # machine can delay that past the flag).
        settled: list[list[int]] = []

        def still() -> bool:
            time.sleep(0.02)  # the window two samples must agree over
            settled.append([_switches(i) for i in ids if i is not None])
            return len(settled) > 1 and settled[-1] == settled[-2]

        _until(still, 5, "both threads to go to sleep")
        before = settled[-1]
        # A measuring window (not a wait for something): 4x the linger time.
        end = time.monotonic() + 4 * threaded_module._LINGER
        while time.monotonic() < end:
            time.sleep(0.01)
        after = [_switches(i) for i in ids if i is not None]
        assert after == before, f"idle threads woke: {before} -> {after}"
        # And it still works afterwards.
        os.mknod(os.path.join(scratch, "y"))
        _until(lambda: "y" in seen, 5, "the event after the quiet spell")
        w.stop()
        w.join(10)
