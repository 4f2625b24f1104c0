"""Unmounts, non-UTF-8 names, symlinks, excludes, the mask filter and stopping:
the contract, run against every driver."""

from __future__ import annotations

import os
import subprocess
import threading
from pathlib import Path

import pytest
from contract_harness import HarnessFactory as MakeHarness
from contract_harness import describe, pathnames, touch

from inwatch import Mask
from inwatch.errors import WatcherStoppedError

CREATE = int(Mask.CREATE)
IGNORED = int(Mask.IGNORED)
UNMOUNT = int(Mask.UNMOUNT)
MOVED_TO = int(Mask.MOVED_TO)
j = os.path.join


def _umount(path: str) -> None:
    subprocess.run(["umount", path], check=True, capture_output=True, timeout=30)


@pytest.mark.needs("mounts")
def test_unmount_reports_unmount_then_ignored(harness: MakeHarness, tmpfs: Path) -> None:
    """A tmpfs (the ``tmpfs`` fixture of tests/conftest.py, always unmounted)
    watched recursively, then unmounted: UNMOUNT then IGNORED for each watch."""
    mnt = str(tmpfs)
    os.mkdir(j(mnt, "sub"))
    h = harness()
    root_wd = h.w.add(mnt, recursive=True)
    sub_wd = next(wd for wd, p in h.w.watches.items() if p == j(mnt, "sub"))
    h.settle(mnt)
    _umount(mnt)
    events = h.collect_until(
        lambda evs: {root_wd, sub_wd} <= {e.wd for e in evs if e.mask & IGNORED}
    )
    for wd in (root_wd, sub_wd):
        own = [e.mask & ~int(Mask.ISDIR) for e in events if e.wd == wd]
        assert own == [UNMOUNT, IGNORED], describe(events)
    assert not h.w.watches
    assert h.wait_ended(), "iteration did not end when the last watch went away"


BAD = [b"caf\xe9", b"\xff\xfe", b"\x80x"]


@pytest.mark.parametrize("as_bytes", [True, False], ids=["bytes-root", "str-root"])
def test_non_utf8_names(harness: MakeHarness, scratch: str, as_bytes: bool) -> None:
    """bytes root -> bytes name/path/pathname/src_pathname; str root -> str with
    surrogateescape that os.fsencode turns back into the original bytes."""
    broot = os.fsencode(scratch) + b"/r\xe9"
    os.makedirs(broot + b"/pre\xff")
    root: str | bytes = broot if as_bytes else os.fsdecode(broot)
    kind = bytes if as_bytes else str
    h = harness()
    h.w.add(root, recursive=True)
    h.settle(root)
    touch(broot + b"/" + BAD[0])
    os.mkdir(broot + b"/d" + BAD[1])
    touch(broot + b"/d" + BAD[1] + b"/" + BAD[2])
    touch(broot + b"/pre\xff/" + BAD[1])
    os.rename(broot + b"/" + BAD[0], broot + b"/moved" + BAD[1])
    want = {
        broot + b"/" + BAD[0],
        broot + b"/d" + BAD[1],
        broot + b"/d" + BAD[1] + b"/" + BAD[2],
        broot + b"/pre\xff/" + BAD[1],
    }
    events = h.collect_until(
        lambda evs: want <= {os.fsencode(e.pathname) for e in evs if e.mask & CREATE}
    )
    events = h.sync(root)
    for e in events:
        assert type(e.name) is kind and type(e.path) is kind and type(e.pathname) is kind, e
        if e.name:
            assert os.fsencode(e.pathname) == os.fsencode(e.path) + b"/" + os.fsencode(e.name)
        else:
            assert e.pathname == e.path
    created = [os.fsencode(e.pathname) for e in events if e.mask & CREATE]
    assert sorted(created) == sorted(want), describe(events)
    (moved,) = [e for e in events if e.mask & MOVED_TO]
    assert os.fsencode(moved.pathname) == broot + b"/moved" + BAD[1]
    assert type(moved.src_pathname) is kind
    assert os.fsencode(moved.src_pathname) == broot + b"/" + BAD[0]
    if not h.lacks("watch_table"):
        watched = {os.fsencode(p) for p in h.w.watches.values()}
        assert watched == {broot, broot + b"/pre\xff", broot + b"/d" + BAD[1]}


