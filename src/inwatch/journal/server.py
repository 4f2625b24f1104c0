"""The central PostgreSQL store: schema, idempotent batch writes, and the read side.

The table ``inwatch_events`` holds every host's journal rows under the primary key
(host, journal_id, seq): a row delivered twice (a resend after a lost acknowledgement, a collector
restarted between its commit and its acks, two collectors racing on a redelivery) is inserted once,
by ``INSERT ... ON CONFLICT DO NOTHING``. A batch is one statement over ``unnest`` of per-column
arrays: one round trip per batch. Only the INSERT privilege on the table (plus SELECT on
``inwatch_meta``) is needed, so ``record --to postgresql://`` can run as an insert-only role;
that is why the ON CONFLICT clause names no conflict target (a target needs SELECT on its
columns), which is the same thing here: the primary key is the table's only unique index.

``inwatch_gaps`` holds every host's gap rows (windows in which its journal may miss events) under
(host, journal_id, gap_id, end_ns): an overflow gap grows while its rescan runs and each version
is inserted once (insert-only again: no UPDATE privilege needed); readers take the latest
version of each gap (:func:`gap_rows`). A writer needs INSERT on both tables.

Connections use libpq's own configuration: the URL (host, port, dbname, user, sslmode and the other
TLS parameters) and ``PG*`` environment variables, passwords from ``PGPASSWORD``/``PGPASSFILE`` or
``~/.pgpass``. A password inside the URL is refused: command lines are visible in ``ps``.

The schema is created on first use and migrated in place, inside a transaction holding an advisory
lock (several collectors may start at once); a database written by a newer inwatch is refused.

Read side (what ``query --db postgresql://``, ``history`` and ``top`` call): :func:`query_rows`,
:func:`history_rows`, :func:`top_paths`. Rows come back as ``JournalRow`` (``host`` included),
as from a local journal.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from inwatch.flags import mask_names
from inwatch.journal import wire
from inwatch.journal._optional import require
from inwatch.journal.query import Gap, _uid
from inwatch.journal.schema import JournalRow, op_mask, to_bytes
from inwatch.journal.ship import SinkError

__all__ = [
    "SCHEMA_VERSION",
    "PgSink",
    "StoreError",
    "connect",
    "ensure_schema",
    "gap_rows",
    "glob_to_like",
    "history_rows",
    "insert_gaps",
    "insert_rows",
    "query_rows",
    "store_name",
    "top_paths",
]

SCHEMA_VERSION = 2
# Any constant shared by every inwatch: serialises schema creation across collectors.
_SCHEMA_LOCK = 0x696E7761

_TYPES = {
    "host": "text",
    "journal_id": "text",
    "seq": "bigint",
    "time_ns": "bigint",
    "op": "text",
    "path": "bytea",
    "src_path": "bytea",
    "is_dir": "boolean",
    "origin": "text",
    "size": "bigint",
    "mode": "integer",
    "uid": "bigint",
    "gid": "bigint",
    "mtime_ns": "bigint",
    "inode": "numeric(20,0)",  # st_ino is unsigned 64-bit: bigint would overflow
    "actor_pid": "integer",
    "actor_uid": "bigint",
    "actor_user": "text",
    "actor_comm": "text",
    "actor_exe": "text",
    "actor_status": "text",
    "digest": "bytea",
}
_NOT_NULL = {"host", "journal_id", "seq", "time_ns", "op", "path", "is_dir", "origin"}

_CREATE_V1 = [
    "CREATE TABLE inwatch_meta (key text PRIMARY KEY, value text NOT NULL)",
    "CREATE TABLE inwatch_events ("
    + ", ".join(f"{c} {_TYPES[c]}{' NOT NULL' if c in _NOT_NULL else ''}" for c in wire.COLUMNS)
    + ", received_at timestamptz NOT NULL DEFAULT clock_timestamp()"
    + ", PRIMARY KEY (host, journal_id, seq))",
    "CREATE INDEX inwatch_events_time ON inwatch_events (time_ns)",
    "CREATE INDEX inwatch_events_path ON inwatch_events (path, time_ns)",
    "CREATE INDEX inwatch_events_src ON inwatch_events (src_path) WHERE src_path IS NOT NULL",
    # Messages a collector could not read: kept, never dropped, and reported on stderr.
    "CREATE TABLE inwatch_rejects (id bigserial PRIMARY KEY, received_at timestamptz NOT NULL"
    " DEFAULT clock_timestamp(), source text, subject text, payload bytea, error text)",
    "INSERT INTO inwatch_meta VALUES ('schema_version', '1')",
]
#: MIGRATIONS[v] takes a version-v database to v + 1 (a new database is made at version 1,
#: then migrated: one path for old and new databases).
MIGRATIONS: dict[int, list[str]] = {
    # 2: the journals' gaps (issue 14), so a central answer says where a host was blind.
    1: [
        "CREATE TABLE inwatch_gaps (host text NOT NULL, journal_id text NOT NULL,"
        " gap_id bigint NOT NULL, start_ns bigint NOT NULL, end_ns bigint NOT NULL,"
        " kind text NOT NULL, detail text NOT NULL,"
        " received_at timestamptz NOT NULL DEFAULT clock_timestamp(),"
        " PRIMARY KEY (host, journal_id, gap_id, end_ns))",
        "CREATE INDEX inwatch_gaps_time ON inwatch_gaps (start_ns)",
    ],
}

_INSERT = (
    f"INSERT INTO inwatch_events ({', '.join(wire.COLUMNS)}) SELECT * FROM unnest("
    + ", ".join(f"%s::{_TYPES[c].split('(')[0]}[]" for c in wire.COLUMNS)
    + ") ON CONFLICT DO NOTHING"
)
_INSERT_GAPS = (
    f"INSERT INTO inwatch_gaps ({', '.join(wire.GAP_COLUMNS)}) SELECT * FROM unnest("
    "%s::text[], %s::text[], %s::bigint[], %s::bigint[], %s::bigint[], %s::text[], %s::text[]"
    ") ON CONFLICT DO NOTHING"
)
_SELECT = f"SELECT {', '.join(wire.COLUMNS)} FROM inwatch_events"
_ORDER = " ORDER BY time_ns, host, journal_id, seq"


class StoreError(Exception):
    """The central store cannot be used as asked (schema too new, no privilege, bad URL)."""


# -- connecting and the schema ------------------------------------------------------------------
def _conninfo(url: str) -> dict[str, Any]:
    psycopg = require("psycopg")
    try:
        info: dict[str, Any] = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError as exc:
        raise StoreError(f"bad PostgreSQL URL: {exc}") from None
    if "password" in info:
        raise StoreError(
            "a password in the PostgreSQL URL is refused (command lines are visible in ps): "
            "use PGPASSWORD, PGPASSFILE or ~/.pgpass"
        )
    return info


def store_name(url: str) -> str:
    """A stable display name (and Shipper cursor name) for a PostgreSQL URL, without secrets."""
    info = _conninfo(url)
    return (
        f"postgresql://{info.get('host', '')}:{info.get('port', '5432')}/{info.get('dbname', '')}"
    )


def connect(url: str, *, timeout: float = 5.0) -> Any:
    """A psycopg connection (not autocommit); StoreError for a refused URL."""
    psycopg = require("psycopg")
    _conninfo(url)
    return psycopg.connect(url, connect_timeout=max(1, int(timeout)))


def ensure_schema(conn: Any) -> int:
    """Create or migrate the schema; returns the version. StoreError if it is newer than ours."""
    psycopg = require("psycopg")
    try:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
            if conn.execute("SELECT to_regclass('inwatch_meta')").fetchone()[0] is None:
                for stmt in _CREATE_V1:
                    conn.execute(stmt)
            row = conn.execute(
                "SELECT value FROM inwatch_meta WHERE key = 'schema_version'"
            ).fetchone()
            version = int(row[0]) if row else 0
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"the database has inwatch schema {version}, newer than this inwatch "
                    f"({SCHEMA_VERSION}): upgrade inwatch"
                )
            while version < SCHEMA_VERSION:
                for stmt in MIGRATIONS[version]:
                    conn.execute(stmt)
                version += 1
                conn.execute(
                    "UPDATE inwatch_meta SET value = %s WHERE key = 'schema_version'",
                    (str(version),),
                )
            return version
    except psycopg.errors.InsufficientPrivilege as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise StoreError(
            f"cannot create, migrate or read the inwatch schema ({first}): run `inwatch collect`"
            " or any inwatch command against it once as the database's owner"
        ) from None


# -- writing ------------------------------------------------------------------------------------
def insert_rows(conn: Any, rows: Sequence[Sequence[Any]]) -> int:
    """Insert value tuples (COLUMNS order) in the current transaction; returns how many were new."""
    if not rows:
        return 0
    columns: list[list[Any]] = [[] for _ in wire.COLUMNS]
    for values in rows:
        for i, value in enumerate(values):
            columns[i].append(value)
    columns[1] = [str(v) for v in columns[1]]  # journal_id: text, whatever the journal uses
    cur = conn.execute(_INSERT, columns)
    return int(cur.rowcount)


def insert_gaps(conn: Any, gaps: Sequence[wire.GapRow]) -> int:
    """Insert gap rows in the current transaction; returns how many were new."""
    if not gaps:
        return 0
    columns = [list(c) for c in zip(*gaps, strict=True)]
    columns[1] = [str(v) for v in columns[1]]
    return int(conn.execute(_INSERT_GAPS, columns).rowcount)


def insert_rejects(conn: Any, rejects: Iterable[tuple[str, str, bytes, str]]) -> None:
    """Keep messages that could not be read: (source, subject, payload, error)."""
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO inwatch_rejects (source, subject, payload, error) VALUES (%s, %s, %s, %s)",
            list(rejects),
        )


class PgSink:
    """A Shipper sink writing rows straight into the central store (``record --to postgresql://``)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.name = store_name(url)
        self._psycopg = require("psycopg")
        self._conn: Any = None

    def display(self) -> str:
        return self.name

    def send(self, rows: Sequence[Any]) -> None:
        self._write(lambda conn: insert_rows(conn, [wire.row_values(r) for r in rows]))

    def send_gaps(self, gaps: Sequence[wire.GapRow]) -> None:
        self._write(lambda conn: insert_gaps(conn, gaps))

    def _write(self, insert: Callable[[Any], int]) -> None:
        try:
            if self._conn is None or self._conn.closed:
                self._conn = connect(self.url)
                ensure_schema(self._conn)
            with self._conn.transaction():
                insert(self._conn)
        except (self._psycopg.Error, StoreError, OSError) as exc:
            self.close()
            text = str(exc).strip().splitlines()
            raise SinkError(text[0] if text else type(exc).__name__) from exc

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None


# -- reading ------------------------------------------------------------------------------------
# The same filters as the local journal's query (inwatch.journal.query.events), on every host's
# rows: a path without wildcard means itself and its subtree; a glob's "*" crosses "/"; *ops* match
# any kernel name in the row's "CREATE|ISDIR"-style op; *user* is the actor's uid when the backend
# named one, else the file owner's; *since*/*until* are inclusive, in ns since the epoch.


def glob_to_like(glob: bytes) -> tuple[bytes, bool]:
    """A LIKE pattern matching at least what *glob* matches, and whether fnmatch must refine it.

    ``*`` and ``?`` map exactly to ``%`` and ``_`` (both, like fnmatch, also match "/");
    a ``[...]`` class becomes ``_`` and the rows are then filtered with fnmatch.
    """
    out = bytearray()
    refine = False
    i = 0
    while i < len(glob):
        c = glob[i : i + 1]
        if c == b"*":
            out += b"%"
        elif c == b"?":
            out += b"_"
        elif c == b"[" and b"]" in glob[i + 2 :]:
            out += b"_"
            refine = True
            i = glob.index(b"]", i + 2)
        elif c in (b"%", b"_", b"\\"):
            out += b"\\" + c
        else:
            out += c
        i += 1
    return bytes(out), refine


_INODE = wire.COLUMNS.index("inode")


def _rows(conn: Any, sql: str, params: Sequence[Any]) -> list[JournalRow]:
    out = []
    for r in conn.execute(sql, params).fetchall():
        if r[_INODE] is not None:  # numeric comes back as Decimal
            r = (*r[:_INODE], int(r[_INODE]), *r[_INODE + 1 :])
        out.append(JournalRow(*r))
    return out


def _op_names(ops: str) -> list[str]:
    """ "create,move" -> every kernel name those bits spell (MOVE is MOVED_FROM and MOVED_TO)."""
    return list(mask_names(op_mask(ops)))


def _origins(origin: str | Iterable[str]) -> list[str]:
    names = [origin] if isinstance(origin, str) else list(origin)
    return [n.strip() for name in names for n in name.split(",") if n.strip()]


def query_rows(
    conn: Any,
    *,
    since_ns: int | None = None,
    until_ns: int | None = None,
    after_seq: int | None = None,
    path: str | bytes | None = None,
    ops: str | None = None,
    user: str | int | None = None,
    comm: str | None = None,
    origin: str | Iterable[str] | None = None,
    hosts: Iterable[str] | None = None,
    limit: int | None = None,
) -> list[JournalRow]:
    """Rows matching every filter given, oldest first (then host, journal, seq).

    *after_seq* is a journal's own sequence (``seq:N``): meaningful with one host.
    """
    where: list[str] = []
    params: list[Any] = []
    if since_ns is not None:
        where.append("time_ns >= %s")
        params.append(since_ns)
    if until_ns is not None:
        where.append("time_ns <= %s")
        params.append(until_ns)
    if after_seq is not None:
        where.append("seq > %s")
        params.append(after_seq)
    refine: bytes | None = None
    if path is not None:
        pat = to_bytes(path)
        like, needs = glob_to_like(pat)
        if not any(c in pat for c in b"*?["):  # no wildcard: the path and its subtree
            base = pat.rstrip(b"/") or b"/"
            where.append("(path = %s OR path LIKE %s)")
            params += [base, glob_to_like(base.rstrip(b"/"))[0] + b"/%"]
        else:
            where.append("path LIKE %s")
            params.append(like)
            refine = pat if needs else None
    if ops is not None:
        where.append("string_to_array(op, '|') && %s::text[]")
        params.append(_op_names(ops))
    if user is not None:
        where.append("coalesce(actor_uid, uid) = %s")
        params.append(_uid(user))
    if comm is not None:
        where.append("actor_comm = %s")
        params.append(comm)
    if origin is not None:
        where.append("origin = ANY(%s)")
        params.append(_origins(origin))
    if hosts is not None:
        where.append("host = ANY(%s)")
        params.append(list(hosts))
    sql = _SELECT + (" WHERE " + " AND ".join(where) if where else "") + _ORDER
    if limit is not None and refine is None:
        sql += " LIMIT %s"
        params.append(limit)
    rows = _rows(conn, sql, params)
    if refine is not None:
        rows = [r for r in rows if fnmatch.fnmatchcase(r.path, refine)][:limit]
    return rows


def history_rows(conn: Any, path: str | bytes, *, host: str | None = None) -> list[JournalRow]:
    """The life of *path*, as ``Journal.history`` tells it, on every host (or on *host*).

    Per journal (host, journal id): every row on the path and its moves away, and, followed
    backwards, the life under the names it had before a rename, of the entry itself or of a
    directory above it. Oldest first (time, then host, then sequence).
    """
    target = to_bytes(path).rstrip(b"/") or b"/"
    names = [target, *_ancestors(target)]
    sql = (
        "SELECT DISTINCT host, journal_id FROM inwatch_events"
        " WHERE (path = ANY(%s) OR src_path = %s)"
    )
    params: list[Any] = [names, target]
    if host is not None:
        sql += " AND host = %s"
        params.append(host)
    found: dict[tuple[str, str, int], JournalRow] = {}
    for h, jid in conn.execute(sql, params).fetchall():
        _life(conn, (h, jid), target, 1 << 62, found, 0)
    return sorted(found.values(), key=lambda r: (r.time_ns, r.host, r.journal_id, r.seq))


def _ancestors(p: bytes) -> list[bytes]:
    out = []
    while (cut := p.rfind(b"/")) > 0:
        p = p[:cut]
        out.append(p)
    return out


_IN_JOURNAL = " WHERE host = %s AND journal_id = %s AND seq < %s AND "


def _life(
    conn: Any,
    journal: tuple[str, str],
    p: bytes,
    before: int,
    found: dict[tuple[str, str, int], JournalRow],
    depth: int,
) -> None:
    if depth > 64:  # a rename cycle (a -> b -> a ...) is followed this far at most
        return
    on_path = _SELECT + _IN_JOURNAL + "(path = %s OR src_path = %s)"
    rows = _rows(conn, on_path, (*journal, before, p, p))
    for r in rows:
        found[(r.host, r.journal_id, r.seq)] = r
        if r.path == p and r.src_path is not None and r.src_path != p:
            _life(conn, journal, r.src_path, r.seq, found, depth + 1)
    # A directory above it renamed: the entry had the old directory's prefix before.
    for parent in _ancestors(p):
        moves = _rows(
            conn,
            _SELECT + _IN_JOURNAL + "path = %s AND src_path IS NOT NULL"
            " AND string_to_array(op, '|') && ARRAY['MOVED_TO']",
            (*journal, before, parent),
        )
        for r in moves:
            assert r.src_path is not None
            _life(conn, journal, r.src_path + p[len(parent) :], r.seq, found, depth + 1)


# What "opened" counts, and what "changed" leaves out: the kernel's read-side names.
_READ_OPS = ["OPEN", "ACCESS", "CLOSE_NOWRITE"]


def top_paths(
    conn: Any,
    *,
    since_ns: int | None = None,
    hosts: Iterable[str] | None = None,
    opened: bool = False,
    limit: int = 20,
) -> list[tuple[str, bytes, int]]:
    """(host, path, count) of the most-changed paths (or the most-opened with *opened*)."""
    overlap = "string_to_array(op, '|') && %s::text[]"
    where = [overlap if opened else f"NOT ({overlap})"]
    params: list[Any] = [_READ_OPS]
    if since_ns is not None:
        where.append("time_ns >= %s")
        params.append(since_ns)
    if hosts is not None:
        where.append("host = ANY(%s)")
        params.append(list(hosts))
    sql = (
        "SELECT host, path, count(*) FROM inwatch_events WHERE "
        + " AND ".join(where)
        + " GROUP BY host, path ORDER BY count(*) DESC, host, path LIMIT %s"
    )
    params.append(limit)
    return [(h, bytes(p), int(n)) for h, p, n in conn.execute(sql, params).fetchall()]


def gap_rows(
    conn: Any,
    since_ns: int | None = None,
    until_ns: int | None = None,
    *,
    hosts: Iterable[str] | None = None,
) -> list[tuple[str, Gap]]:
    """(host, Gap) of the gaps overlapping [*since_ns*, *until_ns*] (as ``Journal.gaps``), the
    latest version of each, oldest first (then host)."""
    where = ""
    params: list[Any] = [since_ns, until_ns]
    if hosts is not None:
        where = " WHERE host = ANY(%s)"
        params.insert(0, list(hosts))
    sql = (
        "SELECT host, start_ns, max(end_ns) AS end_ns, kind, detail FROM inwatch_gaps"
        + where
        + " GROUP BY host, journal_id, gap_id, start_ns, kind, detail"
        " HAVING max(end_ns) >= coalesce(%s, max(end_ns)) AND start_ns <= coalesce(%s, start_ns)"
        " ORDER BY start_ns, host, journal_id, gap_id"
    )
    return [(h, Gap(int(a), int(b), k, d)) for h, a, b, k, d in conn.execute(sql, params)]
