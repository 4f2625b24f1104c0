"""fanotify records -> :class:`inwatch.Event`, filtered to the watched trees.

What the kernel does that this module relies on:

- A filesystem mark reports the whole filesystem: everything outside the
  watched trees is dropped here, by path.
- Events of one object are **merged** while unread: one record can hold
  CREATE|OPEN|MODIFY|CLOSE_WRITE of a file, its order lost (the kernel merges
  only records with the same object, name and pid; never FAN_RENAME). A merged
  record is expanded into one Event per bit in the order a file's life takes
  (:data:`ORDER`: created, opened, read, written, closed, moved away, deleted).
  Repeats are lost: counts are lower bounds.
- FAN_RENAME (5.17) is one record with the old and the new place (before
  5.17, or with ``rename=False``, the FAN_MOVED_FROM/FAN_MOVED_TO halves are
  paired into one, see :mod:`.moves`). It is delivered as inotify would: a move
  inside the watched set is MOVED_FROM then MOVED_TO with one cookie (made
  here: fanotify has none) and ``src_pathname`` on the MOVED_TO; out of it a
  MOVED_FROM; into it a MOVED_TO without ``src_pathname``.
- A record about a directory itself (OPEN of a directory, MOVE_SELF,
  DELETE_SELF) names it with the entry ``"."``; self events of non-directories
  come with the object's handle only.
- FAN_Q_OVERFLOW is one record without object: delivered as ``Q_OVERFLOW``
  (``wd`` -1, empty path), then each tree's :mod:`.rescan`.
- ``metadata.pid`` is the process (thread group); 0 when the kernel hides it.
  Records of our own pid (our listings, our rescan, our journal) are used to
  keep the path cache current and never delivered (with ``own_pid`` -1, for
  tests acting in-process, only our reads of directories are dropped).

Events carry as ``wd`` the id of the root they were reported for (what
``add`` returned; -1 for Q_OVERFLOW), and a ``cookie`` only on a move's pair.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from typing import Any

from ..event import Event
from . import rescan
from .actors import Actors, Capture
from .handles import PathCache, unresolved_path
from .moves import Halves
from .roots import Root, typed
from .wire import RawEvent, key_fsid

__all__ = ["EXEC", "ORDER", "Core", "Root", "kernel_mask"]

_ACCESS, _MODIFY, _ATTRIB, _CLOSE_WRITE, _CLOSE_NOWRITE, _OPEN = 0x1, 0x2, 0x4, 0x8, 0x10, 0x20
_MOVED_FROM, _MOVED_TO, _CREATE, _DELETE, _DELETE_SELF, _MOVE_SELF = (
    0x40,
    0x80,
    0x100,
    0x200,
    0x400,
    0x800,
)
_Q_OVERFLOW, _ISDIR = 0x4000, 0x40000000
_OPEN_EXEC, _RENAME, _ONDIR = 0x1000, 0x10000000, 0x40000000
EXEC = 0x1000
"""An inwatch mask bit only the fanotify backend reports: a file was executed
(FAN_OPEN_EXEC; inotify leaves this bit unused)."""

ORDER = (
    _CREATE,
    _MOVED_TO,
    _OPEN,
    EXEC,
    _ACCESS,
    _MODIFY,
    _ATTRIB,
    _CLOSE_WRITE,
    _CLOSE_NOWRITE,
    _MOVED_FROM,
    _MOVE_SELF,
    _DELETE,
    _DELETE_SELF,
)
_SELF = _DELETE_SELF | _MOVE_SELF
_MOVE = _MOVED_FROM | _MOVED_TO
_DIRENT = _CREATE | _DELETE | _MOVED_FROM | _MOVED_TO
_READS = _OPEN | _ACCESS | _CLOSE_NOWRITE | _ONDIR
_WANTED = sum(ORDER)
# Always asked of the kernel, whatever the roots want: the path cache and the
# snapshots follow creations, deletions and renames.
_INTERNAL = _CREATE | _DELETE | _RENAME | _ONDIR


def kernel_mask(mask: int, exec_too: bool, rename: bool = True) -> int:
    """The fanotify mask for an inwatch *mask* (the shared bits have the same
    values in both APIs; MOVED_FROM/MOVED_TO come from FAN_RENAME, or without
    *rename* from the two halves, paired by :mod:`.moves`)."""
    fan = (mask & _WANTED & ~(_MOVED_FROM | _MOVED_TO)) | _INTERNAL
    if not rename:
        fan = (fan & ~_RENAME) | _MOVED_FROM | _MOVED_TO
    if exec_too:
        fan |= _OPEN_EXEC
    return fan


class Core:
    """Turns parsed records into Events, keeping the path cache and snapshots."""

    def __init__(self, paths: PathCache, actors: Actors | None) -> None:
        self.paths = paths
        self.actors = actors
        self.roots: list[Root] = []  # longest path first
        self.own_pid = os.getpid()
        """Records of this pid are never delivered (-1: every pid's are)."""
        self.my_pid = os.getpid()
        """Even when our own records are delivered, our reads of directories are
        not: they are our listings, which inotify does not report either."""
        self.blind_since = time.time()
        self.overflows = 0
        self.unresolved = 0
        self._scanned: dict[bytes, int] = {}  # pathname -> batch of the scan that reported it
        self._batch = 0
        self._root_paths: dict[bytes, list[int]] = {}
        self._file_roots = False
        self._cookies = 0
        self._nested = False
        self.ignore_dir: Callable[[bytes, bytes], None] | None = None
        """Called with (handle key, path) of a directory found excluded (see .ignores)."""
        self.unignore_dir: Callable[[bytes], None] | None = None
        """Called with the handle key of a directory that may have been excluded."""
        self.halves: Halves | None = None
        """Set when renames come as two halves (no FAN_RENAME): their pairing."""
        self.gone: list[int] = []
        """Roots whose directory (or file) was deleted: the backend drops them."""

    def set_roots(self, roots: Iterable[Root]) -> None:
        self.roots = sorted(roots, key=lambda r: len(r.path), reverse=True)
        self._root_paths = {}
        for r in self.roots:
            self._root_paths.setdefault(r.path, []).append(r.id)
        self._file_roots = any(not r.is_dir for r in self.roots)
        self._nested = any(
            r is not o and (r.path == o.path or r.path.startswith(o.prefix))
            for r in self.roots
            for o in self.roots
            if o.is_dir
        )

    # --- one batch ----------------------------------------------------------

    def convert(
        self,
        raws: list[RawEvent],
        caps: list[Capture | None],
        drain: int,
        now: float,
        started: float | None = None,
    ) -> list[Event[Any]]:
        """One read's records (*started*: when that read began, monotonic)."""
        out: list[Event[Any]] = []
        self._batch += 1
        if self._scanned:
            old = self._batch - 2
            self._scanned = {p: b for p, b in self._scanned.items() if b >= old}
        self.paths.prime(raws)
        halves = self.halves
        for ev in raws:
            if ev.mask & _Q_OVERFLOW:
                if halves is not None:
                    halves.flush(now, out)  # their partners were dropped, if any
                out.extend(self._overflow(now))
                continue
            if ev.mask & _RENAME:
                self._rename(ev, caps, drain, now, out)
            elif halves is not None and ev.mask & _MOVE:
                halves.record(ev, caps, drain, now, started or 0.0, out)
            else:
                self._one(ev, caps, drain, now, out)
        if halves is not None and started is not None:
            halves.settle(started, now, out)
        self.blind_since = now
        return out

    def _actor(self, ev: RawEvent, caps: list[Capture | None], drain: int) -> Any:
        actors = self.actors
        if actors is None:
            return None
        cap = caps[ev.pidfd] if ev.pidfd is not None and 0 <= ev.pidfd < len(caps) else None
        return actors.actor(ev.pid, cap, drain)

    def _one(
        self,
        ev: RawEvent,
        caps: list[Capture | None],
        drain: int,
        now: float,
        out: list[Event[Any]],
    ) -> None:
        mask = ev.mask
        is_dir = mask & _ONDIR
        paths = self.paths
        name = ev.name or b""
        dkey = ev.dir
        if dkey is not None:
            dpath = paths.dir_path(dkey)
            if dpath is None:
                self.unresolved += 1
                dpath = unresolved_path(dkey)
            if name == b".":
                parent, name = dpath, b""  # the directory itself
            else:
                parent = dpath
                fid = ev.fid
                if fid is not None:
                    if mask & _CREATE:
                        paths.learn(fid, dkey, name, bool(is_dir))
                        self._snap_created(dpath, name, bool(is_dir))
                    elif mask & _DELETE:
                        paths.learn(fid, dkey, name, bool(is_dir))
                    elif not is_dir:
                        paths.learn(fid, dkey, name, False)
                    if mask & _DELETE:
                        paths.deleted(fid)
                        self._snap_deleted(dpath, name)
        elif ev.fid is not None:
            if not is_dir and not mask & ~_SELF and not self._file_roots:
                return  # a file's own move/deletion: never reported inside trees
            fpath = paths.file_path(ev.fid)
            if fpath is None:
                self.unresolved += 1
                fpath = unresolved_path(ev.fid)
            parent, name = fpath, b""
        else:
            return  # nothing names an object (an FS_ERROR without FID): not ours
        pathname = _join(parent, name) if name else parent
        if mask & _DELETE_SELF and pathname in self._root_paths:
            self.gone.extend(self._root_paths[pathname])  # whoever deleted it
        if mask & _OPEN_EXEC and self.actors is not None:
            self.actors.saw_exec(ev.pid, pathname, name or os.path.basename(parent), drain)
        if ev.pid == self.own_pid:
            return
        if is_dir and not mask & ~_READS and ev.pid == self.my_pid and not name:
            return  # our own listing of a directory (a rescan, a scan of a moved-in tree)
        root = self._root_for(pathname, key_fsid(dkey if dkey is not None else ev.fid or b""))
        if root is None:
            fid, ignore = ev.fid, self.ignore_dir
            if mask & _CREATE and is_dir and fid and ignore and self.excluded(pathname):
                ignore(fid, pathname)  # a new excluded directory
            return
        if mask & _CREATE and self._scanned and self._seen_by_scan(pathname):
            mask &= ~_CREATE
        if self._nested:
            # Nested roots (add(tree) and add(tree/sub, mask=...)): each keeps
            # its own options; a bit goes to the innermost root that asks for it.
            taken = 0
            for r in self.roots:
                if r.rel(pathname) is not None:
                    bits = self._bits(r, mask & ~taken, pathname, bool(is_dir))
                    taken |= bits
                    self._emit(r, bits, ev, caps, drain, now, parent, name, pathname, out)
            return
        # One root (the hot path: no call, no list).
        bits = mask & root.mask
        if bits & _SELF and not is_dir and pathname != root.path:
            bits &= ~_SELF  # files inside a tree: inotify reports no *_SELF for them
        if not root.is_dir:
            bits &= ~_DIRENT  # a watched file gets none of its directory's entry events
        if bits:
            self._emit(root, bits, ev, caps, drain, now, parent, name, pathname, out)

    def _emit(
        self,
        root: Root,
        bits: int,
        ev: RawEvent,
        caps: list[Capture | None],
        drain: int,
        now: float,
        parent: bytes,
        name: bytes,
        pathname: bytes,
        out: list[Event[Any]],
    ) -> None:
        """One Event per bit of *bits*, in life order, for *root*."""
        if not bits:
            return
        actor = self._actor(ev, caps, drain)
        isdir = _ISDIR if ev.mask & _ONDIR else 0
        if not root.is_dir:
            parent, name = pathname, b""  # a watched file: inotify's path/name for it
        p, n, full = typed(root, parent, name, pathname)
        rid = root.id
        for bit in ORDER:
            if bits & bit:
                # inotify sets no ISDIR on DELETE_SELF/MOVE_SELF: nor do we.
                flag = 0 if bit & _SELF else isdir
                out.append(Event(rid, bit | flag, 0, n, p, None, "kernel", now, actor, full))

    @staticmethod
    def _bits(root: Root, mask: int, pathname: bytes, is_dir: bool) -> int:
        """The bits of *mask* that *root* reports for *pathname*."""
        bits = mask & root.mask
        if bits & _SELF and not is_dir and pathname != root.path:
            bits &= ~_SELF  # files inside a tree: inotify reports no *_SELF for them
        if not root.is_dir:
            bits &= ~_DIRENT  # a watched file gets none of its directory's entry events
        return bits

    def _rename(
        self,
        ev: RawEvent,
        caps: list[Capture | None],
        drain: int,
        now: float,
        out: list[Event[Any]],
        actor: Any = None,
    ) -> None:
        paths = self.paths
        if ev.old_dir is None or ev.new_dir is None:
            return
        is_dir = bool(ev.mask & _ONDIR)
        old_name = ev.old_name or b""
        new_name = ev.new_name or b""
        src_dir = paths.dir_path(ev.old_dir) or unresolved_path(ev.old_dir)
        dst_dir = paths.dir_path(ev.new_dir) or unresolved_path(ev.new_dir)
        if ev.fid is not None:
            paths.learn(ev.fid, ev.new_dir, new_name, is_dir)
        elif is_dir:
            paths.moved_unknown()  # no handle of the moved directory (before 5.17)
        src = _join(src_dir, old_name)
        dst = _join(dst_dir, new_name)
        followed = False
        for root in self.roots:
            # Roots at or below a renamed directory follow it (as the inotify
            # backend follows a renamed root), their snapshot with them.
            if is_dir and root.moved(src, dst):
                followed = True
                if root.snapshot is not None:
                    root.snapshot.rebase(src, dst)
            elif root.snapshot is not None:
                root.snapshot.moved((src_dir, old_name), (dst_dir, new_name), is_dir)
        if followed:
            self.set_roots(self.roots)
        if is_dir and ev.fid is not None and self.ignore_dir is not None:
            if self.excluded(dst):
                self.ignore_dir(ev.fid, dst)
            elif self.unignore_dir is not None:
                # Watched now: its ignore mark goes before its listing below.
                self.unignore_dir(ev.fid)
        if ev.pid == self.own_pid:
            return
        fsid = key_fsid(ev.new_dir)
        dst_root = self._root_for(dst, fsid, _MOVED_TO, entry=True)
        src_root = self._root_for(src, fsid, _MOVED_FROM, entry=True)
        isdir = _ISDIR if is_dir else 0
        if dst_root is None and src_root is None:
            return
        if actor is None:
            actor = self._actor(ev, caps, drain)
        # Inside the watched set (whatever the masks say), the move is the pair
        # inotify gives: MOVED_FROM then MOVED_TO, one cookie (ours: fanotify
        # has none), the MOVED_TO carrying src_pathname.
        inside = dst_root is not None and self._root_for(src, fsid, entry=True) is not None
        cookie = self._cookie() if inside else 0
        if src_root is not None:
            p, n, full = typed(src_root, src_dir, old_name, src)
            out.append(
                Event(
                    src_root.id, _MOVED_FROM | isdir, cookie, n, p, None, "kernel", now, actor, full
                )
            )
        if dst_root is not None:
            p, n, full = typed(dst_root, dst_dir, new_name, dst)
            s = None
            if inside:
                shown = dst_root.show(src)
                s = shown if dst_root.as_bytes else os.fsdecode(shown)
            out.append(
                Event(dst_root.id, _MOVED_TO | isdir, cookie, n, p, s, "kernel", now, actor, full)
            )
            if is_dir and not inside and dst_root.recursive:
                self._scan_moved_in(dst_root, dst, now, out)

    def _cookie(self) -> int:
        self._cookies = self._cookies % 0xFFFFFFFF + 1  # 32 bits, never 0, as inotify's
        return self._cookies

    def excluded(self, pathname: bytes) -> bool:
        """A directory that a tree excludes, no tree watches, and no tree lies
        in: its events may be dropped by the kernel (see .ignores)."""
        if not any(r.excludes(pathname) for r in self.roots):
            return False
        if self._root_for(pathname, b"") is not None:
            return False
        below = pathname + b"/"
        return not any(r.path == pathname or r.path.startswith(below) for r in self.roots)

    def _scan_moved_in(self, root: Root, top: bytes, now: float, out: list[Event[Any]]) -> None:
        """A directory moved in from outside: what it holds was never reported
        (inotify reports it the same way). Each entry comes as a CREATE with
        origin ``"scan"``; the kernel's own CREATE of an entry made between the
        move and this listing is dropped once (:meth:`_seen_by_scan`)."""
        if not root.mask & _CREATE:
            return
        snap, _ctimes = rescan.walk(top, root.excluded, True)
        for d in sorted(snap.dirs):
            names = snap.dirs[d]
            for name in sorted(names):
                bits = _CREATE | (_ISDIR if names[name] else 0)
                full = _join(d, name)
                self._scanned[full] = self._batch
                p, n, f = typed(root, d, name, full)
                out.append(Event(root.id, bits, 0, n, p, None, "scan", now, None, f))
        if root.snapshot is not None:
            for d, names in snap.dirs.items():
                root.snapshot.dirs[d] = dict(names)

    def _seen_by_scan(self, pathname: bytes) -> bool:
        """Whether a kernel CREATE of *pathname* was already reported by a scan."""
        batch = self._scanned.pop(pathname, None)
        return batch is not None and self._batch - batch <= 2

    def _root_for(
        self, pathname: bytes, fsid: bytes, bit: int = 0, entry: bool = False
    ) -> Root | None:
        """The root reporting *pathname* (with *bit* in its mask); with *entry*,
        as an entry of a directory: a root is not an entry of itself (its own
        rename is its MOVE_SELF, as with inotify, whose parent is unwatched)."""
        if pathname.startswith(b"?"):
            # An object nothing could place (never named by an event we read,
            # gone before we could ask the kernel). Only a root that spans its
            # whole filesystem certainly contains it; elsewhere it is far more
            # likely one of the filesystem's other objects than ours, so it is
            # counted (``unresolved``), not shown under a wrong tree.
            for root in self.roots:
                if root.spans_fs and root.fsid == fsid and (not bit or root.mask & bit):
                    return root
            return None
        for root in self.roots:
            if not bit or root.mask & bit:
                rel = root.rel(pathname)
                if rel is not None and (rel or not entry):
                    return root
        return None

    # --- snapshots ------------------------------------------------------------

    def _snap_created(self, parent: bytes, name: bytes, is_dir: bool) -> None:
        for root in self.roots:
            if root.snapshot is not None:
                root.snapshot.created(parent, name, is_dir)

    def _snap_deleted(self, parent: bytes, name: bytes) -> None:
        for root in self.roots:
            if root.snapshot is not None:
                root.snapshot.deleted(parent, name)

    # --- overflow -------------------------------------------------------------

    def _overflow(self, now: float) -> list[Event[Any]]:
        """Q_OVERFLOW, then what each tree shows changed since we went blind."""
        self.overflows += 1
        as_str = any(not r.as_bytes for r in self.roots)
        empty: Any = "" if as_str else b""
        out: list[Event[Any]] = [Event(-1, _Q_OVERFLOW, 0, empty, empty, None, "kernel", now)]
        # Timestamps are coarse (a jiffy or so): start a second earlier.
        since_ns = int((self.blind_since - 1.0) * 1e9)
        for root in sorted(self.roots, key=lambda r: r.path):
            if not root.is_dir:
                continue
            snap, ctimes = rescan.walk(root.path, root.excluded, root.recursive)
            for bits, parent, name in rescan.diff(root.snapshot, snap, ctimes, since_ns):
                if not bits & root.mask:
                    continue
                p, n, full = typed(root, parent, name, _join(parent, name))
                out.append(Event(root.id, bits, 0, n, p, None, "rescan", now, None, full))
            if root.snapshot is not None:
                root.snapshot = snap
        return out


def _join(parent: bytes, name: bytes) -> bytes:
    if not name:
        return parent
    return parent + name if parent.endswith(b"/") else parent + b"/" + name
