"""The argument parser of every command, with the examples shown by ``--help``.

Usage errors exit with status 1 and one line on stderr (status 2 belongs to
``watch --timeout``, as in inotifywait).
"""

from __future__ import annotations

import argparse
import sys
from typing import NoReturn

from .. import __version__

__all__ = ["CliError", "build_parser"]


class CliError(Exception):
    """A user error: printed as one line on stderr, exit status 1."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"{self.prog}: error: {message} (see '{self.prog} --help')\n")
        raise SystemExit(1)


_FORMATTER = argparse.RawDescriptionHelpFormatter

WATCH_EXAMPLES = """\
examples:
  inwatch watch -r ~/src                       every event under ~/src, one line each
  inwatch watch -r -e create,moved_to --json /srv/incoming | jq .pathname
  inwatch watch -e close_write -1 report.csv   wait until report.csv is written, then exit
  inwatch watch -t 60 /var/spool/job           exit 2 if nothing happens for 60 s
  inwatch watch -r --exclude '*.tmp' --exclude .git --format '%T %w%f %e' \\
          --timefmt '%H:%M:%S' .
  inwatch watch -r --csv /data > events.csv
  inwatch watch --fromfile dirs.txt            one path per line, @PATH excludes one
  inwatch watch --classic dir1/ dir1/dir2/ dir1/dir2/file1
                                               the seed article's inotify_test output

exit status: 0 on SIGINT/SIGTERM, after --once, or when no watch remains;
2 on --timeout; 1 on an error (missing path, permission, watch limit, bad option).
"""

STATS_EXAMPLES = """\
examples:
  inwatch stats -r -e open -t 60 ~/project --top 10   which files are opened most often?
  inwatch stats -r /var/www                          count until Ctrl-C, then print the table
  inwatch stats -r -t 30 -d modify --json /data      machine-readable counts
  inwatch stats -e access,modify -a total -z .       ascending by total, zero columns kept
"""

RUN_EXAMPLES = """\
examples:
  inwatch run -r src -- make test                    run the tests when src changes
  inwatch run -r --restart --exclude '*.log' . -- python3 server.py
                                                     restart a server on every change
  inwatch run -r --debounce 500 --no-initial docs -- sh -c 'echo "$INWATCH_CHANGED"'

Without -e, a change is modify, attrib, close_write, moved_from, moved_to,
create, delete, delete_self or move_self (reading a file is not a change).
The command gets INWATCH_CHANGED (the changed paths, one per line) and
INWATCH_EVENT (the event names seen, comma separated; INITIAL for the first run).
Events that happen while the command runs are ignored (without --restart), so the
command's own writes never trigger it again; with --restart, events during the
first DEBOUNCE ms after a start are ignored and the command's own files should be
excluded with --exclude.
"""

LIMITS_EXAMPLES = """\
examples:
  inwatch limits                       the limits and who uses inotify now
  inwatch limits ~/src /srv/data       and whether a recursive watch of each fits
  inwatch limits --json /              machine-readable
