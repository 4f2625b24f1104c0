"""``inwatch run PATH... -- COMMAND``: run a command when something changes.

Changes that arrive together make one run: after the first event the command
waits until no event came for ``--debounce`` ms (under a steady stream, at most
ten times that and at least 2 s after the first change), then runs COMMAND once
with the environment of :mod:`~inwatch.cli.changes` (``INWATCH_EVENT``,
``INWATCH_CHANGED_FILE``, ``INWATCH_CHANGES_JSON``, and ``INWATCH_CHANGED``
when it fits). The child's process handling is :mod:`~inwatch.cli.runner`.

Changes while the command runs (``--on-busy``):

- ``queue`` (default): they make one more run once it has ended, as entr and
  watchexec do: the second of two quick saves is built too. The command's own
  writes then come back as changes; the **loop rule**: a run whose changes all
  happened while the previous run was running ("busy-only") and whose changed
  set (paths and event kinds) equals that of the previous run, itself
  busy-only, is the command triggering itself. It is not started; stderr says
  so once, that set is remembered as the command's own, and later busy-only
  batches equal to it are dropped too. A change from outside (any change made
  while the command is not running) always runs it. So a command that writes
  into the watched tree runs at most twice more after each outside change,
  usually once; excluding its outputs with ``--exclude`` avoids even that.
- ``ignore``: they are dropped, with whatever the kernel queued until the exit
  (the old behaviour; a change by someone else meanwhile is lost).
- ``restart`` (``--restart``): they stop the command (its whole group) and
  start it again; those of the first DEBOUNCE ms after a start are its start-up
  writes and ignored; exclude files it keeps writing.

When the last watch is gone (``rm -rf build && mkdir build``), stderr says so
and the PATHs are looked for every half second; when they exist again they are
watched again and the command runs (``INWATCH_EVENT=CREATE``). The command is
never left running when inwatch exits.
"""

from __future__ import annotations

import argparse
import os
import signal
import time
from typing import Any

from .. import Mask, mask_names
from .args import FORMATTER, CliError, add_session_options, milliseconds, seconds
from .changes import Batch, ChangeFiles
from .format import printable
from .runner import Runner
from .session import Session
from .wait import Waiter

__all__ = ["DEFAULT_MASK", "HELP", "TRAILING_COMMAND", "Batch", "add_parser", "run"]

HELP = "run a command when something changes"
#: Everything after ``--`` is the command to run (``args.argv``).
TRAILING_COMMAND = True

