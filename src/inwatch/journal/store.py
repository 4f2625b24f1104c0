"""Writing events: an :class:`~inwatch.Event` becomes a prepared record (stat,
digest, actor's user name: the I/O, done outside any transaction), then rows of
``events`` and the matching change of ``files`` inside one transaction.

How the ``files`` state follows the kernel's events (inotify(7)):

- ``CREATE``, ``MODIFY``, ``ATTRIB``, ``CLOSE_WRITE``, ``MOVED_TO``: the entry exists
  (``present`` 1) with the stat taken when the writer looked; a path that was not
  present is created now (and by whom when the backend says so).
- ``DELETE``, ``DELETE_SELF``, ``MOVED_FROM``: the entry is gone (``present`` 0).
  ``MOVE_SELF`` changes nothing: the parent's pair of move events does.
  A directory moved away takes its subtree with it: the kernel reports nothing
  for the entries inside, so their rows are marked gone with it.
- ``MOVED_TO`` with a source (a rename the Watcher paired by cookie): the state row
  moves to the new path, keeping when and by whom the file was created; for a
  directory the rows of its whole subtree move (the kernel reports one event).
- ``Q_OVERFLOW``: events were lost; a gap row opens and is extended over the
  ``rescan`` events that follow (the Watcher's recovery), so a reader knows.
- Reads (``OPEN``, ``ACCESS``, ``CLOSE_NOWRITE``) are recorded but neither stat'ed
  nor change the state.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import stat as stat_mod
import sys
import time
from typing import Any, NamedTuple

from ..event import Actor
from ..users import user_name
from .inserts import insert_rows
from .schema import ORIGIN_CODES
from .state import FileStates

__all__ = ["STAT_MASK", "Prepared", "StatTuple", "Store", "prepare", "prepare_batch", "stat_tuple"]

_ATTRIB, _CLOSE_WRITE, _MODIFY = 0x4, 0x8, 0x2
_MOVED_FROM, _MOVED_TO, _CREATE, _DELETE = 0x40, 0x80, 0x100, 0x200
_DELETE_SELF, _MOVE_SELF, _Q_OVERFLOW, _ISDIR = 0x400, 0x800, 0x4000, 0x40000000
CHANGE_MASK = _CREATE | _MODIFY | _ATTRIB | _CLOSE_WRITE | _MOVED_TO
# MOVE_SELF is not here: the parent's MOVED_FROM/MOVED_TO say where it went (and
# the Watcher already names a moved directory by its new path).
GONE_MASK = _DELETE | _DELETE_SELF | _MOVED_FROM
STAT_MASK = CHANGE_MASK  # the entries worth a stat: they exist after the event

# (size, mode, uid, gid, mtime_ns, inode, ctime_ns)
StatTuple = tuple[int, int, int, int, int, int, int]


class Prepared(NamedTuple):
    """An event ready for the transaction: nothing left to ask the file system."""

    time_ns: int
    mask: int
    path: bytes
    src: bytes | None
    origin: int
    st: StatTuple | None
    actor: Actor | None
    actor_user: str | None
    digest: bytes | None


def stat_tuple(st: os.stat_result) -> StatTuple:
    return (st.st_size, st.st_mode, st.st_uid, st.st_gid, st.st_mtime_ns, st.st_ino, st.st_ctime_ns)


def file_digest(path: bytes, size: int, max_size: int) -> bytes | None:
    """blake2b of a regular file: ``b""`` when larger than *max_size* (recorded as
    unhashed, never skipped silently), ``None`` if it cannot be read any more."""
    if size > max_size:
        return b""
    h = hashlib.blake2b()
    try:
        with open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
    except OSError:
        return None
    return h.digest()


def prepare_batch(events: list[Any], hash_max: int | None = None) -> list[Prepared]:
    """:func:`prepare` each event, without a stat of an entry that a later event
    of the same batch deletes or moves away: the kernel reported that before we
    look, so the entry is gone (or is another file by then)."""
    gone_at: dict[Any, int] = {}
    for i, ev in enumerate(events):
        if ev.mask & GONE_MASK:
            gone_at[ev.pathname] = i
    if not gone_at:
        return [_prepare(ev, hash_max, None, True) for ev in events]
    at = gone_at.get
    return [_prepare(ev, hash_max, None, at(ev.pathname, -1) < i) for i, ev in enumerate(events)]


def prepare(
    ev: Any, hash_max: int | None = None, now_ns: int | None = None, stat: bool = True
) -> Prepared:
    """Turn an Event into a :class:`Prepared` record: stat the entry if it still
    exists after a change, hash it after CLOSE_WRITE when *hash_max* is given."""
    return _prepare(ev, hash_max, now_ns, stat)


# os.fsencode, without its call: this runs once per recorded event.
_FS_ENCODING, _FS_ERRORS = sys.getfilesystemencoding(), sys.getfilesystemencodeerrors()
_new_prepared = tuple.__new__  # Prepared(...) without the namedtuple's own __new__ frame


def _prepare(ev: Any, hash_max: int | None, now_ns: int | None, stat: bool) -> Prepared:
    pathname = ev.pathname
    path = pathname if type(pathname) is bytes else pathname.encode(_FS_ENCODING, _FS_ERRORS)
    src = ev.src_pathname
    if src is not None and type(src) is not bytes:
        src = src.encode(_FS_ENCODING, _FS_ERRORS)
    mask = ev.mask
    t = ev.time
    time_ns = int(t * 1e9) if t else (now_ns or time.time_ns())
    st: StatTuple | None = None
    digest = None
    if stat and mask & STAT_MASK and path:
        try:
            s = os.lstat(path)
        except OSError:
            s = None  # gone already: recorded without a snapshot
        if s is not None:
            st = stat_tuple(s)
            if hash_max is not None and mask & _CLOSE_WRITE and stat_mod.S_ISREG(s.st_mode):
                digest = file_digest(path, s.st_size, hash_max)
    actor = ev.actor
    return _new_prepared(
        Prepared,
        (
            time_ns,
            mask,
            path,
            src,
            ORIGIN_CODES[ev.origin],
            st,
            actor,
            user_name(actor.uid) if actor is not None else None,
            digest,
        ),
    )


def _under(prefix: bytes) -> tuple[bytes, bytes]:
    """The BLOB range of the paths strictly inside directory *prefix*: ``p/`` up to
    ``p0`` ('0' follows '/' in byte order), so the unique index answers it."""
    base = prefix.rstrip(b"/")
    return base + b"/", base + b"0"


# The INSERTs of an event row by its shape. A column left out is NULL, and
# leaving it out is cheaper than binding None: the sqlite3 module binds int,
# float and str directly but looks every other value (None included) up in its
# adapter registry first, which made the NULLs of a plain inotify event half
# the cost of its row (6.2 against 3.0 us for 18 and 11 columns).
_BARE, _MOVED, _STAT, _MOVED_STAT, _FULL = range(5)
_STAT_COLUMNS = "size, mode, uid, gid, mtime_ns, inode"
_EVENT_INSERTS = {
    kind: (f"INSERT INTO events ({columns}) VALUES ", columns.count(",") + 1)
    for kind, columns in (
        (_BARE, "time_ns, mask, path_id, origin"),
        (_MOVED, "time_ns, mask, path_id, src_id, origin"),
        (_STAT, f"time_ns, mask, path_id, origin, {_STAT_COLUMNS}"),
        (_MOVED_STAT, f"time_ns, mask, path_id, src_id, origin, {_STAT_COLUMNS}"),
        (
            _FULL,
            f"time_ns, mask, path_id, src_id, origin, {_STAT_COLUMNS}, actor_pid, actor_uid,"
            " actor_comm, actor_exe, actor_status, actor_user, digest",
        ),
    )
}
_NONE6, _NONE5 = (None,) * 6, (None,) * 5


class Store:
    """Writes prepared records into an open connection (the caller holds the
    transaction). Keeps a bounded cache of path ids and the open overflow gap."""

    _CACHE_MAX = 100_000

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self._ids: dict[bytes, int] = {}
        self._overflow_gap: int | None = None
        self.states = FileStates(conn)

    def path_id(self, path: bytes) -> int:
        """The id of *path* in ``paths``, inserted if new."""
        pid = self._ids.get(path)
        if pid is not None:
            return pid
        row = self.conn.execute("SELECT id FROM paths WHERE path = ?", (path,)).fetchone()
        if row is None:
            cur = self.conn.execute("INSERT INTO paths (path) VALUES (?)", (path,))
            pid = cur.lastrowid
            assert pid is not None
        else:
            pid = row[0]
        self._remember(path, pid)
        return pid

    def _remember(self, path: bytes, pid: int) -> None:
        if len(self._ids) >= self._CACHE_MAX:
            self._ids.clear()
        self._ids[path] = pid

    def _resolve(self, paths: list[bytes]) -> dict[bytes, int]:
        """The ids of all *paths*, with one SELECT per 500 unknown paths and one
        bulk insert for the new ones (ids assigned from ``max(id)``: the
        caller's write transaction keeps any other writer out meanwhile)."""
        ids: dict[bytes, int] = {}
        unknown: list[bytes] = []
        for p in dict.fromkeys(paths):
            pid = self._ids.get(p)
            if pid is None:
                unknown.append(p)
            else:
                ids[p] = pid
        execute = self.conn.execute
        for i in range(0, len(unknown), 500):
            chunk = unknown[i : i + 500]
            marks = ",".join("?" * len(chunk))
            for p, pid in execute(f"SELECT path, id FROM paths WHERE path IN ({marks})", chunk):
                ids[p] = pid
        new = [p for p in unknown if p not in ids]
        if new:
            base = execute("SELECT coalesce(max(id), 0) FROM paths").fetchone()[0]
            rows = [(base + 1 + i, p) for i, p in enumerate(new)]
            insert_rows(self.conn, "INSERT INTO paths (id, path) VALUES ", 2, rows)
            ids.update((p, pid) for pid, p in rows)
        for p in unknown:
            self._remember(p, ids[p])
        return ids

    def forget_ids(self) -> None:
        """After a rollback the cached ids may name rows that no longer exist."""
        self._ids.clear()
        self._overflow_gap = None

    def write(self, items: list[Prepared]) -> int:
        """Insert *items* in order and update ``files``; return the last seq (0 if none)."""
        if not items:
            return 0
        ids = self._resolve([it.path for it in items] + [it.src for it in items if it.src])
        self.states = FileStates(self.conn)
        self.states.load(list(ids.values()))
        # Consecutive rows of the same shape (which optional columns they fill)
        # go in together, in order: seq follows the kernel's order.
        runs: list[tuple[int, list[tuple[Any, ...]]]] = []
        rows: list[tuple[Any, ...]] = []
        shape = -1
        changed = self.states.changed
        for it in items:
            time_ns, mask, path, src, origin, st, a, user, digest = it
            pid = ids[path]
            sid = None if src is None else ids[src]
            if a is not None or user is not None or digest is not None:
                kind = _FULL
                row: tuple[Any, ...] = (
                    time_ns, mask, pid, sid, origin,
                    *(st[:6] if st is not None else _NONE6),
                    *((a.pid, a.uid, a.comm, a.exe, a.status) if a else _NONE5),
                    user, digest,
                )  # fmt: skip
            elif st is None:
                kind, row = (
                    (_BARE, (time_ns, mask, pid, origin))
                    if sid is None
                    else (_MOVED, (time_ns, mask, pid, sid, origin))
                )
            elif sid is None:
                kind, row = _STAT, (time_ns, mask, pid, origin, *st[:6])
            else:
                kind, row = _MOVED_STAT, (time_ns, mask, pid, sid, origin, *st[:6])
            if kind != shape:
                shape = kind
                rows = []
                runs.append((kind, rows))
            rows.append(row)
            if mask & _Q_OVERFLOW or self._overflow_gap is not None:
                self._gap_bookkeeping(it)
            # The state of the path (see the module docstring).
            if mask & GONE_MASK:
                self._gone(it, pid)
            elif mask & CHANGE_MASK:
                if mask & _MOVED_TO and sid is not None:
                    self._moved(it, pid, sid)
                # Who: the process when the backend names it; with inotify only the owner.
                if a is not None:
                    who: tuple[Any, Any, Any] = (a.pid, a.uid, a.comm)
                else:
                    who = (None, st[2] if st else None, None)
                changed(
                    pid, time_ns, mask, bool(mask & _ISDIR), bool(mask & (_CREATE | _MOVED_TO)),
                    who, st, digest,
                )  # fmt: skip
        self.states.flush()
        for kind, rows in runs:
            insert_rows(self.conn, *_EVENT_INSERTS[kind], rows)
        return int(self.conn.execute("SELECT last_insert_rowid()").fetchone()[0])

    def _gap_bookkeeping(self, it: Prepared) -> None:
        if it.mask & _Q_OVERFLOW:
            cur = self.conn.execute(
                "INSERT INTO gaps (start_ns, end_ns, kind, detail) VALUES (?, ?, 'overflow', ?)",
                (it.time_ns, it.time_ns, "the kernel queue overflowed; rescan events follow"),
            )
            self._overflow_gap = cur.lastrowid
        elif self._overflow_gap is not None:
            if it.origin == ORIGIN_CODES["rescan"]:
                self.conn.execute(
                    "UPDATE gaps SET end_ns = max(end_ns, ?) WHERE id = ?",
                    (it.time_ns, self._overflow_gap),
                )
            else:
                self._overflow_gap = None

    def _gone(self, it: Prepared, pid: int) -> None:
        self.states.gone(pid, it.time_ns)
        if it.mask & (_ISDIR | _DELETE_SELF):
            # The kernel reports nothing for the entries inside: they go with it.
            self.states.reset()
            lo, hi = _under(it.path)
            self.conn.execute(
                "UPDATE files SET present = 0, deleted_ns = ? WHERE present AND path_id IN"
                " (SELECT id FROM paths WHERE path >= ? AND path < ?)",
                (it.time_ns, lo, hi),
            )

    def _moved(self, it: Prepared, pid: int, sid: int) -> None:
        """A paired rename: the state rows move from the source path(s) to the new one."""
        self.states.reset()  # rows are moved in SQL, by path range
        execute = self.conn.execute
        row = execute("SELECT deleted_ns FROM files WHERE path_id = ?", (sid,)).fetchone()
        if row is None:
            return
        moved_at = row[0]
        execute("DELETE FROM files WHERE path_id = ?", (pid,))
        execute(
            "UPDATE files SET path_id = ?, present = 1, deleted_ns = NULL WHERE path_id = ?",
            (pid, sid),
        )
        if not it.mask & _ISDIR:
            return
        # The subtree was marked gone by the MOVED_FROM at *moved_at*: bring it along.
        lo, hi = _under(it.src or b"")
        children = execute(
            "SELECT f.path_id, p.path FROM files f JOIN paths p ON p.id = f.path_id"
            " WHERE p.path >= ? AND p.path < ? AND (f.present OR f.deleted_ns IS ?)",
            (lo, hi, moved_at),
        ).fetchall()
        base = it.path.rstrip(b"/")
        cut = len(lo) - 1
        for old_id, old_path in children:
            new_id = self.path_id(base + old_path[cut:])
            execute("DELETE FROM files WHERE path_id = ?", (new_id,))
            execute(
                "UPDATE files SET path_id = ?, present = 1, deleted_ns = NULL WHERE path_id = ?",
                (new_id, old_id),
            )
