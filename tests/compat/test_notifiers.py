"""Notifier.loop, ThreadedNotifier, AsyncioNotifier, TornadoAsyncNotifier and
the read options, on the real kernel; every wait bounded."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from compat_helpers import Recorder

from inwatch import pyinotify as ours


def test_loop_stops_only_when_callback_returns_true(tmp_path: Path) -> None:
    wm = ours.WatchManager()
    wm.add_watch(str(tmp_path), ours.IN_CREATE)
    rec = Recorder()
    notifier = ours.Notifier(wm, rec, timeout=20)
    answers = iter([None, 1, "yes", False, True, True])
    calls: list[int] = []

    def callback(n: Any) -> Any:
        assert n is notifier
        calls.append(len(rec.events))
        if len(calls) == 2:
            (tmp_path / "f").touch()
        return next(answers)

    notifier.loop(callback=callback)
    assert len(calls) == 5  # 1, "yes" and False do not stop it; True does
    assert [e.name for e in rec.events] == ["f"]
    assert notifier._fd is None and wm.get_fd() is None  # loop() ends with stop()


def test_loop_ends_on_keyboard_interrupt(tmp_path: Path) -> None:
    wm = ours.WatchManager()
    notifier = ours.Notifier(wm, Recorder(), timeout=10)

    def callback(n: Any) -> None:
        raise KeyboardInterrupt

    notifier.loop(callback=callback)
    assert wm.get_fd() is None


def test_check_events_timeout(tmp_path: Path) -> None:
    wm = ours.WatchManager()
    notifier = ours.Notifier(wm, Recorder())
    try:
        wm.add_watch(str(tmp_path), ours.IN_CREATE)
        assert not notifier.check_events(10)
        (tmp_path / "f").touch()
        assert notifier.check_events(1000)
        notifier.read_events()
        assert len(notifier._eventq) == 1
    finally:
        notifier.stop()


def test_threshold_and_read_freq(tmp_path: Path) -> None:
    wm = ours.WatchManager()
    rec = Recorder()
    notifier = ours.Notifier(wm, rec, threshold=10_000, read_freq=0.01)
    try:
        wm.add_watch(str(tmp_path), ours.IN_CREATE)
        (tmp_path / "f").touch()
        assert notifier.check_events(1000)
        notifier.read_events()  # below the threshold: left in the kernel
        assert not notifier._eventq
        notifier._threshold = 0
        notifier._sleep(0)
        notifier.read_events()
        notifier.process_events()
        assert [e.name for e in rec.events] == ["f"]
        assert notifier.proc_fun() is rec
    finally:
        notifier.stop()


def test_threaded_notifier(tmp_path: Path) -> None:
    wm = ours.WatchManager()
    got = threading.Event()
    names: list[str] = []

    def handler(event: Any) -> None:
        names.append(event.name)
        got.set()

    notifier = ours.ThreadedNotifier(wm, handler)
    notifier.start()
    try:
        wm.add_watch(str(tmp_path), ours.IN_CREATE)
        (tmp_path / "f").touch()
        assert got.wait(5)
    finally:
        notifier.stop()
    assert names == ["f"]
    assert not notifier.is_alive() and wm.get_fd() is None


def test_asyncio_notifier(tmp_path: Path) -> None:
    loop = asyncio.new_event_loop()
    try:
        wm = ours.WatchManager()
        wm.add_watch(str(tmp_path), ours.IN_CREATE)
        rec = Recorder()
        done: asyncio.Future[Any] = loop.create_future()
        notifier = ours.AsyncioNotifier(wm, loop, callback=lambda n: done.set_result(n),
                                        default_proc_fun=rec)  # fmt: skip
        assert notifier.loop is loop
        (tmp_path / "f").touch()
        assert loop.run_until_complete(asyncio.wait_for(done, 5)) is notifier
        assert [e.name for e in rec.events] == ["f"]
        notifier.stop()
        assert wm.get_fd() is None
    finally:
        loop.close()


class TinyIOLoop:
    """Just what TornadoAsyncNotifier calls on a Tornado IOLoop."""

    READ = 1

    def __init__(self) -> None:
        self.handlers: dict[int, Any] = {}

    def add_handler(self, fd: int, handler: Any, events: int) -> None:
        self.handlers[fd] = handler

    def remove_handler(self, fd: int) -> None:
        del self.handlers[fd]


def test_tornado_notifier(tmp_path: Path) -> None:
    ioloop = TinyIOLoop()
    wm = ours.WatchManager()
    wm.add_watch(str(tmp_path), ours.IN_CREATE)
    rec = Recorder()
    called: list[Any] = []
    notifier = ours.TornadoAsyncNotifier(wm, ioloop, callback=called.append, default_proc_fun=rec)
    (handler,) = ioloop.handlers.values()
    (tmp_path / "f").touch()
    assert notifier.check_events(1000)
    handler(wm.get_fd(), ioloop.READ)
    assert [e.name for e in rec.events] == ["f"] and called == [notifier]
    notifier.stop()
    assert ioloop.handlers == {}


def test_default_proc_fun_prints(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    wm = ours.WatchManager()
    notifier = ours.Notifier(wm)
    try:
        wm.add_watch(str(tmp_path), ours.IN_CREATE)
        (tmp_path / "f").touch()
        assert notifier.check_events(1000)
        notifier.read_events()
        notifier.process_events()
    finally:
        notifier.stop()
    assert capsys.readouterr().out == (
        f"<Event dir=False mask=0x100 maskname=IN_CREATE name=f path={tmp_path} "
        f"pathname={tmp_path}/f wd=1 >\n"
    )


def test_append_event(tmp_path: Path) -> None:
    wm = ours.WatchManager()
    rec = Recorder()
    notifier = ours.Notifier(wm, rec)
    try:
        (wd,) = wm.add_watch(str(tmp_path), ours.IN_CREATE).values()
        from inwatch.pyinotify.events import _RawEvent

        notifier.append_event(_RawEvent(wd, ours.IN_CREATE, 0, "made-up\0\0"))
        notifier.process_events()
    finally:
        notifier.stop()
    assert [(e.name, e.path) for e in rec.events] == [("made-up", str(tmp_path))]


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_daemonize(tmp_path: Path) -> None:
    """loop(daemonize=True) forks away, writes its pid file, keeps watching."""
    import subprocess
    import sys
    import time

    pid_file = tmp_path / "d.pid"
    out = tmp_path / "out.txt"
    watched = tmp_path / "w"
    watched.mkdir()
    code = (
        "import inwatch.pyinotify as p\n"
        "wm = p.WatchManager()\n"
        f"wm.add_watch({str(watched)!r}, p.IN_CREATE)\n"
        "n = p.Notifier(wm, timeout=50)\n"
        f"n.loop(callback=lambda n: __import__('os').path.exists({str(watched / 'stop')!r}), "
        "daemonize=True, "
        f"pid_file={str(pid_file)!r}, stdout={str(out)!r})\n"
    )
    subprocess.run([sys.executable, "-c", code], timeout=30, check=True)
    deadline = time.monotonic() + 10
    while not (pid_file.exists() and pid_file.read_text().endswith("\n")):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    pid = int(pid_file.read_text())
    (watched / "f").touch()
    while "name=f " not in (out.read_text() if out.exists() else ""):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    (watched / "stop").touch()
    while pid_file.exists():  # atexit removes it
        assert time.monotonic() < deadline
        time.sleep(0.02)
    while _alive(pid):  # gone, or a zombie nobody reaps (pid 1 of a container)
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert out.read_text().startswith("<Event dir=False mask=0x100 maskname=IN_CREATE name=f ")
    wm = ours.WatchManager()
    try:
        pid_file.touch()
        with pytest.raises(ours.NotifierError, match=r"pid file .* already exists"):
            ours.Notifier(wm).loop(daemonize=True, pid_file=str(pid_file))
    finally:
        wm.close()


def test_loop_ends_when_the_manager_is_closed(tmp_path: Path) -> None:
    """pyinotify spins for ever on a closed fd; the loop ends instead."""
    wm = ours.WatchManager()
    notifier = ours.Notifier(wm, Recorder(), timeout=10)
    calls: list[int] = []

    def callback(n: Any) -> None:
        calls.append(1)
        if len(calls) == 3:
            wm.close()

    notifier.loop(callback=callback)
    assert len(calls) == 3 and notifier._fd is None
    assert not notifier.check_events(10)


def _burst_in_new_dirs(root: Path, rounds: int, seen: Callable[[], list[str]]) -> list[str]:
    """Each round: a directory appears (and is watched: its IN_CREATE was
    processed), a file is written in it, then both go at once. Returns what a
    program with mask CREATE|DELETE|MODIFY must see."""
    expected: list[str] = []
    for i in range(rounds):
        sub = root / f"sub{i}"
        sub.mkdir()
        expected.append(f"IN_CREATE|IN_ISDIR {sub}")
        deadline = time.monotonic() + 10
        while seen() != expected:
            assert time.monotonic() < deadline, seen()
            time.sleep(0.005)
        (sub / "f").write_text("x")
        os.unlink(sub / "f")
        sub.rmdir()
        expected += [
            f"IN_CREATE {sub}/f",
            f"IN_MODIFY {sub}/f",
            f"IN_DELETE {sub}/f",
            f"IN_IGNORED {sub}",
            f"IN_DELETE|IN_ISDIR {sub}",
        ]
    return expected


MASK_14 = ours.IN_CREATE | ours.IN_DELETE | ours.IN_MODIFY


def test_threaded_notifier_started_before_any_watch(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The Watcher's threaded driver ends when no watch is left; the notifier
    starts it again when add_watch adds one. Its reader runs ahead of the
    handler, so the table must follow the processed events (issue 10 item 14)."""
    wm = ours.WatchManager()
    seen: list[str] = []
    notifier = ours.ThreadedNotifier(wm, lambda e: seen.append(f"{e.maskname} {e.pathname}"))
    notifier.start()
    try:
        for attempt in range(2):  # the second time after the only watch went
            root = tmp_path / f"w{attempt}"
            root.mkdir()
            wm.add_watch(str(root), MASK_14, rec=True, auto_add=True)
            expected = _burst_in_new_dirs(root, 10, lambda: list(seen))
            deadline = time.monotonic() + 10
            while len(seen) < len(expected):
                assert time.monotonic() < deadline, seen
                time.sleep(0.01)
            assert seen == expected
            seen.clear()
            wm.rm_watch(wm.get_wd(str(root)))
    finally:
        notifier.stop()
    assert not notifier.is_alive() and wm.get_fd() is None
    assert "Unable to retrieve" not in caplog.text


