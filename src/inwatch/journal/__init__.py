"""A journal of file events in SQLite (``inwatch record``, ``query``, ``history``, ``check``).

``Journal(path)`` opens or creates one; ``append(events)`` records a Watcher's
events with the state they change; ``events(...)``, ``history(path)``,
``state(path)`` and ``gaps()`` read it back. The layout of the file and its
versions are in :mod:`inwatch.journal.schema`.
"""

from __future__ import annotations

from .errors import JournalCorruptError, JournalError, JournalFullError, JournalVersionError
from .query import Bound, FileState, Gap, parse_time
from .schema import SCHEMA_VERSION, JournalRow
from .sqlite import Journal, default_path

__all__ = [
    "SCHEMA_VERSION",
    "Bound",
    "FileState",
    "Gap",
    "Journal",
    "JournalCorruptError",
    "JournalError",
    "JournalFullError",
    "JournalRow",
    "JournalVersionError",
    "default_path",
    "parse_time",
]
