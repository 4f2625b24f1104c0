"""The races the inotify core exists for, scripted on a fake kernel.

Each scenario puts an operation at a moment a real kernel cannot be made to hit
on purpose (between our watch and our listing, between a CREATE and our
listing, a MOVED_TO in the next read), then replays the delivered events over
the starting tree and compares with the fake file system's end state: nothing
missing, nothing extra, nothing reported twice or under a path where it never
was. ``tests/contract/test_races_kernel.py`` runs the same scenarios on the real
kernel.
"""

from __future__ import annotations

from typing import Any

import pytest

from inwatch import Event
from inwatch.inotify.core import InotifyCore
from inwatch.inotify.wire import pack_event

from .fake_kernel import FakeKernel
from .replay import replay

ROOT = "/r"


def setup(*paths: str, onerror: Any = None) -> tuple[FakeKernel, InotifyCore]:
    fk = FakeKernel()
    fk.mkdir(ROOT)
    for p in paths:
        if p.endswith("/"):
            fk.makedirs(f"{ROOT}/{p}")
        else:
            fk.create(f"{ROOT}/{p}")
    core = InotifyCore(port=fk, onerror=onerror)
    core.add_root(
        ROOT,
        0xFFF,
        recursive=True,
        exclude=None,
        follow_symlinks=False,
        auto_add=None,
        onerror=None,
        as_bytes=False,
    )
    return fk, core


def run(fk: FakeKernel, core: InotifyCore) -> list[Event[Any]]:
    """Read and process until the fake queue is empty and nothing is pending."""
    out: list[Event[Any]] = []
    for _ in range(200):
        core.read_raw()
        out.extend(core.process())
        if not fk.queue and core.deadline() is None and not core.backlog:
            return out
    raise AssertionError("the core never settled")


def check(fk: FakeKernel, core: InotifyCore, start: set[str], events: list[Event[Any]]) -> None:
    tree, complaints = replay(ROOT, start, events)
    real = {p[len(ROOT) + 1 :] for p in fk.tree(ROOT)}
    assert not complaints, (complaints, events)
    assert tree == real, (sorted(tree ^ real), events)
    # Every directory there is watched, under its real path.
    want = fk.watched_paths(ROOT)
    assert set(core.table.paths.values()) == want, (
        sorted(core.table.paths.values()),
        sorted(want),
    )
    assert want == {ROOT} | {f"{ROOT}/{p.rstrip('/')}" for p in real if p.endswith("/")}


def test_entry_created_between_our_watch_and_our_listing_is_reported_once() -> None:
    fk, core = setup()
    run(fk, core)
    fk.mkdir(f"{ROOT}/d")
    # After the watch of d is added and before d is listed, f appears: the kernel
    # reports it (d is watched) and the listing finds it too.
    fk.before_list[f"{ROOT}/d"] = lambda: fk.create(f"{ROOT}/d/f")
    events = run(fk, core)
    creates = [e.pathname for e in events if e.mask & 0x100]
    assert creates.count(f"{ROOT}/d/f") == 1, events
    check(fk, core, set(), events)


def test_directory_renamed_between_its_create_and_our_listing() -> None:
    """mkdir -p a/b/c/d; mv a X: the plainest build-then-rename."""
    fk, core = setup()
    run(fk, core)
    fk.makedirs(f"{ROOT}/a/b/c/d")
    fk.rename(f"{ROOT}/a", f"{ROOT}/X")
    events = run(fk, core)
    check(fk, core, set(), events)
    fk.create(f"{ROOT}/X/b/c/late")  # and it is watched: a file made there is seen
    events2 = run(fk, core)
    assert [e.pathname for e in events2] == [f"{ROOT}/X/b/c/late"], events2


