"""Retention: pruning the oldest events by age (``--keep``) and size (``--max-size``).

Only ``events`` rows are deleted; the ``files`` state, the roots and the gaps
stay, so ``history`` of an old file still says what it is now. Rows not yet
shipped to a registered sink (sequence above the smallest cursor, see
:meth:`Journal.register_sink`) are kept by ``--keep``; only ``--max-size`` may
delete them, and then it records a ``pruned`` gap naming the sinks, because a
reader of the central store will never see those rows.

Size is the pages in use (``page_count - freelist_count``) times the page size:
deleted rows free pages that later inserts reuse, so the file stays near the
limit without a ``VACUUM`` (which rewrites the whole file: ``inwatch journal
vacuum`` does it on demand). Deletion runs in chunks of *chunk* rows, one
transaction each, so a prune never holds the writer's lock for long.
"""

from __future__ import annotations

import os
import re
import time
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from .sqlite import Journal

__all__ = [
    "PruneResult",
    "Retention",
    "parse_duration",
    "parse_size",
    "prune",
    "used_bytes",
    "vacuum",
]

_DURATION = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_SIZE = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


def parse_duration(text: str) -> int:
    """``"30d"`` -> nanoseconds (units s, m, h, d, w)."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*", text)
    if not m:
        raise ValueError(f"bad duration {text!r}: give e.g. 90s, 15m, 24h, 30d, 2w")
    return int(float(m.group(1)) * _DURATION[m.group(2)] * 1_000_000_000)


def parse_size(text: str) -> int:
    """``"1G"`` / ``"500M"`` / ``"64MiB"`` -> bytes (powers of 1024)."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kKmMgGtT]?)(?:i?[bB])?\s*", text)
    if not m:
        raise ValueError(f"bad size {text!r}: give e.g. 500M, 1G, 64MiB")
    return int(float(m.group(1)) * _SIZE[m.group(2).lower()])


class PruneResult(NamedTuple):
    deleted: int
    forced: int  # rows deleted although not yet shipped to a registered sink


def used_bytes(j: Journal) -> int:
    """Bytes of the pages in use in the main file."""
    page_size = j.read("PRAGMA page_size")[0][0]
    count = j.read("PRAGMA page_count")[0][0]
    free = j.read("PRAGMA freelist_count")[0][0]
    return int((count - free) * page_size)


def _floor(j: Journal) -> int | None:
    rows = j.read("SELECT min(seq) FROM sinks WHERE registered")
    return rows[0][0] if rows and rows[0][0] is not None else None


def _delete_chunk(
    j: Journal, where: str, params: tuple[object, ...], chunk: int, floor: int | None = None
) -> tuple[int, int, int]:
    """Delete the oldest *chunk* rows matching *where*: (how many, how many of them
    above *floor*, the time of the first of those)."""
    with j.transaction() as conn:
        rows = conn.execute(
            f"SELECT seq, time_ns FROM events WHERE {where} ORDER BY seq LIMIT ?", (*params, chunk)
        ).fetchall()
        if not rows:
            return 0, 0, 0
        conn.execute(f"DELETE FROM events WHERE seq <= ? AND {where}", (rows[-1][0], *params))
        above = [t for seq, t in rows if floor is not None and seq > floor]
        return len(rows), len(above), above[0] if above else 0


def prune(
    j: Journal,
    keep_ns: int | None = None,
    max_bytes: int | None = None,
    now_ns: int | None = None,
    chunk: int = 10_000,
) -> PruneResult:
    """Delete events older than *keep_ns* (never unshipped ones), then the oldest
    events until the pages in use fit *max_bytes* (unshipped ones too, with a gap)."""
    now = time.time_ns() if now_ns is None else now_ns
    floor = _floor(j)
    deleted = forced = 0
    if keep_ns is not None:
        params: tuple[object, ...] = (now - keep_ns,)
        where = "time_ns < ?"
        if floor is not None:
            where, params = "time_ns < ? AND seq <= ?", (now - keep_ns, floor)
        while True:
            n, _, _ = _delete_chunk(j, where, params, chunk)
            deleted += n
            if n < chunk:
                break
    if max_bytes is not None:
        first_forced_ns = last_forced_ns = None
        while used_bytes(j) > max_bytes:
            n, above, first_ns = _delete_chunk(j, "1", (), max(1, chunk // 10), floor)
            if n == 0:
                break  # nothing left to delete: the state alone exceeds the limit
            deleted += n
            if above:
                forced += above
                if first_forced_ns is None:
                    first_forced_ns = first_ns
                last_forced_ns = time.time_ns()
        if forced and first_forced_ns is not None and last_forced_ns is not None:
            sinks = [r[0] for r in j.read("SELECT name FROM sinks WHERE registered ORDER BY name")]
            j.add_gap(
                first_forced_ns,
                last_forced_ns,
                "pruned",
                f"--max-size deleted {forced} rows not yet shipped to {', '.join(sinks)}",
            )
    return PruneResult(deleted, forced)


def vacuum(j: Journal) -> int:
    """Forget paths nothing refers to, rewrite the file compactly (``VACUUM``) and
    empty the WAL; return the file's size after."""
    with j.transaction() as conn:
        conn.execute(
            "DELETE FROM paths WHERE id NOT IN (SELECT path_id FROM events)"
            " AND id NOT IN (SELECT src_id FROM events WHERE src_id IS NOT NULL)"
            " AND id NOT IN (SELECT path_id FROM files) AND id NOT IN (SELECT path_id FROM roots)"
        )
    j.store.forget_ids()
    j.read("VACUUM")
    j.read("PRAGMA wal_checkpoint(TRUNCATE)")
    return os.path.getsize(j.path)


class Retention:
    """The background pruning of ``record --keep/--max-size``: at most every
    *interval* seconds, on the writer thread, between batches."""

    def __init__(self, keep_ns: int | None, max_bytes: int | None, interval: float = 60.0) -> None:
        self.keep_ns = keep_ns
        self.max_bytes = max_bytes
        self.interval = interval
        self._next = 0.0
        self.total = PruneResult(0, 0)

    def due_in(self) -> float:
        """Seconds until the next prune is due (0 or less: now)."""
        return self._next - time.monotonic()

    def maybe_prune(self, j: Journal) -> None:
        now = time.monotonic()
        if now < self._next:
            return
        self._next = now + self.interval
        r = prune(j, self.keep_ns, self.max_bytes)
        self.total = PruneResult(self.total.deleted + r.deleted, self.total.forced + r.forced)
