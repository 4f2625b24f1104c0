"""``inwatch watch``: print events as they happen.

Lifetime: until SIGINT/SIGTERM (status 0, output flushed), ``--timeout`` seconds
without an event shown (status 2, as inotifywait), the first event with
``--once`` (status 0), or until no watch remains (status 0).

Each event is flushed as it is written, so a reader never waits for the rest
of a batch (nor for the next event).
"""

from __future__ import annotations

import argparse
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

from ._common import read_fromfile, stop_on_signals, text_out
from .args import FORMATTER, CliError, add_session_options, seconds
from .format import EventLike, csv_line, format_event, human_line, json_line
from .session import EventFilter, Roots, event_mask, open_watches, warn_error

__all__ = ["HELP", "add_parser", "run"]

HELP = "print events as they happen"

EXAMPLES = """\
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

exit status: 0 on SIGINT/SIGTERM/SIGHUP (after writing every event read), after
--once, or when no watch remains; 2 on --timeout; 1 on an error (missing path,
permission, watch limit, bad option, stdout not writable); 128+N when a second
signal N aborts the final writing.
"""


def add_parser(sub: Any) -> argparse.ArgumentParser:
    w: argparse.ArgumentParser = sub.add_parser(
        "watch",
        help=HELP,
        description="Print inotify events on PATHs as they happen.",
        epilog=EXAMPLES,
        formatter_class=FORMATTER,
    )
    w.add_argument("paths", nargs="*", metavar="PATH", help="files or directories to watch")
    add_session_options(w)
    w.add_argument("-q", "--quiet", action="store_true", help="no start-up messages on stderr")
    w.add_argument(
        "-t",
        "--timeout",
        type=seconds,
        metavar="SECONDS",
        help="exit with status 2 when no event comes for SECONDS ('inf': never)",
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
    return w


EXIT_TIMEOUT = 2
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


def run(ns: argparse.Namespace) -> int:
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
        # The main thread sleeps in sigtimedwait() until something needs it: a
        # signal, the first event with --once, the last watch gone (the handler
        # thread pokes it with SIGUSR1), or the --timeout deadline. No polling,
        # so an idle watch never wakes up.
        main = threading.get_ident()
        wake = {signal.SIGINT, signal.SIGTERM, signal.SIGUSR1}

        def poke() -> None:
            signal.pthread_kill(main, signal.SIGUSR1)

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
                        poke()
                        return
            if not w.watches:
                poke()

        # Blocked before the threads start, so they inherit the mask and every
        # one of these signals waits for sigtimedwait() in this thread.
        saved = signal.pthread_sigmask(signal.SIG_BLOCK, wake)
        try:
            if stop:
                return 0
            w.start(show, batch=True)
            while True:
                wait = None
                if ns.timeout is not None:
                    wait = shown_at[0] + ns.timeout - time.monotonic()
                    if wait <= 0:
                        return EXIT_TIMEOUT
                got = (
                    signal.sigtimedwait(wake, wait)
                    if wait is not None
                    else signal.sigwaitinfo(wake)
                )
                if first_shown.is_set():
                    return 0
                if got is not None and got.si_signo != signal.SIGUSR1:
                    # Show what the kernel queued before the signal, then stop.
                    w.drain(_DRAIN_SECONDS)
                    return 0
                if not w.watches and w.drain(_DRAIN_SECONDS):
                    return 0  # no watch remains, and everything was shown
        finally:
            w.stop()
            w.join()
            out.flush()
            # A poke still pending would kill us (SIGUSR1's default) once unblocked.
            while signal.sigtimedwait({signal.SIGUSR1}, 0) is not None:
                pass
            signal.pthread_sigmask(signal.SIG_SETMASK, saved)
