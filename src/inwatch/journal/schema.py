"""The journal's tables, their version, and the pure mapping between rows and events.

A journal is one SQLite file. ``PRAGMA application_id`` marks it as inwatch's
(so a stray SQLite file is refused, not written into) and ``PRAGMA user_version``
holds the schema version: :data:`SCHEMA_VERSION` is what this code writes; an
older file is migrated in place by :data:`MIGRATIONS` (one transaction), a newer
one is refused.

Tables (version 2):

- ``meta``: ``journal_id`` (uuid4 hex, made with the file), ``host``, ``created_ns``.
- ``paths``: every path once (``BLOB``: the bytes the kernel gave, lossless); events
  and state refer to it by id, so a path costs its length once, not per event.
- ``events``: one row per event. ``seq`` is ``AUTOINCREMENT`` so a sequence number
  is never reused, even after retention deleted the newest rows' neighbours: a
  shipping cursor stays meaningful forever. ``mask`` is the kernel bits (``op``
  in :class:`JournalRow` is their names), ``origin`` a small int
  (:data:`ORIGIN_CODES`). The stat snapshot (``size`` … ``inode``) is filled when
  the entry still existed when the writer looked. ``digest`` is blake2b (``--hash``):
  ``NULL`` when not hashed, ``b""`` when asked but the file was larger than the limit.
- ``files``: the current state per path (``present`` 0 once deleted or moved away),
  kept in the same transaction as the events that change it.
- ``roots``: the roots recorded, with the time of their baseline.
- ``gaps``: windows in which events may be missing (downtime, crash, overflow,
  disk full, pruned before shipping) with ``start_ns``, ``end_ns``, ``kind``, ``detail``.
- ``runs``: one row per ``record`` process (heartbeat ``last_commit_ns``; a run
  with no ``stopped_ns`` ended by a crash or SIGKILL).
- ``sinks``: the shipped cursor per sink name (issue 14).
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any, Final

from ..flags import mask_names

__all__ = [
    "APPLICATION_ID",
    "DDL",
    "EVENT_COLUMNS",
    "MIGRATIONS",
    "ORIGIN_CODES",
    "ORIGIN_NAMES",
    "SCHEMA_VERSION",
    "JournalRow",
    "op_mask",
    "op_name",
    "to_bytes",
]

SCHEMA_VERSION: Final = 2
APPLICATION_ID: Final = 0x696E7774  # "inwt"

ORIGIN_NAMES: Final = ("kernel", "scan", "rescan", "offline")
ORIGIN_CODES: Final = {name: code for code, name in enumerate(ORIGIN_NAMES)}

DDL: Final = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE paths (id INTEGER PRIMARY KEY, path BLOB NOT NULL UNIQUE);
CREATE TABLE events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    time_ns INTEGER NOT NULL,
    mask INTEGER NOT NULL,
    path_id INTEGER NOT NULL,
    src_id INTEGER,
    origin INTEGER NOT NULL,
    size INTEGER, mode INTEGER, uid INTEGER, gid INTEGER, mtime_ns INTEGER, inode INTEGER,
    actor_pid INTEGER, actor_uid INTEGER, actor_comm TEXT, actor_exe TEXT, actor_status TEXT,
    actor_user TEXT, digest BLOB
);
CREATE INDEX events_time ON events(time_ns);
CREATE INDEX events_path ON events(path_id);
CREATE INDEX events_src ON events(src_id) WHERE src_id IS NOT NULL;
CREATE TABLE files (
    path_id INTEGER PRIMARY KEY,
    present INTEGER NOT NULL,
    is_dir INTEGER NOT NULL,
    created_ns INTEGER, created_pid INTEGER, created_uid INTEGER, created_comm TEXT,
    changed_ns INTEGER, changed_mask INTEGER, changed_pid INTEGER, changed_uid INTEGER,
    changed_comm TEXT, deleted_ns INTEGER,
    size INTEGER, mode INTEGER, uid INTEGER, gid INTEGER, mtime_ns INTEGER, ctime_ns INTEGER,
    inode INTEGER, digest BLOB
);
CREATE TABLE roots (path_id INTEGER PRIMARY KEY, baseline_ns INTEGER NOT NULL);
CREATE TABLE gaps (
    id INTEGER PRIMARY KEY,
    start_ns INTEGER NOT NULL,
    end_ns INTEGER NOT NULL,
    kind TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT ''
);
CREATE INDEX gaps_time ON gaps(start_ns);
CREATE TABLE runs (
    id INTEGER PRIMARY KEY,
    pid INTEGER NOT NULL,
    started_ns INTEGER NOT NULL,
    last_commit_ns INTEGER NOT NULL,
    stopped_ns INTEGER
);
CREATE TABLE sinks (
    name TEXT PRIMARY KEY,
    seq INTEGER NOT NULL DEFAULT 0,
    registered INTEGER NOT NULL DEFAULT 0,
    updated_ns INTEGER
) WITHOUT ROWID;
"""

