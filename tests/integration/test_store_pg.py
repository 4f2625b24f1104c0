"""The central PostgreSQL store on its own: record --to postgresql as an insert-only role, the
read side against a local journal holding the same rows, schema versions, refused URLs."""

from __future__ import annotations

import collections
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from inwatch import Mask, Watcher
from inwatch.journal import Journal, wire
from inwatch.journal import server as pg
from inwatch.journal.ship import sink_for

from .conftest import central_count, central_rows, journal_rows, storm, wait_for


def test_record_to_postgresql_as_an_insert_only_role(pg_url, procs):
    with psycopg.connect(pg_url, autocommit=True) as admin:
        pg.ensure_schema(admin)
        admin.execute("CREATE ROLE inwatch_writer LOGIN")
        # What the README tells an administrator to grant a writer: INSERT, and nothing more.
        admin.execute("GRANT INSERT ON inwatch_events, inwatch_gaps TO inwatch_writer")
        admin.execute("GRANT SELECT ON inwatch_meta TO inwatch_writer")
    writer_url = pg_url.replace("postgres@", "inwatch_writer@")
    with psycopg.connect(writer_url) as w, pytest.raises(psycopg.errors.InsufficientPrivilege):
        w.execute("SELECT count(*) FROM inwatch_events")  # it may write, not read
    agent = procs.agent("h1", writer_url).start()
    storm(agent.root, 0, 200)
    odd = bytes(agent.root) + b"/caf\xe9-\xff.txt"  # not UTF-8: must arrive byte for byte
    fd = os.open(odd, os.O_WRONLY | os.O_CREAT, 0o644)
    os.close(fd)
    wait_for(lambda: len(journal_rows(agent.db)) == 402, 30, "402 journal rows")
    wait_for(lambda: central_count(pg_url) == 402, 30, "402 central rows")
    assert sorted(central_rows(pg_url)) == sorted(journal_rows(agent.db))
    assert odd in {r[4] for r in central_rows(pg_url)}
    # A gap is shipped by the same role (insert-only: no UPDATE even for a grown gap).
    with Journal(agent.db) as j:
        j.add_gap(5, 6, "crash", "a test's gap")

    def central_gaps() -> list[tuple[object, ...]]:
        with psycopg.connect(pg_url) as conn:
            return conn.execute("SELECT host, gap_id, start_ns, kind FROM inwatch_gaps").fetchall()

    wait_for(lambda: central_gaps() == [("h1", 1, 5, "crash")], 30, "the central gap")
    assert agent.stop() == 0
    assert "cannot ship" not in agent.err()


