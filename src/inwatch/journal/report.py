"""Rows as people and programs read them: a table, JSON lines, CSV (pure).

Paths are bytes in the journal; in text they are decoded with surrogateescape,
so a name that is not UTF-8 comes out in JSON as ``\\udcXX`` escapes and
``os.fsencode(json.loads(line)["path"])`` gives back its bytes (as ``inwatch
watch --json`` does). Times are local ISO 8601 with microseconds in the table,
nanoseconds since the epoch (``time_ns``) plus ISO UTC (``time``) in JSON/CSV.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
from collections.abc import Iterable
from typing import Any

from .query import FileState, Gap
from .schema import JournalRow
from .wire import COLUMNS

__all__ = [
    "CSV_FIELDS",
    "csv_text",
    "gap_line",
    "iso",
    "json_line",
    "row_dict",
    "table_line",
    "who",
]

# The row's columns, with a readable ``time`` next to ``time_ns``.
CSV_FIELDS = (*COLUMNS[:3], "time", *COLUMNS[3:])


def iso(ns: int | None, utc: bool = False) -> str:
    """Nanoseconds since the epoch as ISO 8601 (local time, or UTC with ``Z``)."""
    if ns is None:
        return "-"
    t = dt.datetime.fromtimestamp(ns / 1e9, dt.timezone.utc if utc else None)
    text = t.isoformat(timespec="microseconds")
    return text.replace("+00:00", "Z") if utc else text


def _text(b: bytes | None) -> str | None:
    return None if b is None else os.fsdecode(b)


def row_dict(r: JournalRow) -> dict[str, Any]:
    """A row as a JSON-ready dict (paths decoded with surrogateescape, digest hex)."""
    return {
        "host": r.host,
        "journal_id": r.journal_id,
        "seq": r.seq,
        "time": iso(r.time_ns, utc=True),
        "time_ns": r.time_ns,
        "op": r.op,
        "path": os.fsdecode(r.path),
        "src_path": None if r.src_path is None else os.fsdecode(r.src_path),
        "is_dir": r.is_dir,
        "origin": r.origin,
        "size": r.size,
        "mode": r.mode,
        "uid": r.uid,
        "gid": r.gid,
        "mtime_ns": r.mtime_ns,
        "inode": r.inode,
        "actor_pid": r.actor_pid,
        "actor_uid": r.actor_uid,
        "actor_user": r.actor_user,
        "actor_comm": r.actor_comm,
        "actor_exe": r.actor_exe,
        "actor_status": r.actor_status,
        "digest": None if r.digest is None else r.digest.hex(),
    }


_encode = json.JSONEncoder(check_circular=False).encode


def json_line(r: JournalRow) -> str:
    return _encode(row_dict(r))


def csv_text(rows: Iterable[JournalRow], header: bool = True) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    if header:
        w.writerow(CSV_FIELDS)
    for r in rows:
        d = row_dict(r)
        w.writerow(["" if d[k] is None else d[k] for k in CSV_FIELDS])
    return buf.getvalue()


def who(r: JournalRow) -> str:
    """Who did it: the process when the backend names it, else the owner's uid."""
    if r.actor_pid is not None:
        user = r.actor_user or (str(r.actor_uid) if r.actor_uid is not None else "?")
        comm = r.actor_comm or "?"
        return f"{user} {comm}[{r.actor_pid}]" + (
            f" ({r.actor_status})" if r.actor_status not in (None, "ok") else ""
        )
    if r.uid is not None:
        return f"owner uid {r.uid}"
    return "-"


def table_line(r: JournalRow) -> str:
    """``SEQ TIME OP ORIGIN PATH [<- SRC] WHO``, one line (control characters escaped)."""
    path = _printable(_text(r.path) or "")
    if r.src_path is not None:
        path += " <- " + _printable(_text(r.src_path) or "")
    origin = "" if r.origin == "kernel" else f" [{r.origin}]"
    return f"{r.seq:>8} {iso(r.time_ns)} {r.op:<18} {path}{origin}  ({who(r)})"


def _printable(s: str) -> str:
    if s.isprintable():
        return s
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in s)


def gap_line(g: Gap) -> str:
    return f"{iso(g.start_ns)} .. {iso(g.end_ns)}  {g.kind}: {g.detail}"


def state_lines(s: FileState) -> list[str]:
    """The current state of a path, in words."""
    out = []
    if s.created_ns is not None:
        by = ""
        if s.created_pid is not None:
            by = f" by {s.created_comm or '?'}[{s.created_pid}] uid {s.created_uid}"
        elif s.created_uid is not None:
            by = f" (owner uid {s.created_uid})"
        out.append(f"created  {iso(s.created_ns)}{by}")
    else:
        out.append("created  before recording began (in the baseline)")
    if s.changed_ns is not None:
        by = (
            f" by {s.changed_comm or '?'}[{s.changed_pid}] uid {s.changed_uid}"
            if s.changed_pid is not None
            else (f" (owner uid {s.changed_uid})" if s.changed_uid is not None else "")
        )
        out.append(f"changed  {iso(s.changed_ns)} {s.changed_op}{by}")
    if s.present:
        kind = "directory" if s.is_dir else "entry"
        out.append(
            f"now      present {kind}, size {s.size}, mode {oct(s.mode or 0)}, "
            f"owner {s.uid}:{s.gid}, inode {s.inode}"
            + (f", blake2b {s.digest.hex()[:16]}…" if s.digest else "")
        )
    else:
        out.append(f"now      gone since {iso(s.deleted_ns)}")
    return out
