"""Who each process is, from the kernel's process-events connector.

A short-lived writer (``touch`` lives about a millisecond) has exited, and been
reaped, before a listener reads its event: fanotify then gives its pid but no
pidfd, and ``/proc/<pid>`` is gone or, worse, belongs to a newer process with
the same pid. What was true of it must therefore be learned while it happens.
The proc connector (``NETLINK_CONNECTOR``, ``CN_IDX_PROC``; root only: it needs
CAP_NET_ADMIN) multicasts, synchronously from the syscall that caused it:

- FORK (parent tgid, child pid/tgid): a child starts with its parent's
  credentials and executable;
- EXEC (pid): a new program; the credentials stay unless it was set-id;
- UID / GID (ruid+euid / rgid+egid): ``setuid`` and friends;
- EXIT (pid, tgid): the process is gone (its pid may be reused).

:class:`ProcTable` replays these into *generations*: one per process lifetime
of a pid. Each generation splits into *epochs* at every EXEC, and an epoch's
uid/gid is certain only if it did not change inside it. The table knows
nothing of fanotify: :mod:`.actors` decides which generation and epoch an event
belongs to. Processes alive at start come from one ``/proc`` scan.

If the socket overflows (ENOBUFS: events lost), every generation alive then is
marked *untrusted*: what was learned about it may be incomplete, so it lends
nothing; processes forked afterwards by trusted parents are trusted again.
"""

from __future__ import annotations

import errno
import os
import socket
import struct
import time

__all__ = ["Gen", "ProcConnector", "ProcTable", "parse_proc_events"]

_NETLINK_CONNECTOR = 11
_CN_IDX_PROC = 1
_CN_VAL_PROC = 1
_PROC_CN_MCAST_LISTEN = 1
_NLMSG_DONE = 3
_NLMSG = struct.Struct("=IHHII")  # len, type, flags, seq, pid
_CN_MSG = struct.Struct("=IIIIHH")  # idx, val, seq, ack, len, flags
_EV_HEAD = struct.Struct("=IIQ")  # what, cpu, timestamp_ns

FORK, EXEC, UID, GID, EXIT = 0x1, 0x2, 0x4, 0x40, 0x80000000

# Parsed event: (what, pid, tgid, a, b) where for FORK a=parent tgid, pid/tgid
# the child's; for UID/GID a=real, b=effective id; otherwise a=b=0.
ProcEvent = tuple[int, int, int, int, int]
_FOUR = struct.Struct("=IIII")


def parse_proc_events(buf: bytes) -> list[ProcEvent]:
    """The proc-connector events in one netlink datagram (pure)."""
    out: list[ProcEvent] = []
    off = 0
    while off + _NLMSG.size <= len(buf):
        nlen = _NLMSG.unpack_from(buf, off)[0]
        if nlen < _NLMSG.size or off + nlen > len(buf):
            break
        body = off + _NLMSG.size
        if nlen >= _NLMSG.size + _CN_MSG.size + _EV_HEAD.size + 16:
            idx, val = _CN_MSG.unpack_from(buf, body)[:2]
            if idx == _CN_IDX_PROC and val == _CN_VAL_PROC:
                ev = body + _CN_MSG.size
                what = _EV_HEAD.unpack_from(buf, ev)[0]
                a0, a1, a2, a3 = _FOUR.unpack_from(buf, ev + _EV_HEAD.size)
                if what == FORK:
                    out.append((FORK, a2, a3, a1, 0))
                elif what in (UID, GID):
                    out.append((what, a0, a1, a2, a3))
                elif what in (EXEC, EXIT):
                    out.append((what, a0, a1, 0, 0))
        off += (nlen + 3) & ~3
    return out


class ProcConnector:
    """A subscribed proc-connector socket (non-blocking). Raises ``OSError``
    (EPERM/EACCES) where the process may not listen (not root, another network
    namespace)."""

    def __init__(self, rcvbuf: int = 8 << 20) -> None:
        sock = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, _NETLINK_CONNECTOR)
        try:
            try:
                sock.setsockopt(socket.SOL_SOCKET, 33, rcvbuf)  # SO_RCVBUFFORCE (root)
            except OSError:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            sock.bind((0, _CN_IDX_PROC))
            op = struct.pack("=I", _PROC_CN_MCAST_LISTEN)
            cn = _CN_MSG.pack(_CN_IDX_PROC, _CN_VAL_PROC, 0, 0, len(op), 0) + op
            nl = _NLMSG.pack(_NLMSG.size + len(cn), _NLMSG_DONE, 0, 0, os.getpid()) + cn
            sock.send(nl)
            sock.setblocking(False)
        except BaseException:
            sock.close()
            raise
        self._sock = sock
        self.lost = 0
        """How many times the socket overflowed (ENOBUFS)."""

    def fileno(self) -> int:
        return self._sock.fileno()

    def drain(self) -> tuple[list[ProcEvent], bool]:
        """Every queued event, and whether some were lost since the last drain."""
        out: list[ProcEvent] = []
        lost = False
        recv = self._sock.recv
        while True:
            try:
                data = recv(65536)
            except BlockingIOError:
                return out, lost
            except OSError as e:
                if e.errno == errno.ENOBUFS:
                    self.lost += 1
                    lost = True
                    continue
                raise
            out.extend(parse_proc_events(data))

    def close(self) -> None:
        self._sock.close()


