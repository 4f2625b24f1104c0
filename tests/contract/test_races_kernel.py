"""Issue 10 on the real kernel: races in recursion, paths that must be true,
mounts, every driver. The same races are scripted on a fake kernel in
tests/unit/test_races.py; here the operations run in another process, back to
back, while the driver is kept from reading (the widest window)."""

from __future__ import annotations

import functools
import os
import select
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from contract_harness import HarnessFactory as MakeHarness
from contract_harness import describe, pathnames, touch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from inwatch import Event, Mask
from inwatch.inotify.core import InotifyCore
from inwatch.inotify.port import DirEntryLike, KernelPort
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


# --- races forced at their exact moment on the real kernel ----------------------------
#
# The scenarios of tests/unit/test_races.py found by the ground truth
# (tests/groundtruth), on the real kernel and file system: a port that is the
# real KernelPort, with a hook run right after a given add_watch or scandir
# returns, makes the race happen every time instead of one run in thirty.


class _HookedPort(KernelPort):
    """The real kernel port; *after_watch*/*after_list* run a real operation
    right after add_watch/scandir of a path returns (once); *during_list* runs
    one after the listing opened the directory, before it reads and closes it
    (the OPEN queued, the ACCESS and CLOSE_NOWRITE not yet)."""

    def __init__(self) -> None:
        super().__init__()
        self.after_watch: dict[str, Callable[[], object]] = {}
        self.after_list: dict[str, Callable[[], object]] = {}
        self.during_list: dict[str, Callable[[], object]] = {}
        # Wrapped on the instance; the autouse check (assert_fired) fails a
        # test whose hooks never ran, so a race that was not forced is seen.
        self._real_add_watch = self._ino.add_watch
        self.add_watch = self._hooked_add_watch  # type: ignore[method-assign]

    def assert_fired(self) -> None:
        """Every hook ran: the race was forced, not missed."""
        left = [*self.after_watch, *self.after_list, *self.during_list]
        assert not left, f"hooks never ran: {left}"

    def _hooked_add_watch(self, path: str, mask: int) -> int:
        wd = self._real_add_watch(path, mask)
        hook = self.after_watch.pop(path, None)
        if hook is not None:
            hook()
        return wd

    def scandir(self, path: str) -> list[DirEntryLike]:
        during = self.during_list.pop(path, None)
        if during is None:
            entries = super().scandir(path)
        else:
            with os.scandir(path) as it:  # opendir: OPEN
                during()
                entries = list(it)  # getdents: ACCESS; then closedir: CLOSE_NOWRITE
        hook = self.after_list.pop(path, None)
        if hook is not None:
            hook()
        return entries


_PORTS: list[_HookedPort] = []


@pytest.fixture(autouse=True)
def _every_hook_fired() -> Iterator[None]:
    """A hook that never ran forced no race: the test would pass for nothing."""
    _PORTS.clear()
    yield
    for port in _PORTS:
        port.assert_fired()


def _core(root: str) -> tuple[_HookedPort, InotifyCore]:
    port = _HookedPort()
    _PORTS.append(port)
    core = InotifyCore(port=port)
    core.add_root(
        root,
        0xFFF,
        recursive=True,
        exclude=None,
        follow_symlinks=False,
        auto_add=None,
        onerror=None,
        as_bytes=False,
    )
    return port, core


def _drain(core: InotifyCore, root: str, timeout: float = 10.0) -> list[Event[Any]]:
    """Every event until a sentinel made in *root* has been delivered and
    nothing is held any more, twice: what the hooks did while the first read
    was processed is queued after the first sentinel (a poll loop with a
    deadline)."""
    events: list[Event[Any]] = []
    deadline = time.monotonic() + timeout
    for _ in range(2):
        sentinel = j(root, f".sentinel-{time.monotonic_ns()}")
        Path(sentinel).touch()
        seen = False
        while not (seen and core.deadline() is None and not core.backlog):
            if time.monotonic() > deadline:
                raise AssertionError(f"the sentinel never came: {describe(events)}")
            select.select([core.kernel_fd()], [], [], 0.01)
            core.read_raw()
            events.extend(core.process())
            seen = seen or any(e.pathname == sentinel for e in events)
    return [e for e in events if ".sentinel-" not in e.pathname]


