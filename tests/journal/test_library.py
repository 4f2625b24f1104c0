"""The Journal library on real SQLite files, fed by a real Watcher on real directories."""

from __future__ import annotations

import os
import sqlite3
import stat
import time
from pathlib import Path

import pytest

from inwatch import Event, Mask, Watcher
from inwatch.journal import (
    SCHEMA_VERSION,
    Journal,
    JournalCorruptError,
    JournalError,
    JournalVersionError,
)

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def collect(w: Watcher, until: object, timeout: float = 10.0) -> list[Event[bytes]]:
    """Read events until *until(events)* is true (a deadline fails the test)."""
    got: list[Event[bytes]] = []
    deadline = time.monotonic() + timeout
    while not until(got):  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out; got {got}"
        got += w.read(timeout=0.2)
    return got


def test_watcher_events_round_trip_with_non_utf8_names(tree: Path, db: Path) -> None:
    root = os.fsencode(tree)
    name = b"r\xe9ponse-\xff.txt"  # Latin-1, not UTF-8
    with Watcher() as w, Journal(db) as j:
        w.add(root, mask=Mask.ALL_EVENTS, recursive=True)
        fd = os.open(root + b"/" + name, os.O_WRONLY | os.O_CREAT, 0o640)
        os.write(fd, b"hello")
        os.close(fd)
        os.rename(root + b"/" + name, root + b"/" + name + b".2")
        evs = collect(w, lambda g: any(e.mask & Mask.MOVED_TO for e in g))
        j.append(evs)
        rows = j.events(path=root + b"/r\xe9ponse*")
        assert rows[0].op == "CREATE"
        assert rows[0].path == root + b"/" + name
        moved = j.events(ops="moved_to")
        assert len(moved) == 1
        assert moved[0].path == root + b"/" + name + b".2"
        assert moved[0].src_path == root + b"/" + name
        # str in, the same bytes stored (surrogateescape)
        assert j.state(os.fsdecode(root + b"/" + name + b".2")) is not None
        st = j.state(root + b"/" + name + b".2")
        assert st is not None and st.present and st.size == 5 and st.mode is not None
        assert stat.S_IMODE(st.mode) == 0o640
        # The state row moved with the rename; the old name lives on in history.
        assert j.state(root + b"/" + name) is None
        assert [r.op for r in j.history(root + b"/" + name + b".2")][-1] == "MOVED_TO"


def test_history_answers_the_seed_questions(tree: Path, db: Path) -> None:
    """Created when, last changed when and by whom (the owner's uid under inotify),
    followed through a rename of the file and of the directory above it."""
    with Watcher() as w, Journal(db) as j:
        w.add(str(tree), recursive=True)
        (tree / "d").mkdir()
        evs = collect(w, lambda g: any(e.mask & Mask.CREATE for e in g))  # d is watched now
        f = tree / "d" / "report.txt"
        f.write_text("v1")
        created = time.time()
        evs += collect(w, lambda g: any(e.mask & Mask.CLOSE_WRITE for e in g))
        j.append(evs)
        os.rename(f, tree / "d" / "final.txt")
        os.rename(tree / "d", tree / "e")
        with open(tree / "e" / "final.txt", "a") as fh:
            fh.write("v2")
        evs = collect(
            w, lambda g: any(e.mask & Mask.CLOSE_WRITE and e.name == "final.txt" for e in g)
        )
        j.append(evs)
        life = j.history(str(tree / "e" / "final.txt"))
        ops = [(r.op, os.fsdecode(r.path)) for r in life]
        assert ops[0] == ("CREATE", str(tree / "d" / "report.txt"))
        assert ("MOVED_TO", str(tree / "d" / "final.txt")) in ops
        assert ops[-1] == ("CLOSE_WRITE", str(tree / "e" / "final.txt"))
        st = j.state(str(tree / "e" / "final.txt"))
        assert st is not None and st.present and st.size == 4
        assert st.created_ns is not None and abs(st.created_ns / 1e9 - created) < 5
        assert st.changed_op == "CLOSE_WRITE" and st.changed_uid == os.getuid()
        assert st.changed_pid is None  # inotify cannot name the process


def test_actor_fields_are_stored(tree: Path, db: Path) -> None:
    from inwatch.event import Actor

    (tree / "x").write_text("1")
    actor = Actor(os.getpid(), 0, 0, "editor", "/usr/bin/editor", "ok")
    ev = Event(-1, int(Mask.CLOSE_WRITE), 0, "x", str(tree), time=time.time(), actor=actor)
    with Journal(db) as j:
        j.append([ev])
        (row,) = j.rows_after(0, 10)
        assert (row.actor_pid, row.actor_uid, row.actor_comm, row.actor_exe) == (
            os.getpid(),
            0,
            "editor",
            "/usr/bin/editor",
        )
        assert row.actor_user == "root" and row.actor_status == "ok"
        assert j.events(comm="editor", user="root") == [row]
        assert j.events(comm="other") == []


