"""Writing events: an :class:`~inwatch.Event` becomes a prepared record (stat,
digest, actor's user name: the I/O, done outside any transaction), then rows of
``events`` and the matching change of ``files`` inside one transaction.

How the ``files`` state follows the kernel's events (inotify(7)):

- ``CREATE``, ``MODIFY``, ``ATTRIB``, ``CLOSE_WRITE``, ``MOVED_TO``: the entry exists
  (``present`` 1) with the stat taken when the writer looked; a path that was not
  present is created now (and by whom when the backend says so).
- ``DELETE``, ``DELETE_SELF``, ``MOVED_FROM``: the entry is gone (``present`` 0).
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
import pwd
import sqlite3
import stat as stat_mod
import time
from typing import Any, NamedTuple

from ..event import Actor
from .schema import ORIGIN_CODES

__all__ = ["STAT_MASK", "Prepared", "StatTuple", "Store", "prepare", "stat_tuple"]

_ATTRIB, _CLOSE_WRITE, _MODIFY = 0x4, 0x8, 0x2
_MOVED_FROM, _MOVED_TO, _CREATE, _DELETE = 0x40, 0x80, 0x100, 0x200
_DELETE_SELF, _MOVE_SELF, _Q_OVERFLOW, _ISDIR = 0x400, 0x800, 0x4000, 0x40000000
CHANGE_MASK = _CREATE | _MODIFY | _ATTRIB | _CLOSE_WRITE | _MOVED_TO
GONE_MASK = _DELETE | _DELETE_SELF | _MOVED_FROM | _MOVE_SELF
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


_users: dict[int, str | None] = {}


def user_name(uid: int | None) -> str | None:
    """The login name of *uid* (cached; ``None`` if it has none)."""
    if uid is None:
        return None
    if uid not in _users:
        try:
            _users[uid] = pwd.getpwuid(uid).pw_name
        except KeyError:
            _users[uid] = None
    return _users[uid]


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


def prepare(ev: Any, hash_max: int | None = None, now_ns: int | None = None) -> Prepared:
    """Turn an Event into a :class:`Prepared` record: stat the entry if it still
    exists after a change, hash it after CLOSE_WRITE when *hash_max* is given."""
    pathname = ev.pathname
    path = pathname if type(pathname) is bytes else os.fsencode(pathname)
    src = ev.src_pathname
    if src is not None and type(src) is not bytes:
        src = os.fsencode(src)
    mask = ev.mask
    t = ev.time
    time_ns = int(t * 1e9) if t else (now_ns or time.time_ns())
    st: StatTuple | None = None
    digest = None
    if mask & STAT_MASK and path:
        try:
            s = os.lstat(path)
        except OSError:
            s = None  # gone already: recorded without a snapshot
        if s is not None:
            st = stat_tuple(s)
            if hash_max is not None and mask & _CLOSE_WRITE and stat_mod.S_ISREG(s.st_mode):
                digest = file_digest(path, s.st_size, hash_max)
    actor = ev.actor
    return Prepared(
        time_ns,
        mask,
        path,
        src,
        ORIGIN_CODES[ev.origin],
        st,
        actor,
        user_name(actor.uid) if actor is not None else None,
        digest,
    )


def _under(prefix: bytes) -> tuple[bytes, bytes]:
    """The BLOB range of the paths strictly inside directory *prefix*: ``p/`` up to
    ``p0`` ('0' follows '/' in byte order), so the unique index answers it."""
    base = prefix.rstrip(b"/")
    return base + b"/", base + b"0"


class Store:
    """Writes prepared records into an open connection (the caller holds the
    transaction). Keeps a bounded cache of path ids and the open overflow gap."""

    _CACHE_MAX = 100_000

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self._ids: dict[bytes, int] = {}
        self._overflow_gap: int | None = None

    def path_id(self, path: bytes) -> int:
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
        if len(self._ids) >= self._CACHE_MAX:
            self._ids.clear()
        self._ids[path] = pid
        return pid

    def forget_ids(self) -> None:
        """After a rollback the cached ids may name rows that no longer exist."""
        self._ids.clear()
        self._overflow_gap = None

    def write(self, items: list[Prepared]) -> int:
        """Insert *items* in order and update ``files``; return the last seq (0 if none)."""
        execute = self.conn.execute
        last = 0
        for it in items:
            pid = self.path_id(it.path)
            sid = self.path_id(it.src) if it.src is not None else None
            st = it.st
            a = it.actor
            cur = execute(
                "INSERT INTO events (time_ns, mask, path_id, src_id, origin, size, mode, uid,"
                " gid, mtime_ns, inode, actor_pid, actor_uid, actor_comm, actor_exe,"
                " actor_status, actor_user, digest)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    it.time_ns,
                    it.mask,
                    pid,
                    sid,
                    it.origin,
                    *(st[:6] if st is not None else (None,) * 6),
                    *((a.pid, a.uid, a.comm, a.exe, a.status) if a else (None,) * 5),
                    it.actor_user,
                    it.digest,
                ),
            )
            last = cur.lastrowid or last
            self._gap_bookkeeping(it)
            self._update_state(it, pid, sid)
        return last

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

    def _update_state(self, it: Prepared, pid: int, sid: int | None) -> None:
        mask = it.mask
        if mask & GONE_MASK:
            self._gone(it, pid)
        elif mask & CHANGE_MASK:
            if mask & _MOVED_TO and sid is not None:
                self._moved(it, pid, sid)
            self._changed(it, pid)

    def _gone(self, it: Prepared, pid: int) -> None:
        execute = self.conn.execute
        execute(
            "UPDATE files SET present = 0, deleted_ns = ? WHERE path_id = ? AND present",
            (it.time_ns, pid),
        )
        if it.mask & (_ISDIR | _DELETE_SELF | _MOVE_SELF | _MOVED_FROM):
            lo, hi = _under(it.path)
            execute(
                "UPDATE files SET present = 0, deleted_ns = ? WHERE present AND path_id IN"
                " (SELECT id FROM paths WHERE path >= ? AND path < ?)",
                (it.time_ns, lo, hi),
            )

    def _moved(self, it: Prepared, pid: int, sid: int) -> None:
        """A paired rename: the state rows move from the source path(s) to the new one."""
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

    def _changed(self, it: Prepared, pid: int) -> None:
        a = it.actor
        st = it.st
        # Who: the process when the backend names it; with inotify only the owner.
        who_pid = a.pid if a else None
        who_uid = a.uid if a else (st[2] if st else None)
        who_comm = a.comm if a else None
        fresh = it.mask & (_CREATE | _MOVED_TO)
        stat_cols = st if st is not None else (None,) * 7
        self.conn.execute(
            "INSERT INTO files (path_id, present, is_dir, created_ns, created_pid, created_uid,"
            " created_comm, changed_ns, changed_mask, changed_pid, changed_uid, changed_comm,"
            " deleted_ns, size, mode, uid, gid, mtime_ns, inode, ctime_ns, digest)"
            " VALUES (?,1,?,?,?,?,?,?,?,?,?,?,NULL,?,?,?,?,?,?,?,?)"
            " ON CONFLICT(path_id) DO UPDATE SET"
            "  created_ns = CASE WHEN present THEN created_ns ELSE excluded.created_ns END,"
            "  created_pid = CASE WHEN present THEN created_pid ELSE excluded.created_pid END,"
            "  created_uid = CASE WHEN present THEN created_uid ELSE excluded.created_uid END,"
            "  created_comm = CASE WHEN present THEN created_comm ELSE excluded.created_comm END,"
            "  present = 1, is_dir = excluded.is_dir, deleted_ns = NULL,"
            "  changed_ns = excluded.changed_ns, changed_mask = excluded.changed_mask,"
            "  changed_pid = excluded.changed_pid, changed_uid = excluded.changed_uid,"
            "  changed_comm = excluded.changed_comm,"
            "  size = coalesce(excluded.size, size), mode = coalesce(excluded.mode, mode),"
            "  uid = coalesce(excluded.uid, uid), gid = coalesce(excluded.gid, gid),"
            "  mtime_ns = coalesce(excluded.mtime_ns, mtime_ns),"
            "  ctime_ns = coalesce(excluded.ctime_ns, ctime_ns),"
            "  inode = coalesce(excluded.inode, inode),"
            "  digest = CASE WHEN excluded.digest IS NOT NULL THEN excluded.digest"
            "   WHEN excluded.changed_mask & 2 THEN NULL ELSE digest END",
            (
                pid,
                1 if it.mask & _ISDIR else 0,
                it.time_ns if fresh else None,
                who_pid if fresh else None,
                who_uid if fresh else None,
                who_comm if fresh else None,
                it.time_ns,
                it.mask,
                who_pid,
                who_uid,
                who_comm,
                *stat_cols,
                it.digest,
            ),
        )
