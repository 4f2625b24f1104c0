"""The pure parts of the fanotify backend, without a kernel: the proc-connector
parser and generation table, the actor rules, root matching, the rescan diff,
the path cache and the record -> Event conversion on packed records."""

from __future__ import annotations

import struct
from pathlib import Path

from inwatch import Mask
from inwatch.fanotify import proc
from inwatch.fanotify.actors import Actors, Capture, is_interpreter
from inwatch.fanotify.core import Core
from inwatch.fanotify.handles import PathCache
from inwatch.fanotify.rescan import Snapshot, diff
from inwatch.fanotify.roots import Root
from inwatch.fanotify.wire import RawEvent, parse

from .packer import fid_key, pack_all

# --- proc connector -------------------------------------------------------------


def _nl(what: int, data: tuple[int, ...]) -> bytes:
    ev = struct.pack("=IIQ", what, 0, 0) + struct.pack(f"={len(data)}I", *data)
    ev += b"\0" * (40 - len(ev) + 16)
    cn = struct.pack("=IIIIHH", 1, 1, 0, 0, len(ev), 0) + ev
    return struct.pack("=IHHII", 16 + len(cn), 3, 0, 0, 0) + cn


def test_parse_proc_events() -> None:
    buf = _nl(proc.FORK, (10, 10, 11, 11)) + _nl(proc.UID, (11, 11, 5, 6))
    buf += _nl(proc.EXEC, (11, 11)) + _nl(proc.EXIT, (11, 11, 0, 0, 10, 10))
    assert proc.parse_proc_events(buf) == [
        (proc.FORK, 11, 11, 10, 0),
        (proc.UID, 11, 11, 5, 6),
        (proc.EXEC, 11, 11, 0, 0),
        (proc.EXIT, 11, 11, 0, 0),
    ]


def _table() -> proc.ProcTable:
    t = proc.ProcTable()
    t._gens[1] = [proc.Gen(1, (0, 0), b"/sbin/init", 0, True)]
    return t


def test_generations_inherit_and_split_at_exec() -> None:
    t = _table()
    t.apply([(proc.FORK, 50, 50, 1, 0), (proc.UID, 50, 50, 7, 7), (proc.EXEC, 50, 50, 0, 0)], False)
    g = t.candidate(50, t.drain_no)
    assert g is not None
    assert g.epochs == [None, (7, 0)]  # the uid changed inside epoch 0; epoch 1 is certain
    assert g.exe0 == b"/sbin/init"
    t.apply([(proc.FORK, 51, 51, 1, 1)], False)  # a thread? no: pid == tgid, a process
    t.apply([(proc.FORK, 52, 53, 1, 0)], False)  # pid != tgid: a thread, ignored
    assert t.current(52) is None


def test_reused_pid_is_ambiguous() -> None:
    t = _table()
    t.apply(
        [(proc.FORK, 60, 60, 1, 0), (proc.EXIT, 60, 60, 0, 0), (proc.FORK, 60, 60, 1, 0)], False
    )
    assert t.candidate(60, t.drain_no) is None  # two lifetimes in the window: cannot tell
    t.apply([], False)
    t.apply([], False)
    t.apply([], False)
    assert t.candidate(60, t.drain_no) is t.current(60)  # the old one is out of the window


def test_lost_connector_events_retire_and_rescan(tmp_path: Path) -> None:
    t = _table()
    t.apply([(proc.FORK, 70, 70, 1, 0)], False)
    old70 = t.current(70)
    fake = tmp_path / "proc"
    (fake / "70").mkdir(parents=True)
    (fake / "70" / "status").write_text("Name:\tx\nUid:\t5\t5\t5\t5\nGid:\t6\t6\t6\t6\n")
    t.apply([(proc.FORK, 71, 71, 1, 0)], True, proc=str(fake))
    assert old70 is not None and not old70.trusted and old70.died == t.drain_no
    new70 = t.current(70)
    assert new70 is not None and new70.trusted and new70.cur == (5, 6)
    assert t.current(71) is None  # forked during the loss, gone from the fresh scan
    # Right after the loss the pid has two lifetimes in the window: nothing claimed...
    assert t.candidate(70, t.drain_no) is None
    t.apply([], False)
    t.apply([], False)
    # ...then only the fresh one.
    assert t.candidate(70, t.drain_no) is new70


class _FakeActors(Actors):
    def __init__(self, table: proc.ProcTable) -> None:
        super().__init__(connector=False)
        self.table = table