def _loop_tree(scratch: str) -> tuple[str, str]:
    root, outside = j(scratch, "root"), j(scratch, "outside")
    os.makedirs(j(root, "a", "b"))
    os.makedirs(j(outside, "sub"))
    os.symlink("../..", j(root, "a", "b", "up"))  # -> root
    os.symlink(".", j(root, "a", "self"))  # -> a
    os.symlink("loop2", j(root, "loop1"))  # a dangling loop (ELOOP)
    os.symlink("loop1", j(root, "loop2"))
    os.symlink("../outside", j(root, "ext"))  # a directory outside the tree
    return root, outside


@pytest.mark.needs("follow_links_inside")
def test_symlink_loops_followed(harness: MakeHarness, scratch: str) -> None:
    root, outside = _loop_tree(scratch)
    h = harness()
    h.w.add(root, recursive=True, follow_symlinks=True)
    watched = list(h.w.watches.values())
    inodes = [(os.stat(p).st_dev, os.stat(p).st_ino) for p in watched]
    assert len(set(inodes)) == len(inodes), f"a directory watched twice: {watched}"
    real = [root, j(root, "a"), j(root, "a", "b"), outside, j(outside, "sub")]
    assert set(inodes) == {(os.stat(p).st_dev, os.stat(p).st_ino) for p in real}
    h.settle(root)
    touch(j(outside, "sub", "x"))  # reported through the followed link
    events = h.sync(root)
    assert pathnames(events, CREATE) == [j(root, "ext", "sub", "x")], describe(events)


def test_symlinks_not_followed(harness: MakeHarness, scratch: str) -> None:
    root, outside = _loop_tree(scratch)
    h = harness()
    h.w.add(root, recursive=True)
    table = not h.lacks("watch_table")
    assert not table or sorted(h.w.watches.values()) == sorted(
        [root, j(root, "a"), j(root, "a", "b")]
    )
    h.settle(root)
    touch(j(outside, "sub", "x"))
    os.symlink(outside, j(root, "a", "ext2"))  # a new link: reported, not followed
    events = h.sync(root)
    assert pathnames(events, CREATE) == [j(root, "a", "ext2")], describe(events)
    assert not events[0].is_dir
    assert not table or sorted(h.w.watches.values()) == sorted(
        [root, j(root, "a"), j(root, "a", "b")]
    )


def test_excludes_cost_no_watch_and_produce_no_event(harness: MakeHarness, scratch: str) -> None:
    root, root2 = j(scratch, "root"), j(scratch, "root2")
    for d in ("keep", "skip/inner", "a/build/x", "a/src"):
        os.makedirs(j(root, d))
    for d in ("cbdir/inner", "ok"):
        os.makedirs(j(root2, d))
    h = harness()
    h.w.add(root, recursive=True, exclude=["*.tmp", "skip", "a/build"])
    h.w.add(root2, recursive=True, exclude=lambda p: os.path.basename(p).startswith("cb"))
    expected = {root, j(root, "keep"), j(root, "a"), j(root, "a", "src"), root2, j(root2, "ok")}
    table = not h.lacks("watch_table")
    assert not table or set(h.w.watches.values()) == expected
    h.settle(root)
    h.settle(root2)
    # Excluded: by name glob, by relative-path glob, by the callable.
    touch(j(root, "keep", "junk.tmp"))
    touch(j(root, "skip", "f"))
    touch(j(root, "skip", "inner", "f"))
    touch(j(root, "a", "build", "f"))
    os.mkdir(j(root, "keep", "skip"))  # a new directory matching a name glob
    touch(j(root, "keep", "skip", "f"))
    os.mkdir(j(root2, "cbnew"))
    touch(j(root2, "cbnew", "f"))
    touch(j(root2, "ok", "cbfile"))
    # Not excluded.
    touch(j(root, "keep", "new.txt"))
    os.mkdir(j(root, "a", "build2"))
    touch(j(root, "a", "build2", "f"))
    touch(j(root2, "ok", "plain"))
    h.sync(root)
    events = h.sync(root2)
    reported = set(pathnames(events))
    assert reported == {
        j(root, "keep", "new.txt"),
        j(root, "a", "build2"),
        j(root, "a", "build2", "f"),
        j(root2, "ok", "plain"),
    }, describe(events)
    assert not table or set(h.w.watches.values()) == expected | {j(root, "a", "build2")}


def test_mask_filter_still_watches_new_directories(harness: MakeHarness, scratch: str) -> None:
    h = harness()
    h.w.add(scratch, mask=Mask.CLOSE_WRITE, recursive=True)
    h.start()
    os.mkdir(j(scratch, "new"))
    h.sync(scratch)  # the sentinel's CLOSE_WRITE comes after the mkdir's CREATE
    table = not h.lacks("watch_table")
    assert not table or j(scratch, "new") in h.w.watches.values()
    with open(j(scratch, "new", "f"), "w") as f:
        f.write("x")
    os.rename(j(scratch, "new", "f"), j(scratch, "new", "g"))
    os.mkdir(j(scratch, "new", "deeper"))
    events = h.sync(j(scratch, "new"))
    assert [e.mask for e in events] == [int(Mask.CLOSE_WRITE)], describe(events)
    assert events[0].pathname == j(scratch, "new", "f")
    assert not table or j(scratch, "new", "deeper") in h.w.watches.values()


