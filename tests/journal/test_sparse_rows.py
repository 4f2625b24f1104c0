"""Rows written with only the columns they fill (store.py, state.py) are the rows
a full-column write gives: every shape of event, on a real tree and real SQLite.

The writer leaves NULL columns out of its INSERTs for speed (binding None costs
the sqlite3 module an adapter lookup). These tests read the rows back and compare
them with what the prepared records say (``events``) and with the plain
full-row write of the same states (``files``).
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any

from inwatch import Event, Mask
from inwatch.event import Actor
from inwatch.journal import Journal
from inwatch.journal.state import COLUMNS, FileStates
from inwatch.journal.store import prepare_batch


class FullRowStates(FileStates):
    """The reference: every row written with all its columns, NULLs bound."""

    def flush(self) -> None:
        if self.dirty:
            self.conn.executemany(
                f"INSERT OR REPLACE INTO files (path_id, {COLUMNS}) VALUES (?{', ?' * 20})",
                [(pid, *row) for pid in self.dirty if (row := self.rows[pid]) is not None],
            )
            self.dirty.clear()


def _events(tree: Path) -> list[Event[bytes]]:
    """One of each shape: with and without a stat snapshot, a paired move (with
    a stat, and of an entry gone by the time it is looked at: without), an
    actor, a digest, a deletion, a scan's finding, a queue overflow and the
    rescan after it."""
    root = os.fsencode(tree)
    (tree / "kept").write_bytes(b"kept")
    (tree / "moved").write_bytes(b"moved")
    (tree / "d2").mkdir()
    who = Actor(4242, 0, 0, "touch", "/usr/bin/touch", "ok")
    t = 1_700_000_000.5
    ev = Event
    return [
        ev(1, int(Mask.CREATE), 0, b"kept", root, time=t),
        ev(1, int(Mask.CLOSE_WRITE), 0, b"kept", root, time=t),
        ev(1, int(Mask.CREATE), 0, b"gone", root, time=t),  # no such file: no stat
        ev(1, int(Mask.MODIFY), 0, b"kept", root, time=t, actor=who),
        ev(1, int(Mask.CREATE), 0, b"was", root, time=t),
        ev(1, int(Mask.MOVED_FROM), 7, b"was", root, time=t),
        ev(1, int(Mask.MOVED_TO), 7, b"moved", root, src_pathname=root + b"/was", time=t),
        ev(1, int(Mask.MOVED_FROM | Mask.ISDIR), 8, b"d1", root, time=t),
        ev(1, int(Mask.MOVED_TO | Mask.ISDIR), 8, b"d2", root, src_pathname=root + b"/d1", time=t),
        ev(1, int(Mask.MOVED_FROM), 9, b"x", root, time=t),
        ev(1, int(Mask.MOVED_TO), 9, b"nowhere", root, src_pathname=root + b"/x", time=t),
        ev(1, int(Mask.DELETE), 0, b"gone", root, time=t),
        ev(1, int(Mask.CREATE | Mask.ISDIR), 0, b"d2", root, origin="scan", time=t),
        ev(-1, int(Mask.Q_OVERFLOW), 0, b"", b"", time=t),
        ev(1, int(Mask.CREATE), 0, b"kept", root, origin="rescan", time=t),
        ev(1, int(Mask.ATTRIB), 0, b"", root, time=t),
    ]


def _write(db: Path, events: list[Any], states: type[FileStates] | None = None) -> None:
    with Journal(db, hash_max=1 << 20) as j:
        if states is not None:
            j.store.states = states(j.conn)
            # Store.write makes a FileStates per batch: make it this class.
            import inwatch.journal.store as store_mod

            saved = store_mod.FileStates
            store_mod.FileStates = states  # type: ignore[misc]
            try:
                j.append(events)
            finally:
                store_mod.FileStates = saved  # type: ignore[misc]
        else:
            j.append(events)


def _rows(db: Path, sql: str) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def test_event_rows_hold_what_was_prepared(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    tree.mkdir()
    events = _events(tree)
    items = prepare_batch(events, 1 << 20)
    db = tmp_path / "j.db"
    _write(db, events)
    rows = _rows(
        db,
        "SELECT e.time_ns, e.mask, p.path, s.path, e.origin, e.size, e.mode, e.uid, e.gid,"
        " e.mtime_ns, e.inode, e.actor_pid, e.actor_uid, e.actor_comm, e.actor_exe,"
        " e.actor_status, e.actor_user, e.digest"
        " FROM events e JOIN paths p ON p.id = e.path_id LEFT JOIN paths s ON s.id = e.src_id"
        " ORDER BY e.seq",
    )
    want = []
    for it in items:
        a = it.actor
        want.append(
            (
                it.time_ns,
                it.mask,
                it.path,
                it.src,
                it.origin,
                *(it.st[:6] if it.st is not None else (None,) * 6),
                *((a.pid, a.uid, a.comm, a.exe, a.status) if a else (None,) * 5),
                it.actor_user,
                it.digest,
            )
        )
    assert rows == want
    # Every shape was there: no stat, a stat, a paired move with and without one,
    # an actor, a digest.
    assert any(it.st is None and it.src is None for it in items)
    assert any(it.st is not None and it.src is None and it.digest is None for it in items)
    assert any(it.src is not None and it.st is not None for it in items)
    assert any(it.src is not None and it.st is None for it in items)
    assert any(it.actor is not None for it in items)
    assert any(it.digest for it in items)


def test_file_rows_equal_the_full_row_write(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    tree.mkdir()
    events = _events(tree)
    fast, full = tmp_path / "fast.db", tmp_path / "full.db"
    _write(fast, events)
    _write(full, events, FullRowStates)
    sql = f"SELECT p.path, {COLUMNS} FROM files f JOIN paths p ON p.id = f.path_id ORDER BY 1"
    got, want = _rows(fast, sql), _rows(full, sql)
    assert got == want
    assert len(got) >= 5
    # Rows with NULLs of different columns were written (several shapes).
    assert len({tuple(v is None for v in row) for row in got}) >= 3


def test_bulk_inserts_keep_order_across_statements(tmp_path: Path) -> None:
    """More rows than one statement takes (MAX_PARAMS values), of every width."""
    from inwatch.journal.inserts import MAX_PARAMS, insert_rows

    conn = sqlite3.connect(tmp_path / "t.db")
    try:
        for width in (1, 2, 4, 18, MAX_PARAMS):
            cols = ", ".join(f"c{i}" for i in range(width))
            conn.execute(f"CREATE TABLE t{width} (seq INTEGER PRIMARY KEY AUTOINCREMENT, {cols})")
            rows = [tuple(r * width + c for c in range(width)) for r in range(1000)]
            insert_rows(conn, f"INSERT INTO t{width} ({cols}) VALUES ", width, rows)
            got = conn.execute(f"SELECT * FROM t{width} ORDER BY seq").fetchall()
            assert got == [(i + 1, *row) for i, row in enumerate(rows)], width
    finally:
        conn.close()


def test_a_big_batch_is_stored_in_order(tmp_path: Path) -> None:
    """A batch of many statements' worth: seq follows the events' order."""
    tree = tmp_path / "tree"
    tree.mkdir()
    shapes = _events(tree)
    events = [shapes[i % len(shapes)] for i in range(3000)]
    items = prepare_batch(events, 1 << 20)
    db = tmp_path / "j.db"
    _write(db, events)
    rows = _rows(
        db,
        "SELECT e.seq, e.mask, p.path, e.size FROM events e JOIN paths p ON p.id = e.path_id"
        " ORDER BY e.seq",
    )
    assert [r[0] for r in rows] == list(range(1, 3001))
    assert [(r[1], r[2], r[3]) for r in rows] == [
        (it.mask, it.path, it.st[0] if it.st else None) for it in items
    ]