def test_actor_rules() -> None:
    t = _table()
    a = _FakeActors(t)
    t.apply([(proc.FORK, 80, 80, 1, 0)], False)
    d = t.drain_no
    # Before any exec: the parent's identity, certain.
    assert a.actor(80, None, d) == (80, 0, 0, None, "/sbin/init", "exited")
    t.apply([(proc.UID, 80, 80, 9, 9), (proc.EXEC, 80, 80, 0, 0)], False)
    d = t.drain_no
    # The connector saw an exec fanotify has not shown yet: the epoch is unknown.
    assert a.actor(80, None, d) == (80, None, None, None, None, "exited")
    a.saw_exec(80, b"/usr/bin/touch", b"touch", d)
    a.saw_exec(80, b"/lib/ld-linux-x86-64.so.2", b"ld-linux-x86-64.so.2", d)  # not counted
    assert a.actor(80, None, d) == (80, 9, 0, None, "/usr/bin/touch", "exited")
    live = Capture(80, 9, 0, "touch", "/usr/bin/touch")
    assert a.actor(80, live, d) == (80, 9, 0, "touch", "/usr/bin/touch", "ok")
    assert a.actor(0, None, d).status == "hidden"
    assert a.actor(12345, None, d) == (12345, None, None, None, None, "exited")  # unknown pid
    a.close()


def test_is_interpreter() -> None:
    assert is_interpreter(b"ld-linux-x86-64.so.2") and is_interpreter(b"ld-musl-x86_64.so.1")
    assert is_interpreter(b"ld64.so.1")
    assert not is_interpreter(b"ld") and not is_interpreter(b"ldconfig")


# --- roots and rescan --------------------------------------------------------------


def _root(**kw: object) -> Root:
    args: dict[str, object] = {
        "recursive": True,
        "is_dir": True,
        "exclude": None,
        "as_bytes": False,
        "fsid": b"F" * 8,
    }
    args.update(kw)
    return Root(1, b"/w", 0xFFF, **args)  # type: ignore[arg-type]


def test_root_rel_and_exclusion() -> None:
    r = _root(exclude=["*.tmp", "build/cache"])
    assert r.rel(b"/w") == b"" and r.rel(b"/w/a/b") == b"a/b"
    assert r.rel(b"/wx/a") is None and r.rel(b"/") is None
    assert r.rel(b"/w/x.tmp") is None and r.rel(b"/w/x.tmp/inside") is None
    assert r.rel(b"/w/build/cache/f") is None and r.rel(b"/w/build/other") == b"build/other"
    assert _root(recursive=False).rel(b"/w/a/b") is None
    assert _root(exclude=lambda p: p.endswith("~")).rel(b"/w/f~") is None


def test_rescan_diff_with_snapshot() -> None:
    old = Snapshot()
    old.dirs = {b"/w": {b"a": False, b"d": True, b"gone": False}, b"/w/d": {}}
    new = Snapshot()
    new.dirs = {b"/w": {b"a": False, b"d": True, b"new": False}, b"/w/d": {b"x": False}}
    ctimes = {b"/w/a": 100, b"/w/d": 200, b"/w/new": 200, b"/w/d/x": 200}
    assert diff(old, new, ctimes, since_ns=150) == [
        (int(Mask.CREATE), b"/w", b"new"),
        (int(Mask.DELETE), b"/w", b"gone"),
        (int(Mask.CREATE), b"/w/d", b"x"),
    ]
    # Without a snapshot: whatever changed since, as MODIFY.
    assert diff(None, new, ctimes, since_ns=150) == [
        (int(Mask.MODIFY | Mask.ISDIR), b"/w", b"d"),
        (int(Mask.MODIFY), b"/w", b"new"),
        (int(Mask.MODIFY), b"/w/d", b"x"),
    ]


def test_snapshot_follows_moves() -> None:
    s = Snapshot()
    s.dirs = {b"/w": {b"d": True}, b"/w/d": {b"f": False}}
    s.moved((b"/w", b"d"), (b"/w", b"e"), True)
    assert s.dirs == {b"/w": {b"e": True}, b"/w/e": {b"f": False}}
    s.deleted(b"/w", b"e")
    assert s.dirs == {b"/w": {}}


# --- conversion on packed records ---------------------------------------------------

FS = b"F" * 8
ROOT, D, E, F = (fid_key(FS, 1, bytes([i]) * 8) for i in range(4))


def _core() -> tuple[Core, PathCache]:
    paths = PathCache()
    paths._fixed[ROOT] = b"/w"
    core = Core(paths, None)
    core.own_pid = -1
    core.set_roots([_root()])
    return core, paths


