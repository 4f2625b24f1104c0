"""Issue 10 on the real kernel: races in recursion, paths that must be true,
mounts, every driver. The same races are scripted on a fake kernel in
tests/unit/test_races.py; here the operations run in another process, back to
back, while the driver is kept from reading (the widest window)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from contract_harness import HarnessFactory as MakeHarness
from contract_harness import describe, pathnames, touch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from inwatch import Mask
from unit.replay import real_tree, replay

CREATE = int(Mask.CREATE)
OPEN, ACCESS, CLOSE_NOWRITE = int(Mask.OPEN), int(Mask.ACCESS), int(Mask.CLOSE_NOWRITE)
j = os.path.join


def _sh(script: str, cwd: str) -> None:
    subprocess.run(["sh", "-ec", script], cwd=cwd, check=True, timeout=30)


def _check(root: str, start: set[str], events: list) -> None:
    events = [e for e in events if ".sentinel-" not in os.fsdecode(e.name)]
    tree, complaints = replay(root, start, events)
    real = {p for p in real_tree(root) if ".sentinel-" not in p}
    assert not complaints, "\n".join(complaints) + "\n" + describe(events)
    assert tree == real, f"{sorted(tree ^ real)}\n{describe(events)}"


def test_subtree_renamed_while_being_set_up_is_watched(harness: MakeHarness, scratch: str) -> None:
    """mkdir -p a/b/c/d; mv a X (build in a temporary name, then rename), ten
    times, with the reader kept away while it happens: every level is watched
    under its new name and a file made there a moment later is reported."""
    h = harness()
    h.w.add(scratch, recursive=True)
    h.settle(scratch)
    for i in range(10):
        h.blind(lambda i=i: _sh(f"mkdir -p a{i}/b/c/d; mv a{i} X{i}", scratch), scratch)
    h.sync(scratch)
    for i in range(10):
        touch(j(scratch, f"X{i}", "b", "c", "late"))
    events = h.sync(scratch)
    late = {p for p in pathnames(events, CREATE) if p.endswith("/late")}
    assert late == {j(scratch, f"X{i}", "b", "c", "late") for i in range(10)}, describe(events)
    _check(scratch, set(), [e for e in events if ".sentinel-" not in os.fsdecode(e.name)])


def test_late_create_does_not_adopt_another_directory(harness: MakeHarness, scratch: str) -> None:
    """mkdir -p m/m68; mv m rd81; mkdir empty86; mv -T rd81 empty86 while the
    reader is away: replayed in order, the events give empty86/m68."""
    h = harness()
    h.w.add(scratch, recursive=True)
    h.settle(scratch)
    h.blind(
        lambda: _sh("mkdir -p m/m68; mv m rd81; mkdir empty86; mv -T rd81 empty86", scratch),
        scratch,
    )
    events = [e for e in h.sync(scratch) if ".sentinel-" not in os.fsdecode(e.name)]
    _check(scratch, set(), events)


def test_no_file_reported_where_it_never_was(harness: MakeHarness, scratch: str) -> None:
    """mkdir n; mv n m; touch m/f, quickly, 20 times: never an event at n/f."""
    h = harness()
    h.w.add(scratch, recursive=True)
    h.settle(scratch)
    script = "; ".join(f"mkdir n{i}; mv n{i} m{i}; touch m{i}/f" for i in range(20))
    h.blind(lambda: _sh(script, scratch), scratch)
    events = [e for e in h.sync(scratch) if ".sentinel-" not in os.fsdecode(e.name)]
    wrong = [p for p in pathnames(events) if p[len(scratch) :].startswith("/n") and "/f" in p]
    assert not wrong, describe(events)
    _check(scratch, set(), events)


def test_nested_roots_do_not_report_our_own_listing(harness: MakeHarness, scratch: str) -> None:
    """add(dir1) then add(dir1/dir2), both plain: nothing is reported before
    anything happens (no OPEN/ACCESS/CLOSE_NOWRITE of dir2 on dir1's watch)."""
    d1, d2 = j(scratch, "dir1"), j(scratch, "dir1", "dir2")
    os.makedirs(d2)
    touch(j(d2, "file1"))
    h = harness()
    h.w.add(d1)
    h.w.add(d2)
    h.w.add(j(d2, "file1"))
    events = h.sync(d1)
    assert events == [], describe(events)


def test_renamed_root_follows_its_new_path(harness: MakeHarness, scratch: str) -> None:
    root = j(scratch, "root")
    os.makedirs(j(root, "sub"))
    h = harness()
    h.w.add(root, recursive=True)
    h.settle(root)
    os.rename(root, j(scratch, "moved"))
    touch(j(scratch, "moved", "sub", "f"))
    events = h.collect_until(lambda evs: any(os.fsdecode(e.name) == "f" for e in evs))
    created = pathnames(events, CREATE)
    assert created == [j(scratch, "moved", "sub", "f")], describe(events)
    assert sorted(h.w.watches.values()) == [j(scratch, "moved"), j(scratch, "moved", "sub")]


def test_unmount_inside_a_tree_uncovers_the_directory(harness: MakeHarness, tmpfs: Path) -> None:
    """A file system mounted on a directory of a watched tree, then unmounted:
    the mounted contents are gone and the directory's own come back; both are
    said, and the uncovered directory is watched."""
    top = str(tmpfs)
    mnt = j(top, "mnt")
    os.makedirs(j(mnt, "under"))
    touch(j(mnt, "under", "below"))
    subprocess.run(["mount", "-t", "tmpfs", "inner", mnt], check=True)
    try:
        touch(j(mnt, "on-top"))
        h = harness()
        h.w.add(top, recursive=True)
        h.settle(top)
    finally:
        subprocess.run(["umount", mnt], check=True)
    events = h.sync(top)
    start = {"mnt/", "mnt/on-top"}
    events = [e for e in events if ".sentinel-" not in os.fsdecode(e.name)]
    _check(top, start, events)
    assert j(mnt, "under") in h.w.watches.values()
    touch(j(mnt, "under", "new"))
    assert j(mnt, "under", "new") in pathnames(h.sync(top), CREATE)


def test_mount_over_a_watched_directory_is_seen(harness: MakeHarness, tmpfs: Path) -> None:
    """A file system mounted on a watched subdirectory hides it (inotify says
    nothing); the mount table's change is noticed: the hidden contents are said
    gone, the mounted ones there, and the mounted root is watched."""
    top = str(tmpfs)
    mnt = j(top, "mnt")
    os.makedirs(mnt)
    touch(j(mnt, "hidden"))
    h = harness()
    h.w.add(top, recursive=True)
    h.settle(top)
    subprocess.run(["mount", "-t", "tmpfs", "over", mnt], check=True)
    try:
        touch(j(mnt, "on-top"))
        events = h.collect_until(lambda evs: j(mnt, "on-top") in pathnames(evs, CREATE))
        events += h.sync(top)
        _check(top, {"mnt/", "mnt/hidden"}, events)
    finally:
        subprocess.run(["umount", mnt], check=True)
    events = h.sync(top)
    assert j(mnt, "hidden") in pathnames(events, CREATE), describe(events)
