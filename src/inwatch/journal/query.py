"""The read side: events, the life of a path, its current state, the gaps.

Needs no kernel and no watcher: only the journal file (a reader may run while
``record`` writes; SQLite's WAL gives it a consistent snapshot per statement).

Times are given as epoch seconds (``float``), a ``datetime``, or text
(:func:`parse_time`): an ISO time (``2026-11-30T15:00``, local time unless it
says otherwise), a duration ago (``90s``, ``15m``, ``24h``, ``7d``, ``2w``), or
``seq:N`` (a sequence number: ``since`` is after N, ``until`` up to N inclusive).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import fnmatch
import pwd
import re
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, NamedTuple

from .schema import EVENT_COLUMNS, EVENT_FROM, ORIGIN_CODES, JournalRow, op_mask, to_bytes

if TYPE_CHECKING:
    from .sqlite import Journal

__all__ = [
    "Bound",
    "FileState",
    "Gap",
    "events",
    "gaps",
    "history",
    "parse_time",
    "present_under",
    "state",
]

_MOVED_TO, _ISDIR = 0x80, 0x40000000
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


class Gap(NamedTuple):
    """A window in which events may be missing (``kind``: ``downtime``, ``crash``,
    ``overflow``, ``disk_full``, ``pruned``)."""

    start_ns: int
    end_ns: int
    kind: str
    detail: str


class Bound(NamedTuple):
    """A query limit: nanoseconds since the epoch, or a sequence number."""

    kind: str  # "ns" or "seq"
    value: int


@dataclasses.dataclass(frozen=True)
class FileState:
    """What the journal knows about one path now (the ``files`` table).

    ``created_*`` is ``None`` for what already existed when the root's baseline
    was taken (or before the path was first seen); ``created_uid`` and
    ``changed_uid`` are the acting process's uid when the backend names it
    (``created_pid`` set), else the file owner's."""

    path: bytes
    present: bool
    is_dir: bool
    created_ns: int | None
    created_pid: int | None
    created_uid: int | None
    created_comm: str | None
    changed_ns: int | None
    changed_op: str | None
    changed_pid: int | None
    changed_uid: int | None
    changed_comm: str | None
    deleted_ns: int | None
    size: int | None
    mode: int | None
    uid: int | None
    gid: int | None
    mtime_ns: int | None
    ctime_ns: int | None
    inode: int | None
    digest: bytes | None


_STATE_COLUMNS = (
    "p.path, f.present, f.is_dir, f.created_ns, f.created_pid, f.created_uid, f.created_comm,"
    " f.changed_ns, f.changed_mask, f.changed_pid, f.changed_uid, f.changed_comm, f.deleted_ns,"
    " f.size, f.mode, f.uid, f.gid, f.mtime_ns, f.ctime_ns, f.inode, f.digest"
)


def _file_state(r: tuple[Any, ...]) -> FileState:
    from .schema import op_name

    values: list[Any] = [r[0], bool(r[1]), bool(r[2]), *r[3:8]]
    values += [op_name(r[8]) if r[8] is not None else None, *r[9:]]
    return FileState(*values)


def parse_time(text: str, now: float | None = None) -> Bound:
    """``"15m"`` / ``"2026-11-30T15:00"`` / ``"seq:42"`` -> a :class:`Bound`."""
    text = text.strip()
    if text.startswith("seq:"):
        return Bound("seq", int(text[4:]))
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([smhdw])", text)
    if m:
        t = (time.time() if now is None else now) - float(m.group(1)) * _UNITS[m.group(2)]
        return Bound("ns", int(t * 1e9))
    try:
        when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"bad time {text!r}: give an ISO time, 90s/15m/24h/7d (ago), or seq:N"
        ) from None
    return Bound("ns", int(when.timestamp() * 1e9))


def _bound(value: Any) -> Bound | None:
    if value is None or isinstance(value, Bound):
        return value
    if isinstance(value, str):
        return parse_time(value)
    if isinstance(value, dt.datetime):
        return Bound("ns", int(value.timestamp() * 1e9))
    if isinstance(value, (int, float)):
        return Bound("ns", int(value * 1e9))
    raise TypeError(f"cannot use {value!r} as a time")


