"""The real ``inwatch record --to`` and ``inwatch collect`` commands (not the agent stand-in):
straight into PostgreSQL, and through the JetStream cluster and a collector. Exact counts."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

from .conftest import central_count, central_rows, journal_rows, storm, wait_for


def _record(tmp: Path, host: str, to: str) -> tuple[subprocess.Popen[bytes], Path, Path, Path]:
    base = tmp / host
    root = base / "tree"
    root.mkdir(parents=True)
    db, log = base / "journal.db", base / "record.log"
    argv = [sys.executable, "-m", "inwatch", "record", "-r", str(root), "--db", str(db)]
    with open(log, "wb") as out:
        proc = subprocess.Popen([*argv, "--host", host, "--to", to], stderr=out, stdout=out)
    wait_for(lambda: b"Recording to" in log.read_bytes() or proc.poll() is not None, 60, "record")
    assert proc.poll() is None, log.read_text()
    return proc, root, db, log


def _settled(db: Path, at_least: int) -> int:
    """The journal's row count once it has at least *at_least* rows and stops growing."""
    seen: list[int] = []

    def quiet() -> bool:
        seen.append(len(journal_rows(db)))
        return len(seen) > 3 and seen[-1] >= at_least and seen[-1] == seen[-4]

    wait_for(quiet, 60, f"at least {at_least} journal rows, then no more")
    return seen[-1]


def _stop(proc: subprocess.Popen[bytes], log: Path) -> None:
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(60) == 0, log.read_text()


def test_record_to_postgresql(pg_url: str, tmp_path: Path) -> None:
    proc, root, db, log = _record(tmp_path, "pg-host", pg_url)
    try:
        storm(root, 0, 150)  # each file: CREATE, MODIFY, CLOSE_WRITE (record's default)
        n = _settled(db, 450)
        wait_for(lambda: central_count(pg_url) == n, 30, f"{n} central rows")
    finally:
        _stop(proc, log)
    assert sorted(central_rows(pg_url)) == sorted(journal_rows(db))


def test_record_to_nats_then_collect(nats_cluster, pg_url: str, tmp_path: Path, procs) -> None:  # type: ignore[no-untyped-def]
    proc, root, db, log = _record(tmp_path, "nats-host", nats_cluster.url)
    collect_log = tmp_path / "collect.log"
    with open(collect_log, "wb") as out:
        collector = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "inwatch",
                "collect",
                "--from",
                nats_cluster.url,
                "--into",
                pg_url,
            ],
            stdout=out,
            stderr=out,
        )
    try:
        storm(root, 0, 100)
        n = _settled(db, 300)
        wait_for(lambda: central_count(pg_url) == n, 60, f"{n} central rows")
        assert sorted(central_rows(pg_url)) == sorted(journal_rows(db))
    finally:
        _stop(proc, log)
        collector.send_signal(signal.SIGTERM)
        assert collector.wait(60) == 0, collect_log.read_text()


def test_query_history_top_on_the_central_store(pg_url: str, tmp_path: Path) -> None:
    """The same commands as on a local journal, with a host column and --host."""
    proc, root, db, log = _record(tmp_path, "alpha", pg_url)
    try:
        (root / "a.txt").write_text("1")
        (root / "a.txt").rename(root / "b.txt")
        n = _settled(db, 4)
        wait_for(lambda: central_count(pg_url) == n, 30, f"{n} central rows")
    finally:
        _stop(proc, log)

    def inwatch(*args: str) -> subprocess.CompletedProcess[str]:
        cmd = [sys.executable, "-m", "inwatch", *args, "--db", pg_url]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=60)

    res = inwatch("query", "--json")
    assert res.returncode == 0, res.stderr
    assert len(res.stdout.splitlines()) == n
    res = inwatch("query", "--host", "alpha")
    assert res.returncode == 0 and all(
        line.startswith("alpha  ") for line in res.stdout.splitlines()
    )
    assert inwatch("query", "--host", "beta").stdout == ""
    res = inwatch("history", str(root / "b.txt"))
    assert res.returncode == 0 and "MOVED_TO" in res.stdout and "alpha" in res.stdout, res
    res = inwatch("top", "--json")
    rows = json.loads(res.stdout)["rows"]
    assert {r["host"] for r in rows} == {"alpha"} and rows[0]["count"] >= 1
    bad = subprocess.run(
        [sys.executable, "-m", "inwatch", "query", "--db", "postgresql://127.0.0.1:1/none"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 1 and len(bad.stderr.strip().splitlines()) == 1, bad.stderr
