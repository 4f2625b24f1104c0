"""The Notifier's dispatch (a method found once per mask per call, events of one
read handed on in one loop) against pyinotify 0.9.6, on the real kernel: which
method each event reaches, in which order, with which attributes; a handler
raising in the middle of a read; watches with their own handlers mixed with
the default one; a burst bigger than the Watcher's batches."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from compat_helpers import Recorder

from inwatch import pyinotify as ours
from inwatch.inotify import core

pyinotify = pytest.importorskip("pyinotify")


def _handler(mod: Any, log: list[tuple[Any, ...]], tag: str = "") -> Any:
    """Records (handler, method, maskname, pathname, dir, wd); raises on 'boom'."""

    class Handler(mod.ProcessEvent):  # type: ignore[misc, name-defined]
        def _note(self, how: str, event: Any) -> None:
            log.append((tag, how, event.maskname, event.pathname, event.dir, event.wd))

        def process_IN_CREATE(self, event: Any) -> None:
            self._note("create", event)
            if event.name == "boom":
                raise RuntimeError("boom")

        def process_IN_CLOSE(self, event: Any) -> None:
            self._note("close", event)

        def process_IN_ATTRIB(self, event: Any) -> None:
            self._note("attrib", event)

        def process_default(self, event: Any) -> None:
            self._note("default", event)

    return Handler()


def _run(mod: Any, tmp: Path, steps: Any, own: bool = False) -> list[tuple[Any, ...]]:
    """Set up, run *steps* with nothing reading, then one check/read/process."""
    root = tmp / mod.__name__
    (root / "sub").mkdir(parents=True)
    log: list[tuple[Any, ...]] = []
    wm = mod.WatchManager()
    notifier = mod.Notifier(wm, _handler(mod, log))
    try:
        wm.add_watch(str(root), mod.ALL_EVENTS)
        if own:  # a watch with its own handler, its events mixed with the default's
            wm.add_watch(str(root / "sub"), mod.ALL_EVENTS, proc_fun=_handler(mod, log, "own"))
        steps(root)
        for _ in range(20):  # what is left after a handler raised is processed next
            if not notifier.check_events(200):
                break
            notifier.read_events()
            try:
                notifier.process_events()
            except RuntimeError:
                log.append(("raised",))
                notifier.process_events()
    finally:
        notifier.stop()
    base = str(root)
    return [tuple(v.replace(base, "ROOT") if isinstance(v, str) else v for v in e) for e in log]


def _mixed(root: Path) -> None:
    for name in ("a", "b"):
        (root / name).write_text("x")  # CREATE, OPEN, MODIFY, CLOSE_WRITE
        os.utime(root / name)  # ATTRIB
        (root / name).read_text()  # OPEN, ACCESS, CLOSE_NOWRITE
    (root / "d").mkdir()  # CREATE|ISDIR
    (root / "sub" / "f").touch()
    os.utime(root / "sub")  # ATTRIB|ISDIR on the root, and on sub's own watch
    (root / "a").unlink()
    (root / "d").rmdir()


def test_methods_order_and_attributes_match(tmp_path: Path) -> None:
    theirs = _run(pyinotify, tmp_path, _mixed)
    mine = _run(ours, tmp_path, _mixed)
    assert mine == theirs
    hows = {e[1] for e in mine}
    assert hows == {"create", "close", "attrib", "default"}  # every route was taken
    assert ("", "create", "IN_CREATE|IN_ISDIR", "ROOT/d", True, 1) in mine


def test_watch_with_its_own_handler_mixed_with_the_default(tmp_path: Path) -> None:
    theirs = _run(pyinotify, tmp_path, _mixed, own=True)
    mine = _run(ours, tmp_path, _mixed, own=True)
    assert mine == theirs
    assert {e[0] for e in mine} == {"", "own"}


def test_handler_raising_leaves_the_rest_queued_in_order(tmp_path: Path) -> None:
    def steps(root: Path) -> None:
        for name in ("x", "boom", "y", "z"):
            (root / name).touch()

    theirs = _run(pyinotify, tmp_path, steps)
    mine = _run(ours, tmp_path, steps)
    assert mine == theirs
    names = [e[3].rsplit("/", 1)[-1] if len(e) > 1 else "!" for e in mine]
    # boom's CREATE raised; its other events, and y's and z's, came after.
    cut = names.index("!")
    per_file = names.count("x")
    assert per_file >= 2 and names[:cut] == ["x"] * per_file + ["boom"]
    assert names[cut + 1 :] == ["boom"] * (per_file - 1) + ["y"] * per_file + ["z"] * per_file


def test_burst_of_several_batches_read_twice_before_processing(tmp_path: Path) -> None:
    """read_events takes the Watcher's batches one at a time: a second
    read_events before process_events, and check_events in between, neither
    lose nor reorder anything, and the burst is never held all at once."""
    n = core.BATCH * 3 + 5
    seen: list[str] = []

    class Count(ours.ProcessEvent):
        def process_IN_CREATE(self, event: Any) -> None:
            seen.append(event.name)

    wm = ours.WatchManager()
    notifier = ours.Notifier(wm, Count())
    try:
        wm.add_watch(str(tmp_path), ours.IN_CREATE)
        for i in range(n):
            os.mknod(tmp_path / f"f{i:05d}")
        assert notifier.check_events(5000)
        notifier.read_events()
        assert 0 < len(notifier._eventq) <= core.BATCH  # one batch, the rest buffered
        assert notifier.check_events(0)  # buffered events count as ready
        notifier.read_events()
        assert len(notifier._eventq) <= 2 * core.BATCH
        notifier.process_events()
        assert not notifier.check_events(0)
    finally:
        notifier.stop()
    assert seen == [f"f{i:05d}" for i in range(n)]


def test_check_events_without_a_watch_waits_its_timeout(tmp_path: Path) -> None:
    """No watch to wait on: it polls the fd as pyinotify did (it neither spins
    nor returns early), and then sees a watch added later."""
    wm = ours.WatchManager()
    notifier = ours.Notifier(wm, Recorder())
    try:
        t0 = time.monotonic()
        assert not notifier.check_events(100)
        assert time.monotonic() - t0 >= 0.09
        wm.add_watch(str(tmp_path), ours.IN_CREATE)
        (tmp_path / "f").touch()
        assert notifier.check_events(5000)
        notifier.read_events()
        notifier.process_events()
    finally:
        notifier.stop()
    assert [e.name for e in notifier._default_proc_fun.events] == ["f"]


def test_stop_from_another_thread_ends_a_waiting_check_events(tmp_path: Path) -> None:
    wm = ours.WatchManager()
    notifier = ours.Notifier(wm, Recorder())
    wm.add_watch(str(tmp_path), ours.IN_CREATE)
    timer = threading.Timer(0.1, notifier.stop)
    timer.start()
    try:
        t0 = time.monotonic()
        assert not notifier.check_events(10_000)
        assert time.monotonic() - t0 < 5  # woken by the stop, not by the timeout
    finally:
        timer.join(5)
        notifier.stop()
    assert wm.get_fd() is None


@pytest.mark.parametrize("mod", [pyinotify, ours], ids=["pyinotify", "ours"])
def test_check_events_then_read_events_split_by_other_calls(mod: Any, tmp_path: Path) -> None:
    """check_events(0) polls; True twice in a row before read_events; what it
    saw is what read_events takes, and nothing comes twice. (pyinotify's
    read_events blocks when nothing is queued: it is called only after True.)"""
    rec = Recorder()
    wm = mod.WatchManager()
    notifier = mod.Notifier(wm, rec)
    try:
        wm.add_watch(str(tmp_path), mod.IN_CREATE)
        assert not notifier.check_events(0)
        (tmp_path / "a").touch()
        assert notifier.check_events(5000)
        assert notifier.check_events(0)
        notifier.read_events()
        notifier.process_events()
        (tmp_path / "b").touch()
        assert notifier.check_events(5000)
        notifier.read_events()
        assert not notifier.check_events(0)  # read: nothing left, nothing twice
        notifier.process_events()
        assert not notifier.check_events(50)
    finally:
        notifier.stop()
    assert [e.name for e in rec.events] == ["a", "b"]


@pytest.mark.parametrize("mod", [pyinotify, ours], ids=["pyinotify", "ours"])
def test_pathname_absolute_under_relative_and_absolute_roots(
    mod: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A root added with a relative path gives absolute pathnames (its path
    stays as given); a root added with an absolute one, in the same manager,
    gives its pathnames as they are."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "rel" / "sub").mkdir(parents=True)
    (tmp_path / "abs").mkdir()
    rec = Recorder()
    wm = mod.WatchManager()
    notifier = mod.Notifier(wm, rec)
    try:
        wm.add_watch(str(tmp_path / "abs"), mod.IN_CREATE)
        wm.add_watch("rel", mod.IN_CREATE, rec=True)
        (tmp_path / "abs" / "a").touch()
        (tmp_path / "rel" / "sub" / "b").touch()
        (tmp_path / "abs" / "c").touch()
        assert notifier.check_events(5000)
        notifier.read_events()
        notifier.process_events()
    finally:
        notifier.stop()
    seen = [(e.path, e.pathname) for e in rec.events]
    assert seen == [
        (str(tmp_path / "abs"), str(tmp_path / "abs" / "a")),
        ("rel/sub", str(tmp_path / "rel" / "sub" / "b")),
        (str(tmp_path / "abs"), str(tmp_path / "abs" / "c")),
    ]
    assert all(type(e).__name__ == "Event" for e in rec.events)


def _one_event_per_call(mod: Any, tmp: Path, handler: Any, between: Any) -> list[str]:
    """Three IN_MODIFYs on a watched file, each in its own check/read/process
    (the latency path); *between(i)* runs after the i-th. What each reached,
    as (who, name)."""
    root = tmp / mod.__name__
    root.mkdir()
    (root / "f").touch()
    wm = mod.WatchManager()
    notifier = mod.Notifier(wm, handler)
    try:
        wm.add_watch(str(root), mod.IN_MODIFY)
        for i in range(3):
            with open(root / "f", "a") as f:
                f.write("x")
            assert notifier.check_events(2000)
            notifier.read_events()
            notifier.process_events()
            between(i, wm, str(root))
    finally:
        notifier.stop()
    return list(handler.seen)


def test_a_function_handler_is_called_for_every_event_across_calls(tmp_path: Path) -> None:
    # With a function as the default handler, the Notifier keeps its targets
    # from one process_events to the next. A watch given its own handler
    # later, or the ignore flag, must still win over what was kept.
    def run(mod: Any) -> list[str]:
        seen: list[str] = []

        def default(event: Any) -> None:
            seen.append(f"default {event.maskname} {event.name}")

        def own(event: Any) -> None:
            seen.append(f"own {event.maskname} {event.name}")

        def between(i: int, wm: Any, root: str) -> None:
            if i == 0:
                wd = wm.get_wd(root)
                wm.update_watch(wd, proc_fun=own)

        default.seen = seen  # type: ignore[attr-defined]
        return _one_event_per_call(mod, tmp_path, default, between)

    mine, theirs = run(ours), run(pyinotify)
    assert mine == theirs == ["default IN_MODIFY f", "own IN_MODIFY f", "own IN_MODIFY f"]


def test_a_processevent_method_changed_between_calls_is_used(tmp_path: Path) -> None:
    # A ProcessEvent's process_* methods are looked up once per call, not
    # kept across calls: a method set on the handler between two calls
    # takes the next event, as in pyinotify (which looks up per event).
    def run(mod: Any) -> list[str]:
        class Handler(mod.ProcessEvent):  # type: ignore[misc, name-defined]
            seen: list[str]

            def process_default(self, event: Any) -> None:
                self.seen.append(f"default {event.maskname}")

        handler = Handler()
        handler.seen = []

        def between(i: int, wm: Any, root: str) -> None:
            if i == 0:
                handler.process_IN_MODIFY = lambda e: handler.seen.append(f"set {e.maskname}")

        return _one_event_per_call(mod, tmp_path, handler, between)

    mine, theirs = run(ours), run(pyinotify)
    assert mine == theirs == ["default IN_MODIFY", "set IN_MODIFY", "set IN_MODIFY"]
