"""Real fanotify on a tmpfs mounted for the test: every event type, paths, moves,
exclusion, deleted objects, overflow and rescan."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from inwatch import Event, Mask
from inwatch.fanotify.backend import FanotifyBackend

from .conftest import collect, has, quiet

ISDIR = int(Mask.ISDIR)


def kinds(events: list[Event[Any]], path: Path) -> list[int]:
    return [e.mask for e in events if e.pathname == str(path)]


def test_file_lifecycle(fan: FanotifyBackend, fan_tmpfs: Path) -> None:
    f = fan_tmpfs / "f"
    fd = os.open(f, os.O_CREAT | os.O_WRONLY, 0o644)
    os.write(fd, b"hello")
    os.close(fd)
    got = collect(fan, has(f, Mask.CLOSE_WRITE))
    assert kinds(got, f) == [Mask.CREATE, Mask.OPEN, Mask.MODIFY, Mask.CLOSE_WRITE]
    e = next(e for e in got if e.pathname == str(f))
    # wd: the id add() gave the root (one per tree, as fanotify has no watches).
    assert (e.wd, e.cookie, e.path, e.name, e.origin) == (1, 0, str(fan_tmpfs), "f", "kernel")
    assert e.actor is not None and e.actor.pid == os.getpid() and e.actor.status == "ok"
    assert e.actor.uid == os.geteuid()

    with open(f, "rb") as r:
        r.read()
    got = collect(fan, has(f, Mask.CLOSE_NOWRITE))
    assert kinds(got, f) == [Mask.OPEN, Mask.ACCESS, Mask.CLOSE_NOWRITE]

    os.chmod(f, 0o600)
    collect(fan, has(f, Mask.ATTRIB))

    os.unlink(f)
    got = collect(fan, has(f, Mask.DELETE))
    assert Mask.DELETE_SELF not in kinds(got, f)  # files in a tree: no *_SELF (as inotify)


def test_directories(fan: FanotifyBackend, fan_tmpfs: Path) -> None:
    d = fan_tmpfs / "d"
    d.mkdir()
    collect(fan, has(d, Mask.CREATE | ISDIR, name="d"))
    (d / "x").write_bytes(b"")
    collect(fan, has(d / "x", Mask.CREATE, path=str(d)))
    (d / "x").unlink()
    d.rmdir()
    got = collect(fan, has(d, Mask.DELETE_SELF))  # no ISDIR on *_SELF, as inotify
    assert has(d, Mask.DELETE | ISDIR)(got)
    assert has(d / "x", Mask.DELETE)(got)


def test_rename_inside_is_inotifys_pair(fan: FanotifyBackend, fan_tmpfs: Path) -> None:
    """One FAN_RENAME record: MOVED_FROM then MOVED_TO, one non-zero cookie."""
    a, b = fan_tmpfs / "a", fan_tmpfs / "b"
    a.write_bytes(b"")
    collect(fan, has(a, Mask.CLOSE_WRITE))
    os.rename(a, b)
    got = collect(fan, has(b, Mask.MOVED_TO, src_pathname=str(a)))
    moves = [(e.mask, e.pathname) for e in got if e.mask & Mask.MOVE]
    assert moves == [(Mask.MOVED_FROM, str(a)), (Mask.MOVED_TO, str(b))]
    cookies = {e.cookie for e in got if e.mask & Mask.MOVE}
    assert len(cookies) == 1 and 0 not in cookies


def test_renamed_directory_rewrites_paths(fan: FanotifyBackend, fan_tmpfs: Path) -> None:
    (fan_tmpfs / "d" / "sub").mkdir(parents=True)
    collect(fan, has(fan_tmpfs / "d" / "sub", Mask.CREATE | ISDIR))
    os.rename(fan_tmpfs / "d", fan_tmpfs / "e")
    collect(fan, has(fan_tmpfs / "e", Mask.MOVED_TO | ISDIR, src_pathname=str(fan_tmpfs / "d")))
    (fan_tmpfs / "e" / "sub" / "f").write_bytes(b"1")
    collect(fan, has(fan_tmpfs / "e" / "sub" / "f", Mask.CLOSE_WRITE))


def test_moves_across_the_root(fan: FanotifyBackend, fan_tmpfs: Path) -> None:
    outside = fan_tmpfs.parent / "outside"
    outside.mkdir()
    (outside / "in").write_bytes(b"")
    (fan_tmpfs / "out").write_bytes(b"")
    os.rename(outside / "in", fan_tmpfs / "in")
    os.rename(fan_tmpfs / "out", outside / "out")
    got = collect(fan, has(fan_tmpfs / "out", Mask.MOVED_FROM))
    assert has(fan_tmpfs / "in", Mask.MOVED_TO, src_pathname=None)(got)
    # Nothing of the sibling directory leaks through the filesystem mark.
    assert not [e for e in got if str(outside) in e.pathname]


def test_events_outside_the_tree_are_dropped(fan: FanotifyBackend, fan_tmpfs: Path) -> None:
    (fan_tmpfs.parent / "elsewhere").write_bytes(b"x")
    (fan_tmpfs / "marker").write_bytes(b"")
    got = collect(fan, has(fan_tmpfs / "marker", Mask.CLOSE_WRITE))
    assert all(e.pathname.startswith(str(fan_tmpfs)) for e in got)


def test_exclude_and_non_recursive(fan_tmpfs: Path) -> None:
    (fan_tmpfs / "skip" / "deep").mkdir(parents=True)
    (fan_tmpfs / "sub").mkdir()
    with FanotifyBackend(ignore_own=False) as b:
        b.add(str(fan_tmpfs), exclude=["*.tmp", "skip"])  # not recursive
        (fan_tmpfs / "a.tmp").write_bytes(b"")
        (fan_tmpfs / "skip" / "deep" / "x").write_bytes(b"")
        (fan_tmpfs / "sub" / "nested").write_bytes(b"")
        (fan_tmpfs / "kept").write_bytes(b"")
        got = collect(b, has(fan_tmpfs / "kept", Mask.CLOSE_WRITE))
        got += quiet(b)
        names = {e.pathname for e in got}
        assert names <= {str(fan_tmpfs), str(fan_tmpfs / "kept"), str(fan_tmpfs / "sub")}, names


def test_bytes_root_gives_bytes(fan_tmpfs: Path) -> None:
    with FanotifyBackend(ignore_own=False) as b:
        rid = b.add(os.fsencode(fan_tmpfs), recursive=True)
        assert b.watches == {rid: os.fsencode(fan_tmpfs)}
        name = b"caf\xe9"  # not UTF-8
        with open(os.fsencode(fan_tmpfs) + b"/" + name, "wb"):
            pass
        got = collect(b, lambda ev: any(e.mask == Mask.CLOSE_WRITE for e in ev))
        e = next(e for e in got if e.mask == Mask.CLOSE_WRITE)
        assert e.name == name and isinstance(e.pathname, bytes)
        b.remove(rid)
        assert not b.alive


def test_deleted_objects_keep_their_paths(fan: FanotifyBackend, fan_tmpfs: Path) -> None:
    # All of it happens before we read: every handle is stale by then.
    script = "mkdir d && echo x > d/f && mv d/f d/g && rm -r d"
    subprocess.run(["sh", "-c", script], cwd=fan_tmpfs, check=True, timeout=30)
    d = fan_tmpfs / "d"
    got = collect(fan, has(d, Mask.DELETE_SELF))  # no ISDIR on *_SELF, as inotify
    assert has(d / "f", Mask.CREATE)(got)
    assert has(d / "f", Mask.CLOSE_WRITE)(got)
    assert has(d / "g", Mask.MOVED_TO, src_pathname=str(d / "f"))(got)
    assert has(d / "g", Mask.DELETE)(got)
    assert has(d, Mask.DELETE | ISDIR)(got)
    assert not [e for e in got if e.pathname.startswith("?")]


def test_pre_existing_directory_resolved_by_handle(fan_tmpfs: Path) -> None:
    (fan_tmpfs / "old" / "er").mkdir(parents=True)
    with FanotifyBackend(ignore_own=False) as b:
        b.add(str(fan_tmpfs), recursive=True)
        (fan_tmpfs / "old" / "er" / "f").write_bytes(b"")
        collect(b, has(fan_tmpfs / "old" / "er" / "f", Mask.CLOSE_WRITE))


def _max_queued() -> int:
    with open("/proc/sys/fs/fanotify/max_queued_events") as f:
        return int(f.read())


@pytest.mark.parametrize("snapshot", [False, True])
def test_overflow_then_rescan(fan_tmpfs: Path, snapshot: bool) -> None:
    limit = _max_queued()
    if limit > 50_000:
        pytest.skip(f"max_queued_events is {limit}: too many files to overflow it quickly")
    (fan_tmpfs / "pre").write_bytes(b"")
    with FanotifyBackend(ignore_own=False, actors=False) as b:
        b.add(str(fan_tmpfs), recursive=True, snapshot=snapshot)
        n = limit + 200
        d = fan_tmpfs / "many"
        d.mkdir()
        for i in range(n):  # distinct objects: the kernel cannot merge them
            os.close(os.open(d / str(i), os.O_CREAT | os.O_WRONLY, 0o644))
        got = collect(b, lambda ev: any(e.mask == Mask.Q_OVERFLOW for e in ev))
        got += quiet(b, 0.5)
    assert b.stats["overflows"] == 1
    over = [i for i, e in enumerate(got) if e.mask == Mask.Q_OVERFLOW]
    assert len(over) == 1 and got[over[0]].wd == -1 and got[over[0]].path == ""
    rescanned = [e for e in got if e.origin == "rescan"]
    assert rescanned, "an overflow must be followed by the rescan"
    assert all(e.origin != "rescan" for e in got[: over[0]])
    seen = {e.name for e in got if e.path == str(d) and e.mask & (Mask.CREATE | Mask.MODIFY)}
    assert seen == {str(i) for i in range(n)}  # every file: from the kernel or the rescan
    if snapshot:
        # Exact diff: the files whose CREATE was dropped come back as CREATE,
        # and only those; nothing was deleted.
        kernel = {e.name for e in got if e.origin == "kernel" and e.mask == Mask.CREATE}
        again = {e.name for e in rescanned if e.mask == Mask.CREATE and e.path == str(d)}
        assert again and not kernel & again
        assert kernel | again >= {str(i) for i in range(n)}
        assert not [e for e in rescanned if e.mask & Mask.DELETE]


def test_root_named_through_a_symlink_keeps_its_name(fan_tmpfs: Path, tmp_path: Path) -> None:
    (fan_tmpfs / "real").mkdir()
    link = tmp_path / "link"
    link.symlink_to(fan_tmpfs / "real")
    with FanotifyBackend(ignore_own=False) as b:
        b.add(str(link), recursive=True, follow_symlinks=True)
        (fan_tmpfs / "real" / "a").write_bytes(b"")
        os.rename(fan_tmpfs / "real" / "a", fan_tmpfs / "real" / "b")
        got = collect(b, has(link / "b", Mask.MOVED_TO, src_pathname=str(link / "a")))
        assert has(link / "a", Mask.CREATE)(got) and not [e for e in got if "real" in e.pathname]


def test_directory_moved_in_reports_its_contents(fan: FanotifyBackend, fan_tmpfs: Path) -> None:
    outside = fan_tmpfs.parent / "outside"
    (outside / "tree" / "sub").mkdir(parents=True)
    (outside / "tree" / "sub" / "f").write_bytes(b"")
    os.rename(outside / "tree", fan_tmpfs / "tree")
    t = fan_tmpfs / "tree"
    (t / "sub" / "later").write_bytes(b"")  # after the move: the kernel reports it
    got = collect(fan, has(t / "sub" / "later", Mask.CLOSE_WRITE))
    assert has(t, Mask.MOVED_TO | ISDIR, src_pathname=None, origin="kernel")(got)
    assert has(t / "sub", Mask.CREATE | ISDIR, origin="scan")(got)
    assert has(t / "sub" / "f", Mask.CREATE, origin="scan")(got)
    # Each entry once, whether the scan or the kernel saw it first.
    creates = [e.pathname for e in got if e.mask & Mask.CREATE]
    assert len(creates) == len(set(creates)), creates


def test_deleted_root_ends_the_watch(fan_tmpfs: Path) -> None:
    d = fan_tmpfs / "root"
    d.mkdir()
    with FanotifyBackend(ignore_own=False) as b:
        b.add(str(d), Mask.CREATE, recursive=True)  # no DELETE_SELF asked for
        (d / "f").write_bytes(b"")
        collect(b, has(d / "f", Mask.CREATE))
        (d / "f").unlink()
        d.rmdir()
        collect(b, lambda _: not b.alive)
        assert b.watches == {}
        d.mkdir()  # the same path again: nothing watches it now
        (d / "g").write_bytes(b"")
        assert quiet(b) == []


def test_a_file_root(fan_tmpfs: Path) -> None:
    f = fan_tmpfs / "secret"
    f.write_bytes(b"s")
    with FanotifyBackend(ignore_own=False) as b:
        b.add(str(f))
        (fan_tmpfs / "other").write_bytes(b"")
        f.read_bytes()
        os.chmod(f, 0o600)
        got = collect(b, has(f, Mask.ATTRIB))
        assert {e.pathname for e in got} == {str(f)}
        assert has(f, Mask.CLOSE_NOWRITE, path=str(f), name="")(got)
        f.unlink()
        got = collect(b, has(f, Mask.DELETE_SELF))
        collect(b, lambda _: not b.alive)


def test_renamed_root_is_followed(fan_tmpfs: Path) -> None:
    a, b_ = fan_tmpfs / "a", fan_tmpfs / "b"
    (a / "sub").mkdir(parents=True)
    with FanotifyBackend(ignore_own=False) as b:
        rid = b.add(str(a), recursive=True, snapshot=True)
        os.rename(a, b_)
        (b_ / "sub" / "f").write_bytes(b"")
        collect(b, has(b_ / "sub" / "f", Mask.CLOSE_WRITE))
        assert b.alive and b.watches == {rid: str(b_)}


def test_exec_and_directory_move_self(fan_tmpfs: Path) -> None:
    """The two kinds no other test names: EXEC (FAN_OPEN_EXEC, fanotify only:
    bit 0x1000) of a program run from the tree, with its actor, and MOVE_SELF
    of a directory inside the tree (as an inotify watch on it would report)."""
    import shutil

    from inwatch.fanotify.core import EXEC

    prog = fan_tmpfs / "prog"
    shutil.copy(shutil.which("true") or "/bin/true", prog)
    (fan_tmpfs / "d").mkdir()
    with FanotifyBackend() as b:
        b.add(str(fan_tmpfs), Mask.ALL_EVENTS | EXEC, recursive=True)  # EXEC is asked for
        subprocess.run([str(prog)], check=True, timeout=30)
        subprocess.run(["mv", "d", "e"], cwd=fan_tmpfs, check=True, timeout=30)
        got = collect(b, has(fan_tmpfs / "e", Mask.MOVE_SELF))
    (run,) = [e for e in got if e.mask == EXEC]
    assert run.pathname == str(prog) and run.actor is not None
    assert run.actor.exe == str(prog) and run.actor.uid == 0
    moves = [(Mask(e.mask), e.pathname) for e in got if e.mask & (Mask.MOVE | Mask.MOVE_SELF)]
    assert moves == [
        (Mask.MOVED_FROM | Mask.ISDIR, str(fan_tmpfs / "d")),
        (Mask.MOVED_TO | Mask.ISDIR, str(fan_tmpfs / "e")),
        (Mask.MOVE_SELF, str(fan_tmpfs / "e")),
    ]