def test_renamed_while_being_walked() -> None:
    """The walk of a new tree lists a, then a is renamed before a/b is watched."""
    fk, core = setup()
    run(fk, core)
    fk.makedirs(f"{ROOT}/a/b/c")
    # a is listed (finding b), then renamed before its child b is watched.
    orig = fk.scandir

    def scandir_then_rename(path: str) -> list[Any]:
        entries = orig(path)
        if path == f"{ROOT}/a":
            fk.rename(f"{ROOT}/a", f"{ROOT}/Y")
        return entries

    fk.scandir = scandir_then_rename  # type: ignore[method-assign]
    events = run(fk, core)
    fk.scandir = orig  # type: ignore[method-assign]
    events += run(fk, core)
    check(fk, core, set(), events)


def test_moved_to_in_the_next_read_pairs_the_move() -> None:
    fk, core = setup("d/", "d/sub/", "d/sub/f")
    run(fk, core)
    fk.rename(f"{ROOT}/d", f"{ROOT}/e")
    # The read happens between the MOVED_FROM and the MOVED_TO.
    moved_to = fk.queue.pop(1)
    rest = fk.queue[1:]
    fk.queue[1:] = []
    core.read_raw()
    events = core.process()
    fk.queue.extend([moved_to, *rest])
    events += run(fk, core)
    check(fk, core, {"d/", "d/sub/", "d/sub/f"}, events)
    to = [e for e in events if e.mask & 0x80]
    assert to and to[0].src_pathname == f"{ROOT}/d", events


def test_late_create_does_not_adopt_the_directory_now_at_that_name() -> None:
    """mkdir -p m/m68; mv m rd81; mkdir empty86; mv rd81 empty86 (replacing it),
    all before the watcher reads: m68 must end up reported inside empty86."""
    fk, core = setup()
    run(fk, core)
    fk.makedirs(f"{ROOT}/m/m68")
    fk.rename(f"{ROOT}/m", f"{ROOT}/rd81")
    fk.mkdir(f"{ROOT}/empty86")
    fk.rename(f"{ROOT}/rd81", f"{ROOT}/empty86")
    events = run(fk, core)
    check(fk, core, set(), events)


def test_watched_directory_moved_into_a_directory_not_yet_watched() -> None:
    fk, core = setup("old/", "old/inner/", "old/inner/f")
    run(fk, core)
    fk.mkdir(f"{ROOT}/new")
    fk.rename(f"{ROOT}/old", f"{ROOT}/new/x")
    events = run(fk, core)
    check(fk, core, {"old/", "old/inner/", "old/inner/f"}, events)


def test_an_onerror_that_raises_reaches_the_caller() -> None:
    """A run-time error (no permission on a new directory) goes to onerror; if
    onerror raises, processing stops with that error (the drivers then stop and
    re-raise it: tests/contract/test_lifecycle.py and test_driver_specifics.py)."""

    class Stop(Exception):
        pass

    def onerror(exc: OSError) -> None:
        raise Stop(str(exc))

    fk, core = setup(onerror=onerror)
    run(fk, core)
    fk.refuse[f"{ROOT}/locked"] = 13
    fk.mkdir(f"{ROOT}/locked")
    core.read_raw()
    with pytest.raises(Stop, match="locked"):
        core.process()


def test_overflow_after_ignored_leaves_no_phantom_directory() -> None:
    """d was watched; rmdir d queues DELETE_SELF, IGNORED, then the parent's
    DELETE, which an overflow swallows: the rescan still reports d gone."""
    fk, core = setup("d/")
    run(fk, core)
    fk.rmdir(f"{ROOT}/d")
    fk.queue[-1:] = [pack_event(-1, 0x4000)]  # the parent's DELETE lost: Q_OVERFLOW
    events = run(fk, core)
    check(fk, core, {"d/"}, events)


