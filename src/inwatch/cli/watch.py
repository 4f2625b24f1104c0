"""``inwatch watch``: print events as they happen.

Lifetime: until SIGINT/SIGTERM (status 0, output flushed), ``--timeout`` seconds
without an event shown (status 2, as inotifywait), the first event with
``--once`` (status 0), or until no watch remains (status 0).

Each event is flushed as it is written, so a reader never waits for the rest
of a batch (nor for the next event).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from ._common import read_fromfile, stop_on_signals, text_out
from .args import CliError
from .format import EventLike, csv_line, format_event, human_line, json_line
from .session import EventFilter, Roots, event_mask, open_watches, warn_error

__all__ = ["watch"]

EXIT_TIMEOUT = 2
_SLICE = 0.2  # longest wait between two looks at the signal flag
_DRAIN_READS = 64  # reads of what is queued after SIGINT/SIGTERM, at most


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
        deadline = None if ns.timeout is None else time.monotonic() + ns.timeout
        draining = 0
        while draining < _DRAIN_READS:
            if not w.watches:
                return 0
            wait = _SLICE
            if stop:
                # Show what the kernel queued before the signal, then stop.
                wait = 0.0
                draining += 1
            elif deadline is not None:
                wait = min(wait, deadline - time.monotonic())
                if wait <= 0:
                    return EXIT_TIMEOUT
            events = w.read(timeout=wait)
            if not events:
                if stop:
                    break
                continue
            t = time.time()
            shown_any = False
            for ev in events:
                if keep(ev):
                    out.write(write_one(ev, t))
                    out.flush()  # a reader never waits for the rest of a batch
                    shown_any = True
                    if ns.once:
                        return 0
            if shown_any and deadline is not None:
                deadline = time.monotonic() + ns.timeout
        out.flush()
    return 0
