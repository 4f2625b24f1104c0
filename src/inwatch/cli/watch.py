"""``inwatch watch``: print events as they happen.

Lifetime: until SIGINT/SIGTERM (status 0, output flushed), ``--timeout`` seconds
without an event shown (status 2, as inotifywait), the first event with
``--once`` (status 0), or until no watch remains (status 0).

Each event is flushed as it is written, so a reader never waits for the rest
of a batch (nor for the next event).
"""

from __future__ import annotations

import argparse
import threading
import time
from collections.abc import Callable
from typing import Any

from ._common import read_fromfile, stop_on_signals, text_out
from .args import CliError
from .format import EventLike, csv_line, format_event, human_line, json_line
from .session import EventFilter, Roots, event_mask, open_watches, warn_error

__all__ = ["watch"]

EXIT_TIMEOUT = 2
_SLICE = 0.05  # longest wait between two looks at the signal flag
_DRAIN_SECONDS = 5.0  # at most, to show what was queued before SIGINT/SIGTERM


def _paths(ns: argparse.Namespace) -> tuple[list[str], list[str]]:
    paths = list(ns.paths)
    excluded: list[str] = []
    if ns.fromfile:
        more, excluded = read_fromfile(ns.fromfile)
        paths.extend(more)
    if not paths:
        raise CliError("no PATH to watch (give one or more, or --fromfile)")
    return paths, excluded


def _formatter(ns: argparse.Namespace, roots: Roots) -> Callable[[EventLike, float], str]:
    if ns.json:
        return lambda ev, t: json_line(ev, t) + "\n"
    if ns.csv:
        timefmt = ns.timefmt
        return lambda ev, t: csv_line(ev, t, timefmt, roots.files) + "\n"
    if ns.format is not None:
        fmt, timefmt = ns.format, ns.timefmt
        end = "" if ns.no_newline else "\n"
        return lambda ev, t: format_event(fmt, ev, t, timefmt, roots.files) + end
    return lambda ev, t: human_line(ev, t) + "\n"


def watch(ns: argparse.Namespace) -> int:
    paths, excluded = _paths(ns)
    if ns.classic:
        if ns.recursive or ns.event or ns.exclude or excluded:
            raise CliError("--classic watches each PATH with all events: no -r, -e, --exclude")
        from .classic import classic

        return classic(ns, paths)
    if ns.timeout is not None and ns.timeout <= 0:
        raise CliError("--timeout must be a positive number of seconds")
    watch_mask, shown = event_mask(ns.event)
    roots = Roots(paths, dereference=not ns.no_dereference)
    keep = EventFilter(shown, roots, ns.exclude, excluded, ns.exclude_regex, ns.include_regex)
    write_one = _formatter(ns, roots)
    out = text_out()

    from ..watcher import Watcher

    with stop_on_signals() as stop, Watcher(onerror=warn_error) as w:
        open_watches(
            w,
            roots.paths,
            watch_mask,
            ns.recursive,
            exclude=keep.path_excluded if (ns.exclude or excluded) else None,
            quiet=ns.quiet,
        )
        # Writing a line costs more than the kernel takes to queue an event, so
        # output runs on the Watcher's threaded driver: its reader drains the
        # kernel queue into memory while this writer catches up, and a storm
        # does not overflow the kernel queue because the terminal is slow.
        shown_at = [time.monotonic()]
        first_shown = threading.Event()

        def show(events: list[Any]) -> None:
            t = time.time()
            for ev in events:
                if keep(ev):
                    out.write(write_one(ev, t))
                    out.flush()  # a reader never waits for the rest of a batch
                    shown_at[0] = time.monotonic()
                    if ns.once:
                        first_shown.set()
                        w.stop()
                        return

        w.start(show, batch=True)
        try:
            while True:
                if first_shown.wait(_SLICE):
                    return 0
                if stop:
                    # Show what the kernel queued before the signal, then stop.
                    w.drain(_DRAIN_SECONDS)
                    return 0
                if not w.running:
                    return 0  # no watch remains, and everything was shown
                if ns.timeout is not None and time.monotonic() - shown_at[0] >= ns.timeout:
                    return EXIT_TIMEOUT
        finally:
            w.stop()
            w.join()
            out.flush()