def test_asyncio_notifier_made_before_any_watch(tmp_path: Path) -> None:
    """Made before add_watch, it dispatches once per read and calls the
    callback once per read, as pyinotify's handle_read does."""
    loop = asyncio.new_event_loop()
    try:
        wm = ours.WatchManager()
        rec = Recorder()
        batches: list[int] = []
        notifier = ours.AsyncioNotifier(
            wm, loop, callback=lambda n: batches.append(len(rec.events)), default_proc_fun=rec
        )

        def shown() -> list[str]:
            return [f"{e.maskname} {e.pathname}" for e in rec.events]

        async def until(expected: list[str]) -> None:
            deadline = time.monotonic() + 10
            while shown() != expected:
                assert time.monotonic() < deadline, shown()
                await asyncio.sleep(0.005)

        async def scenario() -> None:
            await asyncio.sleep(0.05)  # the notifier's task waits for a watch
            wm.add_watch(str(tmp_path), MASK_14, rec=True, auto_add=True)
            expected: list[str] = []
            for i in range(5):  # as _burst_in_new_dirs, waiting without blocking the loop
                sub = tmp_path / f"sub{i}"
                sub.mkdir()
                expected.append(f"IN_CREATE|IN_ISDIR {sub}")
                await until(expected)
                (sub / "f").write_text("x")
                os.unlink(sub / "f")
                sub.rmdir()
                expected += [
                    f"IN_CREATE {sub}/f",
                    f"IN_MODIFY {sub}/f",
                    f"IN_DELETE {sub}/f",
                    f"IN_IGNORED {sub}",
                    f"IN_DELETE|IN_ISDIR {sub}",
                ]
                await until(expected)

        loop.run_until_complete(asyncio.wait_for(scenario(), 20))
        assert batches and batches[-1] == len(rec.events)
        assert len(batches) <= len(rec.events)
        notifier.stop()
        assert wm.get_fd() is None
    finally:
        loop.close()


