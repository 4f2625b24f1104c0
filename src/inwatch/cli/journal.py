"""``inwatch journal info|prune|vacuum``: looking after the journal file."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from ..journal import SCHEMA_VERSION, JournalError
from ..journal.report import gap_line
from ..journal.retention import parse_duration, parse_size, prune, used_bytes, vacuum
from .output import run_guarded
from .query import add_db_option, open_journal

__all__ = ["HELP", "add_parser", "run"]

HELP = "journal upkeep: info, prune (--keep/--max-size), vacuum"

EXAMPLES = """\
examples:
  inwatch journal info                     size, rows, roots, gaps, shipping cursors
  inwatch journal prune --keep 30d         delete events older than 30 days
  inwatch journal vacuum                   give freed space back to the file system
"""


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(
        "journal",
        help=HELP,
        description=HELP,
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_db_option(p)
    p.add_argument("action", choices=("info", "prune", "vacuum"))
    p.add_argument("--keep", metavar="AGE")
    p.add_argument("--max-size", metavar="SIZE")
    p.add_argument("--json", action="store_true")
    return p


def run(args: argparse.Namespace) -> int:
    return run_guarded("journal", lambda: _run(args))


def _run(args: argparse.Namespace) -> int:
    try:
        with open_journal(args) as j:
            if args.action == "vacuum":
                before = os.path.getsize(j.path)
                after = vacuum(j)
                print(f"{j.path}: {before} -> {after} bytes")
            elif args.action == "prune":
                if not args.keep and not args.max_size:
                    raise ValueError("prune needs --keep AGE and/or --max-size SIZE")
                keep = parse_duration(args.keep) if args.keep else None
                size = parse_size(args.max_size) if args.max_size else None
                r = prune(j, keep, size)
                print(f"{j.path}: {r.deleted} event(s) deleted ({r.forced} not yet shipped)")
            else:
                _info(j, args.json)
    except (JournalError, ValueError) as exc:
        sys.stderr.write(f"inwatch journal: {exc}\n")
        return 1
    return 0


def _info(j: Any, as_json: bool) -> None:
    count, first, last = j.read("SELECT count(*), min(seq), max(seq) FROM events")[0]
    info = {
        "path": j.path,
        "journal_id": j.journal_id,
        "host": j.host,
        "schema_version": SCHEMA_VERSION,
        "file_bytes": os.path.getsize(j.path),
        "used_bytes": used_bytes(j),
        "events": count,
        "first_seq": first,
        "last_seq": last,
        "paths": j.read("SELECT count(*) FROM paths")[0][0],
        "files_present": j.read("SELECT count(*) FROM files WHERE present")[0][0],
        "roots": [
            os.fsdecode(r[0])
            for r in j.read("SELECT p.path FROM roots r JOIN paths p ON p.id = r.path_id")
        ],
        "sinks": {
            n: {"seq": s, "registered": bool(g)}
            for n, s, g in j.read("SELECT name, seq, registered FROM sinks")
        },
        "gaps": len(j.gaps()),
    }
    if as_json:
        print(json.dumps(info))
        return
    for k, v in info.items():
        print(f"{k:>14}: {v}")
    for g in j.gaps()[-10:]:
        print(f"           gap: {gap_line(g)}")
