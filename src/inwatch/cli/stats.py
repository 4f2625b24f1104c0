"""``inwatch stats``: count events per file, then print a table (inotifywatch's job).

Counting runs until ``--timeout`` seconds have passed, SIGINT/SIGTERM/SIGHUP,
or no watch remains; then what the kernel queued until then is counted too.
Counts are per file (the event's full path), one column per event kind;
IGNORED is bookkeeping and not counted, a queue overflow is reported under
the table (the counts are then lower bounds).

With ``-r`` the kernel reports an open/read/close of a subdirectory twice: to
the parent's watch (with the name) and to the subdirectory's own watch. Only
the first is counted, so a count is the number of operations performed.

The kernel merges an event into an identical one still unread just before it
(same watch, kind and name). To keep that from hiding operations, every event
kind is asked for and only the ``-e`` kinds are counted: an open is then
followed by its close and the next open stays separate. Runs of the same event
with nothing between (two chmods in a row) can still be merged by the kernel.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from .. import Mask
from .args import FORMATTER, CliError, add_session_options, seconds
from .format import dumps, printable
from .output import Output
from .session import Session
from .wait import Waiter

__all__ = ["COLUMNS", "HELP", "Counts", "add_parser", "render_table", "run"]

HELP = "count events per file"

EXAMPLES = """\
examples:
  inwatch stats -r -e open -t 60 ~/project --top 10   which files are opened most often?
  inwatch stats -r /var/www                          count until Ctrl-C, then print the table
  inwatch stats -r -t 30 -d modify --json /data      machine-readable counts
  inwatch stats -e access,modify -a total -z .       ascending by total, zero columns kept
