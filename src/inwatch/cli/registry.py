"""The commands of ``inwatch``: name -> module, and the parser built from them.

Adding a command is one module and one entry in :data:`COMMANDS`. A command
module exposes

- ``HELP: str`` -- one line, shown by ``inwatch --help``;
- ``add_parser(sub) -> argparse.ArgumentParser`` -- calls ``sub.add_parser(NAME,
  help=HELP, ...)`` on the ``add_subparsers()`` object and adds its options;
- ``run(args: argparse.Namespace) -> int`` -- does the work, returns the exit status;
- optionally ``TRAILING_COMMAND = True`` -- everything after ``--`` is a command
  line of its own, handed over as ``args.argv`` (``inwatch run PATH -- CMD``).

Modules are imported only to build the parser; none starts anything at import.
A command line that names a command builds the parser of that command alone
(:func:`build_parser` with *only*): importing every command module (the journal's
SQLite, PostgreSQL and NATS layers included) costs about 90 ms of CPU at every
start, as much as printing 10,000 events; ``inwatch --help`` and a misspelled
command still see them all.
"""

from __future__ import annotations

import argparse
import importlib
from types import ModuleType

from .. import __version__, accel
from .args import FORMATTER, Parser

__all__ = ["COMMANDS", "build_parser", "load"]

#: Command name -> module path, in the order ``--help`` lists them.
COMMANDS: dict[str, str] = {
    "watch": "inwatch.cli.watch",
    "stats": "inwatch.cli.stats",
    "run": "inwatch.cli.run",
    "limits": "inwatch.cli.limits",
    "audit": "inwatch.cli.audit",
    "top": "inwatch.cli.top",
    "record": "inwatch.cli.record",
    "query": "inwatch.cli.query",
    "history": "inwatch.cli.history",
    "check": "inwatch.cli.check",
    "journal": "inwatch.cli.journal",
    "collect": "inwatch.cli.collect",
}


def load(name: str) -> ModuleType:
    """The module of command *name* (KeyError if there is none)."""
    return importlib.import_module(COMMANDS[name])


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The ``inwatch`` parser: one sub-parser per registered command, or only the
    one of command *only* (its options, usage and errors are the same)."""
    parser = Parser(
        prog="inwatch",
        description="Watch files and directories with Linux inotify, losslessly.",
        epilog="'inwatch COMMAND --help' shows the options and examples of each command.",
        formatter_class=FORMATTER,
    )
    # Which path the hot path runs on ("accelerator: C" or "pure Python: why").
    version = f"inwatch {__version__} ({accel.ACTIVE})"
    parser.add_argument("--version", action="version", version=version)
    sub = parser.add_subparsers(
        title="commands", dest="command", metavar="COMMAND", parser_class=Parser
    )
    for name in COMMANDS if only is None else (only,):
        load(name).add_parser(sub)
    return parser
