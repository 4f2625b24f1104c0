"""pid -> :class:`~inwatch.event.Actor`, never lending one process's identity to another.

Two sources, each exact about one thing:

- **At read time** (:meth:`Actors.capture`, called by the reader right after
  ``read``): each event carries a pidfd (FAN_REPORT_PIDFD, 5.15) if its process
  was still alive when read. A pidfd names one process, not a pid number, so a
  reused pid cannot fool it: ``ioctl(PIDFD_GET_INFO)`` (6.13) returns that
  process's credentials, or fails once it has been reaped; ``/proc/<pid>`` is read
  *before* that check, so if the check passes the pid was not reused in between.
  The pidfds are closed at once (a storm must not fill the fd table): the value
  in each PIDFD record of the buffer is rewritten to an index into that read's
  captures, which :meth:`Actors.take` hands to the processing side.
- **As it happens** (:mod:`.proc`): the proc connector's fork/exec/uid/exit
  events, and fanotify's own FAN_OPEN_EXEC events, which name the executable of
  every ``execve`` in event order (before the program runs). An event of a
  process that had exited before the read is attributed through them.

The rules, where ``k`` is how many programs fanotify saw the process's
generation exec before this event and ``n`` how many execs the connector has
reported for it so far:

- ``k == n``: every exec happened before the event, so the event belongs to the
  latest epoch: its uid/gid if they did not change in it, its executable the last
  one seen (``exe0``, inherited from the parent, if it never exec'd);
- otherwise the epoch is unknown: the uid only if it never changed, no exe;
- several generations of the pid in the window, or an unknown or untrusted one
  (the connector overflowed): nothing from the table; a live capture, if any,
  is used as it was read.

An ELF interpreter (``ld-linux*.so*``) is opened for exec right after the
program: it is not counted. A script's ``#!`` interpreter is (two opens for one
exec): then ``k > n`` and nothing uncertain is claimed.
"""

from __future__ import annotations

import os
import struct
import threading
from typing import NamedTuple

from ..event import Actor, ActorStatus
from . import _sys
from .proc import ProcConnector, ProcTable, _read_ids
from .wire import pidfd_slots

__all__ = ["Actors", "Capture", "is_interpreter"]

_STRUCT_I32 = struct.Struct("=i")


class Capture(NamedTuple):
    """A live process as read: its credentials are exact (pidfd-checked)."""

    pid: int
    uid: int
    gid: int
    comm: str | None
    exe: str | None


def is_interpreter(name: bytes) -> bool:
    """Whether an executable name is a dynamic loader (``ld-linux-x86-64.so.2``,
    ``ld64.so.1``, ``ld-musl-x86_64.so.1``)."""
    return (name.startswith(b"ld-") or name.startswith(b"ld64.")) and b".so" in name


def _hidden() -> Actor:
    return Actor(0, None, None, None, None, "hidden")


class Actors:
    """Identities of the processes behind events."""

    def __init__(self, *, connector: bool = True) -> None:
        self._lock = threading.Lock()
        self.table: ProcTable | None = None
        self._conn: ProcConnector | None = None
        self.why_no_connector = "not asked for"
        if connector:
            try:
                self._conn = ProcConnector()
            except OSError as e:
                self.why_no_connector = f"proc connector unavailable: {e}"
            else:
                self.table = ProcTable()
                self.table.scan()
                self.table.apply(*self._conn.drain())
                self.why_no_connector = ""
        self.own_pid = os.getpid()

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def connector_fd(self) -> int | None:
        """The proc connector's socket (to be polled with the group), if any."""
        return self._conn.fileno() if self._conn is not None else None

    @property
    def lost(self) -> int:
        """How many times the proc connector overflowed."""
        return self._conn.lost if self._conn is not None else 0

    # --- reader side ----------------------------------------------------------

    def capture(self, buf: bytearray, caps: list[Capture | None]) -> None:
        """Right after a read: identify every pidfd of *buf*, close it and
        rewrite it to an index into *caps* (appended to)."""
        slots = [(off, pid, pidfd) for off, pid, pidfd in pidfd_slots(buf) if pidfd >= 0]
        # (FAN_NOPIDFD / FAN_EPIDFD, negative, stay as they are: nothing to capture.)
        seen: dict[int, int] = {}
        try:
            for off, pid, pidfd in slots:
                # Within one read a pid names one process: two live processes
                # cannot hold the same pid at once.
                idx = seen.get(pid)
                if idx is None:
                    idx = seen[pid] = len(caps)
                    caps.append(_capture(pidfd, pid))
                _STRUCT_I32.pack_into(buf, off, idx)
        finally:
            # Every pidfd the read installed is closed, whatever happened.
            for _off, _pid, pidfd in slots:
                os.close(pidfd)

    def replay(self) -> int:
        """After the fanotify read: replay the proc connector; the drain number
        to attribute that read's events with (0 without a connector). Draining
        *after* the read means every fork/exec/uid change that preceded an event
        of the read is in the table."""
        with self._lock:
            if self._conn is None or self.table is None:
                return 0
            self.table.apply(*self._conn.drain())
            return self.table.drain_no

    # --- processing side ------------------------------------------------------

    def saw_exec(self, pid: int, exe: bytes, name: bytes, drain: int) -> None:
        """A FAN_OPEN_EXEC of *exe* by *pid*, in event order."""
        if self.table is None or is_interpreter(name):
            return
        with self._lock:
            gen = self.table.candidate(pid, drain)
            if gen is not None:
                gen.fan_execs.append(exe)

    def actor(self, pid: int, cap: Capture | None, drain: int) -> Actor:
        """Who caused an event of *pid* read with drain number *drain*."""
        if pid <= 0:
            return _hidden()
        status: ActorStatus = "ok" if cap is not None else "exited"
        table = self.table
        if table is not None:
            with self._lock:
                gen = table.candidate(pid, drain)
                if gen is not None and gen.trusted:
                    n = len(gen.epochs) - 1
                    k = len(gen.fan_execs)
                    exe_b: bytes | None = None
                    if k == n:
                        ids = gen.epochs[n]
                        exe_b = gen.fan_execs[-1] if k else gen.exe0
                    else:
                        first = gen.epochs[0]
                        ids = first if all(e == first for e in gen.epochs) else None
                    exe = os.fsdecode(exe_b) if exe_b is not None else None
                    comm = (
                        cap.comm if cap is not None and exe is not None and cap.exe == exe else None
                    )
                    if ids is None:
                        return Actor(pid, None, None, comm, exe, status)
                    return Actor(pid, ids[0], ids[1], comm, exe, status)
        if cap is not None:
            return Actor(pid, cap.uid, cap.gid, cap.comm, cap.exe, "ok")
        return Actor(pid, None, None, None, None, "exited")


def _capture(pidfd: int, pid: int) -> Capture | None:
    comm: str | None
    exe: str | None
    try:
        with open(f"/proc/{pid}/comm", "rb") as f:
            comm = os.fsdecode(f.read().rstrip(b"\n"))
    except OSError:
        comm = None
    try:
        exe = os.readlink(f"/proc/{pid}/exe")
    except OSError:
        exe = None  # a zombie, or a kernel thread
    info = _sys.pidfd_info(pidfd)  # after the /proc reads: see the module doc
    if info is not None:
        return Capture(pid, info.euid, info.egid, comm, exe)
    # No PIDFD_GET_INFO (kernel < 6.13), or reaped: /proc, checked by the pidfd.
    ids = _read_ids(f"/proc/{pid}/status")
    if ids is None or not _sys.pidfd_alive(pidfd):
        return None
    return Capture(pid, ids[0], ids[1], comm, exe)
