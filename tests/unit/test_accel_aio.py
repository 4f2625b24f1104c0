"""The accelerator's async iterator (inotify/_accel_aio.c, ``aio_feed``) on its
own: the same steps as drivers.aio.AsyncFor.iterate, the async generator it
stands in for (the contract suite runs every async for through it when CI runs
with INWATCH_ACCEL=1)."""

from __future__ import annotations

import asyncio
import collections
import gc
import sys
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
