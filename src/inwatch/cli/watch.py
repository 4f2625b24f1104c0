"""``inwatch watch``: print events as they happen.

Lifetime: until SIGINT/SIGTERM/SIGHUP (status 0 once every event read is
written), ``--timeout`` seconds without an event shown (status 2, as
inotifywait), the first event with ``--once`` (status 0), or until no watch
remains (status 0, said on stderr; with ``--once`` and no event yet, status 1).

Threads: the Watcher's read-ahead thread takes the kernel's bytes as they come
(the kernel queue holds only ``fs.inotify.max_queued_events``, 16,384 by
default, a few milliseconds of a storm); the main thread sleeps in the one wait
(:class:`~inwatch.cli.wait.Waiter`) until there are events, turns them into
events, filters them (:meth:`Session.read`), formats the batch into one string
(:mod:`~inwatch.cli.lines`), and hands it to a
:class:`~inwatch.cli.output.Writer` thread that writes it. Writing may block
for long (a terminal is slow, a pipe's reader may be), so the reading never
waits for it: the hand-off is a deque append.

Output is held while events keep coming and handed to the writer when 64 KiB
have gathered or, at the latest, just before the main thread would sleep (the
wait polls once without blocking first, see ``before_sleep`` in
:meth:`Waiter.wait`): no timer, no per-event flush, nothing held while the
command waits, and in a storm the writer thread is woken once per 64 KiB
instead of once per read (each wake-up costs a futex call and a GIL hand-off
on both threads). A write that fails ends the command loudly
(:mod:`~inwatch.cli.output`), a reader that went away ends it quietly.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from typing import Any

from .args import FORMATTER, CliError, add_session_options, seconds
from .format import printable
from .lines import Renderer, csv_renderer, format_renderer, human_renderer, json_renderer
from .output import Aborted, Output, Writer
from .session import Roots, Session
from .wait import Waiter

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
_DRAIN_SECONDS = 5.0  # after a stop signal, how long to keep reading what the kernel queued


def _renderer(ns: argparse.Namespace, roots: Roots) -> Renderer:
    """The lines of a batch of events in the output mode *ns* asks for."""
    if ns.json:
        return json_renderer()
    if ns.csv:
        return csv_renderer(ns.timefmt, roots.files)
    if ns.format is not None:
        return format_renderer(ns.format, ns.timefmt, roots.files, "" if ns.no_newline else "\n")
    return human_renderer()


def _check_classic(ns: argparse.Namespace) -> None:
    """--classic is the C program: it has none of the options below."""
    bad = [
        flag
        for flag, given in (
            ("-r", ns.recursive),
            ("-e", ns.event),
            ("--exclude", ns.exclude),
            ("--exclude-regex", ns.exclude_regex),
            ("--include-regex", ns.include_regex),
            ("-t", ns.timeout is not None),
            ("-1", ns.once),
            ("-q", ns.quiet),
            ("-P", ns.no_dereference),
            ("--timefmt", ns.timefmt),
            ("--no-newline", ns.no_newline),
            ("--backend", ns.backend != "inotify"),
        )
        if given
    ]
    if bad:
        raise CliError(
            f"--classic is the sample program's output and takes no {', '.join(bad)}: "
            "watch each PATH with every event until Ctrl-C, or drop --classic"
        )


def run(ns: argparse.Namespace) -> int:
    if ns.classic:
        _check_classic(ns)
        from .classic import classic

        return classic(ns)
    with Waiter() as waiter, Session(ns, waiter) as session:
        render = _renderer(ns, session.roots)
        if session.open() is None:
            return 0  # stopped during setup: nothing was read

        # The interpreter's switch interval is left as it is (5 ms): the writer
        # thread hardly holds the GIL, and within 5 ms of the read-ahead thread
        # waking up, a storm queues ~2,000 events, an eighth of the kernel
        # queue. (At 1 ms, as when the writer formatted, the main thread paid
        # ~0.5 us an event in switches.)
        writer = Writer(Output(), waiter.poke)
        try:
            status = _Pump(ns, session, writer, render).run()
            writer.finish()
            return status
        except Aborted as exc:
            exc.unwritten = writer.pending
            raise


class _Pump:
    """The main thread's loop: read, filter, hand to the writer; end as told."""

    def __init__(
        self,
        ns: argparse.Namespace,
        session: Session,
        writer: Writer,
        render: Renderer,
    ) -> None:
        self.render = render
        self.once: bool = ns.once
        self.quiet: bool = ns.quiet
        self.timeout: float | None = None if ns.timeout in (None, math.inf) else ns.timeout
        self.session = session
        self.writer = writer

    def hand_over(self, events: list[Any]) -> int:
        """Give the writer the lines of what *events* show; how many (-1: ``--once``
        is met)."""
        shown = self.session.keep.select(events)
        if not shown:
            return 0
        if self.once:
            shown = shown[:1]
        self.writer.put(self.render(shown, time.time()), len(shown))
        return -1 if self.once else len(shown)

    def run(self) -> int:
        session = self.session
        w = session.watcher
        writer = self.writer
        shown_at = time.monotonic()

        def stop_looking() -> bool:
            return writer.error is not None or not w.watches

        while True:
            deadline = None if self.timeout is None else shown_at + self.timeout
            reason, events = session.read(
                deadline, stop_looking, writer.release if writer.holding else None
            )
            writer.check()
            if reason == "timeout":
                return EXIT_TIMEOUT
            if events:
                n = self.hand_over(events)
                if n < 0:
                    return 0
                if n:
                    shown_at = time.monotonic()
            if reason == "signal" or not w.watches:
                return self.finish(reason == "signal")

    def finish(self, signalled: bool) -> int:
        """Write every event the kernel queued, then end (0; 1 for an unmet -1)."""
        events, complete = self.session.read_rest(_DRAIN_SECONDS)
        if self.hand_over(events) < 0:
            return 0
        if not complete:
            sys.stderr.write(
                "inwatch watch: stopped while events were still arriving: "
                "those after the stop request are not shown\n"
            )
        if signalled:
            return 0
        roots = ", ".join(printable(p) for p in self.session.roots.paths)
        if self.once:
            self.writer.finish()
            sys.stderr.write(
                f"inwatch watch: no watch remains ({roots} deleted, replaced or unmounted) "
                "and no event came; an editor that saves by renaming a new file over the "
                "old one replaces it: watch its directory instead\n"
            )
            return 1
        if not self.quiet:
            self.writer.finish()
            sys.stderr.write(f"inwatch watch: no watch remains ({roots} deleted or unmounted)\n")
        return 0