def test_overflow_after_a_failed_watch_leaves_no_phantom_directory() -> None:
    """d was reported but could not be watched (gone before we got to it); its
    DELETE is lost in an overflow: the rescan reports it gone."""
    fk, core = setup()
    run(fk, core)
    fk.mkdir(f"{ROOT}/d")
    fk.refuse[f"{ROOT}/d"] = 2  # ENOENT: it went before we watched it ...
    core.read_raw()
    events = core.process()
    del fk.refuse[f"{ROOT}/d"]
    fk.rmdir(f"{ROOT}/d")
    fk.queue[-1:] = [pack_event(-1, 0x4000)]  # ... and its DELETE is lost
    events += run(fk, core)
    check(fk, core, set(), events)


def test_directory_listed_under_two_names_reports_its_contents_under_the_first() -> None:
    """A tree moved in is walked; m/cd is listed, then (while b is walked) cd is
    renamed to b/b0, where the walk finds it again under its second name. An
    event inside cd queued before the rename must come after the CREATEs of m
    and m/cd, not after those of b and b/b0 (found by the ground truth, seed 14)."""
    fk, core = setup()
    fk.mkdir("/out")
    for p in ("/out/c1", "/out/c1/m", "/out/c1/m/cd", "/out/c1/b"):
        fk.mkdir(p)
    run(fk, core)
    orig = fk.scandir

    def scandir(path: str) -> list[Any]:
        entries = orig(path)
        if path == f"{ROOT}/c1/m/cd":
            fk.create(f"{ROOT}/c1/m/cd/f")  # the kernel reports it: cd is watched
        return entries

    def rename_cd() -> None:
        fk.rename(f"{ROOT}/c1/m/cd", f"{ROOT}/c1/b/b0")

    fk.scandir = scandir  # type: ignore[method-assign]
    fk.after_watch[f"{ROOT}/c1/b"] = rename_cd
    fk.rename("/out/c1", f"{ROOT}/c1")
    events = run(fk, core)
    fk.scandir = orig  # type: ignore[method-assign]
    events += run(fk, core)
    check(fk, core, set(), events)


def test_event_in_a_watched_directory_before_its_rename_does_not_release_its_new_name() -> None:
    """D (watched, reported) gets a file, then is renamed into a new tree N
    whose walk finds it under its new name before the rename's MOVED_FROM is
    processed. The file's CREATE happened at D: it must not release the walk's
    findings about N ahead of the kernel's CREATE of N/sub (that gave a
    duplicate CREATE; ground truth, seed 9)."""
    fk, core = setup("D/")
    run(fk, core)
    fk.mkdir(f"{ROOT}/N")
    fk.create(f"{ROOT}/D/f")

    def after_n_watched() -> None:
        fk.mkdir(f"{ROOT}/N/sub")  # the kernel reports it, and the walk finds it
        fk.rename(f"{ROOT}/D", f"{ROOT}/N/sub/D2")  # sub not watched yet: no MOVED_TO

    fk.after_watch[f"{ROOT}/N"] = after_n_watched
    events = run(fk, core)
    check(fk, core, {"D/"}, events)


def test_directory_followed_to_where_a_listing_saw_it_reports_that_name_first() -> None:
    """As above, and D is deleted at its new name right after the walk watched
    it there. Its MOVED_FROM comes with no MOVED_TO: it is followed to where the
    walk saw it, and the events about it from then on (MOVE_SELF, DELETE_SELF)
    come after the CREATE of that name, not before (ground truth, seed 9)."""
    fk, core = setup("D/", "D/f")
    run(fk, core)
    fk.mkdir(f"{ROOT}/N")

    def after_n_watched() -> None:
        fk.mkdir(f"{ROOT}/N/sub")
        fk.rename(f"{ROOT}/D", f"{ROOT}/N/sub/D2")

    def after_d2_watched() -> None:
        fk.attrib(f"{ROOT}/N/sub/D2")  # rm -rf reads it: events on its own watch
        fk.rmdir(f"{ROOT}/N/sub/D2")

    fk.after_watch[f"{ROOT}/N"] = after_n_watched
    fk.after_watch[f"{ROOT}/N/sub/D2"] = after_d2_watched
    events = run(fk, core)
    check(fk, core, {"D/", "D/f"}, events)


