"""``inwatch record``: watch ROOTs and write every event to the journal.

Order at start, so that nothing falls between the cracks: the previous run's
end is closed as a gap (``downtime``, or ``crash`` after SIGKILL); the watches
are set up (the kernel queues from then on); each root is compared with the
journal (first time: its baseline is stored; later: what changed while nothing
watched becomes ``offline`` events); then the queued live events are recorded.
A change during the comparison may be recorded twice (offline and live), never
missed.

Stop: SIGINT/SIGTERM commit what is queued and exit 0 (1 when a ``--to`` sink refused
the credentials or the TLS trust and shipped nothing since: recording went on, the rows
wait in the journal, but the configuration needs fixing). A journal error (disk
full, …) stops recording with one line on stderr; for a full disk the command
then waits for space, records the window as a ``disk_full`` gap, and exits 1
(a service manager restarting it does not loop while the disk is full).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from typing import Any

from ..flags import IN_IGNORED, Mask
from ..journal import Journal, JournalError, JournalFullError, default_path
from ..journal.offline import start_root
from ..journal.recorder import Recorder
from ..journal.retention import Retention, parse_duration, parse_size
from ..journal.ship import Shipper
from ..journal.store import Prepared
from ._common import error_line
from .args import FORMATTER, CliError, add_session_options
from .output import run_guarded
from .session import Session, warn
from .shipopts import add_ship_arguments, make_sinks, start_shipper
from .wait import Waiter

__all__ = ["HELP", "add_parser", "run"]

HELP = "record events into a journal (SQLite) that outlives restarts"

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
        formatter_class=FORMATTER,
    )
    p.add_argument("paths", nargs="*", metavar="ROOT", help="directories (or files) to record")
    add_session_options(p)
    p.add_argument("--db", metavar="FILE", help="the journal (default: see below)")
    p.add_argument("--host", help="the host name stored in the journal (default: hostname)")
    p.add_argument("--commit-ms", type=float, default=100.0, metavar="MS", help="batch period")
    add_ship_arguments(p)
    p.add_argument("--hash", action="store_true", help="blake2b of files after CLOSE_WRITE")
    p.add_argument("--hash-max-size", default="64M", metavar="SIZE", help="larger: unhashed")
    p.add_argument("--keep", metavar="AGE", help="prune events older than AGE (30d)")
    p.add_argument("--max-size", metavar="SIZE", help="prune the oldest events above SIZE (1G)")
    p.add_argument("-q", "--quiet", action="store_true", help="no start-up messages on stderr")
    return p


def _say(text: str) -> None:
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def run(args: argparse.Namespace) -> int:
    return run_guarded("record", lambda: _run(args))


def _run(args: argparse.Namespace) -> int:
    hash_max, retention = _options(args)
    # The journal keeps full paths: a root given as "." must not be stored as ".".
    args.paths = [os.path.abspath(p) if p else p for p in args.paths]
    with Waiter(watch_stdout=False) as waiter:
        try:
            return _record(args, waiter, hash_max, retention)
        except JournalFullError as exc:
            return _wait_for_space(args, waiter, str(exc), time.time_ns(), 0)
        except (JournalError, ValueError) as exc:
            raise CliError(str(exc)) from None


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


class _PathEvent:
    """What the event filter looks at, for an offline change."""

    __slots__ = ("mask", "pathname")

    def __init__(self, item: Prepared) -> None:
        self.mask = item.mask
        self.pathname = os.fsdecode(item.path)


def _record(
    args: argparse.Namespace, waiter: Waiter, hash_max: int | None, retention: Retention | None
) -> int:
    session = Session(args, waiter, default_mask=RECORD_MASK)
    roots = session.roots.paths
    relative = [r for r in roots if not os.path.isabs(r)]
    if relative:
        raise CliError(f"record needs absolute roots (from --fromfile): {relative[0]!r}")
    keep = session.keep
    if not args.event:
        keep.shown &= ~IN_IGNORED  # a watch going away is bookkeeping, not a change
    skipped = set(session.skipped)

    def excluded(path: str) -> bool:
        return path in skipped or keep.path_excluded(path)

    path = args.db or default_path()
    journal = Journal(path, host=args.host, hash_max=hash_max)
    rec: Recorder | None = None
    shippers: list[Shipper] = []
    try:
        sinks = make_sinks(args, journal.host)
        with session:
            w = session.open()
            if w is None:
                return 0  # a stop signal during the setup: nothing recorded yet
            shippers = start_shipper(journal, args, journal.host, sinks)

            def shipped_soon() -> None:
                for s in shippers:
                    s.wake()

            rec = Recorder(
                journal, commit_ms=args.commit_ms, on_error=lambda _: waiter.poke(),
                retention=retention, on_commit=shipped_soon,
            )  # fmt: skip
            rec.begin()
            status = 0
            try:
                _start_roots(args, journal, roots, excluded, keep, hash_max)
                _say(f"Recording to {path}")
                rec.start()
                w.start(_deliver(rec, keep, args, w, waiter.poke), batch=True)
                waiter.abortable = False  # a second signal must not cut the final commit
                waiter.wait(until=lambda: rec.error is not None or not w.watches)
                if rec.error is None:
                    w.drain(_DRAIN_SECONDS)  # what the kernel queued before the signal
                    rec.flush(_DRAIN_SECONDS * 6)
                    status = 0 if rec.error is None else 1
            finally:
                w.stop()
                w.join()
                rec.close()
                # What is committed goes out for a while more; the rest stays in the
                # journal (its cursor says where; the Shipper says so) for the next start.
                for s in shippers:
                    s.stop(15.0)
        if rec.error is not None:
            if isinstance(rec.error, JournalFullError):
                return _wait_for_space(
                    args, waiter, str(rec.error), rec.error_ns or time.time_ns(), rec.lost,
                    journal,
                )  # fmt: skip
            raise CliError(f"{rec.error} ({rec.lost} event(s) not recorded)")
        refused = [s for s in shippers if s.refused is not None]
        for s in refused:
            # Recording went on (nothing is lost: the rows wait in the journal), but a sink
            # that refuses the credentials or the TLS trust is a configuration error: say it
            # once more and exit 1 so that the service manager shows the failure.
            _say(f"inwatch record: --to {s.sink.display()}: {s.refused}")
        return 1 if refused else status
    finally:
        for s in shippers:
            s.stop(0)
        if rec is not None:
            rec.release()
        journal.close()


def _start_roots(
    args: argparse.Namespace,
    journal: Journal,
    roots: list[str],
    excluded: Callable[[str], bool],
    keep: Any,
    hash_max: int | None,
) -> None:
    """Each root's baseline (first time) or offline changes, before live events."""
    for root in roots:
        n = start_root(
            journal,
            os.fsencode(root),
            args.recursive,
            excluded,
            hash_max,
            keep=lambda item: keep(_PathEvent(item)),
            onerror=lambda exc: warn(f"{error_line(exc)}: its entries are not compared"),
        )
        if not args.quiet:
            _say(
                f"Baseline of {root} stored."
                if n is None
                else f"{root}: {n} offline change(s) recorded."
            )


def _deliver(
    rec: Recorder, keep: Any, args: argparse.Namespace, w: Any, poke: Callable[[], None]
) -> Callable[[list[Any]], None]:
    filtered = bool(
        args.exclude or args.event or args.exclude_regex or args.include_regex or args.fromfile
    )

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


def _wait_for_space(
    args: argparse.Namespace,
    waiter: Waiter,
    why: str,
    since_ns: int,
    lost: int,
    journal: Journal | None = None,
) -> int:
    """The disk is full: say so once, then retry every 2 s to record the window
    as a ``disk_full`` gap (closing this run); exit 1 once it is recorded."""
    _say(
        f"inwatch record: {why}; {lost} event(s) not recorded; waiting for free space to"
        " record the gap (SIGTERM gives up)"
    )
    waiter.abortable = True
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
                    conn.execute("UPDATE runs SET stopped_ns = ? WHERE stopped_ns IS NULL", (now,))
            finally:
                if journal is None:
                    j.close()
            _say("inwatch record: free space is back: the gap is recorded; exiting")
            return 1
        except JournalFullError:
            pass
        if waiter.sleep(2.0) == "signal":
            return 1
