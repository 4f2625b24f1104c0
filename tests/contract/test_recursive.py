"""Recursive watching, moves and overflow: the contract, run against every driver."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections import Counter

import pytest
from contract_harness import HarnessFactory as MakeHarness
from contract_harness import describe, pathnames, touch

from inwatch import Mask

CREATE = int(Mask.CREATE)
DELETE = int(Mask.DELETE)
MODIFY = int(Mask.MODIFY)
MOVED_FROM = int(Mask.MOVED_FROM)
MOVED_TO = int(Mask.MOVED_TO)
ISDIR = int(Mask.ISDIR)
Q_OVERFLOW = int(Mask.Q_OVERFLOW)

j = os.path.join


def _once(events: list, mask: int) -> Counter[str]:
    return Counter(pathnames(events, mask))


# The storm runs in another process, so that it really runs in parallel with
# the driver (no GIL between them). After each mkdir it makes its files with
# busy-waits of a few to a few hundred microseconds (varied by a fixed seed), so
# that files land on both sides of the moment the new directory's watch is
# added: some are reported by the kernel only, some by the scan only, and some
# by both (that duplicate must be dropped). "dense" makes 8 files per level to
# hit the narrow window between the watch and the listing more often.
STORM = r"""
import os, random, sys, time
top, rounds, per_level = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = random.Random(3)
gaps = [0, 0, 20, 50, 100, 200, 400] if per_level == 1 else [5, 10, 15, 20]
for i in range(rounds):
    d = top
    for level in "abcde":
        d = os.path.join(d, f"{level}{i}")
        os.mkdir(d)
        for k in range(per_level):
            end = time.perf_counter() + rng.choice(gaps) / 1e6
            while time.perf_counter() < end:
                pass
            os.close(os.open(os.path.join(d, f"f{k}"), os.O_CREAT | os.O_WRONLY, 0o644))