def test_directory_renamed_between_our_watch_and_our_listing_is_listed_there() -> None:
    """mkdir d; echo > d/f; then, after add_watch(d) and before scandir(d), mv d e.
    The listing fails (ENOENT) though the watch exists and follows the rename:
    once the rename is processed, e is listed, and f (there before the watch,
    so never reported by the kernel) is reported as e/f."""
    fk, core = setup()
    run(fk, core)
    fk.mkdir(f"{ROOT}/d")
    fk.makedirs(f"{ROOT}/d/sub")
    fk.create(f"{ROOT}/d/f")
    fk.after_watch[f"{ROOT}/d"] = lambda: fk.rename(f"{ROOT}/d", f"{ROOT}/e")
    events = run(fk, core)
    check(fk, core, set(), events)
    fk.create(f"{ROOT}/e/sub/late")  # and sub is watched
    events2 = run(fk, core)
    assert [e.pathname for e in events2] == [f"{ROOT}/e/sub/late"], events2


def test_directory_followed_to_a_listing_sighting_and_renamed_again() -> None:
    """D (with D/s and D/f, reported) is renamed into a new tree whose walk sees
    it as N/sub/D2, then renamed again to N/sub/D3 before it can be listed there:
    the listing that follows it fails. Nothing of its old subtree may be
    reported under N/sub/D2; once its second rename is processed it is listed
    at N/sub/D3 (ground truth, seed 18)."""
    fk, core = setup("D/", "D/s/", "D/f")
    run(fk, core)
    fk.mkdir(f"{ROOT}/N")

    def after_n_watched() -> None:
        fk.mkdir(f"{ROOT}/N/sub")
        fk.rename(f"{ROOT}/D", f"{ROOT}/N/sub/D2")

    def after_d2_watched() -> None:
        fk.rename(f"{ROOT}/N/sub/D2", f"{ROOT}/N/sub/D3")
        fk.attrib(f"{ROOT}/N/sub/D3/s")

    fk.after_watch[f"{ROOT}/N"] = after_n_watched
    fk.after_watch[f"{ROOT}/N/sub/D2"] = after_d2_watched
    events = run(fk, core)
    check(fk, core, {"D/", "D/s/", "D/f"}, events)


def test_file_there_before_our_watch_and_gone_before_our_listing_is_not_news() -> None:
    """d/f exists when d's watch is added; it is written to and renamed out of d
    before d is listed. Its MODIFY names d/f, where a reader never heard of an
    entry: like its MOVED_FROM, it is not news (ground truth, seed 28)."""
    fk, core = setup()
    run(fk, core)
    fk.mkdir(f"{ROOT}/d")
    fk.create(f"{ROOT}/d/f")

    def after_d_watched() -> None:
        fk.modify(f"{ROOT}/d/f")
        fk.rename(f"{ROOT}/d/f", f"{ROOT}/g")

    fk.after_watch[f"{ROOT}/d"] = after_d_watched
    events = run(fk, core)
    check(fk, core, set(), events)
    assert [e.pathname for e in events if e.mask & 0x80] == [f"{ROOT}/g"], events


def test_sighting_outlives_an_older_paired_rename() -> None:
    """Everything queued before the reader reads: mkdir n; mv A m0 (paired:
    both watched); mv m0 n/cd (n not watched yet: MOVED_FROM only). Processing
    CREATE n, the walk finds A at n/cd (a sighting, newer than every queued
    event); the paired rename A -> m0 is older than that sighting, so the
    unpaired MOVED_FROM of m0 that follows still means "went to n/cd": A's
    contents are reported there (ground truth, seed 76)."""
    fk, core = setup("A/", "A/f", "A/s/", "B/")
    run(fk, core)
    fk.mkdir(f"{ROOT}/n")
    fk.rename(f"{ROOT}/A", f"{ROOT}/B/m0")
    fk.rename(f"{ROOT}/B/m0", f"{ROOT}/n/cd")
    events = run(fk, core)
    check(fk, core, {"A/", "A/f", "A/s/", "B/"}, events)


