"""The child of ``inwatch run``: one command at a time, in its own process group,
never outliving inwatch.

- **Process group, same session.** The command runs in a new process group
  (so stopping it reaches its whole tree: ``killpg``) but stays in inwatch's
  session, so it keeps the controlling terminal: ``sudo``, ``ssh`` and ``git``
  can prompt, ``less`` and debuggers work. (A new session, ``setsid``, would
  detach it from the terminal.) The group is made in the child before exec:
  ``process_group=0`` on Python 3.11+, ``setpgid(0, 0)`` in ``preexec_fn`` on 3.10.
  A background process group that reads the terminal gets SIGTTIN: commands
  that need the keyboard should be run with ``inwatch`` in the foreground.
- **Never an orphan.** In the child, ``prctl(PR_SET_PDEATHSIG, SIGTERM)`` makes
  the kernel send it SIGTERM when the thread that forked it ends -- also when
  inwatch is SIGKILLed. Children are always started from the main thread, which
  lives as long as inwatch. (The signal goes to the direct child; the rest of
  its group is reached by the ``killpg`` of :meth:`Runner.stop` on every normal
  exit.)
- **Stopping**: SIGTERM to the group, ``--grace`` seconds, then SIGKILL, waited
  for in the one wait (a SIGINT meanwhile is seen; a second one aborts).
"""

from __future__ import annotations

import ctypes
import os
import shlex
import signal
import subprocess
import sys
import time
from typing import Any

from .args import CliError
from .format import printable
from .wait import Waiter

__all__ = ["Runner", "describe_status"]

_PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True)  # dlopen(NULL): libc without an ldconfig subprocess
# Looked up once here: after fork, the child must not take import or ctypes locks.
_prctl = _libc.prctl
_prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
_prctl.restype = ctypes.c_int


def _in_child() -> None:
    """Runs in the child between fork and exec: only async-signal-safe calls."""
    _prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
    if sys.version_info < (3, 11):
        os.setpgid(0, 0)


def describe_status(code: int) -> str:
    """``exit status 3`` or ``killed by SIGKILL`` (Popen's -9)."""
    if code >= 0:
        return f"exit status {code}"
    try:
        name = signal.Signals(-code).name
    except ValueError:
        name = f"signal {-code}"
    return f"killed by {name}"


class Runner:
    """One child command at a time, in its own process group."""

    def __init__(self, command: list[str], grace: float, quiet: bool, waiter: Waiter) -> None:
        self.command = command
        self.grace = grace
        self.quiet = quiet
        self.waiter = waiter
        self.proc: subprocess.Popen[bytes] | None = None
        self.started = 0.0
        self.ended = 0.0
        self.groups: list[int] = []  # every group started, for close()

    def say(self, text: str) -> None:
        if not self.quiet:
            sys.stderr.write(f"inwatch run: {text}\n")
            sys.stderr.flush()

    @property
    def running(self) -> bool:
        """The command has not exited yet (an exit is announced by :meth:`reap`)."""
        return self.proc is not None and self.proc.poll() is None

    def reap(self) -> bool:
        """Say how the command that exited ended, and forget it; True if it had."""
        if self.proc is not None and self.proc.poll() is not None:
            self.say(describe_status(self.proc.returncode))
            self.proc = None
            self.ended = time.monotonic()
            return True
        return False

    def start(self, env: dict[str, str], what: str) -> None:
        self.say(f"running {printable(shlex.join(self.command))} ({what})")
        kwargs: dict[str, Any] = {"preexec_fn": _in_child}
        if sys.version_info >= (3, 11):
            kwargs["process_group"] = 0
        try:
            self.proc = subprocess.Popen(self.command, env={**_base_env(), **env}, **kwargs)
        except OSError as exc:
            raise CliError(f"cannot run {printable(self.command[0])!r}: {exc.strerror}") from None
        self.started = time.monotonic()
        self.groups.append(self.proc.pid)

    def close(self) -> None:
        """At inwatch's exit: stop the command, and SIGTERM what earlier runs
        left running in their groups (a command's background jobs)."""
        self.stop()
        for pgid in self.groups:
            if _group_alive(pgid):
                _killpg(pgid, signal.SIGTERM)
        self.groups.clear()

    def stop(self) -> None:
        """SIGTERM to the whole group, *grace* seconds, then SIGKILL."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        pgid = proc.pid
        _killpg(pgid, signal.SIGTERM)
        deadline = time.monotonic() + self.grace
        step = 0.01
        try:
            while time.monotonic() < deadline:
                if proc.poll() is not None and not _group_alive(pgid):
                    break
                # The one wait, in short steps: a child's exit pokes nobody.
                self.waiter.wait(min(deadline, time.monotonic() + step), stop=False)
                step = min(step * 2, 0.1)
        finally:  # also when a second signal aborts the grace period
            _killpg(pgid, signal.SIGKILL)
            proc.wait()
            self.ended = time.monotonic()
        self.say(f"stopped ({describe_status(proc.returncode)})")


def _base_env() -> dict[str, str]:
    """inwatch's environment without what a previous run's variables could leave."""
    env = dict(os.environ)
    for k in ("INWATCH_CHANGED", "INWATCH_CHANGED_TRUNCATED"):
        env.pop(k, None)
    return env


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