def test_forced_directory_renamed_between_watch_and_listing(scratch: str) -> None:
    """mkdir d (holding f and sub); mv d e right after add_watch(d), before
    scandir(d): e is listed once the rename is processed, e/f and e/sub reported."""
    port, core = _core(scratch)
    try:
        _drain(core, scratch)
        d = j(scratch, "d")
        port.after_watch[d] = lambda: os.rename(d, j(scratch, "e"))
        _sh("mkdir -p d/sub; touch d/f", scratch)
        _check(scratch, set(), _drain(core, scratch))
        touch(j(scratch, "e", "sub", "late"))
        late = _drain(core, scratch)
        assert pathnames(late, CREATE) == [j(scratch, "e", "sub", "late")], describe(late)
    finally:
        core.close()


def test_forced_directory_listed_under_two_names(scratch: str) -> None:
    """A tree moved in is walked: m/cd is listed, a file is made in it, and cd
    is renamed to b/b0 right after b is watched (seed 14's orphan)."""
    out = j(scratch, "out")
    root = j(scratch, "root")
    os.makedirs(root)
    # b made first: tmpfs lists the newest entry first, and m must be walked first.
    _sh("mkdir -p out/c1/b out/c1/m/cd", scratch)
    port, core = _core(root)
    try:
        _drain(core, root)
        c1 = j(root, "c1")
        port.after_list[j(c1, "m", "cd")] = lambda: touch(j(c1, "m", "cd", "f"))
        port.after_watch[j(c1, "b")] = lambda: os.rename(j(c1, "m", "cd"), j(c1, "b", "b0"))
        os.rename(j(out, "c1"), c1)
        _check(root, set(), _drain(core, root))
    finally:
        core.close()


def test_forced_event_in_a_watched_directory_before_its_rename(scratch: str) -> None:
    """D (reported) gets a file, then is renamed into a new tree N whose walk
    sees it as N/sub/D2 before the rename is processed (seed 9's duplicate)."""
    os.makedirs(j(scratch, "D"))
    port, core = _core(scratch)
    try:
        _drain(core, scratch)

        port.after_watch[j(scratch, "N")] = lambda: _sh("mkdir N/sub; mv D N/sub/D2", scratch)
        _sh("mkdir N; touch D/f", scratch)  # f's CREATE queued before N/sub's
        _check(scratch, {"D/"}, _drain(core, scratch))
    finally:
        core.close()


def test_forced_directory_followed_to_a_sighting_then_gone(scratch: str) -> None:
    """As above; D is then chmodded and removed right after the walk watched it
    as N/sub/D2, or renamed again to N/sub/D3 (seeds 9 and 18)."""
    for then in ("chmod 700 N/sub/D2; rm -rf N/sub/D2", "mv N/sub/D2 N/sub/D3"):
        top = tempfile.mkdtemp(dir=scratch)
        _sh("mkdir -p D/s; touch D/f", top)
        port, core = _core(top)
        try:
            _drain(core, top)
            move_d = "mkdir N/sub; mv D N/sub/D2"
            port.after_watch[j(top, "N")] = functools.partial(_sh, move_d, top)
            port.after_watch[j(top, "N", "sub", "D2")] = functools.partial(_sh, then, top)
            os.mkdir(j(top, "N"))
            _check(top, {"D/", "D/s/", "D/f"}, _drain(core, top))
        finally:
            core.close()


def test_forced_file_there_at_our_watch_gone_before_our_listing(scratch: str) -> None:
    """d/f exists when d's watch is added; it is written and renamed out of d
    before d is listed: no event names d/f (seed 28's stale MODIFY)."""
    port, core = _core(scratch)
    try:
        _drain(core, scratch)
        d = j(scratch, "d")
        port.after_watch[d] = lambda: _sh("echo x >> d/f; mv d/f g", scratch)
        _sh("mkdir d; touch d/f", scratch)
        events = _drain(core, scratch)
        _check(scratch, set(), events)
        assert j(scratch, "g") in [e.pathname for e in events], describe(events)
    finally:
        core.close()