"""


@pytest.mark.parametrize(
    ("per_level", "max_queue"),
    [(1, 1_000_000), (8, 1_000_000), (1, 8)],
    ids=["one-file", "dense", "small-queue"],
)
def test_mkdir_p_storm_reports_every_entry_exactly_once(
    harness: MakeHarness, scratch: str, per_level: int, max_queue: int
) -> None:
    """``mkdir -p a/b/c/d/e`` with a file made in every level right after its
    mkdir, 50 times with fresh names, while the driver reads concurrently: one
    CREATE per directory and per file, kernel-made or synthetic. "small-queue":
    the threaded and asyncio drivers stop reading every few events
    (back-pressure), which must not lose or repeat anything either."""
    h = harness(max_queue=max_queue)
    h.w.add(scratch, recursive=True)
    h.start()
    rounds = 50
    dirs: list[str] = []
    files: list[str] = []
    for i in range(rounds):
        d = scratch
        for level in "abcde":
            d = j(d, f"{level}{i}")
            dirs.append(d)
            files.extend(j(d, f"f{k}") for k in range(per_level))
    maker = subprocess.Popen([sys.executable, "-c", STORM, scratch, str(rounds), str(per_level)])
    want = set(dirs) | set(files)
    try:
        h.collect_until(lambda evs: want <= set(pathnames(evs, CREATE)), timeout=30)
    finally:
        assert maker.wait(30) == 0
    events = h.sync(scratch)
    creates = [e for e in events if e.mask & CREATE]
    counts = _once(creates, CREATE)
    dups = {p: n for p, n in counts.items() if n != 1}
    assert not dups, f"reported more than once: {dups}\n{describe(creates)}"
    assert set(counts) == want
    dir_set = set(dirs)
    for e in creates:
        assert e.is_dir == (os.fsdecode(e.pathname) in dir_set), e
    assert h.lacks("watch_table") or dir_set <= set(h.w.watches.values())


def test_create_rename_then_write_inside_is_reported_under_new_path(
    harness: MakeHarness, scratch: str
) -> None:
    h = harness()
    h.w.add(scratch, recursive=True)
    h.start()
    rounds = 20
    for i in range(rounds):
        old, new = j(scratch, f"x{i}"), j(scratch, f"y{i}")
        os.mkdir(old)
        os.rename(old, new)
        with open(j(new, "f"), "w") as f:
            f.write("data")
    events = h.sync(scratch)
    for i in range(rounds):
        old, new = j(scratch, f"x{i}"), j(scratch, f"y{i}")
        assert not [e for e in events if os.fsdecode(e.pathname).startswith(old + "/")], describe(
            events
        )
        assert _once(events, CREATE)[j(new, "f")] == 1, describe(events)
        moved = [e for e in events if e.mask & MOVED_TO and e.pathname == new]
        assert len(moved) == 1 and moved[0].is_dir, describe(events)
        assert moved[0].src_pathname == old
        if not h.lacks("watch_table"):
            assert new in h.w.watches.values() and old not in h.w.watches.values()
    # The directory is watched under its new name: a later write is a kernel event.
    with open(j(scratch, "y0", "f"), "a") as f:
        f.write("more")
    events = h.sync(j(scratch, "y0"))
    modified = [e for e in events if e.mask & MODIFY and e.pathname == j(scratch, "y0", "f")]
    assert modified and not modified[-1].synthetic


def test_rename_watched_directory_then_create_inside(harness: MakeHarness, scratch: str) -> None:
    root = j(scratch, "root")
    os.makedirs(j(root, "d1", "d2", "d3"))
    h = harness()
    h.w.add(root, recursive=True)
    h.settle(root)  # the directory reads of add()'s own scan, queued under the old paths
    n1 = j(root, "n1")
    os.rename(j(root, "d1"), n1)
    touch(j(n1, "f"))
    touch(j(n1, "d2", "f"))
    touch(j(n1, "d2", "d3", "f"))
    os.mkdir(j(n1, "d2", "d3", "new"))
    touch(j(n1, "d2", "d3", "new", "g"))
    events = h.sync(root)
    old_prefix = j(root, "d1") + "/"
    stale = [e for e in events if os.fsdecode(e.pathname).startswith(old_prefix)]
    assert not stale, describe(stale)
    moved_from = [e for e in events if e.mask & MOVED_FROM]
    moved_to = [e for e in events if e.mask & MOVED_TO]
    assert [e.pathname for e in moved_from] == [j(root, "d1")]
    assert [e.pathname for e in moved_to] == [n1]
    assert moved_to[0].is_dir and moved_to[0].src_pathname == j(root, "d1")
    assert moved_to[0].cookie == moved_from[0].cookie != 0
    created = _once(events, CREATE)
    for p in ("f", "d2/f", "d2/d3/f", "d2/d3/new", "d2/d3/new/g"):
        assert created[j(n1, p)] == 1, (p, describe(events))
    assert h.lacks("watch_table") or sorted(h.w.watches.values()) == sorted(
        [root, n1, j(n1, "d2"), j(n1, "d2", "d3"), j(n1, "d2", "d3", "new")]
    )
    # And the rewritten watches keep reporting under the new paths.
    touch(j(n1, "d2", "d3", "later"))
    events = h.sync(j(n1, "d2", "d3"))
    assert _once(events, CREATE)[j(n1, "d2", "d3", "later")] == 1


def test_directory_moved_out_is_forgotten(harness: MakeHarness, scratch: str) -> None:
    root, outside = j(scratch, "root"), j(scratch, "outside")
    os.makedirs(j(root, "sub", "deeper"))
    os.mkdir(outside)
    h = harness()
    h.w.add(root, recursive=True)
    h.settle(root)  # add()'s own scan opens and reads the directories
    gone = j(outside, "sub")
    os.rename(j(root, "sub"), gone)
    touch(j(gone, "f"))
    touch(j(gone, "deeper", "f"))
    os.mkdir(j(gone, "deeper", "nd"))
    events = h.sync(root)
    assert [(e.pathname, e.mask) for e in events] == [(j(root, "sub"), MOVED_FROM | ISDIR)], (
        describe(events)
    )
    assert list(h.w.watches.values()) == [root]  # fanotify: the root, as always
    touch(j(gone, "deeper", "nd", "later"))
    os.unlink(j(gone, "deeper", "nd", "later"))
    os.rmdir(j(gone, "deeper", "nd"))
    events = h.sync(root)
    assert len(events) == 1, describe(events)


def test_directory_moved_in_is_watched_and_its_contents_reported(
    harness: MakeHarness, scratch: str
) -> None:
    root, outside = j(scratch, "root"), j(scratch, "outside")
    os.mkdir(root)
    os.makedirs(j(outside, "m", "s", "t"))
    touch(j(outside, "m", "f1"))
    touch(j(outside, "m", "s", "f2"))
    h = harness()
    h.w.add(root, recursive=True)
    h.start()
    m = j(root, "m")
    os.rename(j(outside, "m"), m)
    contents = [j(m, "f1"), j(m, "s"), j(m, "s", "f2"), j(m, "s", "t")]
    h.collect_until(lambda evs: set(contents) <= set(pathnames(evs, CREATE)))
    events = h.sync(root)
    arrivals = [i for i, e in enumerate(events) if e.mask & MOVED_TO and e.pathname == m]
    assert len(arrivals) == 1, describe(events)
    arrival = events[arrivals[0]]
    assert arrival.is_dir and arrival.src_pathname is None and not arrival.synthetic
    created = _once(events, CREATE)
    for p in contents:
        assert created[p] == 1, (p, describe(events))
        (index,) = [i for i, e in enumerate(events) if e.mask & CREATE and e.pathname == p]
        assert index > arrivals[0] and events[index].synthetic
        assert events[index].is_dir == os.path.isdir(p)
    assert h.lacks("watch_table") or {m, j(m, "s"), j(m, "s", "t")} <= set(h.w.watches.values())
    touch(j(m, "s", "t", "new"))
    events = h.sync(j(m, "s", "t"))
    later = [e for e in events if e.mask & CREATE and e.pathname == j(m, "s", "t", "new")]
    assert len(later) == 1 and not later[0].synthetic


@pytest.mark.needs("overflow_names")
def test_overflow_is_delivered_then_the_rescan_reports_what_changed(
    harness: MakeHarness, scratch: str
) -> None:
    """Not reading while making twice ``max_queued_events`` changes: Q_OVERFLOW
    (wd -1) is delivered, then every file created while blind is reported as
    CREATE exactly once, and every file deleted while blind as DELETE."""
    with open("/proc/sys/fs/inotify/max_queued_events") as f:
        max_queued = int(f.read())
    root = j(scratch, "root")
    bulk = j(root, "bulk")
    os.makedirs(bulk)
    old = [j(root, f"old{i}") for i in range(100)]
    for p in old:
        touch(p)
    new = [j(bulk, f"n{i}") for i in range(2 * max_queued)]
    blind_dir = j(root, "appeared")
    blind_dir_files = [j(blind_dir, f"g{i}") for i in range(10)]
    # Watched directories renamed while blind, in place and across directories
    # (the rescan meets the new name before, and after, the old one).
    for d in ("a_before/inner", "z_after/inner", "m_src/moving/inner", "b_dst"):
        os.makedirs(j(root, d))
    changed = j(root, "changed")
    touch(changed)
    gone = j(root, "gone")
    os.makedirs(j(gone, "inner"))
    touch(j(gone, "inner", "f"))
    renames = [
        ("a_before", "y_renamed"),
        ("z_after", "b_renamed"),
        ("m_src/moving", "b_dst/moved"),
    ]

    def changes() -> None:
        for p in new:
            touch(p)
        for p in old:
            os.unlink(p)
        os.mkdir(blind_dir)
        for p in blind_dir_files:
            touch(p)
        for src, dst in renames:
            os.rename(j(root, src), j(root, dst))
        with open(changed, "a") as f:
            f.write("changed while blind")
        shutil.rmtree(gone)

    # threaded: a small user-space bound makes the reader stop while the
    # callback is held, so the kernel queue overflows.
    h = harness(max_queue=64) if harness.driver == "threaded" else harness()
    h.w.add(root, recursive=True)
    h.start()
    h.blind(changes, poke_dir=root)
    want_created = set(new) | set(blind_dir_files) | {blind_dir}
    want_deleted = {*old, gone}

    def done(evs: list) -> bool:
        return (
            want_created <= set(pathnames(evs, CREATE))
            and want_deleted <= set(pathnames(evs, DELETE))
            and changed in pathnames(evs, MODIFY)
        )

    h.collect_until(done, timeout=30)
    events = h.sync(root)
    overflows = [i for i, e in enumerate(events) if e.mask & Q_OVERFLOW]
    assert overflows, "no Q_OVERFLOW delivered"
    first = overflows[0]
    assert events[first].wd == -1
    created = _once(events, CREATE)
    dups = {p: n for p, n in created.items() if n != 1}
    assert not dups, f"{len(dups)} entries reported more than once, e.g. {list(dups)[:5]}"
    assert set(created) >= want_created
    deleted = _once(events, DELETE)
    assert {p: deleted[p] for p in want_deleted} == dict.fromkeys(want_deleted, 1)
    for i, e in enumerate(events):
        if e.synthetic:
            assert i > first, f"synthetic event before the overflow: {e!r}"
        if e.mask & DELETE and os.fsdecode(e.pathname) in want_deleted:
            assert i > first and e.synthetic, e
    assert sum(1 for e in events if e.synthetic and e.mask & CREATE) > 0
    modified = [i for i, e in enumerate(events) if e.mask & MODIFY and e.pathname == changed]
    assert modified and modified[-1] > first and events[modified[-1]].synthetic
    table = not h.lacks("watch_table")
    assert not table or blind_dir in h.w.watches.values()
    assert not [p for p in h.w.watches.values() if p.startswith(gone)]
    assert [e.is_dir for e in events if e.mask & DELETE and e.pathname == gone] == [True]
    touch(j(blind_dir, "after"))
    events = h.sync(blind_dir)
    assert _once(events, CREATE)[j(blind_dir, "after")] == 1
    # The renamed directories are watched under their new names only.
    watched = set(h.w.watches.values())
    for src, dst in renames:
        if table:
            assert {j(root, dst), j(root, dst, "inner")} <= watched, (dst, sorted(watched))
            assert j(root, src) not in watched
        touch(j(root, dst, "inner", "after"))
    events = h.sync(root)
    for _, dst in renames:
        assert _once(events, CREATE)[j(root, dst, "inner", "after")] == 1, (dst, describe(events))


def test_watched_root_deleted_ends_iteration(harness: MakeHarness, scratch: str) -> None:
    root = j(scratch, "root")
    os.makedirs(j(root, "sub"))
    touch(j(root, "sub", "f"))
    h = harness()
    root_wd = h.w.add(root, recursive=True)
    h.start()
    shutil.rmtree(root)
    events = h.collect_until(
        lambda evs: any(e.wd == root_wd and e.mask & Mask.IGNORED for e in evs)
    )
    # The root's own events (fanotify: every event of the tree has the root's id).
    own = [e.mask for e in events if e.wd == root_wd and not e.name and e.pathname == root]
    assert Mask.DELETE_SELF in own, describe(events)
    assert own.index(Mask.DELETE_SELF) < own.index(Mask.IGNORED) == len(own) - 1
    assert h.wait_ended(), "iteration did not end when the last watch went away"
    assert not h.w.watches


@pytest.mark.parametrize("follow", [False, True], ids=["nofollow", "follow"])
def test_watched_directory_moved_into_a_just_created_directory(
    harness: MakeHarness, scratch: str, follow: bool
) -> None:
    """mkdir new; mv watched new/x: if the watcher handles the CREATE of new
    after the rename (always so for the blocking driver), the scan of new finds
    x, which the kernel already watches under its old path; x must stay watched
    under its new path."""
    root = j(scratch, "root")
    os.makedirs(j(root, "old", "inner"))
    h = harness()
    h.w.add(root, recursive=True, follow_symlinks=follow)
    h.settle(root)
    new, x = j(root, "new"), j(root, "new", "x")
    os.mkdir(new)
    os.rename(j(root, "old"), x)
    events = h.sync(root)
    assert h.lacks("watch_table") or sorted(h.w.watches.values()) == sorted(
        [root, new, x, j(x, "inner")]
    ), describe(events)
    touch(j(x, "inner", "f"))
    events = h.sync(j(x, "inner"))
    assert _once(events, CREATE)[j(x, "inner", "f")] == 1, describe(events)
    stale = [e for e in events if os.fsdecode(e.pathname).startswith(j(root, "old") + "/")]
    assert not stale, describe(stale)


def test_rename_over_an_empty_watched_directory(harness: MakeHarness, scratch: str) -> None:
    """rename(src, dst) replacing an empty watched dst: the kernel ends dst's
    watch (DELETE_SELF, IGNORED); src's watches move to dst, and a later rename
    of the parent rewrites them."""
    root = j(scratch, "root")
    os.makedirs(j(root, "p", "dst"))
    os.makedirs(j(root, "src", "inner"))
    h = harness()
    h.w.add(root, recursive=True)
    dst = j(root, "p", "dst")
    if h.lacks("watch_table"):
        # No watch of its own to end; the replaced directory was never named by
        # an event, so its DELETE_SELF cannot be placed (see fanotify.handles).
        os.rename(j(root, "src"), dst)
        h.sync(root)
    else:
        dst_wd = next(wd for wd, p in h.w.watches.items() if p == dst)
        h.settle(root)
        os.rename(j(root, "src"), dst)
        events = h.collect_until(lambda evs: any(e.wd == dst_wd and e.mask & IGNORED for e in evs))
        own = [e.mask for e in events if e.wd == dst_wd]
        assert own[-2:] == [int(Mask.DELETE_SELF), IGNORED], describe(events)
    os.rename(j(root, "p"), j(root, "q"))
    touch(j(root, "q", "dst", "inner", "f"))
    events = h.sync(root)
    assert _once(events, CREATE)[j(root, "q", "dst", "inner", "f")] == 1, describe(events)
    assert h.lacks("watch_table") or sorted(h.w.watches.values()) == sorted(
        [root, j(root, "q"), j(root, "q", "dst"), j(root, "q", "dst", "inner")]
    )


IGNORED = int(Mask.IGNORED)


def test_overflow_event_of_a_bytes_watcher_is_bytes(harness: MakeHarness, scratch: str) -> None:
    """bytes in, bytes out: with only bytes roots, even Q_OVERFLOW's empty name
    and path are bytes (code joining paths must not meet a str)."""
    with open("/proc/sys/fs/inotify/max_queued_events") as f:
        max_queued = int(f.read())
    root = os.fsencode(j(scratch, "root"))
    os.mkdir(root)
    h = harness(max_queue=64) if harness.driver == "threaded" else harness()
    h.w.add(root, recursive=True)
    h.start()

    def changes() -> None:
        # Twice the kernel's queue (the threaded reader is parked first: see
        # Harness.blind).
        for i in range(2 * max_queued):
            os.mknod(root + b"/%d" % i)  # one CREATE each

    h.blind(changes, poke_dir=root)
    events = h.collect_until(lambda evs: any(e.mask & Q_OVERFLOW for e in evs), timeout=30)
    h.sync(root)
    (overflow,) = [e for e in events if e.mask & Q_OVERFLOW]
    assert overflow.wd == -1
    assert (overflow.name, overflow.path, overflow.pathname) == (b"", b"", b"")


RENAMES = r"""
import os, sys
top, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    os.rename(os.path.join(top, f"d{i}"), os.path.join(top, f"d{i + 1}"))
"""
CREATES = r"""
import os, sys
top, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    os.close(os.open(os.path.join(top, "other", f"f{i}"), os.O_CREAT | os.O_WRONLY, 0o644))
"""


def test_rename_storm_with_concurrent_activity(harness: MakeHarness, scratch: str) -> None:
    """A watched directory renamed 300 times by one process while another
    creates files next to it: every rename is reported as a MOVED_TO of a
    directory, the watches end under the last name, and what is created inside
    afterwards is reported there."""
    root = j(scratch, "root")
    os.makedirs(j(root, "d0", "inner"))
    os.makedirs(j(root, "other"))
    h = harness()
    h.w.add(root, recursive=True)
    h.settle(root)
    n = 300
    procs = [
        subprocess.Popen([sys.executable, "-c", RENAMES, root, str(n)]),
        subprocess.Popen([sys.executable, "-c", CREATES, root, str(10 * n)]),
    ]
    try:
        h.collect_until(
            lambda evs: (
                all(p.poll() is not None for p in procs)
                and j(root, f"d{n}") in pathnames(evs, MOVED_TO)
            ),
            timeout=30,
        )
    finally:
        assert [p.wait(30) for p in procs] == [0, 0]
    final = j(root, f"d{n}")
    touch(j(final, "inner", "after"))
    events = h.sync(j(final, "inner"))
    arrivals = [e.pathname for e in events if e.mask & MOVED_TO and e.is_dir]
    assert arrivals == [j(root, f"d{i}") for i in range(1, n + 1)]
    watched = sorted(p for p in h.w.watches.values() if p.startswith(j(root, "d")))
    assert h.lacks("watch_table") or watched == [final, j(final, "inner")]
    assert _once(events, CREATE)[j(final, "inner", "after")] == 1
    assert (
        len(set(pathnames(events, CREATE)) & {j(root, "other", f"f{i}") for i in range(10 * n)})
        == 10 * n
    )
