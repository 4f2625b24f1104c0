"""``inwatch history PATH``: the life of one path, newest last.

Its current state (created when and by whom when known, last change, now), then
every event: creation, changes, renames (followed back through the names it had,
including renames of a directory above it), deletion. Gaps overlapping its life
are listed after it.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from ..journal import JournalError
from ..journal.report import gap_line, json_line, state_lines, table_line
from .central import add_host_option, connection, gap_lines, is_central
from .format import printable
from .output import Output, run_guarded
from .query import add_db_option, open_journal

__all__ = ["HELP", "add_parser", "run"]

HELP = "the life of one path: created, changed, renamed, deleted"

EXAMPLES = """\
examples:
  inwatch history /etc/sudoers             when created, who changed it last, every change
  inwatch history --json /srv/www/index.html

exit status: 0; 1 when the journal never saw PATH, or on an error.
"""


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(
        "history",
        help=HELP,
        description=HELP,
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_db_option(p)
    p.add_argument("--json", action="store_true", help="the events as JSON lines")
    add_host_option(p)
    p.add_argument("path", metavar="PATH")
    return p


def run(args: argparse.Namespace) -> int:
    return run_guarded("history", lambda: _run(args))


def _central(args: argparse.Namespace, path: bytes) -> int:
    """The life of *path* on every host that ships to the central store (or --host)."""
    from ..journal import server

    hosts = args.host or [None]
    with connection(args.db) as conn:
        rows = [r for h in hosts for r in server.history_rows(conn, path, host=h)]
        # As a local history: each host's gaps from the first event of the path there on.
        first: dict[str, int] = {}
        for r in rows:
            first[r.host] = min(first.get(r.host, r.time_ns), r.time_ns)
        gaps = [line for h, t in sorted(first.items()) for line in gap_lines(conn, t, None, [h])]
    if not rows:
        sys.stderr.write(f"inwatch history: the central store never saw {os.fsdecode(path)!r}\n")
        return 1
    out = Output()
    if not args.json:
        out.write(os.fsdecode(path) + "\n" + "events:\n")
    for r in rows:
        out.write(json_line(r) + "\n" if args.json else f"  {printable(r.host)}  {table_line(r)}\n")
    if gaps and not args.json:
        out.write("gaps (events may be missing):\n")
        for line in gaps:
            out.write(f"  {line}\n")
    out.flush()
    return 0


def _run(args: argparse.Namespace) -> int:
    path = os.fsencode(os.path.abspath(args.path))
    if is_central(args.db):
        return _central(args, path)
    try:
        with open_journal(args) as j:
            rows = j.history(path)
            state = j.state(path)
            gaps = j.gaps(rows[0].time_ns, None) if rows else []
    except (JournalError, ValueError) as exc:
        sys.stderr.write(f"inwatch history: {exc}\n")
        return 1
    if not rows and state is None:
        sys.stderr.write(f"inwatch history: the journal never saw {os.fsdecode(path)!r}\n")
        return 1
    out = Output()
    if args.json:
        for r in rows:
            out.write(json_line(r) + "\n")
        out.flush()
        return 0
    out.write(os.fsdecode(path) + "\n")
    if state is not None:
        for line in state_lines(state):
            out.write(f"  {line}\n")
    out.write("events:\n")
    for r in rows:
        out.write(f"  {table_line(r)}\n")
    if gaps:
        out.write("gaps (events may be missing):\n")
        for g in gaps:
            out.write(f"  {gap_line(g)}\n")
    out.flush()
    return 0
