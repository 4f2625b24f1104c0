"""pyinotify's walk shown to a blocking Notifier without the kernel queue
(src/inwatch/pyinotify/listing.py): every listing event of a tree too big for
the kernel queue, in os.walk order, at its place in the stream; the kernel
route kept for the notifiers that wake on the fd."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

from compat_helpers import Recorder, drain

from inwatch import pyinotify
from inwatch.pyinotify import listing

LISTING = ("IN_OPEN|IN_ISDIR", "IN_ACCESS|IN_ISDIR", "IN_CLOSE_NOWRITE|IN_ISDIR")


def _queue_limit() -> int:
    with open("/proc/sys/fs/inotify/max_queued_events") as f:  # read only
        return int(f.read())


def _make_tree(root: Path, ndirs: int, fanout: int = 10) -> None:
    level, made = [root], 0
    while made < ndirs:
        nxt = []
        for parent in level:
            for i in range(fanout):
                if made >= ndirs:
                    break
                (parent / f"d{i}").mkdir()
                nxt.append(parent / f"d{i}")
                made += 1
        level = nxt


def _walk_listing(top: Path) -> list[tuple[str, str]]:
    """What pyinotify's os.walk makes the kernel report, in its order."""
    out = []
    for path, _dirs, _files in os.walk(top):
        if path != str(top):
            out += [(m, path) for m in LISTING]
    return out


def test_listing_bigger_than_the_kernel_queue(tmp_path: Path) -> None:
    """3 events a directory, more than max_queued_events in all: every one
    delivered once, in walk order; what the kernel queued before the walk
    comes first, what happened after it last; no overflow."""
    ndirs = min(_queue_limit() // 3 + 500, 20_000)
    tree, other = tmp_path / "tree", tmp_path / "other"
    tree.mkdir()
    other.mkdir()
    _make_tree(tree, ndirs)
    wm = pyinotify.WatchManager()
    rec = Recorder()
    notifier = pyinotify.Notifier(wm, rec)
    try:
        wm.add_watch(str(other), pyinotify.IN_CREATE)
        (other / "before").touch()  # queued in the kernel, not read yet
        ret = wm.add_watch(str(tree), pyinotify.ALL_EVENTS, rec=True)
        (tree / "after").touch()
        drain(notifier)
    finally:
        notifier.stop()
    seen = [(e.maskname, e.pathname) for e in rec.events]
    expected = [("IN_CREATE", str(other / "before"))]
    expected += _walk_listing(tree)
    expected += [(m, str(tree / "after")) for m in ("IN_CREATE", "IN_OPEN", "IN_CLOSE_WRITE")]
    assert len(seen) == len(expected) and seen == expected
    # The return value is in os.walk's order too, as pyinotify's.
    assert list(ret) == [p for p, _d, _f in os.walk(tree)]
    # The listing events carry the parent's wd and the subdirectory's name.
    first = rec.events[1]
    assert first.wd == ret[str(tree)] and first.path == str(tree) and first.dir
    assert first.name == os.path.basename(first.pathname)


def test_listing_bytes_and_narrow_mask(tmp_path: Path) -> None:
    """A bytes root: bytes paths; a mask with IN_OPEN only: OPEN alone."""
    _make_tree(tmp_path, 30, fanout=3)
    wm = pyinotify.WatchManager()
    rec = Recorder()
    notifier = pyinotify.Notifier(wm, rec)
    try:
        wm.add_watch(os.fsencode(tmp_path), pyinotify.IN_OPEN, rec=True)
        drain(notifier)
    finally:
        notifier.stop()
    expected = [(LISTING[0], os.fsencode(p)) for m, p in _walk_listing(tmp_path) if m == LISTING[0]]
    assert [(e.maskname, e.pathname) for e in rec.events] == expected


def test_threaded_notifier_keeps_the_kernel_route(tmp_path: Path) -> None:
    """A ThreadedNotifier wakes on the kernel's fd only: the listing events
    come from the kernel (the Watcher's listing_events), all of them, in order."""
    _make_tree(tmp_path, 40, fanout=4)
    expected = _walk_listing(tmp_path)
    wm = pyinotify.WatchManager()
    seen: list[tuple[str, str]] = []
    done = threading.Event()

    def handler(ev: Any) -> None:
        seen.append((ev.maskname, ev.pathname))
        if len(seen) >= len(expected):
            done.set()

    notifier = pyinotify.ThreadedNotifier(wm, handler)
    notifier.start()
    try:
        wm.add_watch(str(tmp_path), pyinotify.ALL_EVENTS, rec=True)
        assert not wm._feeds  # nothing made by the layer itself
        assert done.wait(10), seen
        deadline = time.monotonic() + 0.2  # and nothing more comes
        while time.monotonic() < deadline and len(seen) == len(expected):
            time.sleep(0.01)
    finally:
        notifier.stop()
    assert seen == expected


def test_preorder_and_events_pure() -> None:
    """The walk order and the events, on a table given by hand."""
    kids = {1: [2, 5], 2: [3, 4], 5: [6]}
    order = listing.preorder(lambda wd: kids.get(wd, []), 1)
    assert list(order) == [2, 3, 4, 5, 6]
    paths = {2: "/r/a", 3: "/r/a/x", 4: "/r/a/y", 5: "/r/b", 6: "/r/b/z"}
    walked = [(paths[wd], wd) for wd in order]
    made = list(listing.events("/r", 1, walked, pyinotify.IN_OPEN | pyinotify.IN_ACCESS))
    assert [(e.wd, e.mask, e.name, e.path, e.pathname) for e in made] == [
        (wd, m | pyinotify.IN_ISDIR, paths[kid].rsplit("/", 1)[1], parent, paths[kid])
        for kid, wd, parent in [
            (2, 1, "/r"),
            (3, 2, "/r/a"),
            (4, 2, "/r/a"),
            (5, 1, "/r"),
            (6, 5, "/r/b"),
        ]
        for m in (pyinotify.IN_OPEN, pyinotify.IN_ACCESS)
    ]
    assert list(listing.events("/r", 1, walked, pyinotify.IN_CREATE)) == []


def test_add_watch_while_another_thread_waits_in_check_events(tmp_path: Path) -> None:
    """The Watcher's read is busy in another thread (a Notifier waiting in
    check_events): nothing can be read ahead of the walk, so the kernel
    reports the listing itself; every event still comes, in order: the reader
    does not process the new watches' events before add_watch has put every
    Watch in the table (it dropped them as unknown wds before the lock)."""
    tree, other = tmp_path / "tree", tmp_path / "other"
    tree.mkdir()
    other.mkdir()
    _make_tree(tree, 300)
    expected = _walk_listing(tree)
    wm = pyinotify.WatchManager()
    rec = Recorder()
    notifier = pyinotify.Notifier(wm, rec)
    wm.add_watch(str(other), pyinotify.IN_CREATE)
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            if notifier.check_events(50):
                notifier.read_events()
                notifier.process_events()

    reader = threading.Thread(target=loop)
    reader.start()
    try:
        deadline = time.monotonic() + 5
        while not wm._watcher._read_lock.locked():  # the reader waits in Watcher.read
            assert time.monotonic() < deadline
            time.sleep(0.001)
        wm.add_watch(str(tree), pyinotify.ALL_EVENTS, rec=True)
        deadline = time.monotonic() + 10
        while len(rec.events) < len(expected):
            assert time.monotonic() < deadline, (len(rec.events), len(expected))
            time.sleep(0.01)
    finally:
        stop.set()
        reader.join(10)
        notifier.stop()
    assert [(e.maskname, e.pathname) for e in rec.events] == expected
