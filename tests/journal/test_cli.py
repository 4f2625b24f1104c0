"""query, history, check and journal info on real journals, in a subprocess."""

from __future__ import annotations

import csv
import io
import json
import os
import time
from pathlib import Path

from inwatch import Event
from inwatch.journal import Journal

from .conftest import Recording, run_inwatch, wait_for


def _journal_with_history(tree: Path, db: Path, tmp_path: Path) -> bytes:
    """Record: a non-UTF-8 file created, changed, renamed; a stop; an offline edit."""
    name = b"caf\xe9"
    rec = Recording(db, "-r", str(tree), tmp=tmp_path)
    p = os.fsencode(tree) + b"/" + name
    with open(p, "wb") as f:
        f.write(b"1")
    os.rename(p, p + b".old")
    with open(p + b".old", "ab") as f:
        f.write(b"2")
    wait_for(lambda: _count(db, "close_write") >= 2, what="two close_write")
    assert rec.stop() == 0
    with open(p + b".old", "ab") as f:
        f.write(b"3")
    rec = Recording(db, "-r", str(tree), tmp=tmp_path)
    assert rec.stop() == 0
    return p + b".old"


def _count(db: Path, ops: str) -> int:
    with Journal(db, create=False) as j:
        return len(j.events(ops=ops))


def test_query_outputs_and_gap_note(tree: Path, db: Path, tmp_path: Path) -> None:
    path = _journal_with_history(tree, db, tmp_path)
    res = run_inwatch("query", "--db", str(db), "--json")
    assert res.returncode == 0, res.stderr
    rows = [json.loads(line) for line in res.stdout.splitlines()]
    assert rows[0]["op"] == "CREATE" and os.fsencode(rows[0]["path"]) == path[:-4]
    moved = [r for r in rows if r["op"] == "MOVED_TO"]
    assert len(moved) == 1 and os.fsencode(moved[0]["src_path"]) == path[:-4]
    assert rows[-1]["origin"] == "offline" and rows[-1]["op"] == "MODIFY"
    assert all(r["host"] and len(r["journal_id"]) == 32 for r in rows)
    assert "spans 1 gap(s)" in res.stderr and "downtime" in res.stderr
    # Only the live part: no gap in that range.
    res = run_inwatch("query", "--db", str(db), "--origin", "kernel", "--until", "seq:3")
    assert res.returncode == 0 and len(res.stdout.splitlines()) == 3
    assert "gap" not in res.stderr
    res = run_inwatch("query", "--db", str(db), "--csv", "--op", "moved_to")
    table = list(csv.DictReader(io.StringIO(res.stdout)))
    assert len(table) == 1 and table[0]["op"] == "MOVED_TO"
    res = run_inwatch("query", "--db", str(db), "--since", "1h", "--path", str(tree) + "/caf*")
    assert res.returncode == 0 and "MOVED_TO" in res.stdout and "[offline]" in res.stdout
    res = run_inwatch("query", "--db", str(db), "--since", "yesterday")
    assert res.returncode == 1 and "bad time" in res.stderr


def test_history_command(tree: Path, db: Path, tmp_path: Path) -> None:
    path = _journal_with_history(tree, db, tmp_path)
    res = run_inwatch("history", "--db", str(db), os.fsdecode(path))
    assert res.returncode == 0, res.stderr
    out = res.stdout
    assert "created  " in out and "(owner uid 0)" in out
    assert "MOVED_TO" in out and "[offline]" in out
    assert "gaps (events may be missing)" in out and "downtime" in out
    res = run_inwatch("history", "--db", str(db), "--json", os.fsdecode(path))
    rows = [json.loads(line) for line in res.stdout.splitlines()]
    ops = [(r["op"], os.path.basename(os.fsencode(r["path"]))) for r in rows]
    assert ops[0] == ("CREATE", b"caf\xe9") and ("MOVED_TO", b"caf\xe9.old") in ops
    assert ops[-1] == ("MODIFY", b"caf\xe9.old") and rows[-1]["origin"] == "offline"
    assert [r["seq"] for r in rows] == sorted(r["seq"] for r in rows)
    res = run_inwatch("history", "--db", str(db), str(tree / "never"))
    assert res.returncode == 1 and "never saw" in res.stderr


