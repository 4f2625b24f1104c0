"""``inwatch query``: events from the journal, filtered, as a table, JSON or CSV.

When the answer's time range overlaps a gap (downtime, crash, overflow, disk
full, pruned rows), a note on stderr says so: the answer may be incomplete there.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..journal import Journal, JournalError, default_path, parse_time
from ..journal.report import csv_text, gap_line, json_line, table_line
from .args import CliError
from .central import add_host_option, connection, gap_lines, is_central
from .format import printable
from .output import Output, run_guarded

__all__ = ["HELP", "add_parser", "gap_note", "run"]

HELP = "list recorded events from a journal"

EXAMPLES = """\
examples:
  inwatch query --since 24h                          everything changed in the last day
  inwatch query --path '/etc/*' --op modify,attrib --since 2026-11-30T08:00
  inwatch query --user alice --json | jq .path       what alice changed (fanotify)
  inwatch query --since seq:1200 --limit 100 --csv   the next 100 rows after seq 1200

T is an ISO time, a duration ago (90s, 15m, 24h, 7d), or seq:N.
--path is a glob on the whole path ('*' crosses '/'); a path without wildcards
matches itself and everything under it. --user matches the acting process's user
when the backend names it (fanotify), else the file's owner (inotify).
exit status: 0, or 1 on an error (no journal, bad option).
"""


def add_db_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--db", metavar="FILE", help="the journal (default: where record writes)")


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(
        "query",
        help=HELP,
        description=HELP,
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_db_option(p)
    p.add_argument("--since", metavar="T")
    p.add_argument("--until", metavar="T")
    p.add_argument("--path", metavar="GLOB")
    p.add_argument("--op", metavar="OPS", help="event names, comma separated")
    p.add_argument("--user", metavar="NAME|UID")
    p.add_argument("--comm", metavar="NAME")
    p.add_argument("--origin", metavar="ORIGINS", help="kernel,scan,rescan,offline")
    p.add_argument("--limit", type=int, metavar="N")
    add_host_option(p)
    out = p.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="one JSON object per line")
    out.add_argument("--csv", action="store_true", help="CSV with a header")
    return p


def open_journal(args: argparse.Namespace) -> Journal:
    return Journal(args.db or default_path(), create=False)


def run(args: argparse.Namespace) -> int:
    return run_guarded("query", lambda: _run(args))


def _central(args: argparse.Namespace) -> tuple[list[Any], list[str]]:
    """The rows from the central store, and its gap lines (each led by its host)."""
    from ..journal import server

    since = parse_time(args.since) if args.since else None
    until = parse_time(args.until) if args.until else None
    if until is not None and until.kind == "seq":
        raise CliError("--until seq:N is per journal: give a time with --db postgresql://")
    with connection(args.db) as conn:
        rows = server.query_rows(
            conn,
            since_ns=since.value if since is not None and since.kind == "ns" else None,
            after_seq=since.value if since is not None and since.kind == "seq" else None,
            until_ns=until.value if until is not None else None,
            path=args.path,
            ops=args.op,
            user=args.user,
            comm=args.comm,
            origin=args.origin,
            hosts=args.host,
            limit=args.limit,
        )
        lo, hi = _span(since, until, rows, args.limit)
        return rows, gap_lines(conn, lo, hi, args.host)


def _span(since: Any, until: Any, rows: list[Any], limit: int | None) -> tuple[Any, Any]:
    """The time range the answer covers: the bounds given, narrowed to the rows when a
    bound is a sequence number or --limit cut it short."""
    lo = since.value if since is not None and since.kind == "ns" else None
    hi = until.value if until is not None and until.kind == "ns" else None
    if rows and since is not None and since.kind == "seq":
        lo = rows[0].time_ns
    if rows and ((until is not None and until.kind == "seq") or len(rows) == limit):
        hi = rows[-1].time_ns
    return lo, hi


def _run(args: argparse.Namespace) -> int:
    if is_central(args.db):
        rows, lines = _central(args)
        return _write(args, rows, lines, central=True)
    if args.host:
        raise CliError("--host is for the central store (--db postgresql://...)")
    try:
        since = parse_time(args.since) if args.since else None
        until = parse_time(args.until) if args.until else None
        with open_journal(args) as j:
            rows = j.events(
                since=since,
                until=until,
                path=args.path,
                ops=args.op,
                user=args.user,
                comm=args.comm,
                origin=args.origin,
                limit=args.limit,
            )
            gaps = j.gaps(*_span(since, until, rows, args.limit))
    except (JournalError, ValueError) as exc:
        sys.stderr.write(f"inwatch query: {exc}\n")
        return 1
    return _write(args, rows, [gap_line(g) for g in gaps])


def _write(
    args: argparse.Namespace, rows: list[Any], gaps: list[str], central: bool = False
) -> int:
    out = Output()
    if args.json:
        for r in rows:
            out.write(json_line(r) + "\n")
    elif args.csv:
        out.write(csv_text(rows))
    else:
        for r in rows:
            out.write((f"{printable(r.host)}  " if central else "") + table_line(r) + "\n")
    out.flush()
    if gaps:
        sys.stderr.write(gap_note("query", gaps))
    return 0


def gap_note(command: str, lines: list[str]) -> str:
    """The note on stderr when an answer spans gaps (local: gap lines; central: led by host)."""
    return (
        f"inwatch {command}: note: the answer spans {len(lines)} gap(s) where events may be"
        " missing:\n" + "".join(f"  {line}\n" for line in lines)
    )
