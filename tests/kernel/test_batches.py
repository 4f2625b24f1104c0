"""A burst is handed out in batches (inotify.core.BATCH events per process()):
nothing lost, nothing doubled, order kept, and a rename split across two
batches still paired, on the real kernel.

Why batches exist: see the comment on ``BATCH`` in ``inwatch/inotify/core.py``.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from typing import Any

import pytest

import inwatch.inotify.core as core_module
from inwatch import Event, Watcher
from inwatch.pyinotify import ALL_EVENTS, Notifier, ProcessEvent, WatchManager

_CREATE = 0x100
_MOVED_FROM = 0x40
_MOVED_TO = 0x80


@pytest.fixture
def scratch() -> Iterator[str]:
    with tempfile.TemporaryDirectory(dir="/dev/shm") as d:
        yield d


def _read_all(w: Watcher, want: int, max_reads: int = 10_000) -> tuple[list[Event[Any]], int]:
    """Read until *want* events came (each read waits at most 5 s); also the
    number of read() calls it took."""
    got: list[Event[Any]] = []
    reads = 0
    while len(got) < want and reads < max_reads:
        batch = w.read(5)
        reads += 1
        if not batch:
            break  # 5 s without an event: the assertion below says what is missing
        got += batch
    return got, reads


def test_a_burst_comes_out_in_batches_exactly_once_and_in_order(scratch: str) -> None:
    n = core_module.BATCH * 2 + 500
    with Watcher() as w:
        w.add(scratch)
        for i in range(n):
            os.mknod(os.path.join(scratch, f"f{i:05d}"))
        first = w.read(5)
        # The whole queue was read at once (it is far below 64 KiB per 1,000
        # events), so the rest is buffered and comes without a wait.
        assert len(first) == core_module.BATCH
        assert w.backlog > 0
        rest, reads = _read_all(w, n - len(first))
        assert w.backlog == 0
    names = [ev.name for ev in first + rest if ev.mask & _CREATE]
    assert names == [f"f{i:05d}" for i in range(n)]
    assert reads >= 2  # the batches after the first: the second full one, then the rest


@pytest.mark.parametrize("batch", [1, 2, 3])
def test_renames_split_across_batches_are_paired(
    scratch: str, batch: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With tiny batches every MOVED_FROM/MOVED_TO pair straddles a batch
    boundary somewhere: each MOVED_TO must still name its source, and a renamed
    directory's later events its new path."""
    monkeypatch.setattr(core_module, "BATCH", batch)
    with Watcher() as w:
        w.add(scratch, recursive=True)
        os.mkdir(os.path.join(scratch, "d"))
        for i in range(4):
            os.mknod(os.path.join(scratch, f"a{i}"))
        for i in range(4):
            os.rename(os.path.join(scratch, f"a{i}"), os.path.join(scratch, f"b{i}"))
        os.rename(os.path.join(scratch, "d"), os.path.join(scratch, "e"))
        os.mknod(os.path.join(scratch, "e", "inside"))
        want = 1 + 4 + 4 * 2 + 2 + 1
        events, _ = _read_all(w, want)
    moved_to = [ev for ev in events if ev.mask & _MOVED_TO]
    assert [(ev.name, ev.src_pathname) for ev in moved_to] == [
        *[(f"b{i}", os.path.join(scratch, f"a{i}")) for i in range(4)],
        ("e", os.path.join(scratch, "d")),
    ]
    last = events[-1]
    assert last.mask & _CREATE and last.pathname == os.path.join(scratch, "e", "inside")
    assert len(events) == want


