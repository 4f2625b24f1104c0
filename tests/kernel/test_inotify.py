"""`Inotify` as an object: the fd it owns, reading, and event-loop integration."""

from __future__ import annotations

import asyncio
import fcntl
import gc
import os
import select
import selectors
import threading
import time
from pathlib import Path

import pytest

from inwatch import Inotify, Mask, parse_events

from .kutil import drain_short


def test_close_is_idempotent_and_later_use_raises_value_error(tmp_path: Path) -> None:
    ino = Inotify()
    fd = ino.fileno()
    assert fd >= 0 and not ino.closed
    assert repr(ino) == f"<Inotify fd={fd}>"
    ino.close()
    assert ino.closed
    assert repr(ino) == "<Inotify closed>"
    ino.close()
    for call in (
        ino.fileno,
        ino.pending_bytes,
        lambda: ino.add_watch(tmp_path, Mask.CREATE),
        lambda: ino.rm_watch(1),
        lambda: ino.read(timeout=0),
        lambda: ino.read_bytes(timeout=0),
    ):
        with pytest.raises(ValueError, match="closed"):
            call()
    with pytest.raises(OSError):
        os.fstat(fd)  # closed, and nothing in this test opened another fd since


def test_context_manager_closes_even_on_error() -> None:
    with Inotify() as ino:
        assert isinstance(ino, Inotify) and not ino.closed
    assert ino.closed
    with pytest.raises(RuntimeError), Inotify() as ino2:
        raise RuntimeError("boom")
    assert ino2.closed


def test_close_on_exec_by_default() -> None:
    with Inotify() as ino:
        assert fcntl.fcntl(ino.fileno(), fcntl.F_GETFD) & fcntl.FD_CLOEXEC
        assert not os.get_inheritable(ino.fileno())
    with Inotify(cloexec=False) as ino:
        assert not fcntl.fcntl(ino.fileno(), fcntl.F_GETFD) & fcntl.FD_CLOEXEC


def test_blocking_by_default_nonblocking_on_request(tmp_path: Path) -> None:
    with Inotify() as ino:
        assert not fcntl.fcntl(ino.fileno(), fcntl.F_GETFL) & os.O_NONBLOCK
    with Inotify(nonblocking=True) as ino:
        assert fcntl.fcntl(ino.fileno(), fcntl.F_GETFL) & os.O_NONBLOCK
        with pytest.raises(BlockingIOError):
            os.read(ino.fileno(), 4096)
        # read() still honours its timeout on a non-blocking fd.
        wd = ino.add_watch(tmp_path, Mask.CREATE)
        assert ino.read(timeout=0) == []
        (tmp_path / "a").touch()
        assert drain_short(ino) == [(wd, "CREATE", b"a")]


def test_read_with_zero_timeout_returns_at_once(ino: Inotify, tmp_path: Path) -> None:
    ino.add_watch(tmp_path, Mask.CREATE)
    start = time.monotonic()
    assert ino.read(timeout=0) == []
    assert ino.read_bytes(timeout=0) == b""
    assert time.monotonic() - start < 0.5  # generous: no wait at all is expected


def test_read_with_a_timeout_waits_about_that_long(ino: Inotify, tmp_path: Path) -> None:
    ino.add_watch(tmp_path, Mask.CREATE)
    start = time.monotonic()
    assert ino.read(timeout=0.1) == []
    elapsed = time.monotonic() - start
    assert 0.09 <= elapsed < 5
    # A timeout shorter than poll's millisecond still waits (rounded up), no error.
    assert ino.read(timeout=0.0001) == []


def test_read_returns_the_whole_queue_in_one_call(ino: Inotify, tmp_path: Path) -> None:
    wd = ino.add_watch(tmp_path, Mask.CREATE)
    count = 3000  # 3000 x 32 bytes: well past one 64 KiB read
    for i in range(count):
        os.close(os.open(tmp_path / f"file{i:05}", os.O_CREAT | os.O_WRONLY, 0o644))
    pending = ino.pending_bytes()
    assert pending == count * 32  # 16-byte header + "fileNNNNN" padded to 16
    events = ino.read(timeout=1)
    assert len(events) == count
    assert events[0] == (wd, Mask.CREATE, 0, b"file00000")
    assert [e.name for e in events] == [f"file{i:05}".encode() for i in range(count)]
    assert ino.pending_bytes() == 0
    assert ino.read(timeout=0) == []