def test_merged_record_expands_in_life_order() -> None:
    core, _ = _core()
    rec = RawEvent(0x100 | 0x20 | 0x2 | 0x8 | 0x200, 5, -1, F, ROOT, b"f")
    out = core.convert(parse(pack_all([rec])), [], 0, 1.0)
    assert [e.mask for e in out] == [
        Mask.CREATE,
        Mask.OPEN,
        Mask.MODIFY,
        Mask.CLOSE_WRITE,
        Mask.DELETE,
    ]
    assert {(e.path, e.name, e.wd, e.cookie, e.time) for e in out} == {("/w", "f", 1, 0, 1.0)}


def test_paths_follow_create_and_rename_in_event_order() -> None:
    core, _ = _core()
    recs = [
        RawEvent(0x40000100, 5, -1, D, ROOT, b"d"),  # mkdir d
        RawEvent(0x2, 5, -1, F, D, b"f"),  # write d/f
        RawEvent(0x50000000, 5, -1, D, None, None, ROOT, b"d", ROOT, b"e"),  # d -> e
        RawEvent(0x2, 5, -1, F, D, b"f"),  # write e/f
        RawEvent(0x40000400, 5, -1, None, D, b"."),  # e deleted (self)
    ]
    out = core.convert(parse(pack_all(recs)), [], 0, 0.0)
    assert [(e.mask, e.pathname, e.src_pathname) for e in out] == [
        (Mask.CREATE | Mask.ISDIR, "/w/d", None),
        (Mask.MODIFY, "/w/d/f", None),
        (Mask.MOVED_FROM | Mask.ISDIR, "/w/d", None),
        (Mask.MOVED_TO | Mask.ISDIR, "/w/e", "/w/d"),
        (Mask.MODIFY, "/w/e/f", None),
        (Mask.DELETE_SELF, "/w/e", None),  # no ISDIR on *_SELF, as inotify
    ]


def test_unknown_directory_later_named_by_the_batch() -> None:
    # E was made before we looked and is deleted within this batch: its first
    # naming (the DELETE) places the events before it.
    core, _ = _core()
    recs = [RawEvent(0x2, 5, -1, F, E, b"f"), RawEvent(0x40000200, 5, -1, E, ROOT, b"old")]
    out = core.convert(parse(pack_all(recs)), [], 0, 0.0)
    assert [e.pathname for e in out] == ["/w/old/f", "/w/old"]


def test_unplaceable_object_is_counted_and_shown_only_where_certain() -> None:
    core, _ = _core()
    rec = pack_all([RawEvent(0x2, 5, -1, F, E, b"f")])
    assert core.convert(parse(rec), [], 0, 0.0) == []  # the root is part of its fs
    assert core.unresolved == 1
    whole = _root()
    whole.spans_fs = True  # a root that is its filesystem's root contains everything
    core.set_roots([whole])
    out = core.convert(parse(rec), [], 0, 0.0)
    assert len(out) == 1 and out[0].path.startswith("?") and out[0].name == "f"
    assert core.unresolved == 2


def test_overflow_record() -> None:
    core, _ = _core()
    core.set_roots([])
    out = core.convert(parse(pack_all([RawEvent(0x4000, 0, -1)])), [], 0, 0.0)
    assert [(e.mask, e.wd, e.path) for e in out] == [(Mask.Q_OVERFLOW, -1, b"")]
    assert core.overflows == 1


def test_mounted_filesystems_one_point_per_filesystem(tmp_path: Path) -> None:
    from inwatch.cli.top import mounted_filesystems

    mounts = tmp_path / "mounts"
    mounts.write_text(
        "/dev/sda1 / ext4 rw 0 0\n"
        "proc /proc proc rw 0 0\n"
        "/dev/sda1 /home ext4 rw 0 0\n"  # a bind mount of the same filesystem
        "tmpfs /my\\040dir tmpfs rw 0 0\n"
        "tmpfs /run tmpfs rw 0 0\n"  # another tmpfs: another filesystem
        "cgroup2 /sys/fs/cgroup cgroup2 rw 0 0\n"
        "tmpfs /gone tmpfs rw 0 0\n"
    )
    devs = {"/": 1, "/home": 1, "/my dir": 2, "/run": 3}

    def dev(p: str) -> int:
        if p not in devs:
            raise FileNotFoundError(p)
        return devs[p]

    assert mounted_filesystems(str(mounts), dev) == ["/", "/my dir", "/run"]


