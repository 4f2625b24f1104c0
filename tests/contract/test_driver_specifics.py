"""What only one driver has: the threaded driver's batches and callback errors,
the asyncio context manager, and iteration in a plain thread."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from typing import Any

import pytest
from contract_harness import pathnames, touch

from inwatch import Event, Mask, Watcher
from inwatch.errors import WatcherClosedError, WatcherFailedError

CREATE = int(Mask.CREATE)
j = os.path.join


def test_threaded_batches(backend: str, scratch: str) -> None:
    batches: list[list[Event[Any]]] = []
    got = threading.Event()

    def on_batch(events: list[Event[Any]]) -> None:
        batches.append(events)
        if j(scratch, "f9") in pathnames(events, CREATE):
            got.set()

    with Watcher(backend=backend) as w:
        w.add(scratch)
        w.start(on_batch, batch=True)
        for i in range(10):
            touch(j(scratch, f"f{i}"))
        assert got.wait(10)
        w.stop()
        w.join(10)
    assert all(isinstance(b, list) and b for b in batches)
    created = [p for b in batches for p in pathnames(b, CREATE)]
    assert created == [j(scratch, f"f{i}") for i in range(10)]


def test_a_failing_callback_stops_the_driver_and_reaches_join_and_drain(
    backend: str, scratch: str
) -> None:
    """The rule: whatever the callback raises stops delivery at once, ``running``
    turns false, and the error is raised from ``drain()`` and ``join()``."""
    seen: list[str] = []

    def callback(ev: Event[Any]) -> None:
        if ev.mask & CREATE:
            seen.append(ev.name)
            if ev.name == "boom":
                raise ValueError("callback failed")

    with Watcher(backend=backend) as w:
        w.add(scratch)
        w.start(callback)
        touch(j(scratch, "boom"))
        deadline = time.monotonic() + 10
        while w.running and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not w.running
        with pytest.raises(ValueError, match="callback failed"):
            w.drain(1)
        with pytest.raises(ValueError, match="callback failed"):
            w.join(5)
        with pytest.raises(WatcherFailedError):
            w.read(0)
    assert seen == ["boom"]


def test_start_twice_is_refused(backend: str, scratch: str) -> None:
    with Watcher(backend=backend) as w:
        w.add(scratch)
        w.start(lambda ev: None)
        with pytest.raises(RuntimeError):
            w.start(lambda ev: None)
    assert not [t for t in threading.enumerate() if t.name.startswith("inwatch-")]


def test_asyncio_context_manager(backend: str, scratch: str) -> None:
    async def main() -> list[str]:
        got: list[str] = []
        async with Watcher(backend=backend) as w:
            w.add(scratch, recursive=True)
            os.mkdir(j(scratch, "d"))
            touch(j(scratch, "d", "f"))
            async for ev in w:
                if ev.mask & CREATE:
                    got.append(ev.pathname)
                if ev.pathname == j(scratch, "d", "f"):
                    break
        assert w.closed
        return got

    got = asyncio.run(asyncio.wait_for(main(), 10))
    assert got == [j(scratch, "d"), j(scratch, "d", "f")]


def test_asyncio_delivers_every_event_while_the_consumer_yields_between_them(
    backend: str, scratch: str
) -> None:
    """The worker wakes the loop only when the consumer had taken everything
    before; a consumer that gives the loop a turn after each event (so the
    worker adds while it is half-way) must still get every event, no hang."""
    n = 3000

    def make() -> None:
        for i in range(n):
            os.mknod(j(scratch, f"f{i:05d}"))
            if i % 500 == 0:
                time.sleep(0.002)  # bursts of a few batches, with gaps between

    async def main() -> int:
        got = 0
        with Watcher(backend=backend) as w:
            w.add(scratch)
            maker = threading.Thread(target=make)
            maker.start()
            try:
                async for ev in w:
                    if ev.mask & CREATE:
                        got += 1
                        if got == n:
                            break
                    await asyncio.sleep(0)
            finally:
                maker.join()
        return got

    assert asyncio.run(asyncio.wait_for(main(), 30)) == n


def test_close_from_another_thread_ends_iteration(backend: str, scratch: str) -> None:
    w = Watcher(backend=backend)
    w.add(scratch)
    seen: list[Event[Any]] = []
    started = threading.Event()

    def iterate() -> None:
        started.set()
        seen.extend(w)

    it = threading.Thread(target=iterate)
    it.start()
    started.wait(10)
    touch(j(scratch, "f"))
    w.stop()
    it.join(10)
    assert not it.is_alive()
    w.close()
    assert w.closed
    with pytest.raises(WatcherClosedError, match="closed"):
        w.read(0)
