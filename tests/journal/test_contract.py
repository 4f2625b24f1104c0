"""The contract the shipping helper builds on: ids, rows_after, cursors, sinks, gaps."""

from __future__ import annotations

import dataclasses
import os
import re
import time
from pathlib import Path

from inwatch import Event
from inwatch.journal import Journal, JournalRow


def _ev(mask: int, d: Path, name: str, **kw: object) -> Event[str]:
    return Event(1, mask, 0, name, str(d), time=time.time(), **kw)  # type: ignore[arg-type]


def test_journal_id_host_and_rows_after(tree: Path, db: Path) -> None:
    (tree / "a").write_text("x")
    with Journal(db, host="alpha") as j:
        assert re.fullmatch(r"[0-9a-f]{32}", j.journal_id)
        assert j.host == "alpha"
        assert j.append([_ev(0x100, tree, "a"), _ev(0x8, tree, "a")]) == 2
        (tree / "a").unlink()
        assert j.append([_ev(0x200, tree, "a")]) == 3
        rows = j.rows_after(0, 10)
        assert [r.seq for r in rows] == [1, 2, 3]
        assert [r.op for r in rows] == ["CREATE", "CLOSE_WRITE", "DELETE"]
        assert all(r.host == "alpha" and r.journal_id == j.journal_id for r in rows)
        assert rows[0].path == os.fsencode(tree / "a") and rows[0].size == 1
        assert rows[2].size is None  # no snapshot of a deleted entry
        assert [r.seq for r in j.rows_after(1, 1)] == [2]
        assert j.rows_after(3, 10) == []
        jid = j.journal_id
    with Journal(db) as j:  # the id and host are the file's
        assert j.journal_id == jid and j.host == "alpha"


def test_journalrow_fields_are_exactly_the_contract() -> None:
    names = [f.name for f in dataclasses.fields(JournalRow)]
    assert names == [
        "host",
        "journal_id",
        "seq",
        "time_ns",
        "op",
        "path",
        "src_path",
        "is_dir",
        "origin",
        "size",
        "mode",
        "uid",
        "gid",
        "mtime_ns",
        "inode",
        "actor_pid",
        "actor_uid",
        "actor_user",
        "actor_comm",
        "actor_exe",
        "actor_status",
        "digest",
    ]
    assert JournalRow.__dataclass_params__.frozen  # type: ignore[attr-defined]


def test_cursors_are_durable(db: Path) -> None:
    with Journal(db) as j:
        assert j.cursor("nats") == 0
        j.register_sink("nats")
        j.set_cursor("nats", 42)
        j.set_cursor("pg", 7)
    with Journal(db) as j:
        assert (j.cursor("nats"), j.cursor("pg"), j.cursor("other")) == (42, 7, 0)


def test_gaps_rows(db: Path) -> None:
    with Journal(db) as j:
        j.add_gap(10, 20, "downtime", "not running")
        gaps = j.gaps()
        assert [(g.start_ns, g.end_ns, g.kind, g.detail) for g in gaps] == [
            (10, 20, "downtime", "not running")
        ]
        assert j.gaps(since_ns=21) == [] and len(j.gaps(since_ns=15, until_ns=30)) == 1
