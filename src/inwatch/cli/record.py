"""``inwatch record``: watch ROOTs and write every event to the journal.

Order at start, so that nothing falls between the cracks: the previous run's
end is closed as a gap (``downtime``, or ``crash`` after SIGKILL); the watches
are set up (the kernel queues from then on); each root is compared with the
journal (first time: its baseline is stored; later: what changed while nothing
watched becomes ``offline`` events); then the queued live events are recorded.
A change during the comparison may be recorded twice (offline and live), never
missed.

Stop: SIGINT/SIGTERM commit what is queued and exit 0. A journal error (disk
full, …) stops recording with one line on stderr; for a full disk the command
then waits for space, records the window as a ``disk_full`` gap, and exits 1
(a service manager restarting it does not loop while the disk is full).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from ..flags import IN_IGNORED, Mask
from ..journal import Journal, JournalError, JournalFullError, default_path
from ..journal.offline import start_root
from ..journal.recorder import Recorder
from ..journal.retention import Retention, parse_duration, parse_size
from ._common import error_line
from .args import CliError
from .session import EventFilter, Roots, event_mask, open_watches, warn_error

__all__ = ["HELP", "add_parser", "run"]

HELP = "record events into a journal (SQLite) that survives restarts"

EXAMPLES = """\
examples:
  inwatch record -r /etc /srv/www                     journal in the default place
  inwatch record -r --db /var/lib/inwatch/j.db --hash --keep 30d --max-size 1G /data
  inwatch record -r -e create,delete,moved_to,close_write --exclude '*.tmp' ~/src