def test_stop_ends_delivery_and_leaves_no_thread(harness: MakeHarness, scratch: str) -> None:
    h = harness()
    h.w.add(scratch, recursive=True)
    h.sync(scratch)
    if h.kind == "blocking":
        timer = threading.Timer(0.05, h.w.stop)
        timer.start()
        try:
            assert h.w.read() == []  # blocked until stop() from another thread
        finally:
            timer.join()
        # Iterating a stopped Watcher is refused, not silently empty ...
        with pytest.raises(WatcherStoppedError, match="resume"):
            list(h.w)
        h.w.resume()  # ... until resume(): then it reads again.
        h.sync(scratch)
    else:
        h.w.stop()
        if h.kind == "threaded":
            h.w.join(10)
        assert h.wait_ended(), "the driver did not stop"
    leftover = [t.name for t in threading.enumerate() if t.name.startswith(("inwatch", "contract"))]
    assert not leftover
    h.w.close()
    assert h.w.closed


def test_selectors_through_fileno(backend: str, scratch: str) -> None:
    import selectors

    from inwatch import Watcher

    with Watcher(backend=backend) as w, selectors.DefaultSelector() as sel:
        w.add(scratch, recursive=True)
        sel.register(w, selectors.EVENT_READ)
        while sel.select(0):  # add()'s own directory reads are reported too
            w.read(0)
        os.mkdir(j(scratch, "d"))
        touch(j(scratch, "d", "f"))
        got: list[str] = []
        while j(scratch, "d", "f") not in got:
            ready = sel.select(5)
            assert ready and ready[0][0].fileobj is w
            got += pathnames(w.read(0), CREATE)
        assert got.count(j(scratch, "d", "f")) == 1
        sel.unregister(w)


def test_symlink_loop_moved_in_at_run_time(harness: MakeHarness, scratch: str) -> None:
    """With follow_symlinks, a directory holding a loop (self -> .) that appears
    after add() is reported entry by entry, once, not followed round the loop."""
    root, outside = j(scratch, "root"), j(scratch, "outside")
    os.mkdir(root)
    os.makedirs(j(outside, "x"))
    os.symlink(".", j(outside, "x", "self"))
    touch(j(outside, "x", "f"))
    h = harness()
    h.w.add(root, recursive=True, follow_symlinks=True)
    h.settle(root)
    os.rename(j(outside, "x"), j(root, "x"))
    events = h.sync(root)
    created = pathnames(events, CREATE)
    assert sorted(created) == sorted([j(root, "x", "self"), j(root, "x", "f")]), describe(events)
    if not h.lacks("watch_table"):
        assert sorted(h.w.watches.values()) == sorted([root, j(root, "x")])


@pytest.mark.needs("per_watch")
def test_remove_drops_the_subtree(harness: MakeHarness, scratch: str) -> None:
    root = j(scratch, "root")
    os.makedirs(j(root, "sub", "deeper"))
    os.makedirs(j(root, "other"))
    h = harness()
    h.w.add(root, recursive=True)
    h.settle(root)
    h.w.remove(j(root, "sub"))
    assert sorted(h.w.watches.values()) == sorted([root, j(root, "other")])
    touch(j(root, "sub", "f"))
    touch(j(root, "sub", "deeper", "f"))
    events = h.sync(root)
    assert not [e for e in events if e.wd > 0 and e.path.startswith(j(root, "sub"))], describe(
        events
    )
    with pytest.raises(KeyError):
        h.w.remove(j(root, "sub"))


def test_removing_the_last_watch_ends_the_driver(harness: MakeHarness, scratch: str) -> None:
    """remove() from another thread while the driver waits: no watch is left,
    so iteration ends (blocking: a thread doing ``for ev in w``)."""
    h = harness()
    h.w.add(scratch, recursive=True)
    h.settle(scratch)
    iterating = threading.Event()
    if h.kind == "blocking":

        def iterate() -> None:
            iterating.set()
            for _ in h.w:
                pass

        it = threading.Thread(target=iterate, name="contract-iterate")
        it.start()
        iterating.wait(10)
    try:
        h.w.remove(scratch)
        assert not h.w.watches
        if h.kind == "blocking":
            it.join(3)
            assert not it.is_alive(), "for ev in w kept waiting with no watch left"
        else:
            assert h.wait_ended(3), "the driver kept waiting with no watch left"
    finally:
        if h.kind == "blocking":
            h.w.stop()
            it.join(10)