# --- rename halves (no FAN_RENAME) ---------------------------------------------------


def _halves_core() -> Core:
    from inwatch.fanotify.moves import Halves

    core, _ = _core()
    core.halves = Halves(core)
    return core


def test_halves_without_handles_pair_by_process() -> None:
    """Linux 5.9-5.16: no child handle. A merged CREATE|MOVED_FROM record (made,
    then moved away while unread), another process's event in between, then
    the MOVED_TO: one pair, at the MOVED_TO's place, and the other process's
    rename is its own pair."""
    core = _halves_core()
    recs = [
        RawEvent(0x40000100 | 0x40, 5, -1, None, ROOT, b"a"),  # mkdir a; (later) mv a ...
        RawEvent(0x40, 6, -1, None, ROOT, b"x"),  # pid 6: mv x ...
        RawEvent(0x2, 7, -1, None, ROOT, b"other"),
        RawEvent(0x40000080, 5, -1, None, ROOT, b"b"),  # ... b
        RawEvent(0x80, 6, -1, None, ROOT, b"y"),  # ... y
    ]
    out = core.convert(parse(pack_all(recs)), [], 0, 0.0, started=100.0)
    shape = [(Mask(e.mask), e.pathname, e.src_pathname, e.cookie) for e in out]
    assert shape == [
        (Mask.CREATE | Mask.ISDIR, "/w/a", None, 0),
        (Mask.MODIFY, "/w/other", None, 0),
        (Mask.MOVED_FROM | Mask.ISDIR, "/w/a", None, 1),
        (Mask.MOVED_TO | Mask.ISDIR, "/w/b", "/w/a", 1),
        (Mask.MOVED_FROM, "/w/x", None, 2),
        (Mask.MOVED_TO, "/w/y", "/w/x", 2),
    ]


def test_halves_by_handle_and_lone_halves() -> None:
    """With handles (TARGET_FID) the halves pair by the object; a departure
    left alone is a move out once a read that started after its window was
    processed; an arrival alone is a move in."""
    core = _halves_core()
    recs = [
        RawEvent(0x40, 5, -1, F, ROOT, b"f"),  # mv f -> (not read yet)
        RawEvent(0x80, 5, -1, E, ROOT, b"in"),  # something moved in
    ]
    out = core.convert(parse(pack_all(recs)), [], 0, 0.0, started=100.0)
    assert [(Mask(e.mask), e.pathname) for e in out] == [(Mask.MOVED_TO, "/w/in")]
    assert core.halves is not None and core.halves.pairer.deadline() == 100.002
    # A later read, within the window: still waiting; after it: moved out.
    assert core.convert([], [], 0, 0.0, started=100.001) == []
    out = core.convert([], [], 0, 0.0, started=100.01)
    assert [(Mask(e.mask), e.pathname, e.cookie) for e in out] == [(Mask.MOVED_FROM, "/w/f", 0)]
    # Pairing by handle: F moved from /w/g to /w/h, its record split by a read.
    core.convert(parse(pack_all([RawEvent(0x40, 5, -1, F, ROOT, b"g")])), [], 0, 0.0, 200.0)
    out = core.convert(parse(pack_all([RawEvent(0x80, 5, -1, F, ROOT, b"h")])), [], 0, 0.0, 200.001)
    assert [(Mask(e.mask), e.pathname, e.src_pathname) for e in out] == [
        (Mask.MOVED_FROM, "/w/g", None),
        (Mask.MOVED_TO, "/w/h", "/w/g"),
    ]


def test_lone_directory_departure_forgets_where_it_was() -> None:
    """A directory moved away with no MOVED_TO (lost to an overflow): what
    happens inside it later is not shown at its old place."""
    core = _halves_core()
    recs = [
        RawEvent(0x40000100, 5, -1, D, ROOT, b"d"),  # mkdir d
        RawEvent(0x40000040, 5, -1, D, ROOT, b"d"),  # mv d -> (unknown)
    ]
    core.convert(parse(pack_all(recs)), [], 0, 0.0, started=100.0)
    out = core.convert([], [], 0, 0.0, started=101.0)
    assert [(Mask(e.mask), e.pathname) for e in out] == [(Mask.MOVED_FROM | Mask.ISDIR, "/w/d")]
    later = [RawEvent(0x2, 5, -1, F, D, b"f")]  # written in d, wherever it is now
    assert core.convert(parse(pack_all(later)), [], 0, 0.0, started=102.0) == []