"""


def _add_tree_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("-r", "--recursive", action="store_true", help="watch whole trees")
    p.add_argument(
        "-e",
        "--event",
        action="append",
        metavar="EV[,EV...]",
        help="events to watch (kernel names without IN_, any case; close, move, "
        "all_events are aliases; q_overflow and unmount are always shown, ignored "
        "when named or without -e); repeatable",
    )
    p.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="GLOB",
        help="skip entries whose name or path relative to the watched root "
        "matches GLOB (repeatable; applied before watching)",
    )
    p.add_argument(
        "-P",
        "--no-dereference",
        action="store_true",
        help="do not follow a symbolic link given as PATH",
    )


def build_parser() -> argparse.ArgumentParser:
    """The ``inwatch`` parser with its four sub-commands."""
    parser = _Parser(
        prog="inwatch",
        description="Watch files and directories with Linux inotify, losslessly.",
        epilog="commands:\n  watch   print events\n  stats   count events per file\n"
        "  run     run a command on change\n  limits  inotify limits and usage\n\n"
        "'inwatch COMMAND --help' shows the options and examples of each command.",
        formatter_class=_FORMATTER,
    )
    parser.add_argument("--version", action="version", version=f"inwatch {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    # --- watch --------------------------------------------------------------
    w = sub.add_parser(
        "watch",
        help="print events as they happen",
        description="Print inotify events on PATHs as they happen.",
        epilog=WATCH_EXAMPLES,
        formatter_class=_FORMATTER,
    )
    w.add_argument("paths", nargs="*", metavar="PATH", help="files or directories to watch")
    _add_tree_options(w)
    w.add_argument("--exclude-regex", metavar="RE", help="skip events whose full path matches RE")
    w.add_argument(
        "--include-regex", metavar="RE", help="show only events whose full path matches RE"
    )
    w.add_argument(
        "--fromfile",
        metavar="FILE",
        help="read paths from FILE (one per line, '-' for stdin; '@PATH' excludes PATH)",
    )
    w.add_argument("-q", "--quiet", action="store_true", help="no start-up messages on stderr")
    w.add_argument(
        "-t",
        "--timeout",
        type=float,
        metavar="SECONDS",
        help="exit with status 2 when no event comes for SECONDS",
    )
    w.add_argument("-1", "--once", action="store_true", help="exit after the first event")
    out = w.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="one JSON object per line")
    out.add_argument("--format", metavar="FMT", help="inotifywait format: %%w %%f %%e %%Xe %%T %%c")
    out.add_argument("--csv", action="store_true", help="CSV: path,events,name (RFC 4180)")
    out.add_argument(
        "--classic", action="store_true", help="the seed article's inotify_test output"
    )
    w.add_argument("--timefmt", metavar="FMT", help="strftime format for %%T (and --csv)")
    w.add_argument(
        "--no-newline", action="store_true", help="do not end --format output with a newline"
    )

    # --- stats --------------------------------------------------------------
    s = sub.add_parser(
        "stats",
        help="count events per file",
        description="Count inotify events per file until --timeout or Ctrl-C, then print a table.",
        epilog=STATS_EXAMPLES,
        formatter_class=_FORMATTER,
    )
    s.add_argument("paths", nargs="+", metavar="PATH", help="files or directories to watch")
    _add_tree_options(s)
    s.add_argument("-t", "--timeout", type=float, metavar="SECONDS", help="count for SECONDS")
    order = s.add_mutually_exclusive_group()
    order.add_argument("-a", "--ascending", metavar="EV|total", help="sort ascending by EV")
    order.add_argument(
        "-d", "--descending", metavar="EV|total", help="sort descending by EV (default: total)"
    )
    s.add_argument("--top", type=int, metavar="N", help="show the N first rows")
    s.add_argument("-z", "--zero", action="store_true", help="keep columns that are all zero")
    s.add_argument("--json", action="store_true", help="print the counts as JSON")
    s.add_argument("-q", "--quiet", action="store_true", help="no start-up messages on stderr")

    # --- run ----------------------------------------------------------------
    r = sub.add_parser(
        "run",
        help="run a command when something changes",
        usage="inwatch run [options] PATH... -- COMMAND [ARG...]",
        description="Run COMMAND when something changes under PATHs.",
        epilog=RUN_EXAMPLES,
        formatter_class=_FORMATTER,
    )
    r.add_argument("paths", nargs="+", metavar="PATH", help="files or directories to watch")
    _add_tree_options(r)
    r.add_argument(
        "--debounce",
        type=float,
        default=200.0,
        metavar="MS",
        help="wait until no event came for MS milliseconds, then run once (default 200)",
    )
    r.add_argument(
        "--restart",
        action="store_true",
        help="stop a still running command (its whole process group) and start it again",
    )
    r.add_argument(
        "--grace",
        type=float,
        default=3.0,
        metavar="SECONDS",
        help="with --restart: SIGTERM, then SIGKILL after SECONDS (default 3)",
    )
    r.add_argument(
        "--initial",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="run the command once at start (default: yes)",
    )
    r.add_argument("-q", "--quiet", action="store_true", help="no messages on stderr")

    # --- limits -------------------------------------------------------------
    lim = sub.add_parser(
        "limits",
        help="inotify limits, usage, and whether a tree fits",
        description="Show the inotify limits, what the current user uses, and for each "
        "PATH how many watches a recursive watch needs.",
        epilog=LIMITS_EXAMPLES,
        formatter_class=_FORMATTER,
    )
    lim.add_argument("paths", nargs="*", metavar="PATH", help="trees to check")
    lim.add_argument("--top", type=int, default=5, metavar="N", help="processes shown (5)")
    lim.add_argument("--json", action="store_true", help="print as JSON")
    return parser
