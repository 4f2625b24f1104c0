"""``inwatch record`` in a subprocess, on real trees, read back from the real file."""

from __future__ import annotations

import json
import os
import signal
import threading
from pathlib import Path

import pytest

from inwatch.journal import Journal

from .conftest import Recording, run_inwatch, wait_for


def count(db: Path, **filters: object) -> int:
    with Journal(db, create=False) as j:
        return len(j.events(**filters))


def test_record_sigterm_commits_everything(tree: Path, db: Path, tmp_path: Path) -> None:
    rec = Recording(db, "-r", str(tree), tmp=tmp_path)
    for i in range(300):
        (tree / f"f{i:03}").write_text("x" * i)
    rc = rec.stop()
    assert rc == 0, rec.stderr()
    err = rec.stderr()
    assert "Watches established." in err and f"Recording to {db}" in err
    with Journal(db, create=False) as j:
        creates = j.events(ops="create")
        assert [os.path.basename(r.path) for r in creates] == [
            f"f{i:03}".encode() for i in range(300)
        ]
        assert len(j.events(ops="close_write")) == 300
        st = j.state(str(tree / "f299"))
        assert st is not None and st.present and st.size == 299
        (run,) = j.read("SELECT stopped_ns FROM runs")
        assert run[0] is not None


def test_offline_changes_across_stop_and_start(tree: Path, db: Path, tmp_path: Path) -> None:
    (tree / "keep").write_text("same")
    (tree / "edit").write_text("v1")
    (tree / "drop").write_text("bye")
    (tree / "dir").mkdir()
    (tree / "dir" / "inner").write_text("in")
    rec = Recording(db, "-r", str(tree), tmp=tmp_path)
    assert "Baseline of" in rec.stderr()
    assert rec.stop() == 0
    assert count(db) == 0  # the baseline is not a change
    # While nothing watches:
    (tree / "edit").write_text("version 2")
    (tree / "drop").unlink()
    (tree / "new").write_text("n")
    os.rename(tree / "dir", tree / "moved")
    rec = Recording(db, "-r", str(tree), tmp=tmp_path)
    assert "4 offline change(s) recorded" in rec.stderr() or "offline change" in rec.stderr()
    (tree / "live").write_text("l")
    assert rec.stop() == 0
    with Journal(db, create=False) as j:
        rows = j.events()
        offline = [(r.op, os.path.basename(r.path), r.origin) for r in rows[:-3]]
        assert ("MODIFY", b"edit", "offline") in offline
        assert ("DELETE", b"drop", "offline") in offline
        assert ("CREATE", b"new", "offline") in offline
        assert ("MOVED_TO|ISDIR", b"moved", "offline") in offline
        assert not any(name == b"keep" for _, name, _ in offline)
        # Offline events come before the live ones.
        assert [r.origin for r in rows[-3:]] == ["kernel"] * 3
        assert os.path.basename(rows[-1].path) == b"live"
        gaps = j.gaps()
        assert [g.kind for g in gaps] == ["downtime"]
        assert j.state(str(tree / "moved" / "inner")) is not None
    # The journal's state matches the tree: check finds nothing.
    res = run_inwatch("check", "--db", str(db))
    assert res.returncode == 0, res.stdout + res.stderr


def test_sigkill_mid_storm_loses_at_most_the_last_batch(
    tree: Path, db: Path, tmp_path: Path
) -> None:
    rec = Recording(db, "-r", str(tree), tmp=tmp_path)
    n = 3000
    done = threading.Event()

    def storm() -> None:
        for i in range(n):
            (tree / f"s{i:05}").write_text("x")
        done.set()

    t = threading.Thread(target=storm)
    t.start()
    wait_for(lambda: count(db) > 500, what="some events committed")
    rec.stop(signal.SIGKILL)
    t.join()
    with Journal(db, create=False) as j:
        names = [os.path.basename(r.path) for r in j.events(ops="create")]
        committed = len(names)
        # Committed in order, batch by batch: what is there is a prefix of the storm.
        assert names == [f"s{i:05}".encode() for i in range(committed)]
    # Restart: the crash is a gap, and the files made after the last commit are
    # found by the offline diff.
    rec = Recording(db, "-r", str(tree), tmp=tmp_path)
    assert rec.stop() == 0
    with Journal(db, create=False) as j:
        gaps = j.gaps()
        assert [g.kind for g in gaps] == ["crash"], gaps
        assert "without stopping" in gaps[0].detail
        kernel = {os.path.basename(r.path) for r in j.events(ops="create", origin="kernel")}
        offline = {os.path.basename(r.path) for r in j.events(ops="create", origin="offline")}
        print(
            "committed before the kill:",
            committed,
            "kernel:",
            len(kernel),
            "offline:",
            len(offline),
        )
        assert kernel | offline == {f"s{i:05}".encode() for i in range(n)}
    assert run_inwatch("check", "--db", str(db)).returncode == 0


def test_queries_while_recording(tree: Path, db: Path, tmp_path: Path) -> None:
    rec = Recording(db, "-r", str(tree), tmp=tmp_path)
    seen = []
    try:
        for round_ in range(4):
            for i in range(200):
                (tree / f"q{round_}-{i}").write_text("x")
            res = run_inwatch("query", "--db", str(db), "--json", "--op", "create")
            assert res.returncode == 0, res.stderr
            lines = [json.loads(line) for line in res.stdout.splitlines()]
            seqs = [d["seq"] for d in lines]
            assert seqs == sorted(seqs)
            seen.append(len(lines))
        wait_for(lambda: count(db, ops="create") == 800, what="all 800 creates")
    finally:
        assert rec.stop() == 0
    assert seen == sorted(seen) and seen[-1] <= 800


def test_bad_journal_stops_record_with_a_clear_error(tree: Path, tmp_path: Path) -> None:
    db = tmp_path / "j.db"
    db.write_bytes(b"garbage " * 1000)
    res = run_inwatch("record", "--db", str(db), str(tree))
    assert res.returncode == 1
    assert str(db) in res.stderr and "untouched" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
    assert db.read_bytes() == b"garbage " * 1000


def test_missing_root_is_an_error(tmp_path: Path, db: Path) -> None:
    res = run_inwatch("record", "--db", str(db), str(tmp_path / "nope"))
    assert res.returncode == 1 and "nope" in res.stderr


@pytest.mark.parametrize("hash_max", ["1M", "4"])
def test_hash_after_close_write(tree: Path, db: Path, tmp_path: Path, hash_max: str) -> None:
    import hashlib

    rec = Recording(db, "--hash", "--hash-max-size", hash_max, str(tree), tmp=tmp_path)
    (tree / "h").write_bytes(b"content")
    wait_for(lambda: count(db, ops="close_write") == 1)
    assert rec.stop() == 0
    with Journal(db, create=False) as j:
        (row,) = j.events(ops="close_write")
        if hash_max == "4":  # larger than the limit: recorded as unhashed, not skipped
            assert row.digest == b""
        else:
            assert row.digest == hashlib.blake2b(b"content").digest()
            st = j.state(str(tree / "h"))
            assert st is not None and st.digest == row.digest
