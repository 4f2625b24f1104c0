"""The asyncio driver on the real kernel: what stays on the loop, what goes to
the worker thread, and that the loop keeps running while the worker lists.

The async for processes plain events on the loop (one loop wake-up between
the kernel and the loop body) when ``InotifyCore.io_free()`` says the next
``process()`` does no I/O; a new directory (watch, then list) goes to the
worker thread (see inwatch/drivers/aio.py and inwatch/inotify/light.py).
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from collections.abc import Iterator

import pytest

from inwatch import Watcher
from inwatch.inotify import light

_CREATE = 0x100
_ISDIR = 0x40000000


@pytest.fixture
def scratch() -> Iterator[str]:
    with tempfile.TemporaryDirectory(dir="/dev/shm") as d:
        yield d


def _take(w: Watcher, timeout: float = 2.0) -> int:
    """read_raw() until the kernel's bytes are in the core's buffer."""
    core = w._core
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if core.read_raw():
            return core.backlog
        time.sleep(0.001)
    raise AssertionError("nothing came from the kernel")


def test_io_free_says_yes_to_files_and_no_to_a_new_directory(scratch: str) -> None:
    with Watcher() as w:
        w.add(scratch, recursive=True)
        core = w._core
        assert core.io_free()  # nothing taken: nothing to do

        with open(os.path.join(scratch, "f"), "w") as f:
            f.write("x")
        _take(w)
        assert core.io_free()  # CREATE, MODIFY, CLOSE_WRITE of a file
        assert [ev.name for ev in core.process()] == ["f", "f", "f", "f"]

        os.mkdir(os.path.join(scratch, "d"))
        _take(w)
        assert not core.io_free()  # CREATE|ISDIR: watch it, then list it
        events = core.process()
        assert [(ev.name, ev.mask & _ISDIR) for ev in events][:1] == [("d", _ISDIR)]
        # The listing's findings wait for a later read: held work, not on the loop.
        while core.backlog or core.deadline() is not None:
            if core.io_free():
                break
            core.process()


def test_io_free_hands_a_big_unparsed_read_to_the_worker(scratch: str) -> None:
    """A read above light.PEEK_MAX is not parsed twice: its first batch goes
    to the worker, and once parsed, the rest of it is looked at in place."""
    with Watcher() as w:
        w.add(scratch)
        core = w._core
        n = light.PEEK_MAX // 16 + 600  # more than PEEK_MAX bytes, > 2 batches
        for i in range(n):
            os.mknod(os.path.join(scratch, f"f{i:05d}"))
        _take(w)
        assert core.backlog > light.PEEK_MAX
        assert not core.io_free()
        got = core.process()  # (the worker's batch)
        assert core._records is not None  # the rest of the read, parsed
        assert core.io_free()
        while core.backlog:
            got += core.process()
        assert [ev.name for ev in got] == [f"f{i:05d}" for i in range(n)]


def test_a_new_directory_of_50000_subdirectories_never_freezes_the_loop(scratch: str) -> None:
    """The listing runs in the worker thread: a ticker on the loop keeps
    ticking meanwhile (its worst gap is measured, with a timeout, not slept
    through), and every subdirectory is reported once."""
    n = 50_000
    root = os.path.join(scratch, "root")
    big = os.path.join(scratch, "big")
    os.mkdir(root)
    os.mkdir(big)
    for i in range(n):
        os.mkdir(os.path.join(big, f"d{i:05d}"))

    async def main() -> tuple[float, float, set[str], bool]:
        worst = 0.0
        ticking = True

        async def ticker() -> None:
            nonlocal worst
            while ticking:
                t = time.monotonic()
                await asyncio.sleep(0.002)
                worst = max(worst, time.monotonic() - t - 0.002)

        seen: set[str] = set()
        with Watcher() as w:
            w.add(root, recursive=True)
            tick = asyncio.ensure_future(ticker())
            await asyncio.sleep(0.05)
            began = time.monotonic()
            os.rename(big, os.path.join(root, "big"))
            async for ev in w:
                if ev.mask & _CREATE and ev.mask & _ISDIR:
                    seen.add(ev.name)
                    if len(seen) % 200 == 0:
                        await asyncio.sleep(0)  # a fair consumer lets the loop run
                    if len(seen) == n:
                        break
            took = time.monotonic() - began
            watched = len(w._core.watch_map()) == n + 2
            ticking = False
            await tick
        return worst, took, seen, watched

    worst, took, seen, watched = asyncio.run(asyncio.wait_for(main(), 120))
    assert seen == {f"d{i:05d}" for i in range(n)}
    assert watched  # root, big and each subdirectory
    # Watching and listing 50,000 directories takes about a second here; the
    # loop never stopped for more than a fraction of it.
    assert worst < 0.25, f"the loop stalled {worst:.3f} s (the listing took {took:.2f} s)"
    assert took > 2 * worst


def test_a_slow_loop_body_still_lets_the_loop_drain_the_kernel_queue(scratch: str) -> None:
    """Batches processed on the loop one after another give the loop a turn
    every drivers.aio._TURN: the reader callback takes what the kernel queued
    meanwhile, before the consumer is through the read it is working on (else
    a storm overflows the kernel queue behind a slow loop body)."""
    from inwatch.inotify import _sys

    n = 600  # one read, more than two batches

    async def main() -> tuple[bool, list[str]]:
        names: list[str] = []
        drained_while_busy = False
        with Watcher() as w:
            w.add(scratch)
            for i in range(n):
                os.mknod(os.path.join(scratch, f"a{i:04d}"))
            fd = w._core.kernel_fd()
            async for ev in w:
                names.append(ev.name)
                if len(names) == 1:
                    for i in range(50):
                        os.mknod(os.path.join(scratch, f"b{i:04d}"))
                    assert _sys.fionread(fd) > 0
                elif ev.name.startswith("a") and _sys.fionread(fd) == 0:
                    drained_while_busy = True
                end = time.monotonic() + 0.0001  # a slow body that never awaits
                while time.monotonic() < end:
                    pass
                if len(names) == n + 50:
                    break
        return drained_while_busy, names

    drained, names = asyncio.run(asyncio.wait_for(main(), 30))
    assert names == [f"a{i:04d}" for i in range(n)] + [f"b{i:04d}" for i in range(50)]
    assert drained, "the kernel queue waited until the consumer was through the read"


def test_waves_of_files_come_through_async_for_once_and_in_order(scratch: str) -> None:
    """Every event once, in order, whichever per-event step this run uses
    (with INWATCH_ACCEL=1 the C feed, which hands one awaitable out again for
    every event: two events must never be mixed up, across batches, waits on
    the loop and reads). Three waves, each made once the one before is in
    while the async for waits: a burst of several batches, one file, and a
    burst again."""
    waves = [[f"a{i:04d}" for i in range(700)], ["b"], [f"c{i:04d}" for i in range(1300)]]
    marks = [sum(len(wave) for wave in waves[: k + 1]) for k in range(len(waves))]

    def make(k: int) -> None:
        for name in waves[k]:
            os.mknod(os.path.join(scratch, name))

    async def drain(w: Watcher) -> list[str]:
        got: list[str] = []
        loop = asyncio.get_running_loop()
        loop.call_soon(make, 0)
        async for ev in w:
            if ev.mask & _CREATE:
                got.append(ev.name)
            if len(got) == marks[-1]:
                break
            if len(got) in marks:
                loop.call_soon(make, marks.index(len(got)) + 1)
        return got

    async def main() -> list[str]:
        with Watcher() as w:
            w.add(scratch)
            return await asyncio.wait_for(drain(w), 20)

    assert asyncio.run(main()) == [name for wave in waves for name in wave]
