"""``inwatch run PATH... -- COMMAND``: run a command when something changes.

Changes that arrive together make one run: after the first event the command
waits until no event came for ``--debounce`` ms (or, under a steady stream,
at most ten times that, and at least 2 s), then runs COMMAND once with

- ``INWATCH_CHANGED``: the changed paths, one per line, in the order first seen;
- ``INWATCH_EVENT``: the event names seen, comma separated (``INITIAL`` for the
  run at start).

The command's own writes must not trigger it forever. Without ``--restart``,
events that happen while the command runs are dropped: when it ends, whatever
the kernel queued meanwhile is drained and ignored, so a build that writes its
outputs inside the watched tree runs once per outside change. (A change made by
someone else while the command runs is dropped as well; it shows on the next.)
With ``--restart`` the command runs for a long time and changes during its run
are what restarts it, so only the events of the first DEBOUNCE ms after each
start (start-up writes) are ignored; files it keeps writing should be left out
with ``--exclude``.

The command runs in its own process group (session); stopping it sends SIGTERM
to the whole group, waits ``--grace`` seconds, then sends SIGKILL.
"""

from __future__ import annotations

import argparse
import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Iterable
from typing import Any

from ..flags import Mask, mask_names
from ._common import StopFlag, stop_on_signals
from .args import FORMATTER, CliError, add_session_options, milliseconds
from .session import EventFilter, Roots, event_mask, open_watches, warn_error

__all__ = ["HELP", "TRAILING_COMMAND", "Batch", "Runner", "add_parser", "run"]

HELP = "run a command when something changes"
#: Everything after ``--`` is the command to run (``args.argv``).
TRAILING_COMMAND = True

EXAMPLES = """\
examples:
  inwatch run -r src -- make test                    run the tests when src changes
  inwatch run -r --restart --exclude '*.log' . -- python3 server.py
                                                     restart a server on every change
  inwatch run -r --debounce 500 --no-initial docs -- sh -c 'echo "$INWATCH_CHANGED"'

Without -e, a change is modify, attrib, close_write, moved_from, moved_to,
create, delete, delete_self or move_self (reading a file is not a change).
The command gets INWATCH_CHANGED (the changed paths, one per line) and
INWATCH_EVENT (the event names seen, comma separated; INITIAL for the first run).
Events that happen while the command runs are ignored (without --restart), so the
command's own writes never trigger it again; with --restart, events during the
first DEBOUNCE ms after a start are ignored and the command's own files should be
excluded with --exclude.
"""


def add_parser(sub: Any) -> argparse.ArgumentParser:
    r: argparse.ArgumentParser = sub.add_parser(
        "run",
        help=HELP,
        usage="inwatch run [options] PATH... -- COMMAND [ARG...]",
        description="Run COMMAND when something changes under PATHs.",
        epilog=EXAMPLES,
        formatter_class=FORMATTER,
    )
    r.add_argument("paths", nargs="*", metavar="PATH", help="files or directories to watch")
    add_session_options(r)
    r.add_argument(
        "--debounce",
        type=milliseconds,
        default=200.0,
        metavar="MS",
        help="wait until no event came for MS milliseconds, then run once (default 200)",
    )
    r.add_argument(
        "--restart",
        action="store_true",
        help="stop a still running command (its whole process group) and start it again",
    )
    r.add_argument(
        "--grace",
        type=float,
        default=3.0,
        metavar="SECONDS",
        help="with --restart: SIGTERM, then SIGKILL after SECONDS (default 3)",
    )
    r.add_argument(
        "--initial",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="run the command once at start (default: yes)",
    )
    r.add_argument("-q", "--quiet", action="store_true", help="no messages on stderr")
    return r