def test_pending_bytes_matches_what_read_bytes_returns(ino: Inotify, tmp_path: Path) -> None:
    assert ino.pending_bytes() == 0
    wd = ino.add_watch(tmp_path, Mask.ALL_EVENTS)
    (tmp_path / "a").write_bytes(b"x")
    (tmp_path / ("b" * 100)).mkdir()
    pending = ino.pending_bytes()
    data = ino.read_bytes(timeout=0)
    assert len(data) == pending > 0
    assert parse_events(data)[-1] == (wd, Mask.CREATE | Mask.ISDIR, 0, b"b" * 100)
    assert ino.pending_bytes() == 0


def test_blocking_read_without_timeout_wakes_on_an_event(ino: Inotify, tmp_path: Path) -> None:
    wd = ino.add_watch(tmp_path, Mask.CREATE)
    writer = threading.Timer(0.05, (tmp_path / "late").touch)
    writer.start()
    try:
        events = ino.read()
    finally:
        writer.join(5)
    assert events == [(wd, Mask.CREATE, 0, b"late")]


def test_works_with_select_poll_and_selectors(ino: Inotify, tmp_path: Path) -> None:
    wd = ino.add_watch(tmp_path, Mask.CREATE)
    with selectors.DefaultSelector() as sel:
        sel.register(ino, selectors.EVENT_READ, "inotify")
        assert sel.select(timeout=0) == []
        (tmp_path / "a").touch()
        [(key, mask)] = sel.select(timeout=5)
        assert key.data == "inotify" and key.fileobj is ino and mask == selectors.EVENT_READ
        assert select.select([ino], [], [], 0)[0] == [ino]
        poller = select.poll()
        poller.register(ino, select.POLLIN)
        assert poller.poll(0) == [(ino.fileno(), select.POLLIN)]
        assert ino.read(timeout=0) == [(wd, Mask.CREATE, 0, b"a")]
        assert sel.select(timeout=0) == []
        sel.unregister(ino)


def test_works_with_asyncio_add_reader(ino: Inotify, tmp_path: Path) -> None:
    wd = ino.add_watch(tmp_path, Mask.CREATE)

    async def main() -> list[tuple[int, int, int, bytes]]:
        loop = asyncio.get_running_loop()
        ready: asyncio.Queue[None] = asyncio.Queue()
        loop.add_reader(ino.fileno(), ready.put_nowait, None)
        try:
            loop.call_later(0.02, (tmp_path / "x").touch)
            await asyncio.wait_for(ready.get(), timeout=5)
            return [tuple(e) for e in ino.read(timeout=0)]
        finally:
            loop.remove_reader(ino.fileno())

    assert asyncio.run(main()) == [(wd, Mask.CREATE, 0, b"x")]


def test_an_unclosed_instance_warns_and_is_closed_by_the_collector() -> None:
    ino = Inotify()
    fd = ino.fileno()
    with pytest.warns(ResourceWarning, match="unclosed"):
        del ino
        gc.collect()
    # Closed: the fd number is free (or reused by something that is not inotify).
    try:
        target = os.readlink(f"/proc/self/fd/{fd}")
    except FileNotFoundError:
        target = None
    assert target != "anon_inode:inotify"


def test_instances_are_independent(tmp_path: Path) -> None:
    with Inotify() as a, Inotify() as b:
        wd_a = a.add_watch(tmp_path, Mask.CREATE)
        wd_b = b.add_watch(tmp_path, Mask.DELETE)
        assert wd_a == wd_b == 1  # wds are per instance
        (tmp_path / "f").touch()
        (tmp_path / "f").unlink()
        assert drain_short(a) == [(1, "CREATE", b"f")]
        assert drain_short(b) == [(1, "DELETE", b"f")]


def test_rm_watch_queues_ignored(ino: Inotify, tmp_path: Path) -> None:
    wd = ino.add_watch(tmp_path, Mask.CREATE)
    ino.rm_watch(wd)
    assert drain_short(ino) == [(wd, "IGNORED", b"")]
    (tmp_path / "f").touch()
    assert ino.read(timeout=0.05) == []
