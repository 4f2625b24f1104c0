"""``inwatch watch --classic``: the seed article's ``inotify_test``, on :class:`Inotify`.

Like the C program: one explicit watch per PATH with ``IN_ALL_EVENTS`` (no
recursion, no path table), every read printed as ``N events queued`` and its
events, ``IGNORED`` decrementing the watched count, ``Terminating`` when the
count reaches zero or on SIGINT/SIGTERM. Output is flushed after every read.

Where it differs from the C program: a path that cannot be watched is a one-line
error on stderr and exit status 1 (the C program printed a half line and went on);
SIGTERM is handled like SIGINT.
"""

from __future__ import annotations

import argparse

from ..flags import IN_ALL_EVENTS
from ..inotify import Inotify
from ._common import stop_on_signals, text_out
from .format import ClassicPrinter

__all__ = ["classic"]

_SLICE = 0.25  # longest wait between two looks at the stop flag


def classic(ns: argparse.Namespace, paths: list[str]) -> int:
    out = text_out()
    printer = ClassicPrinter()
    with stop_on_signals() as stop, Inotify() as ino:
        out.write("\n")
        for path in paths:
            wd = ino.add_watch(path, IN_ALL_EVENTS)  # OSError: one line, exit 1
            out.write("\n".join(printer.watching(path, wd)) + "\n")
        out.flush()
        while not stop and printer.watched_items > 0:
            events = ino.read(timeout=_SLICE)
            if events:
                out.write("\n".join(printer.batch(events)) + "\n")
                out.flush()
        out.write("\nTerminating\n")
        out.flush()
    return 0