EXAMPLES = """\
examples:
  inwatch run -r src -- make test                    run the tests when src changes
  inwatch run -r --restart --exclude '*.log' . -- python3 server.py
                                                     restart a server on every change
  inwatch run -r --debounce 500 --no-initial docs -- \\
          sh -c 'xargs -0 ls -l < "$INWATCH_CHANGED_FILE"'

Without -e, a change is modify, attrib, close_write, moved_from, moved_to,
create, delete, delete_self or move_self (reading a file is not a change).
The command gets INWATCH_EVENT (the event names seen, comma separated; INITIAL
for the first run), INWATCH_CHANGED_FILE (a file: the changed paths, each
followed by a NUL byte), INWATCH_CHANGES_JSON (a file: [{"path": P, "events":
[...], "from": OLD}, ...]), and INWATCH_CHANGED (the paths one per line) when
under 64 KiB (else INWATCH_CHANGED_TRUNCATED=1).
Changes during a run make one more run after it (--on-busy queue); a command
that keeps triggering itself with the same changes is detected and waits for a
change from outside (see the module documentation in inwatch/cli/run.py).

exit status: 0 on SIGINT/SIGTERM/SIGHUP; 1 on an error; 128+N when a second
signal N aborts the stopping of the command.
"""

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
_LOOK_AGAIN = 0.5  # seconds between looks for a PATH that is gone


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
        "--on-busy",
        choices=("queue", "ignore", "restart"),
        default=None,
        help="changes while the command runs: queue one more run after it (default), "
        "ignore them, or restart it",
    )
    r.add_argument(
        "--restart",
        action="store_true",
        help="the same as --on-busy restart: stop the command (its whole process group) "
        "and start it again",
    )
    r.add_argument(
        "--grace",
        type=seconds,
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


def run(ns: argparse.Namespace) -> int:
    command: list[str] = ns.argv
    if not command:
        raise CliError("no command to run: give it after '--' (inwatch run PATH -- CMD)")
    if ns.restart and ns.on_busy not in (None, "restart"):
        raise CliError(f"--restart contradicts --on-busy {ns.on_busy}")
    mode = "restart" if ns.restart else (ns.on_busy or "queue")
    with Waiter(watch_stdout=False, wake_on=(int(signal.SIGCHLD),)) as waiter:
        session = Session(ns, waiter, default_mask=DEFAULT_MASK)
        session.shown &= ~int(Mask.IGNORED)
        session.keep.shown = session.shown
        runner = Runner(command, ns.grace, ns.quiet, waiter)
        files = ChangeFiles()
        try:
            if session.open() is None:
                return 0
            loop = _Loop(session, runner, files, waiter, mode, ns.debounce / 1000.0)
            if ns.initial:
                loop.start(Batch(), initial=True)
            loop.run()
        finally:
            try:
                runner.close()
            finally:
                files.close()
                session.close()
    return 0


class _Loop:
    """The main thread of ``run``: collect, debounce, start, reap, repeat."""

    def __init__(
        self,
        session: Session,
        runner: Runner,
        files: ChangeFiles,
        waiter: Waiter,
        mode: str,
        debounce: float,
    ) -> None:
        self.session = session
        self.runner = runner
        self.files = files
        self.waiter = waiter
        self.mode = mode
        self.debounce = debounce
        self.cap = max(2.0, 10 * debounce)
        self.batch = Batch()
        self.busy_only = False  # every change of self.batch came during a run
        self.last_key: tuple[Any, ...] | None = None  # the last busy-only run's changes
        self.loop_keys: set[tuple[Any, ...]] = set()

    # --- one run ------------------------------------------------------------

    def start(self, batch: Batch, initial: bool = False) -> None:
        if initial:
            env = self.files.write(batch)
            env["INWATCH_EVENT"] = "INITIAL"
            self.runner.start(env, "INITIAL")
            self.last_key = None
            return
        if self.is_loop(batch):
            return
        env = self.files.write(batch)
        if "INWATCH_CHANGED" not in env:
            self.runner.say(
                f"{len(batch.paths)} changed paths do not fit in INWATCH_CHANGED: "
                "left out (INWATCH_CHANGED_TRUNCATED=1); read INWATCH_CHANGED_FILE"
            )
        what = env["INWATCH_EVENT"] + (f", {_paths(len(batch.paths))}" if batch.paths else "")
        self.last_key = batch.key() if self.busy_only else None
        self.runner.start(env, what)

    def is_loop(self, batch: Batch) -> bool:
        """The loop rule (module docstring); says so the first time."""
        key = batch.key()
        if not (self.busy_only and (key in self.loop_keys or key == self.last_key)):
            return False
        if key not in self.loop_keys:
            self.loop_keys.add(key)
            self.runner.say(
                f"not running again: the last run changed the same {_paths(len(key))} "
                "as the one before (the command triggers itself); waiting for a change "
                "from outside (--exclude its outputs to avoid this)"
            )
        return True

    # --- collecting -----------------------------------------------------------

    def collect(self, events: list[Any], now: float, during_run: bool) -> None:
        keep = self.session.keep
        for ev in events:
            if not keep(ev):
                continue
            if not self.batch:
                self.busy_only = during_run
            elif not during_run:
                self.busy_only = False
            if ev.mask & Mask.Q_OVERFLOW:
                self.batch.add(None, ["Q_OVERFLOW"], now)
                continue
            src = ev.src_pathname
            self.batch.add(
                os.fsdecode(ev.pathname),
                mask_names(ev.mask),
                now,
                None if src is None else os.fsdecode(src),
            )

    def on_exit(self) -> None:
        """The command ended: what it did until then is in the kernel queue;
        hand it all over before deciding (its last writes are busy ones)."""
        events, _ = self.session.read_rest(0.5)
        if self.mode != "ignore":
            self.collect(events, time.monotonic(), during_run=True)
        self.runner.reap()
        if self.mode == "queue" and self.batch and self.is_loop(self.batch):
            self.batch = Batch()  # decided now: an outside change next is a batch of its own

    # --- the loop ---------------------------------------------------------------

    def take(self, events: list[Any]) -> None:
        """Collect *events* as the mode says."""
        now = time.monotonic()
        runner = self.runner
        busy = runner.proc is not None
        if busy and self.mode == "ignore":
            return
        if busy and self.mode == "restart" and now - runner.started < self.debounce:
            return  # start-up writes of the command just (re)started
        self.collect(events, now, during_run=busy and self.mode == "queue")

    def run(self) -> None:
        runner = self.runner
        while True:
            if runner.proc is not None and not runner.running:
                self.on_exit()
            now = time.monotonic()
            if not self.session.watcher.watches:
                if not self.rewatch():
                    return
                continue
            deadline = None
            if self.batch and (runner.proc is None or self.mode == "restart"):
                deadline = self.batch.due(self.debounce, self.cap)
                if now >= deadline:
                    batch, self.batch = self.batch, Batch()
                    runner.stop()
                    self.start(batch)
                    continue
            reason, events = self.session.read(deadline, until=self._ready)
            if reason == "signal":
                return
            self.take(events)

    def _ready(self) -> bool:
        """Something to do besides events: the last watch gone, or the command
        exited (SIGCHLD pokes the wait)."""
        runner = self.runner
        exited = runner.proc is not None and not runner.running
        return exited or not self.session.watcher.watches

    def rewatch(self) -> bool:
        """The last watch is gone: say so, wait for the PATHs, watch them again.
        False on a stop signal."""
        roots = self.session.roots.paths
        names = ", ".join(printable(p) for p in roots)
        self.runner.say(f"no watch remains ({names} gone): watching again when it reappears")
        while not all(os.path.exists(p) for p in roots):
            if self.runner.proc is not None and not self.runner.running:
                self.runner.reap()
            if self.waiter.sleep(_LOOK_AGAIN) == "signal":
                return False
        self.session.close()
        if self.session.open() is None:
            return False
        self.runner.say(f"watching {names} again")
        now = time.monotonic()
        for p in roots:
            self.batch.add(p, ["CREATE"], now)
        self.busy_only = False
        return True


def _paths(n: int) -> str:
    return "1 path" if n == 1 else f"{n} paths"