def test_a_move_out_split_from_the_next_event_is_still_a_move_out(
    scratch: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A MOVED_FROM that ends a batch but not its read, with no MOVED_TO after
    it in that read: decided at once (moved out), as when it is mid-batch."""
    monkeypatch.setattr(core_module, "BATCH", 1)
    with tempfile.TemporaryDirectory(dir="/dev/shm") as outside, Watcher() as w:
        w.add(scratch, recursive=True)
        os.mkdir(os.path.join(scratch, "d"))
        os.rename(os.path.join(scratch, "d"), os.path.join(outside, "d"))
        os.mknod(os.path.join(scratch, "after"))
        events, _ = _read_all(w, 3)
        assert [ev.name for ev in events] == ["d", "d", "after"]
        assert events[1].mask & _MOVED_FROM
        # The directory left: its watch is gone from the table.
        assert w.wd_of(os.path.join(scratch, "d")) is None
        assert all(os.path.join(scratch, "d") != p for p in w.watches.values())


def test_pyinotify_read_events_takes_a_whole_burst(scratch: str) -> None:
    """pyinotify's read_events takes everything queued, batches or not."""
    n = core_module.BATCH * 2 + 7
    seen: list[str] = []

    class Count(ProcessEvent):  # type: ignore[misc]
        def process_IN_CREATE(self, event: Any) -> None:
            seen.append(event.name)

    wm = WatchManager()
    notifier = Notifier(wm, Count())
    try:
        wm.add_watch(scratch, ALL_EVENTS)
        for i in range(n):
            os.mknod(os.path.join(scratch, f"f{i:05d}"))
        assert notifier.check_events(5000)
        notifier.read_events()
        notifier.process_events()
    finally:
        notifier.stop()
    assert seen == [f"f{i:05d}" for i in range(n)]


def test_async_for_over_a_burst_of_many_batches(scratch: str) -> None:
    """The async for processes a batch at a time (on the loop, or for a 64 KiB
    read's first batch in the worker) as it consumes: every event, once, in
    order."""
    import asyncio

    n = core_module.BATCH * 8 + 3

    async def main() -> list[str]:
        names: list[str] = []
        with Watcher() as w:
            w.add(scratch)
            for i in range(n):
                os.mknod(os.path.join(scratch, f"f{i:05d}"))
            async for ev in w:
                names.append(ev.name)
                if len(names) == n:
                    break
        return names

    assert asyncio.run(asyncio.wait_for(main(), 30)) == [f"f{i:05d}" for i in range(n)]


def test_the_threaded_driver_delivers_a_burst_in_batches(scratch: str) -> None:
    n = core_module.BATCH * 3 + 11
    names: list[str] = []
    sizes: list[int] = []
    with Watcher() as w:
        w.add(scratch)
        for i in range(n):
            os.mknod(os.path.join(scratch, f"f{i:05d}"))

        def batch(events: list[Event[Any]]) -> None:
            sizes.append(len(events))
            names.extend(ev.name for ev in events)

        w.start(batch, batch=True)
        assert w.drain(30)
        w.stop()
        w.join(10)
    assert names == [f"f{i:05d}" for i in range(n)]
    assert max(sizes) <= core_module.BATCH


def _select_then_read(w: Watcher, fd: int, want: int) -> list[Event[Any]]:
    """The event-loop pattern: wait until *fd* is readable (at most 2 s a
    wait), then read(0); stop when *want* events came or a wait found nothing."""
    import select

    got: list[Event[Any]] = []
    while len(got) < want:
        readable, _, _ = select.select([fd], [], [], 2.0)
        if not readable:
            break  # stalled: events were left where the fd does not show them
        got += w.read(0)
    return got


def test_read_zero_after_a_select_on_the_kernel_fd_takes_every_buffered_batch(
    scratch: str,
) -> None:
    """Without read-ahead the fd is the kernel's, which is not readable for
    bytes already taken: read(0) (the poll after a select) hands out all of them."""
    n = core_module.BATCH * 4 + 100
    with Watcher() as w:
        w.add(scratch)
        for i in range(n):
            os.mknod(os.path.join(scratch, f"f{i:05d}"))
        got = _select_then_read(w, w.fileno(), n)
        assert w.backlog == 0
    names = [ev.name for ev in got if ev.mask & _CREATE]
    assert names == [f"f{i:05d}" for i in range(n)]