def test_forced_sighting_outlives_an_older_paired_rename(scratch: str) -> None:
    """Queued before any read: mkdir n; mv A B/m0; mv B/m0 n/cd. The walk of n
    sees A at n/cd; the older paired rename does not cancel that, and A's
    contents are reported at n/cd (seed 76's missing subtree)."""
    _sh("mkdir -p A/s B; touch A/f", scratch)
    _port, core = _core(scratch)
    try:
        _drain(core, scratch)
        _sh("mkdir n; mv A B/m0; mv B/m0 n/cd", scratch)
        _check(scratch, {"A/", "A/s/", "A/f", "B/"}, _drain(core, scratch))
    finally:
        core.close()


def test_forced_rewalk_leaves_a_queued_rename_to_the_queue(scratch: str) -> None:
    """As above, then mv C n/cd/x: the walk of A at n/cd finds C there before
    C's rename is processed; C stays C until its MOVED_FROM/MOVED_TO move it
    (seed 76's extra entries)."""
    _sh("mkdir -p A/s B C; touch A/f C/g", scratch)
    _port, core = _core(scratch)
    try:
        _drain(core, scratch)
        _sh("mkdir n; mv A B/m0; mv B/m0 n/cd; mv C n/cd/x", scratch)
        _check(scratch, {"A/", "A/s/", "A/f", "B/", "C/", "C/g"}, _drain(core, scratch))
    finally:
        core.close()