def test_asyncio_notifier_stopped_by_its_callback(tmp_path: Path) -> None:
    """stop() from the callback, on the running loop: the task ends, nothing is
    left pending when the loop closes (an unraisable error would fail here)."""
    loop = asyncio.new_event_loop()
    try:
        wm = ours.WatchManager()
        wm.add_watch(str(tmp_path), ours.IN_CREATE)
        rec = Recorder()
        notifier = ours.AsyncioNotifier(wm, loop, callback=lambda n: n.stop(), default_proc_fun=rec)
        (tmp_path / "f").touch()

        async def until_stopped() -> None:
            while wm.get_fd() is not None:
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.05)

        loop.run_until_complete(asyncio.wait_for(until_stopped(), 10))
        assert [e.name for e in rec.events] == ["f"]
        assert notifier._task is None
        notifier.stop()  # again: nothing happens
    finally:
        loop.close()


def test_a_watch_is_forgotten_when_its_ignored_is_processed(tmp_path: Path) -> None:
    """Issue 10 item 14: reading IN_IGNORED does not change the table; processing
    it does (as pyinotify), so a handler of an earlier event still finds it."""
    wm = ours.WatchManager()
    rec = Recorder()
    notifier = ours.Notifier(wm, rec)
    try:
        wm.add_watch(str(tmp_path), MASK_14, rec=True, auto_add=True)
        sub = tmp_path / "sub"
        sub.mkdir()
        assert notifier.check_events(5000)
        notifier.read_events()
        notifier.process_events()
        wd = wm.get_wd(str(sub))
        assert wd is not None and wd in wm.watches  # joined when its CREATE was processed
        (sub / "f").write_text("x")
        os.unlink(sub / "f")
        sub.rmdir()
        deadline = time.monotonic() + 5
        while not any(e.mask & ours.IN_IGNORED for e in notifier._eventq):
            assert time.monotonic() < deadline
            if notifier.check_events(100):
                notifier.read_events()
        assert wm.get_wd(str(sub)) == wd and wm.get_watch(wd) is not None  # read, not processed
        notifier.process_events()
        assert wm.get_wd(str(sub)) is None and wd not in wm.watches
    finally:
        notifier.stop()
    assert [f"{e.maskname} {e.name}" for e in rec.events] == [
        "IN_CREATE|IN_ISDIR sub",
        "IN_CREATE f",
        "IN_MODIFY f",
        "IN_DELETE f",
        "IN_IGNORED ",
        "IN_DELETE|IN_ISDIR sub",
    ]