def test_rewalk_does_not_take_a_directory_whose_rename_is_still_queued() -> None:
    """As above, then mv C n/cd/x (into A's watch: a paired rename). The walk of
    A, followed to n/cd, finds C at n/cd/x before C's rename is processed: C is
    a sighting there, not taken over, so its queued MOVED_FROM/MOVED_TO still
    move it for a reader (ground truth, seed 76: C stayed at its old name)."""
    start = {"A/", "A/f", "B/", "C/", "C/g"}
    fk, core = setup(*sorted(start))
    run(fk, core)
    fk.mkdir(f"{ROOT}/n")
    fk.rename(f"{ROOT}/A", f"{ROOT}/B/m0")
    fk.rename(f"{ROOT}/B/m0", f"{ROOT}/n/cd")
    fk.rename(f"{ROOT}/C", f"{ROOT}/n/cd/x")
    events = run(fk, core)
    check(fk, core, start, events)


def test_create_of_a_directory_that_left_its_name_later_in_the_read() -> None:
    """Queued before any read: mkdir p/b; mv p/b q/m3; mv /out/y p/b (another
    directory, with y/f, takes the name). Processing CREATE b, add_watch(p/b)
    would watch y: the CREATE's directory left that name later in the same read,
    so it is watched where its rename takes it, and y where its own MOVED_TO
    brings it (ground truth, seed 235: y's contents were reported in q/m3)."""
    start = {"p/", "q/"}
    fk, core = setup(*sorted(start))
    fk.makedirs("/out/y")
    fk.create("/out/y/f")
    run(fk, core)
    fk.mkdir(f"{ROOT}/p/b")
    fk.rename(f"{ROOT}/p/b", f"{ROOT}/q/m3")
    fk.rename("/out/y", f"{ROOT}/p/b")
    events = run(fk, core)
    check(fk, core, start, events)


def test_move_self_settles_a_departure_whose_moved_to_never_came() -> None:
    """mv d /out/d (out of the tree), read between its MOVED_FROM and its
    MOVE_SELF, then a file is made in /out/d. The kernel queues MOVED_FROM,
    MOVED_TO, MOVE_SELF in that order for one rename: a MOVE_SELF before the
    MOVED_TO means none is coming, so d left the tree then, and nothing made
    in it afterwards is reported under its old path (ground truth, seed 293)."""
    fk, core = setup("d/", "d/sub/")
    fk.mkdir("/out")
    run(fk, core)
    fk.rename(f"{ROOT}/d", "/out/d")
    moved_from = fk.queue[:1]
    rest = fk.queue[1:]
    fk.queue[:] = moved_from
    core.read_raw()
    events = core.process()
    fk.queue.extend(rest)
    fk.create("/out/d/f")
    fk.mkdir("/out/d/sub/x")
    events += run(fk, core)
    check(fk, core, {"d/", "d/sub/"}, events)


def test_events_queued_before_a_relisting_are_not_reported_at_the_new_path() -> None:
    """Queued before any read: mkdir B/n; mv A/D B/n/D (n not watched yet);
    echo > B/n/D/f; mv B/n/D/f B/n/D/g. D is followed to where the walk of n
    saw it and listed again there (finding g); f's CREATE and rename were
    queued before that listing, which already holds their outcome: reported
    at B/n/D they would name a path where f never was (ground truth, seed 440:
    never-was)."""
    start = {"A/", "A/D/", "B/"}
    fk, core = setup(*sorted(start))
    run(fk, core)
    fk.mkdir(f"{ROOT}/B/n")
    fk.rename(f"{ROOT}/A/D", f"{ROOT}/B/n/D")
    fk.create(f"{ROOT}/B/n/D/f")
    fk.rename(f"{ROOT}/B/n/D/f", f"{ROOT}/B/n/D/g")
    events = run(fk, core)
    check(fk, core, start, events)
    assert f"{ROOT}/B/n/D/f" not in [e.pathname for e in events], events


