"""The Watcher's lifecycle and failure channel (issue 9, issue 10 items 1-6, 11).

The rules (watcher.py's docstring): one consumer at a time; stop() ends the
running one and later reads are refused until resume(); the threaded driver
ends by itself when no watch is left and may be started again; whatever a
driver meets stops it and reaches the caller; after close() everything but
close() raises WatcherClosedError.
"""

from __future__ import annotations

import asyncio
import math
import os
import threading
from typing import Any

import pytest
from contract_harness import touch

import inwatch
from inwatch import Event, Mask, Watcher
from inwatch.errors import WatcherClosedError, WatcherStoppedError

CREATE = int(Mask.CREATE)
j = os.path.join


def _names(events: list[Event[Any]]) -> list[str]:
    return [os.fsdecode(e.name) for e in events if e.mask & CREATE]


def test_async_for_left_early_leaves_the_watcher_usable(backend: str, scratch: str) -> None:
    async def main() -> list[str]:
        with Watcher(backend=backend) as w:
            w.add(scratch)
            touch(j(scratch, "first"))
            async for _ev in w:
                break  # leave early: the generator's aclose() comes later
            touch(j(scratch, "second"))
            got: list[str] = []
            async for ev in w:
                got.append(os.fsdecode(ev.name))
                if "second" in got:
                    break
            raise_later = []
            try:
                async for _ev in w:
                    raise RuntimeError("in the body")
            except RuntimeError as exc:
                raise_later.append(str(exc))
            touch(j(scratch, "third"))
            async for ev in w:
                got.append(os.fsdecode(ev.name))
                if "third" in got:
                    break
            return got

    got = asyncio.run(asyncio.wait_for(main(), 20))
    assert "second" in got and "third" in got


def test_a_second_concurrent_async_for_is_refused_and_stop_ends_the_first(
    backend: str, scratch: str
) -> None:
    async def main() -> tuple[str, list[str]]:
        with Watcher(backend=backend) as w:
            w.add(scratch)
            first_seen: list[str] = []
            waiting = asyncio.Event()

            async def first() -> None:
                waiting.set()
                async for ev in w:
                    first_seen.append(os.fsdecode(ev.name))

            task = asyncio.create_task(first())
            await waiting.wait()
            await asyncio.sleep(0)  # let it reach its await inside the loop
            for _ in range(100):
                await asyncio.sleep(0.01)
                if w._session is not None and w._session.waiting:
                    break
            refused = ""
            try:
                async for _ev in w:
                    pass
            except RuntimeError as exc:
                refused = str(exc)
            touch(j(scratch, "f"))
            for _ in range(500):
                if "f" in first_seen:
                    break
                await asyncio.sleep(0.01)
            w.stop()
            await asyncio.wait_for(task, 10)  # the first one ends on stop()
            return refused, first_seen

    refused, seen = asyncio.run(main())
    assert "another async for" in refused
    assert "f" in seen


def test_threaded_driver_ends_without_watches_and_can_start_again(
    backend: str, scratch: str
) -> None:
    sub = j(scratch, "sub")
    os.mkdir(sub)
    got: list[str] = []
    arrived = threading.Event()

    def cb(ev: Event[Any]) -> None:
        got.append(os.fsdecode(ev.name))
        if os.fsdecode(ev.name) == "again":
            arrived.set()

    with Watcher(backend=backend) as w:
        w.add(sub)
        w.start(cb)
        os.rmdir(sub)  # the last watch goes: the run ends by itself
        w.join(10)
        assert not w.running
        assert w.drain(1)
        w.add(scratch)
        w.start(cb)  # a new run, not "already started"
        touch(j(scratch, "again"))
        assert arrived.wait(10)
        with pytest.raises(RuntimeError, match="threads"):
            w.read(0)  # one consumer at a time, said clearly
        w.stop()
        w.join(10)
        assert not w.running
        w.start(cb)  # start() after stop() begins a new run
        assert w.running
        w.stop()
        w.join(10)


def test_read_after_stop_is_refused_until_resume(backend: str, scratch: str) -> None:
    with Watcher(backend=backend) as w:
        w.add(scratch)
        w.stop()
        touch(j(scratch, "f"))
        with pytest.raises(WatcherStoppedError):
            w.read(0)
        w.resume()
        events = w.read(5)
        assert "f" in _names(events)


def test_every_operation_after_close_names_the_watcher(backend: str, scratch: str) -> None:
    w = Watcher(backend=backend)
    w.add(scratch)
    w.close()
    for op in (
        lambda: w.read(0),
        lambda: w.add(scratch),
        lambda: w.watches,
        lambda: w.wd_of(scratch),
        lambda: w.start(lambda ev: None),
        lambda: w.fileno(),
        lambda: w.remove(scratch),
        lambda: list(w),
    ):
        with pytest.raises(WatcherClosedError, match="Watcher is closed"):
            op()
    w.close()  # still fine


def test_infinite_timeout_means_forever_and_nan_is_refused(backend: str, scratch: str) -> None:
    with Watcher(backend=backend) as w:
        w.add(scratch)
        threading.Timer(0.05, touch, args=(j(scratch, "f"),)).start()
        assert "f" in _names(w.read(math.inf))
        with pytest.raises(ValueError, match="nan"):
            w.read(math.nan)
    with inwatch.Inotify() as ino:
        ino.add_watch(scratch, Mask.CREATE)
        touch(j(scratch, "g"))
        assert [e.name for e in ino.read(math.inf)] == [b"g"]


def test_limits_is_a_function_and_its_module_is_knobs() -> None:
    import inwatch.knobs

    assert callable(inwatch.limits)
    assert inwatch.limits().max_user_watches == inwatch.knobs.limits().max_user_watches
    assert "max_user_watches" in inwatch.knobs.raise_command("fs.inotify.max_user_watches", 1)


class Boom(Exception):
    pass


def _broken(w: Watcher) -> None:
    """Make the dispatcher fail, as a bug would (the driver's failure channel is
    what is under test, not the kernel)."""

    def process() -> list[Event[Any]]:
        raise Boom("dispatcher failed")

    w._core.process = process  # type: ignore[method-assign]
    if hasattr(w._core, "take"):  # the latency path's read-and-process
        w._core.take = process  # type: ignore[union-attr]


def test_a_dispatcher_failure_reaches_read(backend: str, scratch: str) -> None:
    with Watcher(backend=backend) as w:
        w.add(scratch)
        _broken(w)
        touch(j(scratch, "f"))
        with pytest.raises(Boom):
            w.read(5)
        with pytest.raises(inwatch.errors.WatcherFailedError):
            w.read(0)


def test_a_dispatcher_failure_stops_the_threads_and_reaches_join_and_drain(
    backend: str, scratch: str
) -> None:
    with Watcher(backend=backend) as w:
        w.add(scratch)
        _broken(w)
        w.start(lambda ev: None)
        touch(j(scratch, "f"))
        with pytest.raises(Boom):
            w.join(10)
        assert not w.running
        with pytest.raises(Boom):
            w.drain(1)


def test_a_dispatcher_failure_reaches_the_async_for(backend: str, scratch: str) -> None:
    async def main() -> None:
        with Watcher(backend=backend) as w:
            w.add(scratch)
            _broken(w)
            touch(j(scratch, "f"))
            async for _ev in w:
                pass

    with pytest.raises(Boom):
        asyncio.run(asyncio.wait_for(main(), 10))