def test_an_old_central_database_is_migrated_on_first_use(pg_url, tmp_path):
    """A database written by the previous inwatch (schema 1: no gaps) keeps its rows and gets
    the gaps table the first time a new inwatch uses it: here a central query."""
    with psycopg.connect(pg_url) as conn:
        for stmt in pg._CREATE_V1:  # what schema 1 was, statement for statement
            conn.execute(stmt)
        pg.insert_rows(conn, [wire_values := tuple(_old_row())])
        conn.commit()
        assert conn.execute("SELECT to_regclass('inwatch_gaps')").fetchone()[0] is None
    res = subprocess.run(
        [sys.executable, "-m", "inwatch", "query", "--db", pg_url, "--json"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert res.returncode == 0 and res.stderr == "", res.stderr
    assert [json.loads(line)["path"] for line in res.stdout.splitlines()] == ["/old"]
    with psycopg.connect(pg_url) as conn:
        version = conn.execute("SELECT value FROM inwatch_meta").fetchone()[0]
        assert version == str(pg.SCHEMA_VERSION) == "2"
        assert conn.execute("SELECT count(*) FROM inwatch_gaps").fetchone()[0] == 0
        assert conn.execute("SELECT seq FROM inwatch_events").fetchall() == [(wire_values[2],)]
    # A database nothing was shipped to is not turned into one by a query.
    empty = pg_url.rsplit("/", 1)[0] + "/postgres"
    res = subprocess.run(
        [sys.executable, "-m", "inwatch", "query", "--db", empty],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert res.returncode == 1 and "holds no inwatch rows" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1


def _old_row() -> list[object]:
    row = dict.fromkeys(wire.COLUMNS)
    row.update(host="old", journal_id="j0", seq=1, time_ns=1, op="CREATE", path=b"/old",
               is_dir=False, origin="kernel")  # fmt: skip
    return [row[c] for c in wire.COLUMNS]


def _record_scenario(root: Path, db: Path) -> Journal:
    """Real changes on a real tree, recorded in a real journal, step by step (each step's
    events are read before the next, so renames are seen as renames, not as later scans)."""
    journal = Journal(db, host="alpha")
    with Watcher() as w:
        w.add(str(root), mask=Mask.ALL_EVENTS, recursive=True)

        def settle() -> None:
            got = 0
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                events = w.read(timeout=0.2)
                if not events and got:
                    return
                got += len(events)
                journal.append(events)
            pytest.fail("no events within 10 s")

        (root / "d").mkdir()
        settle()
        for i in range(5):
            (root / "d" / f"n{i}.txt").write_text("x" * i)
        settle()
        (root / "d" / "n1.txt").rename(root / "d" / "m1.txt")
        settle()
        (root / "d").rename(root / "e")
        settle()
        (root / "e" / "m1.txt").write_text("changed")
        (root / "e" / "n2.txt").unlink()
        (root / "top.log").write_text("a")
        for _ in range(6):
            with open(root / "top.log", "a") as f:
                f.write("more")
        settle()
    return journal


def test_read_side_answers_as_the_local_journal(pg_url, tmp_path):
    root = tmp_path / "tree"
    root.mkdir()
    journal = _record_scenario(root, tmp_path / "j.db")
    try:
        rows = journal.rows_after(0, 10**6)
        assert len(rows) >= 40
        sink = sink_for(pg_url, host="alpha")
        sink.send(rows)
        sink.send(rows[:10])  # a resend changes nothing
        sink.close()
        with psycopg.connect(pg_url) as conn:
            assert central_count(pg_url) == len(rows)
            mid = rows[len(rows) // 2].time_ns
            cases = [
                ({}, {}),
                ({"path": str(root / "e")}, {"path": str(root / "e")}),
                ({"path": str(root) + "/*.txt"}, {"path": str(root) + "/*.txt"}),
                ({"path": str(root) + "/e/[mn]?.txt"}, {"path": str(root) + "/e/[mn]?.txt"}),
                ({"ops": "create,moved_to"}, {"ops": "create,moved_to"}),
                ({"ops": "close_write"}, {"ops": "close_write"}),
                ({"since_ns": mid}, {"since": mid / 1e9}),
                ({"until_ns": mid}, {"until": mid / 1e9}),
                ({"user": str(os.getuid())}, {"user": os.getuid()}),
                ({"origin": "kernel"}, {"origin": "kernel"}),
                ({"ops": "modify", "limit": 3}, {"ops": "modify", "limit": 3}),
            ]
            for central_args, local_args in cases:
                central = pg.query_rows(conn, **central_args)
                local = journal.events(**local_args)
                assert central == local, central_args
                assert central, f"{central_args} matched nothing: a vacuous comparison"
            for path in ("e/m1.txt", "e/n3.txt", "e", "top.log"):
                central = pg.history_rows(conn, str(root / path))
                assert central == journal.history(str(root / path)), path
            renamed = pg.history_rows(conn, str(root / "e" / "m1.txt"))
            assert any(r.path == bytes(root / "d" / "n1.txt") for r in renamed)
            changed = collections.Counter(
                r.path
                for r in rows
                if not {"OPEN", "ACCESS", "CLOSE_NOWRITE"} & set(r.op.split("|"))
            )
            top = pg.top_paths(conn, limit=3)
            assert [(p, n) for _h, p, n in top] == [
                (p, n) for p, n in sorted(changed.items(), key=lambda x: (-x[1], x[0]))[:3]
            ]
            assert top[0][:2] == ("alpha", bytes(root / "top.log"))
            assert pg.query_rows(conn, hosts=["beta"]) == []
    finally:
        journal.close()


def test_schema_newer_than_this_inwatch_is_refused(pg_url):
    with psycopg.connect(pg_url) as conn:
        assert pg.ensure_schema(conn) == pg.SCHEMA_VERSION
        assert pg.ensure_schema(conn) == pg.SCHEMA_VERSION  # idempotent
        conn.execute("UPDATE inwatch_meta SET value = '99' WHERE key = 'schema_version'")
        conn.commit()
        with pytest.raises(pg.StoreError, match="schema 99, newer than this inwatch"):
            pg.ensure_schema(conn)


def test_password_in_a_postgresql_url_is_refused():
    with pytest.raises(ValueError, match="PGPASSWORD"):
        sink_for("postgresql://u:secret@127.0.0.1/db", host="h")
    with pytest.raises(pg.StoreError, match="pgpass"):
        pg.connect("postgresql://127.0.0.1/db?password=secret")


def test_record_to_postgresql_across_a_database_restart(pg_server, pg_url, procs):
    agent = procs.agent("h1", pg_url).start()
    storm(agent.root, 0, 200)
    wait_for(lambda: central_count(pg_url) > 0, 30, "the first rows")
    pg_server.stop("immediate")
    storm(agent.root, 200, 200)
    wait_for(lambda: "cannot ship to postgresql://" in agent.err(), 30, "the backlog report")
    pg_server.start()
    wait_for(lambda: len(journal_rows(agent.db)) == 800, 30, "800 journal rows")
    wait_for(lambda: central_count(pg_url) == 800, 30, "800 central rows")
    assert sorted(central_rows(pg_url)) == sorted(journal_rows(agent.db))
    assert agent.stop() == 0
