"""The journal file: opening it safely, its version, and the write side.

Opening never damages what is there: a file SQLite cannot read, or an SQLite
file that is not an inwatch journal, is refused with an error naming it; a
journal of a newer schema is refused; an older one is migrated in one
transaction (all or nothing). A new journal is created readable by its owner
only (0600, in a directory made 0700): it names every file and user it saw.
SQLite creates the ``-wal`` and ``-shm`` files with the main file's permissions.

SQLite settings and why:

- ``journal_mode=WAL``: readers (``inwatch query``) never block the writer, nor
  the writer them; a commit is one append to the WAL.
- ``synchronous=NORMAL``: in WAL mode a commit survives the process being killed
  (the WAL is in the page cache); only a power loss may lose the last commits.
- ``cache_size`` 16 MiB per connection (SQLite's default is 2 MiB).
- Every write goes through :meth:`Journal.transaction` (``BEGIN IMMEDIATE``), so a
  batch of events and the ``files`` state it changes commit together or not at all.
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from typing import Any

from . import query as q
from .errors import JournalCorruptError, JournalError, JournalFullError, JournalVersionError
from .schema import (
    APPLICATION_ID,
    DDL,
    EVENT_COLUMNS,
    EVENT_FROM,
    MIGRATIONS,
    SCHEMA_VERSION,
    JournalRow,
)
from .store import Prepared, Store, prepare_batch
from .wire import GapRow

__all__ = ["Journal", "default_path"]


def default_path() -> str:
    """``$XDG_STATE_HOME/inwatch/journal.db`` (``~/.local/state/…``), or
    ``/var/lib/inwatch/journal.db`` for root."""
    if os.geteuid() == 0:
        return "/var/lib/inwatch/journal.db"
    state = os.environ.get("XDG_STATE_HOME") or os.path.expanduser("~/.local/state")
    return os.path.join(state, "inwatch", "journal.db")


def _create_file(path: str) -> None:
    """Create the directories (0700) and an empty file (0600) for a new journal."""
    parent = os.path.dirname(os.path.abspath(path))
    missing = []
    p = parent
    while not os.path.exists(p):
        missing.append(p)
        p = os.path.dirname(p)
    for d in reversed(missing):
        with contextlib.suppress(FileExistsError):
            os.mkdir(d, 0o700)
            os.chmod(d, 0o700)  # the umask may have taken bits away; we want exactly these
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    os.fchmod(fd, 0o600)
    os.close(fd)


def translate(path: str, exc: sqlite3.Error) -> JournalError:
    """An sqlite3 error as a journal error naming the file."""
    text = str(exc)
    code = getattr(exc, "sqlite_errorcode", None)
    if code == 13 or "disk is full" in text or "database or disk is full" in text:  # SQLITE_FULL
        return JournalFullError(path, f"disk full ({text}): recording stopped")
    if isinstance(exc, sqlite3.DatabaseError) and (
        code in (11, 26) or "not a database" in text or "malformed" in text
    ):  # SQLITE_CORRUPT, SQLITE_NOTADB
        return JournalCorruptError(path, f"not a readable journal ({text}); left untouched")
    return JournalError(path, text)


class Journal:
    """An event journal in one SQLite file.

    ``Journal(path)`` opens (or creates, unless *create* is false) the journal;
    *host* names the machine in shipped rows (default ``socket.gethostname()``;
    the one stored in the file wins for an existing journal unless given).
    Thread-safe: one connection behind a lock; other processes may read at the
    same time. Use as a context manager or call :meth:`close`.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        host: str | None = None,
        create: bool = True,
        hash_max: int | None = None,
    ) -> None:
        self.path = os.fspath(path)
        self.hash_max = hash_max
        self._lock = threading.RLock()
        if not os.path.exists(self.path):
            if not create:
                raise JournalError(self.path, "no such journal (record one with `inwatch record`)")
            try:
                _create_file(self.path)
            except OSError as exc:
                raise JournalError(self.path, f"cannot create: {exc.strerror}") from None
        elif not os.access(self.path, os.R_OK):
            raise JournalError(self.path, "permission denied (the journal is its owner's only)")
        try:
            self.conn = sqlite3.connect(
                self.path, timeout=30.0, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise translate(self.path, exc) from None
        try:
            self._open(host)
        except sqlite3.Error as exc:
            self.conn.close()
            raise translate(self.path, exc) from None
        except BaseException:
            self.conn.close()
            raise
        self.store = Store(self.conn)

    # -- opening ----------------------------------------------------------------

    def _open(self, host: str | None) -> None:
        conn = self.conn
        app = conn.execute("PRAGMA application_id").fetchone()[0]
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        if app != APPLICATION_ID and (tables or version):
            raise JournalError(self.path, "an SQLite file that is not an inwatch journal")
        conn.execute("PRAGMA busy_timeout = 30000")
        conn.create_function("inwatch_glob", 2, q.glob_match, deterministic=True)
        if not tables:
            self._initialise(host)
        elif version > SCHEMA_VERSION:
            raise JournalVersionError(
                self.path,
                f"schema version {version} is newer than this inwatch reads"
                f" ({SCHEMA_VERSION}): upgrade inwatch",
            )
        elif version < SCHEMA_VERSION:
            self._migrate(version)
        if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        # 16 MiB of page cache (default 2): the path index takes inserts all over
        # a big journal, and a batch of 10,000 events should not re-read its pages.
        conn.execute("PRAGMA cache_size = -16384")
        meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
        self.journal_id: str = meta["journal_id"]
        self.host: str = host or meta.get("host") or socket.gethostname()
        if host and meta.get("host") != host:
            with self.transaction():
                conn.execute("INSERT OR REPLACE INTO meta VALUES ('host', ?)", (host,))

    def _initialise(self, host: str | None) -> None:
        conn = self.conn
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("BEGIN IMMEDIATE")
        try:
            if conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
                conn.execute("ROLLBACK")  # another process initialised it meanwhile
                return
            for statement in DDL.split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.executemany(
                "INSERT INTO meta VALUES (?, ?)",
                [
                    ("journal_id", uuid.uuid4().hex),
                    ("host", host or socket.gethostname()),
                    ("created_ns", str(time.time_ns())),
                ],
            )
            conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def _migrate(self, version: int) -> None:
        """Bring an older journal to :data:`SCHEMA_VERSION` in one transaction."""
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            current = conn.execute("PRAGMA user_version").fetchone()[0]
            while current < SCHEMA_VERSION:
                script = MIGRATIONS.get(current)
                if script is None:
                    raise JournalVersionError(
                        self.path, f"schema version {current} cannot be migrated"
                    )
                for statement in script.split(";"):
                    if statement.strip():
                        conn.execute(statement)
                current += 1
                conn.execute(f"PRAGMA user_version = {current}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    # -- life -------------------------------------------------------------------

    def close(self) -> None:
        """Close the connection (the last one to close folds the WAL into the file).

        No ``PRAGMA optimize`` here: on a journal of millions of rows it may run
        ANALYZE, which would cost a short ``query`` most of its time."""
        with self._lock:
            self.conn.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` … ``COMMIT`` (``ROLLBACK`` on any error), under the
        lock; sqlite3 errors come out as :class:`JournalError` naming the file."""
        with self._lock:
            try:
                self.conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise translate(self.path, exc) from None
            try:
                yield self.conn
                self.conn.execute("COMMIT")
            except BaseException as exc:
                with contextlib.suppress(sqlite3.Error):
                    self.conn.execute("ROLLBACK")
                self.store.forget_ids()
                if isinstance(exc, sqlite3.Error):
                    raise translate(self.path, exc) from None
                if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
                    raise JournalFullError(self.path, f"disk full: {exc.strerror}") from None
                raise

    def read(self, sql: str, params: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
        """Run one read-only statement; errors name the file."""
        with self._lock:
            try:
                return self.conn.execute(sql, tuple(params)).fetchall()
            except sqlite3.Error as exc:
                raise translate(self.path, exc) from None

    # -- writing ----------------------------------------------------------------

    def append(self, events: Iterable[Any]) -> int:
        """Record *events* (:class:`~inwatch.Event` objects, e.g. a Watcher's) in one
        transaction with the state they change; return the last sequence number
        (0 when *events* is empty). Stats (and digests) are taken before the
        transaction starts."""
        return self.write(prepare_batch(list(events), self.hash_max))

    def write(self, items: list[Prepared]) -> int:
        """Commit prepared records (see :func:`~inwatch.journal.store.prepare`)."""
        if not items:
            return 0
        with self.transaction():
            return self.store.write(items)

    def add_gap(self, start_ns: int, end_ns: int, kind: str, detail: str = "") -> None:
        """Record that events may be missing between *start_ns* and *end_ns*."""
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO gaps (start_ns, end_ns, kind, detail) VALUES (?, ?, ?, ?)",
                (start_ns, end_ns, kind, detail),
            )

    # -- the shipping contract (issue 14) ---------------------------------------

    def rows_after(self, seq: int, limit: int) -> list[JournalRow]:
        """Committed event rows with sequence > *seq*, ascending, at most *limit*.

        A reader in another process sees only committed rows (SQLite's isolation),
        so this is safe to call while ``record`` writes."""
        rows = self.read(
            f"SELECT {EVENT_COLUMNS} FROM {EVENT_FROM} WHERE e.seq > ? ORDER BY e.seq LIMIT ?",
            (seq, limit),
        )
        return [JournalRow.from_db(self.host, self.journal_id, r) for r in rows]

    def gaps_to_ship(self, after_id: int) -> list[GapRow]:
        """Gap rows with id > *after_id*, and the newest ``overflow`` gap whatever its id,
        ascending by id.

        The newest overflow gap is the only one that changes after it is written: the
        writer extends its ``end_ns`` over the rescan events that follow the overflow
        (``Store._gap_bookkeeping``), so a shipper must look at it again (its ``end_ns``
        says whether it grew)."""
        rows = self.read(
            "SELECT id, start_ns, end_ns, kind, detail FROM gaps WHERE id > ?"
            " OR id = (SELECT max(id) FROM gaps WHERE kind = 'overflow') ORDER BY id",
            (after_id,),
        )
        return [GapRow(self.host, self.journal_id, *r) for r in rows]

    def cursor(self, sink: str) -> int:
        """The last sequence number shipped to *sink* (0 if never set)."""
        rows = self.read("SELECT seq FROM sinks WHERE name = ?", (sink,))
        return int(rows[0][0]) if rows else 0

    def set_cursor(self, sink: str, seq: int) -> None:
        """Durably record that rows up to *seq* reached *sink* (committed on return)."""
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO sinks (name, seq, updated_ns) VALUES (?, ?, ?)"
                " ON CONFLICT(name) DO UPDATE SET seq = excluded.seq,"
                " updated_ns = excluded.updated_ns",
                (sink, seq, time.time_ns()),
            )

    def register_sink(self, name: str) -> None:
        """Declare *name* a sink whose unshipped rows retention must keep (only
        ``--max-size`` may delete them, and then records a ``pruned`` gap)."""
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO sinks (name, registered) VALUES (?, 1)"
                " ON CONFLICT(name) DO UPDATE SET registered = 1",
                (name,),
            )

    def unregister_sink(self, name: str) -> None:
        """Stop holding rows back for *name* (its cursor is kept)."""
        with self.transaction() as conn:
            conn.execute("UPDATE sinks SET registered = 0 WHERE name = ?", (name,))

    def gaps(self, since_ns: int | None = None, until_ns: int | None = None) -> list[q.Gap]:
        """Windows in which events may be missing, oldest first: ``Gap(start_ns,
        end_ns, kind, detail)``; *since_ns*/*until_ns* keep those overlapping the range."""
        return q.gaps(self, since_ns, until_ns)

    # -- the read side (inwatch.journal.query) -----------------------------------

    def events(self, **filters: Any) -> list[JournalRow]:
        """Event rows matching *filters*, oldest first: ``since``, ``until``
        (epoch seconds as float, ``datetime``, or ``"seq:N"``), ``path`` (a glob on
        the full path), ``ops`` (names, ``"create,modify"``), ``user`` (name or uid:
        the actor's, else the file owner's), ``comm``, ``origin``, ``limit``.
        See :func:`inwatch.journal.query.events`."""
        return q.events(self, **filters)

    def history(self, path: str | bytes) -> list[JournalRow]:
        """Every event in the life of *path*, oldest first, followed back through
        the renames that brought it there. See :func:`inwatch.journal.query.history`."""
        return q.history(self, path)

    def state(self, path: str | bytes) -> q.FileState | None:
        """What the journal knows about *path* now (``None`` if never seen)."""
        return q.state(self, path)

    def top(self, **filters: Any) -> list[tuple[bytes, int]]:
        """The most-changed (or, with ``ops="open"``, most-opened) paths:
        ``[(path, count), ...]``; ``since``, ``until``, ``ops``, ``limit`` (20).
        See :func:`inwatch.journal.query.top`."""
        return q.top(self, **filters)

    def last_seq(self) -> int:
        """The highest sequence number committed (0 for an empty journal)."""
        rows = self.read("SELECT seq FROM sqlite_sequence WHERE name = 'events'")
        return int(rows[0][0]) if rows else 0