def test_our_listing_echo_is_ours_when_the_directory_is_renamed_during_it() -> None:
    """mkdir m; the listing of m opens it, then m is renamed to b9, then the
    listing reads and closes it: the parent's watch reports OPEN m, ACCESS b9,
    CLOSE_NOWRITE b9, all our own work (ground truth, seed 26, threaded:
    own-read)."""
    fk, core = setup()
    run(fk, core)
    fk.echo = True
    fk.mkdir(f"{ROOT}/m")
    fk.during_list[f"{ROOT}/m"] = lambda: fk.rename(f"{ROOT}/m", f"{ROOT}/b9")
    events = run(fk, core)
    check(fk, core, set(), events)
    echo = [e for e in events if e.mask & (0x1 | 0x10 | 0x20)]
    assert echo == [], events


def test_rewalk_follows_a_subdirectory_seen_elsewhere() -> None:
    """Queued before any read: mkdir -p L/N/t; mv C L/N/x (N not watched yet);
    mv L/N/x/b L/N/t/y (t not watched yet). The walk of N sees b at N/t/y and
    C at N/x. C is followed to N/x and listed again: b is no longer in it, and
    it is followed to N/t/y rather than forgotten (ground truth, seed 1097:
    b's contents missing)."""
    start = {"C/", "C/b/", "C/b/f", "L/"}
    fk, core = setup(*sorted(start))
    run(fk, core)
    fk.makedirs(f"{ROOT}/L/N/t")
    fk.rename(f"{ROOT}/C", f"{ROOT}/L/N/x")
    fk.rename(f"{ROOT}/L/N/x/b", f"{ROOT}/L/N/t/y")
    events = run(fk, core)
    check(fk, core, start, events)


def test_overflow_rescan_deletes_before_it_creates_at_a_name_that_changed_kind() -> None:
    """d (a watched directory) is removed and a file d made, all lost in an
    overflow: the rescan says DELETE|ISDIR d, then CREATE d, in that order
    (ground truth, seed 1160: CREATE first, a duplicate, then the file lost)."""
    fk, core = setup("d/")
    run(fk, core)
    fk.rmdir(f"{ROOT}/d")
    fk.create(f"{ROOT}/d")
    fk.queue[:] = [pack_event(-1, 0x4000)]  # everything lost: Q_OVERFLOW
    events = run(fk, core)
    check(fk, core, {"d/"}, events)
    about_d = [e.mask for e in events if e.pathname == f"{ROOT}/d" and e.mask & 0x300]
    assert about_d == [0x40000200, 0x100], events  # DELETE|ISDIR, then CREATE


def test_a_late_ignored_names_the_deleted_directory_where_it_was() -> None:
    """rmdir a/d, with d's DELETE_SELF and IGNORED queued late (the kernel
    queues them when the inode is released, which a reader can delay), after
    mv a x: they name a/d, where d was, not x/d, where it never was (ground
    truth, seed 77: never-was)."""
    fk, core = setup("a/", "a/d/")
    run(fk, core)
    fk.rmdir(f"{ROOT}/a/d")
    late, parents_delete = fk.queue[:2], fk.queue[2:]  # DELETE_SELF, IGNORED; DELETE
    fk.queue[:] = parents_delete
    fk.rename(f"{ROOT}/a", f"{ROOT}/x")
    fk.queue.extend(late)
    events = run(fk, core)
    check(fk, core, {"a/", "a/d/"}, events)
    selfs = [e.pathname for e in events if e.mask & (0x400 | 0x8000)]
    assert selfs == [f"{ROOT}/a/d", f"{ROOT}/a/d"], events