def test_check_exit_status_and_json(tree: Path, db: Path, tmp_path: Path) -> None:
    (tree / "a").write_text("a")
    rec = Recording(db, "-r", str(tree), tmp=tmp_path)
    assert rec.stop() == 0
    assert run_inwatch("check", "--db", str(db)).returncode == 0
    (tree / "a").write_text("changed")
    (tree / "b").write_text("new")
    res = run_inwatch("check", "--db", str(db), "--json", str(tree))
    assert res.returncode == 1
    got = {
        (d["kind"], os.path.basename(d["path"]))
        for d in map(json.loads, res.stdout.split("\n")[:-1])
    }
    assert got == {("modified", "a"), ("created", "b")}
    res = run_inwatch("check", "--db", str(tmp_path / "missing.db"))
    assert res.returncode == 2 and "no such journal" in res.stderr


def test_query_without_journal_is_an_error(tmp_path: Path) -> None:
    res = run_inwatch("query", "--db", str(tmp_path / "none.db"))
    assert res.returncode == 1 and "no such journal" in res.stderr
    assert not (tmp_path / "none.db").exists()


def test_query_user_matches_owner_under_inotify(tree: Path, db: Path) -> None:
    (tree / "mine").write_text("x")
    os.chown(tree / "mine", 4242, 4242)
    with Journal(db) as j:
        j.append([Event(1, 0x8, 0, "mine", str(tree), time=time.time())])
    res = run_inwatch("query", "--db", str(db), "--user", "4242")
    assert res.returncode == 0 and "mine" in res.stdout
    res = run_inwatch("query", "--db", str(db), "--user", "root")
    assert res.returncode == 0 and res.stdout == ""


def test_top_from_the_journal(tree: Path, db: Path, tmp_path: Path) -> None:
    """``inwatch top --db``: the most-changed paths of a journal, most first."""
    rec = Recording(db, "-r", str(tree), tmp=tmp_path)
    for _ in range(3):
        with open(tree / "busy", "a") as f:
            f.write("x")
    (tree / "quiet").write_text("y")
    wait_for(lambda: _count(db, "close_write") >= 4, what="four close_write")
    assert rec.stop() == 0
    res = run_inwatch("top", "--db", str(db), "--json", "--op", "close_write")
    assert res.returncode == 0, res.stderr
    rows = json.loads(res.stdout)["rows"]
    assert [(r["path"], r["count"]) for r in rows] == [
        (str(tree / "busy"), 3),
        (str(tree / "quiet"), 1),
    ]
    res = run_inwatch("top", "--db", str(tmp_path / "none.db"))
    assert res.returncode == 1 and "no such journal" in res.stderr


def test_who_changed_it_last_with_the_fanotify_backend(
    tmpfs: Path, db: Path, tmp_path: Path
) -> None:
    """The seed's metadata question with fanotify: history names the program and
    user that created and changed a file (inotify can only say the file's owner)."""
    import subprocess

    rec = Recording(db, "-r", "--backend", "fanotify", str(tmpfs), tmp=tmp_path)
    subprocess.run(["touch", str(tmpfs / "report")], check=True)
    subprocess.run(["sh", "-c", f"echo data >> {tmpfs / 'report'}"], check=True)
    wait_for(lambda: _count(db, "close_write") >= 2, what="two close_write")
    assert rec.stop() == 0
    res = run_inwatch("history", "--db", str(db), "--json", str(tmpfs / "report"))
    assert res.returncode == 0, res.stderr
    rows = [json.loads(line) for line in res.stdout.splitlines()]
    creates = [r for r in rows if r["op"] == "CREATE"]
    assert creates and creates[0]["actor_exe"].endswith("/touch"), rows
    assert creates[0]["actor_uid"] == 0 and creates[0]["actor_user"] == "root"
    writes = [r for r in rows if r["op"].startswith("CLOSE_WRITE")]
    assert writes and writes[-1]["actor_exe"].endswith("sh"), rows  # sh's own >> redirection