def _glob_prefix(pattern: bytes) -> bytes:
    m = re.search(rb"[*?\[]", pattern)
    return pattern if m is None else pattern[: m.start()]


def _prefix_end(prefix: bytes) -> bytes:
    """The smallest byte string above every string that starts with *prefix*."""
    stripped = prefix.rstrip(b"\xff")
    if not stripped:
        return b"\xff" * (len(prefix) + 4096)  # nothing sorts above: past any real path
    return stripped[:-1] + bytes([stripped[-1] + 1])


def _uid(user: str | int) -> int:
    if isinstance(user, int) or user.isdigit():
        return int(user)
    try:
        return pwd.getpwnam(user).pw_uid
    except KeyError:
        raise ValueError(f"no such user {user!r}") from None


def events(
    j: Journal,
    *,
    since: Any = None,
    until: Any = None,
    path: str | bytes | None = None,
    ops: str | int | None = None,
    user: str | int | None = None,
    comm: str | None = None,
    origin: str | list[str] | None = None,
    limit: int | None = None,
) -> list[JournalRow]:
    """Event rows matching every filter given, in sequence order.

    *path* is a glob on the full path (``*`` crosses ``/``); a path with no
    wildcard matches itself and everything under it. *user* matches the acting
    process's uid when the backend names it, else the file owner's uid at the
    time (inotify cannot say who acted)."""
    where: list[str] = []
    params: list[Any] = []
    lo, hi = _bound(since), _bound(until)
    if lo is not None:
        where.append("e.seq > ?" if lo.kind == "seq" else "e.time_ns >= ?")
        params.append(lo.value)
    if hi is not None:
        where.append("e.seq <= ?" if hi.kind == "seq" else "e.time_ns <= ?")
        params.append(hi.value)
    if path is not None:
        pat = to_bytes(path)
        prefix = _glob_prefix(pat)
        if prefix == pat:  # no wildcard: the path and its subtree
            base = pat.rstrip(b"/") or b"/"
            where.append(
                "e.path_id IN (SELECT id FROM paths WHERE path = ? OR (path >= ? AND path < ?))"
            )
            params += [base, base.rstrip(b"/") + b"/", base.rstrip(b"/") + b"0"]
        else:
            where.append(
                "e.path_id IN (SELECT id FROM paths WHERE path >= ? AND path < ?"
                " AND inwatch_glob(path, ?))"
            )
            params += [prefix, _prefix_end(prefix), pat]
    if ops is not None:
        where.append("e.mask & ? != 0")
        params.append(ops if isinstance(ops, int) else op_mask(ops))
    if user is not None:
        where.append("coalesce(e.actor_uid, e.uid) = ?")
        params.append(_uid(user))
    if comm is not None:
        where.append("e.actor_comm = ?")
        params.append(comm)
    if origin is not None:
        names = [origin] if isinstance(origin, str) else list(origin)
        names = [n.strip() for name in names for n in name.split(",") if n.strip()]
        try:
            codes = [ORIGIN_CODES[n] for n in names]
        except KeyError as exc:
            raise ValueError(
                f"unknown origin {exc.args[0]!r} (kernel, scan, rescan, offline)"
            ) from None
        where.append(f"e.origin IN ({','.join('?' * len(codes))})")
        params += codes
    source = EVENT_FROM
    if (lo is not None and lo.kind == "ns") or (hi is not None and hi.kind == "ns"):
        # Without this, SQLite walks the whole table in seq order (to avoid a
        # sort) and filters on time: seconds over millions of rows. The time
        # index finds the range; sorting the answer by seq is cheap.
        source = source.replace("events e ", "events e INDEXED BY events_time ", 1)
    elif path is not None and lo is None and hi is None:
        source = source.replace("events e ", "events e INDEXED BY events_path ", 1)
    sql = f"SELECT {EVENT_COLUMNS} FROM {source}"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY e.seq"
    if limit is not None:
        sql += " LIMIT ?"
        params.append(limit)
    return [JournalRow.from_db(j.host, j.journal_id, r) for r in j.read(sql, params)]


