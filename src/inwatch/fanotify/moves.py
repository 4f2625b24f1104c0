"""Pairing FAN_MOVED_FROM with FAN_MOVED_TO where FAN_RENAME is missing (pure).

Before Linux 5.17 (or with ``FanotifyBackend(rename=False)``) a rename is two
records, as with inotify, but fanotify has no cookie. What the kernel does
(fsnotify_move): one ``rename(2)`` queues FAN_MOVED_FROM on the old directory
and then FAN_MOVED_TO on the new one, back to back; another process's event
may slip in between, and a reader may read between the two. Unread records of
one object and name are merged, so a half may come inside an earlier record
(``CREATE|MOVED_FROM``: created, then moved away).

The halves are paired by the moved object's identity: its file handle when the
group reports it (FAN_REPORT_TARGET_FID, 5.17), else by the process that did
the rename (``pid`` and whether it is a directory: one process's rename is one
system call, so its two halves follow each other in its own sequence).

The rule for a half left alone is inotify's (``inwatch/inotify/moves.py``,
restated here because backends do not import each other): a departure is
*gone* once a read that started at least ``window`` seconds after the read
that brought it has been processed without its arrival; an arrival without a
departure came from where nothing was watched. With a filesystem mark both
halves are always queued (both directories are on the marked filesystem), so
a lone half means a queue overflow or a read between the two.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from ..event import Event
from .actors import Capture
from .handles import unresolved_path
from .roots import _join, typed
from .wire import RawEvent, key_fsid

__all__ = ["MOVE_WINDOW", "Halves", "MovePairer"]

T = TypeVar("T")
Key = object

MOVE_WINDOW = 0.002


class MovePairer(Generic[T]):
    """Departures (identity -> item) waiting for their arrival."""

    __slots__ = ("_pending", "window")

    def __init__(self, window: float = MOVE_WINDOW) -> None:
        self.window = window
        self._pending: dict[Key, tuple[float, T]] = {}

    def __len__(self) -> int:
        return len(self._pending)

    def depart(self, key: Key, item: T, read_at: float) -> T | None:
        """A MOVED_FROM brought by the read that started at *read_at*. Returns
        an earlier departure of the same identity, now settled as gone (the
        same object or process cannot be in two renames at once)."""
        old = self._pending.pop(key, None)
        self._pending[key] = (read_at + self.window, item)
        return None if old is None else old[1]

    def arrive(self, key: Key) -> T | None:
        """The departure of this identity, or ``None`` if it came from outside."""
        found = self._pending.pop(key, None)
        return None if found is None else found[1]

    def gone(self, horizon: float) -> list[T]:
        """Departures settled as moved away, given that every read started
        before *horizon* has been processed; oldest first."""
        if not self._pending:
            return []
        out = [k for k, (due, _) in self._pending.items() if due <= horizon]
        return [self._pending.pop(k)[1] for k in out]

    def flush(self) -> list[T]:
        """Every departure, oldest first (the queue overflowed: none will pair)."""
        out = [item for _, item in self._pending.values()]
        self._pending.clear()
        return out

    def deadline(self) -> float | None:
        """When a read must start to settle the oldest departure."""
        if not self._pending:
            return None
        return min(due for due, _ in self._pending.values())


class Halves:
    """Turns FAN_MOVED_FROM/FAN_MOVED_TO records into what one FAN_RENAME
    record would have given (:meth:`Core._rename`), at the MOVED_TO's place in
    the stream. A merged record is split in the order a name's life takes:
    created, arrived, used, left, deleted."""

    def __init__(self, core: Any) -> None:
        self.core = core
        self.pairer: MovePairer[tuple[RawEvent, Any]] = MovePairer()

    def record(
        self,
        ev: RawEvent,
        caps: list[Capture | None],
        drain: int,
        now: float,
        started: float,
        out: list[Event[Any]],
    ) -> None:
        mask = ev.mask
        flags = mask & _FLAGS
        one = self.core._one
        if mask & _BEFORE:
            one(ev._replace(mask=(mask & _BEFORE) | flags), caps, drain, now, out)
        if mask & _MOVED_TO:
            found = self.pairer.arrive(_key(ev))
            if found is not None:
                dep, actor = found
                joined = RawEvent(
                    _RENAME | (mask & _ONDIR),
                    ev.pid,
                    ev.fd,
                    ev.fid,
                    old_dir=dep.dir,
                    old_name=dep.name,
                    new_dir=ev.dir,
                    new_name=ev.name,
                )
                self.core._rename(joined, caps, drain, now, out, actor)
            else:
                self._arrived(ev, caps, drain, now, out)
        if mask & _MIDDLE:
            one(ev._replace(mask=(mask & _MIDDLE) | flags), caps, drain, now, out)
        if mask & _MOVED_FROM:
            actor = self.core._actor(ev, caps, drain)
            old = self.pairer.depart(_key(ev), (ev, actor), started)
            if old is not None:
                self._departed(*old, now, out)
        if mask & _AFTER:
            one(ev._replace(mask=(mask & _AFTER) | flags), caps, drain, now, out)

    def settle(self, horizon: float, now: float, out: list[Event[Any]]) -> None:
        """Departures no arrival can pair any more: moved away."""
        for ev, actor in self.pairer.gone(horizon):
            self._departed(ev, actor, now, out)

    def flush(self, now: float, out: list[Event[Any]]) -> None:
        for ev, actor in self.pairer.flush():
            self._departed(ev, actor, now, out)

    def _arrived(
        self,
        ev: RawEvent,
        caps: list[Capture | None],
        drain: int,
        now: float,
        out: list[Event[Any]],
    ) -> None:
        """A FAN_MOVED_TO without its MOVED_FROM: moved in from the unknown."""
        core = self.core
        if ev.dir is None:
            return
        is_dir = bool(ev.mask & _ONDIR)
        name = ev.name or b""
        dst_dir = core.paths.dir_path(ev.dir) or unresolved_path(ev.dir)
        if ev.fid is not None:
            core.paths.learn(ev.fid, ev.dir, name, is_dir)
        elif is_dir:
            core.paths.moved_unknown()
        dst = _join(dst_dir, name)
        core._snap_created(dst_dir, name, is_dir)
        root = core._root_for(dst, key_fsid(ev.dir), _MOVED_TO)
        if root is None or ev.pid == core.own_pid:
            return
        p, n, full = typed(root, dst_dir, name, dst)
        isdir = _ISDIR if is_dir else 0
        actor = core._actor(ev, caps, drain)
        out.append(Event(root.id, _MOVED_TO | isdir, 0, n, p, None, "kernel", now, actor, full))
        if is_dir and root.recursive:
            core._scan_moved_in(root, dst, now, out)

    def _departed(self, ev: RawEvent, actor: Any, now: float, out: list[Event[Any]]) -> None:
        """A FAN_MOVED_FROM no MOVED_TO came for: moved away to the unknown."""
        core = self.core
        if ev.dir is None:
            return
        name = ev.name or b""
        src_dir = core.paths.dir_path(ev.dir) or unresolved_path(ev.dir)
        core._snap_deleted(src_dir, name)
        if ev.mask & _ONDIR:
            if ev.fid is not None:
                core.paths.moved_away(ev.fid)
            else:
                core.paths.moved_unknown()
        src = _join(src_dir, name)
        root = core._root_for(src, key_fsid(ev.dir), _MOVED_FROM)
        if root is None or ev.pid == core.own_pid:
            return
        p, n, full = typed(root, src_dir, name, src)
        isdir = _ISDIR if ev.mask & _ONDIR else 0
        out.append(Event(root.id, _MOVED_FROM | isdir, 0, n, p, None, "kernel", now, actor, full))


def _key(ev: RawEvent) -> Key:
    # The moved object's handle when reported (TARGET_FID), else the process.
    return ev.fid if ev.fid is not None else (ev.pid, bool(ev.mask & _ONDIR))


_MOVED_FROM, _MOVED_TO, _CREATE = 0x40, 0x80, 0x100
_RENAME, _ONDIR, _ISDIR = 0x10000000, 0x40000000, 0x40000000
_BEFORE = _CREATE
_MIDDLE = 0x1 | 0x2 | 0x4 | 0x8 | 0x10 | 0x20 | 0x1000  # access .. open, exec
_AFTER = 0x800 | 0x200 | 0x400  # MOVE_SELF, DELETE, DELETE_SELF
_FLAGS = ~(_BEFORE | _MOVED_TO | _MIDDLE | _MOVED_FROM | _AFTER) & 0xFFFFFFFFFFFFFFFF