# MIGRATIONS[v] takes a journal from version v to v + 1 (run in one transaction).
# Version 1 (inwatch's first journal) had no actor user name, no digests and no
# shipping cursors.
MIGRATIONS: Final = {
    1: """
ALTER TABLE events ADD COLUMN actor_user TEXT;
ALTER TABLE events ADD COLUMN digest BLOB;
ALTER TABLE files ADD COLUMN digest BLOB;
CREATE TABLE sinks (
    name TEXT PRIMARY KEY,
    seq INTEGER NOT NULL DEFAULT 0,
    registered INTEGER NOT NULL DEFAULT 0,
    updated_ns INTEGER
) WITHOUT ROWID;
""",
}

# The columns of an events row as JournalRow and the query side read them, with
# the path ids already resolved to bytes (joined on paths).
EVENT_COLUMNS: Final = (
    "e.seq, e.time_ns, e.mask, p.path, s.path, e.origin, e.size, e.mode, e.uid, e.gid, "
    "e.mtime_ns, e.inode, e.actor_pid, e.actor_uid, e.actor_user, e.actor_comm, e.actor_exe, "
    "e.actor_status, e.digest"
)
EVENT_FROM: Final = "events e JOIN paths p ON p.id = e.path_id LEFT JOIN paths s ON s.id = e.src_id"

_ISDIR: Final = 0x40000000


@dataclasses.dataclass(frozen=True)
class JournalRow:
    """One committed event row, as shipped to other stores (issue 14).

    ``(host, journal_id, seq)`` is its unique, stable id. ``op`` is the kernel
    names joined by ``|`` (``"CREATE|ISDIR"``, ``"MOVED_TO"``); ``path`` and
    ``src_path`` are the bytes the kernel gave. The stat fields are ``None`` when
    the entry no longer existed when it was recorded (or for reads, which are
    not stat'ed); the ``actor_*`` fields are ``None`` under inotify.
    """

    host: str
    journal_id: str
    seq: int
    time_ns: int
    op: str
    path: bytes
    src_path: bytes | None
    is_dir: bool
    origin: str
    size: int | None
    mode: int | None
    uid: int | None
    gid: int | None
    mtime_ns: int | None
    inode: int | None
    actor_pid: int | None
    actor_uid: int | None
    actor_user: str | None
    actor_comm: str | None
    actor_exe: str | None
    actor_status: str | None
    digest: bytes | None

    @classmethod
    def from_db(cls, host: str, journal_id: str, r: tuple[Any, ...]) -> JournalRow:
        """Build a row from a ``SELECT`` of :data:`EVENT_COLUMNS`."""
        mask: int = r[2]
        row = object.__new__(cls)
        # A frozen dataclass's __init__ sets each field through object.__setattr__;
        # filling __dict__ at once is several times faster, for the same object.
        row.__dict__.update(
            zip(
                _FIELDS,
                (host, journal_id, r[0], r[1], op_name(mask), r[3], r[4], bool(mask & _ISDIR),
                 ORIGIN_NAMES[r[5]], *r[6:]), strict=True,
            )
        )  # fmt: skip
        return row


_FIELDS: Final = tuple(f.name for f in dataclasses.fields(JournalRow))


def op_name(mask: int) -> str:
    """``0x40000100`` -> ``"CREATE|ISDIR"``."""
    return "|".join(mask_names(mask))


def op_mask(names: str) -> int:
    """``"create,moved_to"`` or ``"CREATE|ISDIR"`` -> the kernel bits (ValueError if unknown)."""
    from ..flags import Mask

    mask = 0
    for part in names.replace("|", ",").split(","):
        part = part.strip().upper()
        if not part:
            continue
        if part.startswith("IN_"):
            part = part[3:]
        try:
            mask |= int(Mask[part])
        except KeyError:
            raise ValueError(f"unknown event name {part!r}") from None
    return mask


def to_bytes(path: str | bytes | os.PathLike[str] | os.PathLike[bytes]) -> bytes:
    """A path as the bytes the kernel uses (``str`` through surrogateescape)."""
    return os.fsencode(path)
