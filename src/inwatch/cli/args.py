"""What every command's parser shares: the error rule, the parser class, and the
options that :class:`~inwatch.cli.session.Session` turns into a Watcher.

Usage errors exit with status 1 and one line on stderr (status 2 belongs to
``watch --timeout``, as in inotifywait).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from typing import NoReturn

__all__ = [
    "FORMATTER",
    "CliError",
    "Parser",
    "add_session_options",
    "milliseconds",
    "seconds",
]


class CliError(Exception):
    """A user error: printed as one line on stderr, exit status 1."""


class Parser(argparse.ArgumentParser):
    """argparse with inwatch's usage error: one line, status 1."""

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"{self.prog}: error: {message} (see '{self.prog} --help')\n")
        raise SystemExit(1)


_columns: list[int] = []  # the terminal's width, asked once


def _width() -> int:
    """What :func:`shutil.get_terminal_size` says about the columns ($COLUMNS, else
    stdout's terminal, else 80), without importing shutil (and its compression
    modules: ~3 ms at every start) and asked once, not once per option."""
    if not _columns:
        try:
            columns = int(os.environ["COLUMNS"])
        except (KeyError, ValueError):
            columns = 0
        if columns <= 0:
            try:
                columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
            except (AttributeError, ValueError, OSError):
                columns = 0
        _columns.append(columns or 80)
    return _columns[0]


class FORMATTER(argparse.RawDescriptionHelpFormatter):
    """argparse's formatter with its width found as :func:`_width` finds it
    (argparse makes a formatter for every option it adds, to check the option,
    so the default one imported shutil and asked the terminal at every start)."""

    def __init__(
        self,
        prog: str,
        indent_increment: int = 2,
        max_help_position: int = 24,
        width: int | None = None,
    ) -> None:
        if width is None:
            width = _width() - 2  # as argparse does with the terminal's width
        super().__init__(prog, indent_increment, max_help_position, width)


#: Longest finite wait accepted (a year): beyond it, time.monotonic() arithmetic
#: and poll()'s millisecond int stop meaning anything; ``inf`` means forever.
_MAX_SECONDS = 365 * 24 * 3600.0


def seconds(text: str) -> float:
    """An argparse ``type``: a positive number of seconds, ``inf`` = forever.

    nan, zero, negative and absurdly large values are usage errors (argparse
    turns the ValueError into one line, never a traceback).
    """
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if math.isnan(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds: {text!r}")
    if math.isinf(value):
        return math.inf
    if value > _MAX_SECONDS:
        raise argparse.ArgumentTypeError(
            f"too large: {text!r} (at most {_MAX_SECONDS:.0f} s; 'inf' waits forever)"
        )
    return value


def milliseconds(text: str) -> float:
    """An argparse ``type``: 0 or more milliseconds, at most an hour."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of milliseconds: {text!r}") from None
    if math.isnan(value) or value < 0 or value > 3_600_000:
        raise argparse.ArgumentTypeError(f"must be 0 to 3600000 milliseconds (an hour): {text!r}")
    return value


def add_session_options(p: argparse.ArgumentParser, fromfile: bool = True) -> None:
    """The options :class:`~inwatch.cli.session.Session` reads: what to watch and
    which events to keep."""
    p.add_argument("-r", "--recursive", action="store_true", help="watch whole trees")
    p.add_argument(
        "-e",
        "--event",
        action="append",
        metavar="EV[,EV...]",
        help="events to watch, repeatable: kernel names without IN_, any case "
        "(create,delete,close_write,...); close, move and all_events are aliases. "
        "q_overflow and unmount are always shown",
    )
    p.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="GLOB",
        help="skip entries whose name, or path relative to the watched root, matches "
        "GLOB; an absolute path under a root skips that path (repeatable; excluded "
        "directories are never watched)",
    )
    p.add_argument("--exclude-regex", metavar="RE", help="skip events whose full path matches RE")
    p.add_argument(
        "--include-regex", metavar="RE", help="keep only events whose full path matches RE"
    )
    p.add_argument(
        "-P",
        "--no-dereference",
        action="store_true",
        help="do not follow a symbolic link given as PATH",
    )
    if fromfile:
        p.add_argument(
            "--fromfile",
            metavar="FILE",
            help="read paths from FILE (one per line, '-' for stdin; '@PATH' excludes PATH)",
        )
    p.add_argument(
        "--backend",
        choices=("auto", "inotify", "fanotify"),
        default="inotify",
        help="kernel interface: inotify (default), fanotify (one mark per file system, and "
        "who did it: needs CAP_SYS_ADMIN), auto (fanotify where possible)",
    )
