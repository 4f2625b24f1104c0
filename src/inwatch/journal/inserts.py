"""Many rows per ``INSERT``: the journal's bulk writes.

``executemany`` runs its statement once per row, and each run has a fixed cost
that in a storm outweighs the row: the call into SQLite, and for ``events``
(``seq`` is ``AUTOINCREMENT``) a read and a write of ``sqlite_sequence``.
``INSERT ... VALUES (...), (...), ...`` pays it once per statement: writing
the rows of an inotify event went from 2.3 to 1.05 us in the storm bench
(``bench/journal_storm.py``). Rows are inserted in the order of the VALUES
list, so ``seq`` follows the order given.

A statement holds at most :data:`MAX_PARAMS` values: SQLite's limit before
3.32 (it is 32,766 since), so any SQLite a Python 3.10 can link takes it.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Sequence
from itertools import chain
from typing import Any

__all__ = ["MAX_PARAMS", "insert_rows"]

MAX_PARAMS = 999


@functools.lru_cache(maxsize=256)
def _statement(head: str, width: int, rows: int) -> str:
    one = "(" + ",".join("?" * width) + ")"
    return head + ",".join([one] * rows)


def insert_rows(
    conn: sqlite3.Connection, head: str, width: int, rows: Sequence[Sequence[Any]]
) -> None:
    """Run ``head + VALUES`` for *rows* (each of *width* values), in order, as
    few statements as :data:`MAX_PARAMS` allows. *head* ends with ``VALUES``."""
    per = max(1, MAX_PARAMS // width)
    execute = conn.execute
    for k in range(0, len(rows), per):
        chunk = rows[k : k + per]
        execute(_statement(head, width, len(chunk)), list(chain.from_iterable(chunk)))
