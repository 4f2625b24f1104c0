"""What can go wrong with a journal file, each a one-line message naming it.

::

    JournalError                    any journal problem (message names the file)
     ├── JournalVersionError        written by a newer inwatch (schema too new)
     ├── JournalCorruptError        not an SQLite file, or damaged: never overwritten
     └── JournalFullError           the disk (or quota) is full: recording stops
"""

from __future__ import annotations

__all__ = ["JournalCorruptError", "JournalError", "JournalFullError", "JournalVersionError"]


class JournalError(Exception):
    """A journal cannot be opened, read or written; ``path`` names the file."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"journal {path}: {message}")
        self.path = path


class JournalVersionError(JournalError):
    """The journal's schema is newer than this inwatch understands."""


class JournalCorruptError(JournalError):
    """The file is not a journal SQLite can read; it is left untouched."""


class JournalFullError(JournalError):
    """SQLite could not write: the disk or the user's quota is full."""