def test_renames_across_an_exclusion(harness: MakeHarness, scratch: str) -> None:
    """A directory renamed from an excluded name to a watched one is watched and
    its contents reported; renamed to an excluded name, it is forgotten."""
    root = j(scratch, "root")
    os.makedirs(j(root, "cache", "inner"))
    touch(j(root, "cache", "inner", "f"))
    os.makedirs(j(root, "live", "deep"))
    h = harness()
    h.w.add(root, recursive=True, exclude=["cache*"])
    table = not h.lacks("watch_table")
    assert not table or sorted(h.w.watches.values()) == sorted(
        [root, j(root, "live"), j(root, "live", "deep")]
    )
    h.settle(root)
    os.rename(j(root, "cache"), j(root, "data"))
    os.rename(j(root, "live"), j(root, "cache2"))
    h.collect_until(lambda evs: j(root, "data", "inner", "f") in pathnames(evs, CREATE))
    touch(j(root, "cache2", "deep", "ignored"))
    touch(j(root, "data", "inner", "g"))
    events = h.sync(root)
    assert not table or sorted(h.w.watches.values()) == sorted(
        [root, j(root, "data"), j(root, "data", "inner")]
    )
    assert not [e for e in events if "cache" in os.path.basename(e.path)], describe(events)
    created = pathnames(events, CREATE)
    for p in ("data/inner", "data/inner/f", "data/inner/g"):
        assert created.count(j(root, p)) == 1, (p, describe(events))


def test_non_recursive_directory_watch(harness: MakeHarness, scratch: str) -> None:
    os.mkdir(j(scratch, "old"))
    h = harness()
    h.w.add(scratch)
    assert list(h.w.watches.values()) == [scratch]
    h.settle(scratch)
    os.mkdir(j(scratch, "new"))
    touch(j(scratch, "new", "f"))
    touch(j(scratch, "old", "f"))
    events = h.sync(scratch)
    assert pathnames(events, CREATE) == [j(scratch, "new")], describe(events)
    assert not [e for e in events if e.synthetic]
    assert list(h.w.watches.values()) == [scratch]


def test_watching_a_file(harness: MakeHarness, scratch: str) -> None:
    path = j(scratch, "file")
    touch(path)
    h = harness()
    wd = h.w.add(path)
    h.start()
    with open(path, "a") as f:
        f.write("x")
    h.collect_until(lambda evs: any(e.mask & Mask.CLOSE_WRITE for e in evs))
    os.unlink(path)
    events = h.collect_until(lambda evs: any(e.mask & IGNORED for e in evs))
    for e in events:
        assert e.wd == wd and e.name == "" and e.path == path and e.pathname == path, e
    masks = [e.mask for e in events]
    assert masks.index(int(Mask.MODIFY)) < masks.index(int(Mask.CLOSE_WRITE))
    assert masks[-3:] == [int(Mask.ATTRIB), int(Mask.DELETE_SELF), IGNORED], describe(events)
    assert h.wait_ended()


def test_nested_roots_keep_their_own_options(
    harness: MakeHarness, scratch: str, request: pytest.FixtureRequest
) -> None:
    if harness.backend == "inotify":
        request.applymarker(
            pytest.mark.xfail(
                strict=True,
                reason="one _Root per wd: a second add() of a directory already inside a "
                "watched tree takes its watches over (the outer tree's events there are "
                "filtered by the inner root's mask), and remove() of the inner root unwatches "
                "them for the outer tree",
            )
        )
    root, sub = j(scratch, "root"), j(scratch, "root", "sub")
    os.makedirs(j(sub, "deep"))
    h = harness()
    h.w.add(root, recursive=True)
    h.w.add(sub, mask=Mask.CLOSE_WRITE, recursive=True)
    h.settle(root)
    touch(j(sub, "f"))
    events = h.sync(root)
    assert pathnames(events, CREATE) == [j(sub, "f")], describe(events)  # for the outer root
    h.w.remove(sub)
    if h.lacks("watch_table"):  # the outer tree still reports what happens in sub
        touch(j(sub, "deep", "g"))
        assert pathnames(h.sync(root), CREATE) == [j(sub, "f"), j(sub, "deep", "g")]
    else:
        assert sorted(h.w.watches.values()) == sorted([root, sub, j(sub, "deep")])