def test_subdirectory_renamed_between_its_watch_and_its_listing_is_listed() -> None:
    """The walk of a new tree N watches N/s/m, then (before listing it) N/s is
    renamed to N/t: m's listing fails, and m is listed at N/t/m once the
    rename is processed (ground truth, seed 34: m's contents missing)."""
    fk, core = setup()
    run(fk, core)
    fk.makedirs(f"{ROOT}/N/s/m")
    fk.create(f"{ROOT}/N/s/m/f")
    fk.after_watch[f"{ROOT}/N/s/m"] = lambda: fk.rename(f"{ROOT}/N/s", f"{ROOT}/N/t")
    events = run(fk, core)
    check(fk, core, set(), events)


def test_our_listing_echo_is_ours_when_its_directory_is_followed_and_relisted() -> None:
    """The listing of X/a0 opens a0; meanwhile mkdir C; mv X C/cd (C not
    watched yet: no MOVED_TO) and a concurrent read (the read-ahead thread)
    takes those events; then the listing reads and closes a0. X is followed to
    where the walk of C saw it and listed again there, and the rest of the
    first listing's echo (ACCESS, CLOSE_NOWRITE of a0 on X's watch, queued
    before that relisting) is still our own work, not news at C/cd/a0 (ground
    truth, seed 48, threaded: own-read)."""
    fk, core = setup("X/")
    run(fk, core)
    fk.echo = True
    fk.mkdir(f"{ROOT}/X/a0")

    def meanwhile() -> None:
        fk.mkdir(f"{ROOT}/C")
        fk.rename(f"{ROOT}/X", f"{ROOT}/C/cd")
        core.read_raw()

    fk.during_list[f"{ROOT}/X/a0"] = meanwhile
    events = run(fk, core)
    check(fk, core, {"X/"}, events)
    echo = [(e.maskname, e.pathname) for e in events if e.mask & (0x1 | 0x10 | 0x20)]
    assert echo == [], events


def test_unlisted_directory_does_not_report_again_what_the_kernel_reported() -> None:
    """The walk of a new S/P watches S/P/m; before m is listed, mv S/P T/b7 and
    mv T/f T/b7/m/g. m's listing fails (ENOENT); the rename re-paths it and the
    kernel reports g's MOVED_TO in it, processed before m is listed at T/b7/m.
    That listing finds g, already reported: not a second CREATE (ground truth,
    seed 34, blocking: dup-create)."""
    start = {"S/", "T/", "T/f"}
    fk, core = setup(*sorted(start))
    run(fk, core)

    def meanwhile() -> None:
        fk.rename(f"{ROOT}/S/P", f"{ROOT}/T/b7")
        fk.rename(f"{ROOT}/T/f", f"{ROOT}/T/b7/m/g")

    fk.after_watch[f"{ROOT}/S/P/m"] = meanwhile
    fk.makedirs(f"{ROOT}/S/P/m/c")
    events = run(fk, core)
    check(fk, core, start, events)


def test_unlisted_directory_relisted_keeps_what_a_listing_still_holds() -> None:
    """As above, with mkdir T/b7/m/k; touch T/b7/m/k/f instead: k's CREATE is
    reported and k listed (f held) before m is listed at last. f was never
    reported (its CREATE still held): the relisting holds it again, it is not
    taken as known (ground truth, seed 48, pyinotify: missing)."""
    start = {"S/", "T/"}
    fk, core = setup(*sorted(start))
    run(fk, core)

    def meanwhile() -> None:
        fk.rename(f"{ROOT}/S/P", f"{ROOT}/T/b7")
        fk.mkdir(f"{ROOT}/T/b7/m/k")
        fk.create(f"{ROOT}/T/b7/m/k/f")

    fk.after_watch[f"{ROOT}/S/P/m"] = meanwhile
    fk.makedirs(f"{ROOT}/S/P/m/c")
    events = run(fk, core)
    check(fk, core, start, events)
    assert not fk.after_watch
