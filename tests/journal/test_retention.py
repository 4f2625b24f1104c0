"""Retention on real journals: by age, by size, never unshipped rows unless forced."""

from __future__ import annotations

import os
import time
from pathlib import Path

from inwatch import Event
from inwatch.journal import Journal
from inwatch.journal.retention import prune, used_bytes

from .conftest import Recording, run_inwatch, wait_for

DAY = 86400


def fill(j: Journal, d: Path, n: int, t0: float, step: float, names: int = 0) -> None:
    """*n* CREATE events on distinct names (or on *names* names, round robin),
    stamped from *t0* every *step* seconds."""
    evs = [
        Event(1, 0x100, 0, f"file-{i % (names or n):06}", str(d), time=t0 + i * step)
        for i in range(n)
    ]
    for i in range(0, n, 5000):
        j.append(evs[i : i + 5000])


def test_keep_prunes_old_events_and_keeps_the_state(tree: Path, db: Path) -> None:
    now = time.time()
    with Journal(db) as j:
        (tree / "file-000000").write_text("x")
        fill(j, tree, 100, now - 99.5 * DAY, DAY)  # one a day, the last one 12 h ago
        r = prune(j, keep_ns=30 * DAY * 10**9)
        assert r.deleted == 70 and r.forced == 0
        rows = j.events()
        assert len(rows) == 30 and rows[0].seq == 71
        # The state of a file whose events are gone is still known.
        st = j.state(str(tree / "file-000000"))
        assert st is not None and st.present and st.created_ns is not None
        assert j.gaps() == []  # age-based pruning loses nothing anyone asked to keep


def test_unshipped_rows_survive_keep_but_max_size_forces_a_gap(tree: Path, db: Path) -> None:
    now = time.time()
    with Journal(db) as j:
        fill(j, tree, 20000, now - 50 * DAY, 1.0, names=20)  # all older than 30 days
        j.register_sink("nats")
        j.set_cursor("nats", 5000)
        r = prune(j, keep_ns=30 * DAY * 10**9)
        assert r.deleted == 5000 and r.forced == 0  # only what was shipped
        assert j.rows_after(0, 1)[0].seq == 5001
        size = used_bytes(j)
        limit = size // 3  # the events take most of it: the state is 20 paths
        r = prune(j, max_bytes=limit)
        assert used_bytes(j) <= limit
        assert r.forced == r.deleted > 0
        (gap,) = j.gaps()
        assert gap.kind == "pruned" and f"deleted {r.forced} rows" in gap.detail
        assert "nats" in gap.detail
        # The rows kept are the newest, still in order.
        kept = j.events()
        assert kept[-1].seq == 20000 and [r.seq for r in kept] == sorted(r.seq for r in kept)
        j.unregister_sink("nats")
        assert prune(j, keep_ns=30 * DAY * 10**9).deleted == len(kept)


def test_record_prunes_in_the_background(tree: Path, db: Path, tmp_path: Path) -> None:
    with Journal(db) as j:  # a journal with a month-old past
        fill(j, tree, 1000, time.time() - 40 * DAY, 1.0)
    rec = Recording(db, "--keep", "30d", str(tree), tmp=tmp_path)
    try:
        wait_for(lambda: _count(db) == 0, what="old events pruned")
        (tree / "fresh").write_text("x")
        wait_for(lambda: _count(db) >= 1, what="the new event")
    finally:
        assert rec.stop() == 0


def _count(db: Path) -> int:
    with Journal(db, create=False) as j:
        return len(j.events())


def test_journal_prune_and_vacuum_commands(tree: Path, db: Path) -> None:
    with Journal(db) as j:
        fill(j, tree, 30000, time.time() - 40 * DAY, 1.0, names=100)
    before = os.path.getsize(db)
    res = run_inwatch("journal", "prune", "--db", str(db), "--keep", "30d")
    assert res.returncode == 0 and "30000 event(s) deleted" in res.stdout, res.stderr
    res = run_inwatch("journal", "vacuum", "--db", str(db))
    assert res.returncode == 0, res.stderr
    assert os.path.getsize(db) < before / 2
    res = run_inwatch("journal", "info", "--db", str(db), "--json")
    assert res.returncode == 0 and '"events": 0' in res.stdout
    res = run_inwatch("journal", "prune", "--db", str(db))
    assert res.returncode == 1 and "needs --keep" in res.stderr
