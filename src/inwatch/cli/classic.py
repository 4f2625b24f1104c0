"""``inwatch watch --classic``: the seed article's ``inotify_test``, on :class:`Inotify`.

Like the C program: one explicit watch per PATH with ``IN_ALL_EVENTS`` (no
recursion, no path table), every read printed as ``N events queued`` and its
events, ``IGNORED`` decrementing the watched count, ``Terminating`` when the
count reaches zero or on SIGINT/SIGTERM/SIGHUP. Output is written after every read.

Where it differs from the C program: a path that cannot be watched is a one-line
error on stderr and exit status 1 (the C program printed a half line and went on);
SIGTERM and SIGHUP are handled like SIGINT; options the program did not have
(``-t``, ``-1``, ``-r``, filters...) are refused rather than ignored.
"""

from __future__ import annotations

import argparse

from .. import IN_ALL_EVENTS, Inotify
from ._common import read_fromfile
from .args import CliError
from .format import ClassicPrinter
from .output import Output
from .session import check_path
from .wait import Waiter

__all__ = ["classic"]


def classic(ns: argparse.Namespace) -> int:
    paths = list(ns.paths)
    if ns.fromfile:
        more, excluded = read_fromfile(ns.fromfile)
        if excluded:
            raise CliError("--classic watches each PATH: no @PATH excludes in --fromfile")
        paths.extend(more)
    if not paths:
        raise CliError("no PATH to watch (give one or more, or --fromfile)")
    for path in paths:
        check_path(path, dereference=True)
    out = Output()
    printer = ClassicPrinter()
    with Waiter() as waiter, Inotify(nonblocking=True) as ino:
        out.write("\n")
        for path in paths:
            wd = ino.add_watch(path, IN_ALL_EVENTS)  # OSError: one line, exit 1
            out.write("\n".join(printer.watching(path, wd)) + "\n")
        out.flush()
        while printer.watched_items > 0:
            if waiter.wait(readable=ino.fileno()) == "signal":
                break
            events = ino.read(timeout=0)
            if events:
                out.write("\n".join(printer.batch(events)) + "\n")
                out.flush()
        out.write("\nTerminating\n")
        out.flush()
    return 0