class Gen:
    """One lifetime of a pid."""

    __slots__ = (
        "born",
        "cur",
        "died",
        "epochs",
        "exe0",
        "fan_execs",
        "pid",
        "scanned",
        "trusted",
    )

    def __init__(
        self, pid: int, ids: tuple[int, int] | None, exe0: bytes | None, born: int, trusted: bool
    ) -> None:
        self.pid = pid
        self.cur = ids
        """(euid, egid) now, ``None`` if unknown."""
        self.epochs: list[tuple[int, int] | None] = [ids]
        """Per epoch: the (euid, egid) it had throughout, or ``None`` (changed or unknown)."""
        self.exe0 = exe0
        """The executable of epoch 0 (inherited at fork, or read at start-up)."""
        self.fan_execs: list[bytes] = []
        """Programs fanotify saw this generation exec, in event order."""
        self.born = born
        self.died: int | None = None
        """Drain number whose events included the exit."""
        self.trusted = trusted
        self.scanned = False
        """Read from ``/proc`` by a scan, not born of a fork we saw."""

    def exe_now(self) -> bytes | None:
        """The executable of the latest epoch, when certain."""
        if len(self.epochs) == 1:
            return self.exe0
        if len(self.fan_execs) == len(self.epochs) - 1:
            return self.fan_execs[-1]
        return None


class ProcTable:
    """Generations per pid, replayed from proc-connector events."""

    def __init__(self, keep_seconds: float = 60.0) -> None:
        self._gens: dict[int, list[Gen]] = {}
        self._dead: list[tuple[float, Gen]] = []
        self._keep = keep_seconds
        self.drain_no = 0

    def scan(self, proc: str = "/proc") -> None:
        """Seed with every process alive now (call after subscribing, so nothing
        born during the scan is missed). After a loss, the same scan starts new,
        trusted generations for every living process (see :meth:`apply`)."""
        d = self.drain_no
        for name in os.listdir(proc):
            if not name.isdigit():
                continue
            pid = int(name)
            ids = _read_ids(f"{proc}/{name}/status")
            try:
                exe: bytes | None = os.readlink(f"{proc}/{name}/exe".encode())
            except OSError:
                exe = None
            if ids is None:
                continue
            g = Gen(pid, ids, exe, d, True)
            g.scanned = True
            self._gens.setdefault(pid, []).append(g)

    def apply(self, events: list[ProcEvent], lost: bool, proc: str = "/proc") -> None:
        """Replay one drain's events (in order). If some were *lost*, nothing
        known can be trusted: every living generation is retired (untrusted,
        and treated as ended now, so it leaves the candidate window in two
        drains) and ``/proc`` is scanned again for fresh ones."""
        self.drain_no += 1
        d = self.drain_no
        if lost:
            for old in self._gens.values():
                for stale in old:
                    stale.trusted = False
        for what, pid, tgid, a, b in events:
            if what == FORK:
                if pid != tgid:
                    continue  # a new thread, not a new process
                parent = self.current(a)
                gens = self._gens.setdefault(pid, [])
                if gens and gens[-1].died is None and gens[-1].scanned:
                    continue  # seen alive by a scan that raced its fork: the same process
                if parent is not None:
                    born = Gen(pid, parent.cur, parent.exe_now(), d, parent.trusted)
                else:
                    born = Gen(pid, None, None, d, False)
                gens.append(born)
            elif what == EXEC:
                g = self.current(tgid)
                if g is not None:
                    g.epochs.append(g.cur)
            elif what in (UID, GID):
                g = self.current(tgid)
                if g is not None and g.cur is not None:
                    new = (b, g.cur[1]) if what == UID else (g.cur[0], b)
                    if new != g.cur:
                        g.cur = new
                        g.epochs[-1] = None
            elif what == EXIT and pid == tgid:
                g = self.current(tgid)
                if g is not None:
                    g.died = d
                    self._dead.append((time.monotonic(), g))
        if lost:
            for gens in self._gens.values():
                for g in gens:
                    if g.died is None:
                        g.died = d
                        self._dead.append((time.monotonic(), g))
            self.scan(proc)
        self._prune()

    def current(self, pid: int) -> Gen | None:
        """The living generation of *pid*, if known."""
        gens = self._gens.get(pid)
        if gens and gens[-1].died is None:
            return gens[-1]
        return None

    def candidate(self, pid: int, drain: int) -> Gen | None:
        """The one generation of *pid* that can have caused an event read just
        before drain number *drain*, or ``None`` if none or several can.

        An event in read *d* was queued after read *d-1* finished, so a
        generation whose exit was drained at *d-2* or earlier had gone before it,
        and one whose fork was drained after *d* was born after it."""
        gens = self._gens.get(pid)
        if not gens:
            return None
        found = None
        for g in gens:
            if g.born > drain or (g.died is not None and g.died < drain - 1):
                continue
            if found is not None:
                return None  # the pid was reused inside the window: cannot tell
            found = g
        return found

    def _prune(self) -> None:
        dead = self._dead
        if not dead:
            return
        limit = time.monotonic() - self._keep
        i = 0
        while i < len(dead) and dead[i][0] < limit:
            g = dead[i][1]
            gens = self._gens.get(g.pid)
            if gens is not None and g in gens:
                gens.remove(g)
                if not gens:
                    del self._gens[g.pid]
            i += 1
        if i:
            del dead[:i]


def _read_ids(path: str) -> tuple[int, int] | None:
    try:
        with open(path, "rb") as f:
            text = f.read()
    except OSError:
        return None
    uid = gid = None
    for line in text.splitlines():
        if line.startswith(b"Uid:"):
            uid = int(line.split()[2])  # real, effective, saved, fs
        elif line.startswith(b"Gid:"):
            gid = int(line.split()[2])
    if uid is None or gid is None:
        return None
    return uid, gid