def test_forced_pyinotify_layer_finds_a_new_directory_renamed_with_its_parent(
    scratch: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """mkdir -p a9/L/a2; right after the Watcher lists L, chmod L/a2 (its held
    CREATE is released, under a9/L) and mv a9 c9 (processed in the same batch).
    The pyinotify layer processes the batch after the Watcher moved the tree:
    L's CREATE and a2's carry the old path, and a2's must still reach the
    handler (seed 71: 'Unable to retrieve Watch object', the CREATE lost)."""
    import inwatch.pyinotify as pyinotify

    a9 = j(scratch, "a9")
    os.mkdir(a9)
    hooks: dict[str, Callable[[], object]] = {}
    scandir = KernelPort.scandir

    def hooked(self: KernelPort, path: str) -> list[DirEntryLike]:
        entries = scandir(self, path)
        hook = hooks.pop(path, None)
        if hook is not None:
            hook()
        return entries

    monkeypatch.setattr(KernelPort, "scandir", hooked)
    seen: list[Any] = []

    class Handler(pyinotify.ProcessEvent):
        def process_default(self, event: Any) -> None:
            seen.append(event)

    wm = pyinotify.WatchManager()
    notifier = pyinotify.Notifier(wm, Handler())
    try:
        wm.add_watch(scratch, pyinotify.ALL_EVENTS, rec=True, auto_add=True)
        hooks[j(a9, "L")] = lambda: _sh("chmod 700 a9/L/a2; mv a9 c9", scratch)
        _sh("mkdir -p a9/L/a2", scratch)
        moved_to = int(Mask.MOVED_TO)
        deadline = time.monotonic() + 10.0
        while time.monotonic() < deadline and not any(e.mask & moved_to for e in seen):
            if notifier.check_events(timeout=50):
                notifier.read_events()
            notifier.process_events()
        # In event order: a2 was made (and listed) before a9 was renamed.
        creates = [e.pathname for e in seen if e.mask & CREATE]
        assert creates == [j(a9, "L"), j(a9, "L", "a2")], creates
    finally:
        notifier.stop()


def test_forced_create_of_a_directory_that_left_its_name_later(scratch: str) -> None:
    """Queued before any read: mkdir p/b; mv p/b q/m3; mv out/y p/b. The CREATE
    of b is not taken to be y, which has that name when it is processed
    (seed 235: y's contents reported in q/m3, b's missing)."""
    root = j(scratch, "root")
    _sh("mkdir -p root/p root/q out/y; touch out/y/f", scratch)
    _port, core = _core(root)
    try:
        _drain(core, root)
        _sh("mkdir root/p/b; mv root/p/b root/q/m3; mv out/y root/p/b", scratch)
        _check(root, {"p/", "q/"}, _drain(core, root))
    finally:
        core.close()


def test_forced_events_before_a_relisting_keep_their_place(scratch: str) -> None:
    """Queued before any read: mkdir B/n; mv A/D B/n/D; echo > B/n/D/f;
    mv B/n/D/f B/n/D/g. D is listed again at B/n/D; f never was there when a
    reader learns of B/n/D, so no event names B/n/D/f (seed 440: never-was)."""
    _sh("mkdir -p A/D B", scratch)
    _port, core = _core(scratch)
    try:
        _drain(core, scratch)
        _sh("mkdir B/n; mv A/D B/n/D; echo x > B/n/D/f; mv B/n/D/f B/n/D/g", scratch)
        events = _drain(core, scratch)
        _check(scratch, {"A/", "A/D/", "B/"}, events)
        assert j(scratch, "B", "n", "D", "f") not in pathnames(events), describe(events)
    finally:
        core.close()


def test_forced_rewalk_follows_a_subdirectory_seen_elsewhere(scratch: str) -> None:
    """Queued before any read: mkdir -p L/N/t; mv C L/N/x; mv L/N/x/b L/N/t/y:
    b is followed to where the walk of N saw it (seed 1097)."""
    _sh("mkdir -p C/b L; touch C/b/f", scratch)
    _port, core = _core(scratch)
    try:
        _drain(core, scratch)
        _sh("mkdir -p L/N/t; mv C L/N/x; mv L/N/x/b L/N/t/y", scratch)
        _check(scratch, {"C/", "C/b/", "C/b/f", "L/"}, _drain(core, scratch))
    finally:
        core.close()


def test_forced_subdirectory_renamed_between_watch_and_listing(scratch: str) -> None:
    """mkdir -p N/s/m; touch N/s/m/f; mv N/s N/t right after add_watch(N/s/m),
    before it is listed: m is listed at N/t/m once the rename is processed
    (seed 34's missing subtree)."""
    port, core = _core(scratch)
    try:
        _drain(core, scratch)
        n = j(scratch, "N")
        port.after_watch[j(n, "s", "m")] = lambda: os.rename(j(n, "s"), j(n, "t"))
        _sh("mkdir -p N.tmp/s/m; touch N.tmp/s/m/f; mv N.tmp N", scratch)
        _check(scratch, set(), _drain(core, scratch))
    finally:
        core.close()


def test_forced_listing_echo_of_a_directory_followed_and_relisted(scratch: str) -> None:
    """The listing of X/a0 opens a0; meanwhile mkdir C; mv X C/cd (C not watched
    yet: no MOVED_TO) and a concurrent read takes those events; then the
    listing reads and closes a0. X is followed to C/cd and listed again; the
    ACCESS and CLOSE_NOWRITE of a0 from the first listing, queued before that,
    are our own work (ground truth, seed 48, threaded: own-read)."""
    _sh("mkdir X", scratch)
    port, core = _core(scratch)
    try:
        _drain(core, scratch)

        def meanwhile() -> None:
            _sh("mkdir C; mv X C/cd", scratch)
            core.read_raw()  # what the threaded driver's read-ahead does meanwhile

        port.during_list[j(scratch, "X", "a0")] = meanwhile
        _sh("mkdir X/a0", scratch)
        events = _drain(core, scratch)
        _check(scratch, {"X/"}, events)
        echo = [e for e in events if e.mask & (OPEN | ACCESS | CLOSE_NOWRITE)]
        assert echo == [], describe(events)
        assert j(scratch, "C", "cd", "a0") in pathnames(events, CREATE), describe(events)
    finally:
        core.close()


def test_forced_unlisted_directory_does_not_report_twice(scratch: str) -> None:
    """The walk of a new S/P watches S/P/m; right then mv S/P T/b7; mv T/f
    T/b7/m/g. m's listing fails; g's MOVED_TO is reported before m is listed at
    T/b7/m, and that listing must not create g a second time (seed 34)."""
    _sh("mkdir S T; touch T/f", scratch)
    port, core = _core(scratch)
    try:
        _drain(core, scratch)
        port.after_watch[j(scratch, "S", "P", "m")] = lambda: _sh(
            "mv S/P T/b7; mv T/f T/b7/m/g", scratch
        )
        _sh("mkdir -p S/P/m/c", scratch)  # all done before the first read
        events = _drain(core, scratch)
        _check(scratch, {"S/", "T/", "T/f"}, events)
        g = j(scratch, "T", "b7", "m", "g")
        assert [e.pathname for e in events].count(g) == 1, describe(events)
    finally:
        core.close()