#: What counts as a change by default: not reads, opens or closes without writing.
DEFAULT_MASK = int(
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
_POLL = 0.05  # how often a running command's exit is looked at


class Batch:
    """The changes collected for the next run (pure bookkeeping)."""

    def __init__(self) -> None:
        self.paths: dict[str, None] = {}
        self.events: dict[str, None] = {}
        self.first = 0.0
        self.last = 0.0

    def __bool__(self) -> bool:
        return bool(self.events)

    def add(self, pathname: str | None, names: Iterable[str], now: float) -> None:
        """Record a change; *pathname* is None for a queue overflow (paths unknown)."""
        if not self.events:
            self.first = now
        self.last = now
        if pathname is not None:
            self.paths.setdefault(pathname, None)
        for n in names:
            if n != "ISDIR":
                self.events.setdefault(n, None)

    def due(self, debounce: float, cap: float) -> float:
        """When to run: quiet for *debounce*, or *cap* after the first change."""
        return min(self.last + debounce, self.first + cap)

    def env(self) -> dict[str, str]:
        return {
            "INWATCH_CHANGED": "\n".join(self.paths),
            "INWATCH_EVENT": ",".join(self.events),
        }


class Runner:
    """One child command at a time, in its own process group."""

    def __init__(self, command: list[str], grace: float, quiet: bool) -> None:
        self.command = command
        self.grace = grace
        self.quiet = quiet
        self.proc: subprocess.Popen[bytes] | None = None
        self.started = 0.0

    def say(self, text: str) -> None:
        if not self.quiet:
            sys.stderr.write(f"inwatch run: {text}\n")
            sys.stderr.flush()

    @property
    def running(self) -> bool:
        """The command has not exited yet (an exit is announced by :meth:`reap`)."""
        return self.proc is not None and self.proc.poll() is None

    def reap(self) -> None:
        """Say how the command that exited ended, and forget it."""
        if self.proc is not None and self.proc.poll() is not None:
            self.say(f"exit status {self.proc.returncode}")
            self.proc = None

    def start(self, env: dict[str, str]) -> None:
        changed = env["INWATCH_CHANGED"].count("\n") + 1 if env["INWATCH_CHANGED"] else 0
        what = env["INWATCH_EVENT"] + (f", {changed} path(s)" if changed else "")
        self.say(f"running {shlex.join(self.command)} ({what})")
        try:
            self.proc = subprocess.Popen(
                self.command, env={**os.environ, **env}, start_new_session=True
            )
        except OSError as exc:
            raise CliError(f"cannot run {self.command[0]!r}: {exc.strerror}") from None
        self.started = time.monotonic()

    def stop(self) -> None:
        """SIGTERM to the whole group, *grace* seconds, then SIGKILL."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        pgid = proc.pid
        _killpg(pgid, signal.SIGTERM)
        deadline = time.monotonic() + self.grace
        while time.monotonic() < deadline:
            if proc.poll() is not None and not _group_alive(pgid):
                break
            time.sleep(_POLL)
        _killpg(pgid, signal.SIGKILL)
        proc.wait()
        self.say(f"stopped (status {proc.returncode})")


def _killpg(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _group_alive(pgid: int) -> bool:
    """Whether a live (not zombie) process is left in group *pgid*.

    ``killpg(pgid, 0)`` is not enough: an exited child re-parented to a PID 1
    that does not reap stays a zombie member of the group.
    """
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != b"Z":
            return True
    return False


def run(ns: argparse.Namespace) -> int:
    command: list[str] = ns.argv
    if not command:
        raise CliError("no command to run: give it after '--' (inwatch run PATH -- CMD)")
    if not ns.paths:
        raise CliError("no PATH to watch (inwatch run PATH -- CMD)")
    watch_mask, shown = event_mask(ns.event, default=DEFAULT_MASK)
    shown &= ~int(Mask.IGNORED)
    roots = Roots(ns.paths, dereference=not ns.no_dereference)
    keep = EventFilter(shown, roots, ns.exclude)
    debounce = ns.debounce / 1000.0
    cap = max(2.0, 10 * debounce)
    runner = Runner(command, ns.grace, ns.quiet)

    from ..watcher import Watcher

    with stop_on_signals() as stop, Watcher(onerror=warn_error) as w:
        stop.callback = w.stop
        open_watches(
            w,
            roots.paths,
            watch_mask,
            ns.recursive,
            exclude=keep.path_excluded if ns.exclude else None,
            quiet=ns.quiet,
        )
        try:
            if ns.initial:
                runner.start({"INWATCH_CHANGED": "", "INWATCH_EVENT": "INITIAL"})
            _loop(w, runner, keep, ns.restart, debounce, cap, stop)
        finally:
            runner.stop()
    return 0


def _loop(
    w: Any,
    runner: Runner,
    keep: EventFilter,
    restart: bool,
    debounce: float,
    cap: float,
    stop: StopFlag,
) -> None:
    batch = Batch()
    while not stop:
        if not w.watches:
            if not restart:
                while runner.running and not stop:
                    time.sleep(_POLL)
                runner.reap()
            return
        now = time.monotonic()
        if not restart and runner.proc is not None:
            # Everything that happens while the command runs is taken for its own
            # doing: read and dropped, and once it has exited, what the kernel
            # queued until then is drained and dropped too.
            w.read(timeout=_POLL)
            if not runner.running:
                while w.read(timeout=0):
                    pass
                runner.reap()
            continue
        runner.reap()
        if batch and now >= batch.due(debounce, cap):
            runner.stop()
            runner.start(batch.env())
            batch = Batch()
            continue
        wait: float | None = None
        if batch:
            wait = max(0.0, batch.due(debounce, cap) - now)
        if restart and runner.running:
            wait = _POLL if wait is None else min(wait, _POLL)
        events = w.read(timeout=wait)
        now = time.monotonic()
        if restart and runner.proc is not None and now - runner.started < debounce:
            continue  # start-up writes of the command just (re)started
        for ev in events:
            if keep(ev):
                name = None if ev.mask & Mask.Q_OVERFLOW else os.fsdecode(ev.pathname)
                batch.add(name, mask_names(ev.mask), now)