def test_files_are_private(tmp_path: Path) -> None:
    db = tmp_path / "a" / "b" / "journal.db"
    old = os.umask(0)
    try:
        Journal(db).close()
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(db).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(db.parent).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(db.parent.parent).st_mode) == 0o700
    with Journal(db) as j:  # WAL files too
        j.add_gap(1, 2, "downtime")
        for suffix in ("-wal", "-shm"):
            p = Path(str(db) + suffix)
            assert stat.S_IMODE(os.stat(p).st_mode) == 0o600, p


def test_corrupt_file_is_named_and_untouched(tmp_path: Path) -> None:
    db = tmp_path / "journal.db"
    junk = b"this is not SQLite\n" * 300
    db.write_bytes(junk)
    with pytest.raises(JournalCorruptError) as info:
        Journal(db)
    assert str(db) in str(info.value) and "untouched" in str(info.value)
    assert db.read_bytes() == junk
    # A damaged journal: a valid header, pages overwritten.
    good = tmp_path / "good.db"
    with Journal(good) as j:
        j.append([Event(1, 0x100, 0, f"f{i}", str(tmp_path), time=1.0) for i in range(2000)])
    data = bytearray(good.read_bytes())
    data[4096:] = b"\xa5" * (len(data) - 4096)
    good.write_bytes(bytes(data))
    with pytest.raises(JournalCorruptError) as info, Journal(good) as j:
        j.events()
    assert str(good) in str(info.value)
    assert good.read_bytes() == bytes(data)


def test_foreign_sqlite_file_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "other.db"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.close()
    with pytest.raises(JournalError, match="not an inwatch journal"):
        Journal(db)


def test_newer_schema_is_refused(db: Path) -> None:
    Journal(db).close()
    conn = sqlite3.connect(db)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.commit()
    conn.close()
    with pytest.raises(JournalVersionError, match="newer than this inwatch reads"):
        Journal(db)


def test_migration_from_version_1(tmp_path: Path) -> None:
    db = tmp_path / "v1.db"
    conn = sqlite3.connect(db)
    conn.executescript((FIXTURES / "journal_v1.sql").read_text())
    conn.close()
    with Journal(db) as j:
        assert j.read("PRAGMA user_version")[0][0] == SCHEMA_VERSION
        assert j.journal_id == "0123456789abcdef0123456789abcdef" and j.host == "oldhost"
        rows = j.rows_after(0, 10)
        assert [(r.seq, r.op) for r in rows] == [(1, "CREATE"), (2, "CLOSE_WRITE"), (3, "MOVED_TO")]
        assert rows[1].actor_comm == "vim" and rows[1].actor_user is None
        assert rows[0].path == b"/srv/data/r\xe9ponse" and rows[2].src_path == rows[0].path
        assert [r.seq for r in j.history(b"/srv/data/new")] == [1, 2, 3]
        j.set_cursor("pg", 2)  # the new table works
        assert j.cursor("pg") == 2
        # New rows continue the sequence.
        assert j.append([Event(1, 0x100, 0, "z", "/srv/data", time=1.0)]) == 4


def test_failed_migration_leaves_the_file_as_it_was(tmp_path: Path) -> None:
    db = tmp_path / "v1.db"
    conn = sqlite3.connect(db)
    conn.executescript((FIXTURES / "journal_v1.sql").read_text())
    # A v1 file that already has a column the migration adds: the migration fails.
    conn.execute("ALTER TABLE files ADD COLUMN digest BLOB")
    conn.commit()
    conn.close()
    before = db.read_bytes()
    with pytest.raises(JournalError, match="duplicate column"):
        Journal(db)
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
    cols = [r[1] for r in conn.execute("PRAGMA table_info(events)")]
    assert "actor_user" not in cols  # rolled back: nothing half-done
    conn.close()
    assert len(db.read_bytes()) == len(before)


def test_overflow_becomes_a_gap_extended_over_its_rescan(tmp_path: Path, db: Path) -> None:
    t = time.time()
    evs = [
        Event(-1, int(Mask.Q_OVERFLOW), 0, "", "", time=t),
        Event(1, 0x100, 0, "a", str(tmp_path), origin="rescan", time=t + 1),
        Event(1, 0x100, 0, "b", str(tmp_path), origin="rescan", time=t + 2),
        Event(1, 0x100, 0, "c", str(tmp_path), time=t + 3),
    ]
    with Journal(db) as j:
        j.append(evs)
        (gap,) = j.gaps()
        assert gap.kind == "overflow"
        assert gap.start_ns == int(t * 1e9) and gap.end_ns == int((t + 2) * 1e9)
        assert [r.origin for r in j.events(origin="rescan")] == ["rescan", "rescan"]