"""


def add_parser(sub: Any) -> argparse.ArgumentParser:
    s: argparse.ArgumentParser = sub.add_parser(
        "stats",
        help=HELP,
        description="Count inotify events per file until --timeout, Ctrl-C, SIGTERM or "
        "SIGHUP, then print a table.",
        epilog=EXAMPLES,
        formatter_class=FORMATTER,
    )
    s.add_argument("paths", nargs="*", metavar="PATH", help="files or directories to watch")
    add_session_options(s)
    s.add_argument("-t", "--timeout", type=seconds, metavar="SECONDS", help="count for SECONDS")
    order = s.add_mutually_exclusive_group()
    order.add_argument("-a", "--ascending", metavar="EV|total", help="sort ascending by EV")
    order.add_argument(
        "-d", "--descending", metavar="EV|total", help="sort descending by EV (default: total)"
    )
    s.add_argument("--top", type=int, metavar="N", help="show the N first rows")
    s.add_argument("-z", "--zero", action="store_true", help="keep columns that are all zero")
    s.add_argument("--json", action="store_true", help="print the counts as JSON")
    s.add_argument("-q", "--quiet", action="store_true", help="no start-up messages on stderr")
    return s


#: The counted event kinds, in the kernel's bit order.
COLUMNS: tuple[str, ...] = (
    "access",
    "modify",
    "attrib",
    "close_write",
    "close_nowrite",
    "open",
    "moved_from",
    "moved_to",
    "create",
    "delete",
    "delete_self",
    "move_self",
    "unmount",
)
_BITS = tuple((int(Mask[c.upper()]), i) for i, c in enumerate(COLUMNS))
# Events the parent directory's watch also reports about a subdirectory.
_ALSO_ON_PARENT = int(
    Mask.ACCESS | Mask.MODIFY | Mask.ATTRIB | Mask.CLOSE_WRITE | Mask.CLOSE_NOWRITE | Mask.OPEN
)


@dataclass
class Counts:
    """Per-file counters (pure; fed events by the command)."""

    files: dict[str, list[int]] = field(default_factory=dict)
    overflows: int = 0

    def add(self, pathname: str, mask: int) -> None:
        row = self.files.get(pathname)
        if row is None:
            row = self.files[pathname] = [0] * len(COLUMNS)
        for bit, i in _BITS:
            if mask & bit:
                row[i] += 1

    def rows(self, key: str, descending: bool, top: int | None) -> list[tuple[str, list[int]]]:
        """Rows sorted by *key* (``total`` or a column), ties by file name."""
        col = None if key == "total" else COLUMNS.index(key)
        sign = -1 if descending else 1

        def order(item: tuple[str, list[int]]) -> tuple[int, str]:
            value = sum(item[1]) if col is None else item[1][col]
            return (sign * value, item[0])

        items = sorted(self.files.items(), key=order)
        return items[:top] if top is not None else items


def render_table(counts: Counts, rows: list[tuple[str, list[int]]], zero: bool) -> str:
    """``total  access  modify  ...  filename``, zero columns left out unless *zero*."""
    if not counts.files:
        lines = ["No events occurred."]
    else:
        shown = [i for i in range(len(COLUMNS)) if zero or any(r[i] for r in counts.files.values())]
        heads = ["total", *(COLUMNS[i] for i in shown)]
        widths = [max(len(h), 5) for h in heads]
        lines = ["  ".join(h.rjust(w) for h, w in zip(heads, widths, strict=True)) + "  filename"]
        for name, row in rows:
            cells = [sum(row), *(row[i] for i in shown)]
            body = "  ".join(str(c).rjust(w) for c, w in zip(cells, widths, strict=True))
            lines.append(f"{body}  {printable(name)}")
    if counts.overflows:
        lines.append(
            f"warning: the kernel event queue overflowed {counts.overflows} time(s) while "
            "counting: events were lost, the counts are lower bounds"
        )
    return "\n".join(lines) + "\n"


def _sort_key(ns: argparse.Namespace) -> tuple[str, bool]:
    value, descending = (ns.ascending, False) if ns.ascending else (ns.descending, True)
    if value is None:
        return "total", True
    key = value.strip().lower()
    if key.startswith("in_"):
        key = key[3:]
    if key != "total" and key not in COLUMNS:
        raise CliError(f"cannot sort by {value!r}: use total or one of {', '.join(COLUMNS)}")
    return key, descending


def run(ns: argparse.Namespace) -> int:
    key, descending = _sort_key(ns)
    if ns.top is not None and ns.top < 1:
        raise CliError("--top must be at least 1")
    counts = Counts()
    # Ask the kernel for everything, count only what -e names: the kernel merges
    # an event into the identical one before it while unread, so three opens of a
    # file in a row would count once; with every event asked for, each OPEN is
    # followed by its ACCESS/CLOSE and stays separate.
    with Waiter() as waiter, Session(ns, waiter, watch_mask=int(Mask.ALL_EVENTS)) as session:
        root_set = set(session.roots.paths)
        keep = session.keep
        shown = session.shown
        recursive = session.recursive

        def count(events: list[Any]) -> bool:
            for ev in events:
                mask = ev.mask
                if mask & Mask.Q_OVERFLOW:
                    counts.overflows += 1
                    continue
                if not keep(ev):
                    continue
                if recursive and not ev.name and mask & _ALSO_ON_PARENT and ev.path not in root_set:
                    continue  # the parent's watch reported it already
                counts.add(ev.pathname, mask & shown)
            return False

        w = session.open()
        if w is None:
            return 0  # stopped during setup: nothing counted, no table
        start = time.monotonic()
        deadline = None if ns.timeout in (None, math.inf) else start + ns.timeout
        while True:
            reason, events = session.read(deadline, until=lambda: not w.watches)
            count(events)
            if reason not in ("readable", "ready") or not w.watches:
                break
        # Count what the kernel queued before the end, then stop.
        events, complete = session.read_rest()
        count(events)
        elapsed = time.monotonic() - start
    rows = counts.rows(key, descending, ns.top)
    out = Output()
    if ns.json:
        obj: dict[str, Any] = {
            "elapsed": round(elapsed, 3),
            "overflows": counts.overflows,
            "sort": {"key": key, "descending": descending},
            "files": [
                {"filename": name, "total": sum(row), **dict(zip(COLUMNS, row, strict=True))}
                for name, row in rows
            ],
        }
        out.write(dumps(obj) + "\n")
    else:
        out.write(render_table(counts, rows, ns.zero))
    out.flush()
    if not complete:
        sys.stderr.write(
            "inwatch stats: stopped while events were still arriving: "
            "those after the stop request are not counted\n"
        )
    return 0