def glob_match(path: bytes, pattern: bytes) -> bool:
    """The SQL function ``inwatch_glob``: fnmatch on bytes, ``*`` crossing ``/``."""
    return fnmatch.fnmatchcase(path, pattern)


def _path_id(j: Journal, path: bytes) -> int | None:
    rows = j.read("SELECT id FROM paths WHERE path = ?", (path,))
    return int(rows[0][0]) if rows else None


def _select(j: Journal, where: str, params: tuple[Any, ...]) -> list[JournalRow]:
    rows = j.read(f"SELECT {EVENT_COLUMNS} FROM {EVENT_FROM} WHERE {where}", params)
    return [JournalRow.from_db(j.host, j.journal_id, r) for r in rows]


def history(j: Journal, path: str | bytes) -> list[JournalRow]:
    """The life of *path*, oldest first: every event on it, its moves away, and,
    followed backwards, the life under the names it had before a rename (of the
    entry itself or of a directory above it)."""
    found: dict[int, JournalRow] = {}
    _life(j, to_bytes(path).rstrip(b"/") or b"/", 1 << 62, found, 0)
    return [found[s] for s in sorted(found)]


def _life(j: Journal, p: bytes, before: int, found: dict[int, JournalRow], depth: int) -> None:
    if depth > 64:  # a rename cycle (a -> b -> a ...) is followed this far at most
        return
    pid = _path_id(j, p)
    if pid is not None:
        rows = _select(j, "(e.path_id = ? OR e.src_id = ?) AND e.seq < ?", (pid, pid, before))
        for r in rows:
            found[r.seq] = r
            if r.path == p and r.src_path is not None and r.src_path != p:
                _life(j, r.src_path, r.seq, found, depth + 1)
    # A directory above it renamed: the entry had the old directory's prefix before.
    parent = p
    while True:
        cut = parent.rfind(b"/")
        if cut <= 0:
            break
        parent = parent[:cut]
        aid = _path_id(j, parent)
        if aid is None:
            continue
        moves = _select(
            j,
            "e.path_id = ? AND e.src_id IS NOT NULL AND e.mask & ? AND e.seq < ?",
            (aid, _MOVED_TO | _ISDIR, before),
        )
        for r in moves:
            assert r.src_path is not None
            _life(j, r.src_path + p[len(parent) :], r.seq, found, depth + 1)


def state(j: Journal, path: str | bytes) -> FileState | None:
    """The ``files`` row of *path* (``None`` if the journal never saw it)."""
    rows = j.read(
        f"SELECT {_STATE_COLUMNS} FROM files f JOIN paths p ON p.id = f.path_id WHERE p.path = ?",
        (to_bytes(path).rstrip(b"/") or b"/",),
    )
    return _file_state(rows[0]) if rows else None


def present_under(j: Journal, root: bytes) -> Iterator[FileState]:
    """Every entry the journal believes exists at or under *root*."""
    base = root.rstrip(b"/") or b"/"
    lo = base.rstrip(b"/") + b"/"
    rows = j.read(
        f"SELECT {_STATE_COLUMNS} FROM files f JOIN paths p ON p.id = f.path_id"
        " WHERE f.present AND (p.path = ? OR (p.path >= ? AND p.path < ?))",
        (base, lo, base.rstrip(b"/") + b"0"),
    )
    return (_file_state(r) for r in rows)


def gaps(j: Journal, since_ns: int | None = None, until_ns: int | None = None) -> list[Gap]:
    """Gap rows overlapping [*since_ns*, *until_ns*], oldest first."""
    rows = j.read(
        "SELECT start_ns, end_ns, kind, detail FROM gaps"
        " WHERE end_ns >= coalesce(?, end_ns) AND start_ns <= coalesce(?, start_ns)"
        " ORDER BY start_ns, id",
        (since_ns, until_ns),
    )
    return [Gap(*r) for r in rows]
