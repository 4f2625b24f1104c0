"""The accelerator's async iterator (inotify/_accel_aio.c, ``aio_feed``) on its
own: the same steps as drivers.aio.AsyncFor.iterate, the async generator it
stands in for (the contract suite runs every async for through it when CI runs
with INWATCH_ACCEL=1)."""

from __future__ import annotations

import asyncio
import collections
import gc
import sys
import weakref
from typing import Any

import pytest

_accel = pytest.importorskip("inwatch.inotify._accel", reason="the accelerator is not built")


def _feed(items: list[Any], refills: list[list[Any]]) -> tuple[Any, list[str]]:
    out: collections.deque[Any] = collections.deque(items)
    log: list[str] = []

    async def refill() -> Any:
        log.append("refill")
        if not refills:
            raise StopAsyncIteration
        out.extend(refills.pop(0))
        return out.popleft()

    def close() -> None:
        log.append("close")

    return _accel.aio_feed(out, refill, close), log


def test_pops_what_is_at_hand_and_refills_when_empty() -> None:
    feed, log = _feed([1, 2], [[3, 4], [5]])
    held = [feed]
    del feed

    async def main() -> list[Any]:
        return [x async for x in held[0]]

    assert asyncio.run(main()) == [1, 2, 3, 4, 5]
    assert log == ["refill", "refill", "refill"]
    held.clear()
    gc.collect()
    assert log[-1] == "close"


def test_close_is_called_once_when_left_early() -> None:
    feed, log = _feed([1, 2, 3], [])
    held = [feed]
    del feed

    async def main() -> Any:
        async for x in held[0]:
            return x
        return None

    assert asyncio.run(main()) == 1
    assert "close" not in log
    held.clear()
    assert log == ["close"]


def test_a_failing_refill_reaches_the_async_for() -> None:
    out: collections.deque[Any] = collections.deque()

    async def refill() -> Any:
        raise OSError(5, "boom")

    feed = _accel.aio_feed(out, refill, lambda: None)

    async def main() -> None:
        async for _x in feed:
            pass

    with pytest.raises(OSError, match="boom"):
        asyncio.run(main())


def test_values_that_look_like_exceptions_or_tuples_come_through_traced() -> None:
    """Under a tracer the interpreter may take the iterator path (StopIteration
    carrying the value) instead of am_send: the value must come out whole."""
    values = [(1, 2), ValueError("x"), None, "s"]
    feed, _log = _feed(list(values), [])

    async def main() -> list[Any]:
        return [x async for x in feed]

    def tracer(frame: Any, event: str, arg: Any) -> Any:
        return tracer

    sys.settrace(tracer)
    try:
        got = asyncio.run(main())
    finally:
        sys.settrace(None)
    assert got[0] == (1, 2) and isinstance(got[1], ValueError) and got[2:] == [None, "s"]


def test_wrong_arguments_are_refused() -> None:
    with pytest.raises(TypeError):
        _accel.aio_feed(collections.deque(), 1, lambda: None)
    with pytest.raises(AttributeError):
        _accel.aio_feed([], lambda: None, lambda: None)


def test_awaitables_taken_ahead_keep_their_own_values() -> None:
    """The feed hands its one Ready out again only when nobody else holds it:
    two __anext__() taken before either is awaited are two awaitables, each
    with its own event, in order."""
    feed, _log = _feed(["a", "b", "c"], [])

    async def main() -> list[Any]:
        first = feed.__anext__()
        second = feed.__anext__()
        got = [await second, await first]
        got.append(await feed.__anext__())  # the spare is free again
        return got

    assert asyncio.run(main()) == ["b", "a", "c"]


def test_a_delivered_event_is_not_kept_alive_by_the_feed() -> None:
    class Item:
        pass

    items = [Item(), Item()]
    refs = [weakref.ref(x) for x in items]
    feed, _log = _feed(items, [])
    del items

    async def main() -> None:
        async for x in feed:
            del x
            break

    asyncio.run(main())
    gc.collect()
    assert refs[0]() is None  # taken and dropped: not held by the kept awaitable
    assert refs[1]() is not None  # still in the deque


def test_a_popleft_written_in_python_is_called() -> None:
    """A deque whose popleft is overridden is popped through its own method."""
    calls: list[int] = []

    class Counting(collections.deque):  # type: ignore[type-arg]
        def popleft(self) -> Any:
            calls.append(1)
            return super().popleft()

    async def refill() -> Any:
        raise StopAsyncIteration

    feed = _accel.aio_feed(Counting([1, 2, 3]), refill, lambda: None)

    async def main() -> list[Any]:
        return [x async for x in feed]

    assert asyncio.run(main()) == [1, 2, 3]
    assert len(calls) == 3
