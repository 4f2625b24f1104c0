"""Gaps reach the central store: a ``--max-size`` pruning gap, a ``downtime`` gap and a kernel
overflow gap, recorded by the real ``inwatch record`` while its sink is unreachable, then shipped
when the sink comes up, through ``--to postgresql://`` and through ``--to nats://`` + ``collect``
into a real PostgreSQL. The central ``query``/``history``/``top`` then say what the local ones
say (each gap line led by its host), and stay silent where the answer spans no gap."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from inwatch import Event, Mask
from inwatch.journal import Journal
from inwatch.journal.retention import used_bytes

from .conftest import central_rows, journal_rows, wait_for
from .servers import NatsServer, PgCluster, free_port

HOST = "gappy"


def _inwatch(*args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "inwatch", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


class Record:
    """A real ``inwatch record -r ROOT --db DB --host gappy --to URL [extra]``."""

    def __init__(self, root: Path, db: Path, log: Path, to: str, *extra: str) -> None:
        self.log = log
        log.write_bytes(b"")
        argv = [sys.executable, "-m", "inwatch", "record", "-r", str(root), "--db", str(db)]
        with open(log, "ab") as out:
            self.proc = subprocess.Popen(
                [*argv, "--host", HOST, "--to", to, *extra], stdout=out, stderr=out
            )
        wait_for(lambda: b"Recording to" in log.read_bytes() or self.proc.poll() is not None, 60,
                 "record to start")  # fmt: skip
        assert self.proc.poll() is None, self.err()

    def err(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        assert self.proc.wait(60) == 0, self.err()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


def _gaps(db: Path) -> list[tuple[Any, ...]]:
    with Journal(db, create=False) as j:
        return [(HOST, g.start_ns, g.end_ns, g.kind, g.detail) for g in j.gaps()]


def _central_gaps(url: str) -> list[tuple[Any, ...]]:
    """The latest version of every central gap, as (host, start, end, kind, detail)."""
    try:
        with psycopg.connect(url) as conn:
            if conn.execute("SELECT to_regclass('inwatch_gaps')").fetchone()[0] is None:
                return []
            return conn.execute(
                "SELECT host, start_ns, max(end_ns), kind, detail FROM inwatch_gaps"
                " GROUP BY host, journal_id, gap_id, start_ns, kind, detail ORDER BY start_ns"
            ).fetchall()
    except psycopg.OperationalError:  # the database does not exist yet
        return []


def _prefill(db: Path, root: Path, n: int) -> int:
    """*n* hour-old CREATE rows in a new journal (older than any live event); its size."""
    t0 = time.time() - 3600
    with Journal(db, host=HOST) as j:
        evs = [
            Event(1, int(Mask.CREATE), 0, f"old-{i % 40:03}", str(root), time=t0 + i * 0.01)
            for i in range(n)
        ]
        for i in range(0, n, 5000):
            j.append(evs[i : i + 5000])
        return used_bytes(j)


def _overflow(rec: Record, root: Path) -> None:
    """Fill the kernel queue of the stopped recorder past max_queued_events (two files'
    ATTRIB events, which inotify does not merge when they alternate)."""
    limit = int(Path("/proc/sys/fs/inotify/max_queued_events").read_text())
    if limit > 100_000:
        pytest.skip("max_queued_events too large to fill quickly")
    a, b = root / "a", root / "b"
    rec.proc.send_signal(signal.SIGSTOP)
    wait_stopped(rec.proc.pid)
    try:
        for i in range(limit // 2 + 10):
            os.utime(a, (i, i))
            os.utime(b, (i, i))
    finally:
        rec.proc.send_signal(signal.SIGCONT)


def wait_stopped(pid: int) -> None:
    """Until every thread of *pid* is stopped (SIGSTOP takes effect as each thread next runs:
    a reader thread could still drain the queue meanwhile)."""

    def stopped() -> bool:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] not in ("T", "t"):
                    return False
        return True

    wait_for(stopped, 10, f"process {pid} to stop")


def _iso(ns: int) -> str:
    return dt.datetime.fromtimestamp(ns / 1e9, dt.timezone.utc).isoformat()


def _note(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("  ") or "note:" in line]


@pytest.fixture(params=["postgresql", "nats"])
def sink(request, pg_server: PgCluster, nats_binary: str, tmp_path: Path) -> Iterator[Any]:  # type: ignore[no-untyped-def]
    """(the --to URL, a function that makes it reachable, the central database URL)."""
    db = "t_" + uuid.uuid4().hex[:12]
    central = pg_server.url(db)
    started: list[Any] = []

    def create_db() -> None:
        with psycopg.connect(pg_server.url(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {db}")

    if request.param == "postgresql":
        yield central, create_db, central
        return
    port = free_port()

    def start_nats() -> None:
        create_db()
        started.append(NatsServer(nats_binary, port=port).start())
        log = open(tmp_path / "collect.log", "wb")  # noqa: SIM115 (closed below)
        argv = [sys.executable, "-m", "inwatch", "collect", "--from", started[0].url]
        started.append((subprocess.Popen([*argv, "--into", central], stdout=log, stderr=log), log))

    try:
        yield f"nats://127.0.0.1:{port}", start_nats, central
    finally:
        if len(started) == 2:
            collector, log = started[1]
            collector.send_signal(signal.SIGTERM)
            code = collector.wait(60)
            log.close()
            assert code == 0, (tmp_path / "collect.log").read_text()
        if started:
            started[0].close()


def test_gaps_reach_the_central_store_and_its_answers(sink, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    to, make_reachable, central = sink
    root, db = tmp_path / "tree", tmp_path / "journal.db"
    root.mkdir()
    (root / "a").write_text("a")
    (root / "b").write_text("b")
    size = _prefill(db, root, 20_000)

    # 1. --max-size deletes rows the unreachable sink has not taken: a "pruned" gap.
    rec = Record(root, db, tmp_path / "r1.log", to, "--max-size", str(size // 3))
    try:
        wait_for(lambda: [g for g in _gaps(db) if g[3] == "pruned"], 60, "the pruned gap")
        wait_for(lambda: "backlog" in rec.err(), 30, "the backlog report")
    finally:
        rec.stop()
        rec.kill()
    assert "not shipped yet; they stay in the journal" in rec.err()

    # 2. A restart (a "downtime" gap), then a kernel queue overflow (an "overflow" gap that
    #    grows over the rescan after it), still unreachable.
    rec = Record(root, db, tmp_path / "r2.log", to)
    try:
        _overflow(rec, root)
        wait_for(lambda: [g for g in _gaps(db) if g[3] == "overflow"], 60, "the overflow gap")
        seen: list[int] = []
        wait_for(lambda: seen.append(len(journal_rows(db))) or seen[-5:] == seen[-1:] * 5, 60,
                 "the rescan to end (the journal stops growing)")  # fmt: skip
        assert {g[3] for g in _gaps(db)} == {"pruned", "downtime", "overflow"}

        # 3. The sink comes up: every row left in the journal and every gap arrive.
        make_reachable()

        def arrived() -> bool:
            try:
                return len(central_rows(central)) == len(journal_rows(db)) and sorted(
                    _central_gaps(central)
                ) == sorted(_gaps(db))
            except psycopg.OperationalError:
                return False

        wait_for(arrived, 120, "every row and gap in the central store")
    finally:
        rec.stop()
        rec.kill()
    assert sorted(central_rows(central)) == sorted(journal_rows(db))
    assert sorted(_central_gaps(central)) == sorted(_gaps(db))

    # 4. The central answers say what the local ones say, each gap line led by its host.
    def both(*args: str) -> tuple[list[str], list[str]]:
        local, remote = _inwatch(*args, "--db", str(db)), _inwatch(*args, "--db", central)
        assert local.returncode == 0 and remote.returncode == 0, (local.stderr, remote.stderr)
        return _note(local.stderr), _note(remote.stderr)

    def led_by_host(lines: list[str]) -> list[str]:
        return [f"  {HOST}  {line[2:]}" if line.startswith("  ") else line for line in lines]

    local, remote = both("query")
    assert len(local) == 4 and "spans 3 gap(s)" in local[0]
    assert remote == led_by_host(local)
    assert [line.split()[4].rstrip(":") for line in remote[1:]] == ["pruned", "downtime",
                                                                    "overflow"]  # fmt: skip
    local, remote = both("top")
    assert remote == led_by_host(local) and "inwatch top: note" in remote[0]
    overflow = next(g for g in _gaps(db) if g[3] == "overflow")
    first_old = next(g for g in _gaps(db) if g[3] == "pruned")[1]
    # After the last gap, before the first: no note, here or there.
    assert both("query", "--since", _iso(overflow[2] + 5_000)) == ([], [])
    assert both("query", "--until", _iso(first_old - 1_000_000_000)) == ([], [])
    # Only the overflow gap overlaps the time of the overflow's own events.
    # (2 µs early: an ISO time has microseconds, and the gap may end where it starts when
    # live events came before the rescan's.)
    local, remote = both("query", "--since", _iso(overflow[1] - 2_000))
    assert len(local) == 2 and "overflow" in local[1] and remote == led_by_host(local)
    # Another host's question spans none of this host's gaps.
    other = _inwatch("query", "--db", central, "--host", "elsewhere")
    assert other.returncode == 0 and other.stdout == "" and other.stderr == ""
    # history: the gaps from the path's first event on, after its events.
    local_h = _inwatch("history", str(root / "a"), "--db", str(db))
    remote_h = _inwatch("history", str(root / "a"), "--db", central)
    assert local_h.returncode == 0 and remote_h.returncode == 0, remote_h.stderr

    def gap_part(out: str) -> list[str]:
        return out.split("gaps (events may be missing):\n", 1)[1].splitlines()

    assert gap_part(remote_h.stdout) == led_by_host(gap_part(local_h.stdout))
    assert any("overflow" in line for line in gap_part(remote_h.stdout))