The journal is $XDG_STATE_HOME/inwatch/journal.db (~/.local/state/…), or
/var/lib/inwatch/journal.db as root; it is created readable by its owner only.
Without -e, changes are recorded (create, delete, modify, attrib, close_write,
moves, delete_self, move_self); reads only when asked (-e open,access,…).
exit status: 0 on SIGINT/SIGTERM or when no watch remains; 1 on an error.
"""

# What an administrator means by "what changed": reads are not changes.
RECORD_MASK = int(
    Mask.MODIFY
    | Mask.ATTRIB
    | Mask.CLOSE_WRITE
    | Mask.MOVED_FROM
    | Mask.MOVED_TO
    | Mask.CREATE
    | Mask.DELETE
    | Mask.DELETE_SELF
    | Mask.MOVE_SELF
)
_DRAIN_SECONDS = 5.0


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(
        "record",
        help=HELP,
        description=HELP,
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("roots", nargs="+", metavar="ROOT", help="directories (or files) to record")
    p.add_argument("--db", metavar="FILE", help="the journal (default: see below)")
    p.add_argument("-r", "--recursive", action="store_true", help="record whole trees")
    p.add_argument("-e", "--event", action="append", metavar="EV[,EV…]", help="events to record")
    p.add_argument("--exclude", action="append", default=[], metavar="GLOB", help="skip these")
    p.add_argument("--backend", choices=("inotify", "fanotify"), default="inotify")
    p.add_argument("--host", help="the host name stored in the journal (default: hostname)")
    p.add_argument("--commit-ms", type=float, default=100.0, metavar="MS", help="batch period")
    p.add_argument("--hash", action="store_true", help="blake2b of files after CLOSE_WRITE")
    p.add_argument("--hash-max-size", default="64M", metavar="SIZE", help="larger: unhashed")
    p.add_argument("--keep", metavar="AGE", help="prune events older than AGE (30d)")
    p.add_argument("--max-size", metavar="SIZE", help="prune the oldest events above SIZE (1G)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    return p


def _say(text: str) -> None:
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def run(args: argparse.Namespace) -> int:
    try:
        return _record(args)
    except JournalFullError as exc:
        return _wait_for_space(args, str(exc), time.time_ns(), 0)
    except (CliError, JournalError, OSError, ValueError) as exc:
        _say(f"inwatch record: {error_line(exc) if isinstance(exc, OSError) else exc}")
        return 1


def _options(args: argparse.Namespace) -> tuple[int | None, Retention | None]:
    try:
        hash_max = parse_size(args.hash_max_size) if args.hash else None
        keep = parse_duration(args.keep) if args.keep else None
        max_size = parse_size(args.max_size) if args.max_size else None
    except ValueError as exc:
        raise CliError(str(exc)) from None
    if args.commit_ms <= 0:
        raise CliError("--commit-ms must be positive")
    retention = Retention(keep, max_size) if keep or max_size else None
    return hash_max, retention


def _watcher(backend: str) -> Any:
    from ..watcher import Watcher

    if backend == "inotify":
        return Watcher(onerror=warn_error)
    try:
        return Watcher(onerror=warn_error, backend=backend)  # type: ignore[call-arg]
    except TypeError:
        raise CliError(f"the {backend} backend is not available in this inwatch") from None


def _record(args: argparse.Namespace) -> int:
    hash_max, retention = _options(args)
    path = args.db or default_path()
    mask, shown = event_mask(args.event, default=RECORD_MASK)
    if not args.event:
        shown &= ~IN_IGNORED  # a watch going away is bookkeeping, not a change
    roots = Roots([os.path.abspath(p) for p in args.roots])  # the journal keeps full paths
    keep = EventFilter(shown, roots, args.exclude)
    exclude = keep.path_excluded if args.exclude else None
    main = threading.get_ident()
    wake = {signal.SIGINT, signal.SIGTERM, signal.SIGUSR1}

    def poke(*_: object) -> None:
        signal.pthread_kill(main, signal.SIGUSR1)

    journal = Journal(path, host=args.host, hash_max=hash_max)
    # Blocked before any thread starts, so every thread inherits the mask and
    # these signals wait for sigwaitinfo() below.
    saved = signal.pthread_sigmask(signal.SIG_BLOCK, wake)
    try:
        rec = Recorder(journal, commit_ms=args.commit_ms, on_error=poke, retention=retention)
        rec.begin()
        with _watcher(args.backend) as w:
            open_watches(w, roots.paths, mask, args.recursive, exclude, args.quiet)
            for root in roots.paths:
                n = start_root(journal, os.fsencode(root), args.recursive, exclude, hash_max)
                if not args.quiet:
                    _say(
                        f"Baseline of {root} stored."
                        if n is None
                        else f"{root}: {n} offline change(s) recorded."
                    )
            _say(f"Recording to {path}")
            rec.start()
            deliver = _deliver(rec, keep, args, w, poke)
            status = 0
            try:
                w.start(deliver, batch=True)
                status = _wait(w, rec, wake)
            finally:
                w.stop()
                w.join()
                rec.close()
        if rec.error is not None:
            if isinstance(rec.error, JournalFullError):
                return _wait_for_space(
                    args, str(rec.error), rec.error_ns or time.time_ns(), rec.lost, journal
                )
            _say(f"inwatch record: {rec.error} ({rec.lost} event(s) not recorded)")
            return 1
        return status
    finally:
        journal.close()
        # A poke still pending would kill us (SIGUSR1's default) once unblocked.
        while signal.sigtimedwait({signal.SIGUSR1}, 0) is not None:
            pass
        signal.pthread_sigmask(signal.SIG_SETMASK, saved)


def _deliver(
    rec: Recorder, keep: EventFilter, args: argparse.Namespace, w: Any, poke: Callable[[], None]
) -> Callable[[list[Any]], None]:
    filtered = bool(args.exclude or args.event)

    def deliver(events: list[Any]) -> None:
        if filtered:
            events = [ev for ev in events if keep(ev)]
        else:
            events = [ev for ev in events if not ev.mask & IN_IGNORED]
        if events:
            rec.put(events)
        if not w.watches:
            poke()

    return deliver


def _wait(w: Any, rec: Recorder, wake: set[signal.Signals]) -> int:
    """Sleep until a signal, a journal error, or no watch left; 0 unless events were lost."""
    while True:
        got = signal.sigwaitinfo(wake)
        if rec.error is not None:
            return 1
        if got.si_signo != signal.SIGUSR1 or not w.watches:
            w.drain(_DRAIN_SECONDS)  # what the kernel queued before the signal
            rec.flush(_DRAIN_SECONDS * 6)
            return 0 if rec.error is None else 1


def _wait_for_space(
    args: argparse.Namespace, why: str, since_ns: int, lost: int, journal: Journal | None = None
) -> int:
    """The disk is full: say so once, then retry every 2 s to record the window
    as a ``disk_full`` gap (closing this run); exit 1 once it is recorded."""
    _say(
        f"inwatch record: {why}; {lost} event(s) not recorded; waiting for free space to"
        " record the gap (SIGTERM gives up)"
    )
    stop = {signal.SIGINT, signal.SIGTERM}
    saved = signal.pthread_sigmask(signal.SIG_BLOCK, stop)
    try:
        while True:
            try:
                j = journal or Journal(args.db or default_path(), host=args.host)
                try:
                    with j.transaction() as conn:
                        now = time.time_ns()
                        conn.execute(
                            "INSERT INTO gaps (start_ns, end_ns, kind, detail)"
                            " VALUES (?, ?, 'disk_full', ?)",
                            (since_ns, now, f"disk full: {lost} event(s) not recorded"),
                        )
                        conn.execute(
                            "UPDATE runs SET stopped_ns = ? WHERE stopped_ns IS NULL", (now,)
                        )
                finally:
                    if journal is None:
                        j.close()
                _say("inwatch record: free space is back: the gap is recorded; exiting")
                return 1
            except JournalFullError:
                pass
            if signal.sigtimedwait(stop, 2.0) is not None:
                return 1
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, saved)
