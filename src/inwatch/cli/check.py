"""``inwatch check [ROOT...]``: the tree now against the journal's state.

What AIDE and Tripwire do, with a baseline the event stream keeps current: each
ROOT (default: every root the journal records) is listed and compared with the
``files`` state, as ``record`` does at start-up (the same comparison). While
``record`` runs, a change less than one commit period old may show as a
difference. Exit status: 0 nothing differs, 1 something does, 2 on an error.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from ..journal import JournalError
from ..journal.offline import Change, offline_changes
from .output import Output, StdoutError, run_guarded
from .query import add_db_option, open_journal

__all__ = ["HELP", "add_parser", "run"]

HELP = "compare trees with the journal's state (integrity check); exit 1 if they differ"

EXAMPLES = """\
examples:
  inwatch check                        every recorded root
  inwatch check --json /etc | jq .     machine-readable differences

exit status: 0 nothing differs, 1 something does, 2 on an error.
"""


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(
        "check",
        help=HELP,
        description=HELP,
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_db_option(p)
    p.add_argument("--json", action="store_true", help="one JSON object per difference")
    p.add_argument("--hash", action="store_true", help="also compare digests where recorded")
    p.add_argument("roots", nargs="*", metavar="ROOT")
    return p


def _line(c: Change) -> str:
    path = os.fsdecode(c.path)
    if c.kind == "renamed":
        return f"renamed   {os.fsdecode(c.src or b'')} -> {path}"
    extra = f" ({', '.join(c.fields)})" if c.fields else ""
    return f"{c.kind:<9} {path}{extra}"


def _json(c: Change) -> str:
    return json.dumps(
        {
            "kind": c.kind,
            "path": os.fsdecode(c.path),
            "src_path": os.fsdecode(c.src) if c.src is not None else None,
            "is_dir": c.is_dir,
            "fields": list(c.fields),
        }
    )


def run(args: argparse.Namespace) -> int:
    try:
        return run_guarded("check", lambda: _run(args))
    except StdoutError as exc:  # 1 means "differs": a failure to say so is 2
        sys.stderr.write(f"inwatch check: {exc}\n")
        return 2


def _run(args: argparse.Namespace) -> int:
    try:
        with open_journal(args) as j:
            roots = [os.fsencode(os.path.abspath(r)) for r in args.roots]
            if not roots:
                roots = [
                    r[0]
                    for r in j.read(
                        "SELECT p.path FROM roots r JOIN paths p ON p.id = r.path_id ORDER BY 1"
                    )
                ]
            if not roots:
                raise JournalError(j.path, "records no root: give ROOT")
            hash_max = (1 << 62) if args.hash else None
            changes: list[Change] = []
            for root in roots:
                changes += offline_changes(j, root, recursive=True, hash_max=hash_max)
    except (JournalError, OSError, ValueError) as exc:
        sys.stderr.write(f"inwatch check: {exc}\n")
        return 2
    out = Output()
    for c in changes:
        out.write((_json(c) if args.json else _line(c)) + "\n")
    try:
        out.flush()
    except StdoutError as exc:
        sys.stderr.write(f"inwatch check: {exc}\n")
        return 2
    if not args.json:
        sys.stderr.write(
            f"inwatch check: {len(changes)} difference(s) under {len(roots)} root(s)\n"
        )
    return 1 if changes else 0
