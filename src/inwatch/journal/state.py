"""The ``files`` rows a batch touches, changed in memory and written back once.

A storm gives each file several events in one batch (create, modify,
close-write, delete): one SQL statement per event on ``files`` cost more than the
event rows themselves. :class:`FileStates` loads the rows of a batch's paths with
one ``SELECT`` per 500 ids, applies every event to them in order (the rules are
in :mod:`inwatch.journal.store`), and writes each changed row once with one
bulk insert, all inside the batch's transaction. Statements that touch
rows by path *range* (a directory's subtree) go to SQL directly, after
:meth:`FileStates.flush` has written what is pending, and leave the cache empty.
"""

from __future__ import annotations

import functools
import sqlite3
from itertools import compress
from operator import is_not
from typing import Any

from .inserts import insert_rows

__all__ = ["COLUMNS", "FileStates"]

COLUMNS = (
    "present, is_dir, created_ns, created_pid, created_uid, created_comm, changed_ns,"
    " changed_mask, changed_pid, changed_uid, changed_comm, deleted_ns, size, mode, uid, gid,"
    " mtime_ns, ctime_ns, inode, digest"
)
# Indices into a row (the columns above, path_id apart).
PRESENT, IS_DIR, CREATED, CHANGED, DELETED, SIZE, CTIME, INODE, DIGEST = (
    0,
    1,
    2,
    6,
    11,
    12,
    17,
    18,
    19,
)
_MODIFY = 0x2


_NAMES = COLUMNS.split(", ")
_NONES = (None,) * len(_NAMES)


@functools.lru_cache(maxsize=256)
def _insert(filled: tuple[bool, ...]) -> str:
    """The head of the statement writing ``files`` rows whose columns *filled*
    are not NULL (:func:`~inwatch.journal.inserts.insert_rows` adds the values)."""
    names = ", ".join(compress(_NAMES, filled))
    return f"INSERT OR REPLACE INTO files (path_id, {names}) VALUES "


class FileStates:
    """A write-back cache of ``files`` rows for one transaction."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.rows: dict[int, list[Any] | None] = {}
        self.dirty: set[int] = set()

    def load(self, ids: list[int]) -> None:
        """Fetch the rows of *ids* not cached yet (a missing row caches as None)."""
        want = [i for i in dict.fromkeys(ids) if i not in self.rows]
        for k in range(0, len(want), 500):
            chunk = want[k : k + 500]
            for i in chunk:
                self.rows[i] = None
            marks = ",".join("?" * len(chunk))
            for r in self.conn.execute(
                f"SELECT path_id, {COLUMNS} FROM files WHERE path_id IN ({marks})", chunk
            ):
                self.rows[r[0]] = list(r[1:])

    def get(self, pid: int) -> list[Any] | None:
        if pid not in self.rows:
            self.load([pid])
        return self.rows[pid]

    def gone(self, pid: int, time_ns: int) -> None:
        row = self.get(pid)
        if row is not None and row[PRESENT]:
            row[PRESENT] = 0
            row[DELETED] = time_ns
            self.dirty.add(pid)

    def changed(
        self,
        pid: int,
        time_ns: int,
        mask: int,
        is_dir: bool,
        fresh: bool,
        who: tuple[int | None, int | None, str | None],
        st: tuple[int, ...] | None,
        digest: bytes | None,
    ) -> None:
        """The entry exists after an event: created now if it was not present
        (known when *fresh*: CREATE, MOVED_TO), changed now, stat and digest."""
        row = self.get(pid)
        if row is None:
            row = [None] * 20
            self.rows[pid] = row
        if not row[PRESENT]:
            row[CREATED : CREATED + 4] = [time_ns, *who] if fresh else [None] * 4
        row[PRESENT] = 1
        row[IS_DIR] = 1 if is_dir else 0
        row[DELETED] = None
        row[CHANGED : CHANGED + 5] = [time_ns, mask, *who]
        if st is not None:
            size, mode, uid, gid, mtime, ino, ctime = st
            row[SIZE : SIZE + 5] = [size, mode, uid, gid, mtime]
            row[CTIME] = ctime
            row[INODE] = ino
        if digest is not None:
            row[DIGEST] = digest
        elif mask & _MODIFY:
            row[DIGEST] = None  # the content changed: the old digest is wrong
        self.dirty.add(pid)

    def flush(self) -> None:
        """Write the changed rows: one bulk insert per shape (the columns a
        row fills; the others are NULL by default). Binding None costs the
        sqlite3 module an adapter lookup, and under inotify a row has 5 to 11
        NULLs: leaving them out halves the cost of writing it."""
        if not self.dirty:
            return
        shapes: dict[tuple[bool, ...], list[tuple[Any, ...]]] = {}
        rows = self.rows
        for pid in self.dirty:
            row = rows[pid]
            if row is not None:
                filled = tuple(map(is_not, row, _NONES))
                shapes.setdefault(filled, []).append((pid, *compress(row, filled)))
        for filled, values in shapes.items():
            insert_rows(self.conn, _insert(filled), sum(filled) + 1, values)
        self.dirty.clear()

    def reset(self) -> None:
        """Flush, then forget every cached row (SQL is about to change rows directly)."""
        self.flush()
        self.rows.clear()
