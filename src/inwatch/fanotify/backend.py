"""The fanotify backend: what the shared drivers read.

:class:`.buffered.Buffered` gives it the contract of :class:`inwatch.drivers.Backend`.

``add`` costs one ``fanotify_mark`` per filesystem, however large the tree:
FAN_MARK_FILESYSTEM reports every object of the filesystem, and :mod:`.core`
keeps what is inside the watched trees. No directory is listed (unless
``snapshot=True`` asks for an exact rescan after an overflow), so there is no
watch limit and no window in which a new directory's first entries are missed.

Reading and processing are split as the Source contract asks: ``read_raw``
drains the group and, right then, turns each event's pidfd into an identity
(see :mod:`.actors`), then replays the proc connector; ``process`` parses and
converts, resolving handles to paths (it may call ``open_by_handle_at``, and
after an overflow it walks the trees).
"""

from __future__ import annotations

import collections
import contextlib
import os
import select
import stat
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from ..event import Event
from . import _sys, rescan, wire
from .actors import Actors, Capture
from .buffered import Buffered
from .core import Core, kernel_mask
from .errors import FanotifyError, UnsupportedEventError
from .fd import Fanotify
from .flags import FanInit, FanMark, FanMask
from .handles import PathCache, handle_key
from .ignores import Ignores
from .moves import Halves
from .roots import Root

__all__ = ["CANNOT", "DEFAULT_EXEC_PATHS", "Buffered", "FanotifyBackend", "availability"]

CANNOT: dict[str, str] = {
    "watch_table": "w.watches holds the roots add() returned, not one watch per directory: "
    "a filesystem mark needs no per-directory watch",
    "per_watch": "unwatch(), set_mask(), set_auto_add() and remove() of a directory inside "
    "a tree act on one directory's watch; a filesystem mark has none (NotImplementedError, "
    "or KeyError for remove(): only roots can be removed)",
    "mounts": "a filesystem mark watches one filesystem: a file system mounted inside a tree "
    "is not watched, and an unmount sends no UNMOUNT (fanotify has no such event)",
    "follow_links_inside": "paths come from the kernel resolved: with follow_symlinks a link "
    "inside a tree to a directory elsewhere is not followed (only a root given as a link is)",
    "overflow_names": "after FAN_Q_OVERFLOW the Watcher's trees (added without a snapshot: "
    "one mark, no listing) are rescanned by ctime: what changed while blind comes as "
    "MODIFY, and created or deleted names only as their directory's MODIFY "
    "(FanotifyBackend.add(snapshot=True) gives the exact CREATE/DELETE diff)",
    "watch_limit": "there is no watch limit to reach: one mark per filesystem",
    "listing_errors": "no directory is listed at add(): an unreadable subdirectory is watched "
    "like any other (the kernel names its objects by handle)",
}
"""What the Watcher contract (tests/contract) asks that this backend cannot do,
each with the reason: the contract suite skips exactly these for fanotify, and
nothing else. Everything not listed here behaves as with inotify."""

_ALL_EVENTS = 0xFFF
_IGNORED = 0x8000
_WAKE = b"wake"
"""What read_raw returns (this very object) when only remove() woke it."""
DEFAULT_EXEC_PATHS = ("/", "/usr", "/usr/bin", "/usr/sbin", "/usr/local/bin", "/bin", "/opt")
"""Where programs live: their filesystems get a FAN_OPEN_EXEC-only mark, so that
the executable of a process is known even after it exited (see :mod:`.actors`)."""


def availability(path: str | bytes | None = None) -> tuple[bool, str]:
    """Whether this process can watch with fanotify (*path*'s filesystem, if
    given), and why not. Nothing is left behind."""
    try:
        fan = Fanotify(pidfd=False)
    except OSError as e:
        return False, f"fanotify unavailable: {e}"
    try:
        if path is not None:
            # No FAN_RENAME here: before 5.17 it is EINVAL, and the backend
            # then pairs the MOVED_FROM/MOVED_TO halves instead.
            fan.mark(os.fsencode(path), FanMask.CREATE | FanMask.ONDIR)
    except OSError as e:
        return False, f"fanotify cannot mark the filesystem of {os.fsdecode(path or '')!r}: {e}"
    finally:
        fan.close()
    return True, "fanotify: filesystem marks with FAN_REPORT_DFID_NAME available"


ENV = "INWATCH_FANOTIFY"
"""Options for tests, comma-separated, read by :func:`env_options`: ``report-own``
(deliver the listener's own changes, so a test may act in-process) and
``no-rename`` (pair FAN_MOVED_FROM/FAN_MOVED_TO as on kernels before 5.17)."""


def env_options() -> dict[str, Any]:
    """The :class:`FanotifyBackend` arguments :data:`ENV` asks for (the Watcher
    builds its backend with them); an unknown word is an error, not ignored."""
    out: dict[str, Any] = {}
    for word in filter(None, (w.strip() for w in os.environ.get(ENV, "").split(","))):
        if word == "report-own":
            out["ignore_own"] = False
        elif word == "no-rename":
            out["rename"] = False
        else:
            raise ValueError(f"{ENV}: unknown option {word!r} (report-own, no-rename)")
    return out


class FanotifyBackend:
    """Recursive watching with one filesystem mark per filesystem, and the
    actor of every event."""

    def __init__(
        self,
        *,
        actors: bool = True,
        exec_paths: Iterable[str] = DEFAULT_EXEC_PATHS,
        ignore_own: bool = True,
        rename: bool | None = None,
        ignore_marks: str = "auto",
    ) -> None:
        """*actors*: identify the process of each event (pidfds, the proc
        connector and exec marks on *exec_paths*' filesystems, as far as the
        process may). *ignore_own*: drop events caused by this process (its
        listings, its journal); tests turn it off to act on files directly.
        *rename*: ``None`` uses FAN_RENAME where the kernel has it (5.17) and
        else pairs FAN_MOVED_FROM/FAN_MOVED_TO (:mod:`.moves`); ``False``
        always pairs (to test that path on a new kernel). *ignore_marks*:
        in-kernel ignore marks on excluded directories and on our own open
        files (:mod:`.ignores`): ``"auto"``, ``"legacy"`` (the pre-6.0 flags)
        or ``"off"``."""
        if ignore_marks not in ("auto", "legacy", "off"):
            raise ValueError(f"ignore_marks: 'auto', 'legacy' or 'off', not {ignore_marks!r}")
        self._fan = Fanotify(pidfd=actors)
        self._pidfd = bool(self._fan.flags & FanInit.REPORT_PIDFD)
        self._paths = PathCache()
        self._actors: Actors | None = None
        try:
            if actors:
                self._actors = Actors(connector=self._pidfd)
            self._core = Core(self._paths, self._actors)
            if not ignore_own:
                self._core.own_pid = -1
        except BaseException:
            self._fan.close()
            raise
        self._ignores = Ignores(self._fan, self._paths, ignore_marks)
        if self._ignores.enabled:
            self._core.ignore_dir = self._ignores.directory
            self._core.unignore_dir = self._ignores.release
        self.records = 0
        """Records parsed so far: what reached user space."""
        self._rename_asked = rename
        self._halves = False
        # No FAN_REPORT_TARGET_FID means a kernel before 5.17: no FAN_RENAME either.
        if rename is False or not self._fan.flags & FanInit.REPORT_TARGET_FID:
            self._use_halves()
        self._last_empty = 0.0  # when the last read that found nothing started
        self._exec_paths = tuple(exec_paths) if self._actors and self._actors.table else ()
        self._exec_fsids: set[bytes] = set()
        self._roots: dict[int, Root] = {}
        self._marks: dict[bytes, tuple[bytes, int]] = {}  # fsid -> (marked path, mask)
        self._reads: collections.deque[tuple[float, int, list[Capture | None], float]] = (
            collections.deque()
        )
        self._lock = threading.Lock()
        self._next_id = 1
        self._ended: list[Event[Any]] = []  # IGNORED of roots remove()d, not yet delivered
        # The proc connector must be drained even while the watched trees are
        # quiet, or a busy machine overflows its socket and every actor becomes
        # uncertain: one epoll fd wakes the driver for either.
        # remove() of the last root must wake a driver waiting for events, as
        # inotify's IN_IGNORED does (removing a fanotify mark queues nothing):
        # an eventfd in the same epoll set.
        self._wake = os.eventfd(0, os.EFD_CLOEXEC | os.EFD_NONBLOCK)
        self._epoll = select.epoll()
        self._epoll.register(self._fan.fileno(), select.EPOLLIN)
        self._epoll.register(self._wake, select.EPOLLIN)
        conn = self._actors.connector_fd() if self._actors is not None else None
        if conn is not None:
            self._epoll.register(conn, select.EPOLLIN)

    # --- Source -----------------------------------------------------------------

    def fileno(self) -> int:
        """Readable when events (or proc-connector news) are queued."""
        if not self._fan.closed:
            return self._epoll.fileno()
        return self._fan.fileno()  # raises: closed

    def read_raw(self) -> bytes:
        started = time.monotonic()
        caps: list[Capture | None] = []
        actors = self._actors
        if actors is not None and self._pidfd:
            data = self._fan.read_raw(lambda buf: actors.capture(buf, caps))
        else:
            data = self._fan.read_raw()
        drain = actors.replay() if actors is not None else 0
        if not data:
            self._last_empty = started
            try:
                os.eventfd_read(self._wake)
            except BlockingIOError:
                return b""
            return _WAKE  # remove() queued an IGNORED: process() delivers it
        self._reads.append((time.time(), drain, caps, started))
        return data

    def process(self, data: bytes) -> list[Event[Any]]:
        if data is _WAKE or not data:
            with self._lock:
                ended, self._ended = self._ended, []
                halves = self._core.halves
                if halves is not None:
                    # A read that found nothing settles the departures before it.
                    halves.settle(self._last_empty, time.time(), ended)
            return ended
        if self._reads:
            now, drain, caps, started = self._reads.popleft()
        else:  # bytes not from read_raw (tests): no captures
            now, drain, caps, started = time.time(), 0, [], time.monotonic()
        raws = wire.parse(data)
        self.records += len(raws)
        with self._lock:
            events = self._core.convert(raws, caps, drain, now, started)
            # A deleted root is over, as an inotify watch is: IGNORED (wd = the
            # root's id) follows its DELETE_SELF.
            for rid in self._core.gone:
                if rid in self._roots:
                    events.append(self._drop(rid, now))
            self._core.gone.clear()
            if self._ended:
                events.extend(self._ended)
                self._ended.clear()
            return events

    def deadline(self) -> float | None:
        """When a held MOVED_FROM is due (``None`` with FAN_RENAME: one record)."""
        halves = self._core.halves
        return None if halves is None else halves.pairer.deadline()

    @property
    def renames(self) -> str:
        """How renames reach us: ``"FAN_RENAME"`` or ``"paired halves"``."""
        return "paired halves" if self._halves else "FAN_RENAME"

    def _use_halves(self) -> None:
        self._halves = True
        self._core.halves = Halves(self._core)

    @property
    def alive(self) -> bool:
        return bool(self._roots) and not self._fan.closed

    @property
    def closed(self) -> bool:
        return self._fan.closed

    # --- watching ---------------------------------------------------------------

    @property
    def watches(self) -> dict[int, Any]:
        """Root id -> the path as ``add`` was given it."""
        return {
            rid: r.shown if r.as_bytes else os.fsdecode(r.shown) for rid, r in self._roots.items()
        }

    @property
    def pidfd(self) -> bool:
        """Whether events carry pidfds (CAP_SYS_ADMIN)."""
        return self._pidfd

    @property
    def actors(self) -> Actors | None:
        return self._actors

    @property
    def stats(self) -> dict[str, int]:
        """Counters worth watching: ``overflows`` (FAN_Q_OVERFLOW seen),
        ``unresolved`` (records whose object nothing could place: outside the
        trees, or deleted before anything named it), ``kernel_lookups`` (handles
        resolved by ``open_by_handle_at``), ``connector_lost`` (proc connector
        overflows: actors uncertain for a while)."""
        return {
            "overflows": self._core.overflows,
            "unresolved": self._core.unresolved,
            "kernel_lookups": self._paths.kernel_lookups,
            "connector_lost": self._actors.lost if self._actors is not None else 0,
            "records": self.records,
            "ignored_dirs": len(self._ignores.dirs),
            "ignored_files": self._ignores.files,
        }

    def add(
        self,
        path: str | bytes | os.PathLike[str] | os.PathLike[bytes],
        mask: int = _ALL_EVENTS,
        *,
        recursive: bool = False,
        exclude: Iterable[str] | Callable[[str], bool] | None = None,
        follow_symlinks: bool = False,
        auto_add: bool | None = None,
        onerror: Callable[[OSError], object] | None = None,
        snapshot: bool = False,
    ) -> int:
        """Watch *path* (a file, or a directory and, with *recursive*, its whole
        tree); return a root id. *auto_add* is accepted for the Watcher's
        signature: a filesystem mark sees new directories without being told.
        *onerror* gets errors of the ``snapshot`` walk."""
        raw = os.fspath(path)
        as_bytes = isinstance(raw, bytes)
        given = os.path.abspath(os.fsencode(raw))
        # Errors name the path as the caller typed it (str stays str).
        typed = given if as_bytes else os.fsdecode(given)
        st = os.stat(typed) if follow_symlinks else os.lstat(typed)
        # Paths come back from the kernel resolved: match against the real path.
        real = os.path.realpath(given) if follow_symlinks else _real_parent(given)
        is_dir = stat.S_ISDIR(st.st_mode)
        fd = os.open(real, os.O_PATH | os.O_CLOEXEC | (0 if follow_symlinks else os.O_NOFOLLOW))
        try:
            fsid = _sys.fsid(fd)
        finally:
            os.close(fd)
        with self._lock:
            rid = self._next_id
            self._next_id += 1
            root = Root(
                rid,
                real,
                int(mask),
                recursive=recursive and is_dir,
                is_dir=is_dir,
                exclude=exclude,
                as_bytes=as_bytes,
                fsid=fsid,
            )
            # The directory is opened (to resolve handles later) before it is
            # marked, so that opening it is not an event.
            self._paths.add_filesystem(real if is_dir else os.path.dirname(real))
            self._mark_for(fsid, real if is_dir else os.path.dirname(real), int(mask))
            # The root's own deletion ends it, whatever the mask asks for: an
            # inode mark on the root alone says so (the filesystem mark is not
            # asked for every deleted object's DELETE_SELF).
            ondir = FanMask.ONDIR if is_dir else 0  # ONDIR on a file's mark: ENOTDIR
            self._fan.mark(real, FanMask.DELETE_SELF | ondir, FanMark.INODE)
            root.spans_fs = is_dir and os.path.ismount(real)
            if given != real:
                root.shown = given
            if snapshot and is_dir:
                root.snapshot = rescan.walk(real, root.excluded, root.recursive, onerror)[0]
            self._roots[rid] = root
            self._core.set_roots(self._roots.values())
            self._mark_exec_filesystems()
            if self._ignores.enabled:
                self._ignore_known(root)
        return rid

    def ignore_own_file(self, fd: int) -> bool:
        """Have the kernel drop the events of the regular file open as *fd*, a
        file only this process writes (its journal, its output): they would be
        dropped here anyway (our pid), but each would cost a queue slot and a
        wake-up. Not for a file others write too: their events would be lost.
        False if no ignore mark could be placed (then they are dropped here)."""
        with self._lock:
            return bool(self._ignores.file(fd))

    def remove(self, path_or_id: int | str | bytes) -> None:
        """Stop watching a root (by the id ``add`` returned, or its path)."""
        with self._lock:
            # As inotify's rm_watch queues IN_IGNORED: delivered by the next
            # read, which the eventfd wakes (removing a mark queues nothing).
            self._ended.append(self._drop(self._find(path_or_id), time.time()))
            os.eventfd_write(self._wake, 1)

    def _drop(self, rid: int, now: float) -> Event[Any]:
        """Forget root *rid*; its IGNORED event (wd = the root's id)."""
        root = self._roots.pop(rid)
        shown: Any = root.shown if root.as_bytes else os.fsdecode(root.shown)
        empty: Any = b"" if root.as_bytes else ""
        ignored = Event(rid, _IGNORED, 0, empty, shown, None, "kernel", now, None, shown)
        self._core.set_roots(self._roots.values())
        marked, old = self._marks[root.fsid]
        keep = 0
        for other in self._roots.values():
            if other.fsid == root.fsid:
                keep |= self._kernel_mask(other.mask, root.fsid)
        drop = old & ~keep
        if not keep and root.fsid in self._exec_fsids:
            drop &= ~FanMask.OPEN_EXEC
            keep = FanMask.OPEN_EXEC
        if drop:
            # By the filesystem's open fd: the marked directory may be gone.
            mfd = self._paths.mount_fd(root.fsid)
            if mfd is not None:
                self._fan.unmark(None, drop, dirfd=mfd)
            else:
                self._fan.unmark(marked, drop)
        if keep:
            self._marks[root.fsid] = (marked, keep)
        else:
            del self._marks[root.fsid]
        # The root's inode mark: gone with the inode if it was deleted; if the
        # path now names something else, the stale mark only ever reports the
        # deletion of a directory nobody watches, which is dropped.
        ondir = FanMask.ONDIR if root.is_dir else 0
        with contextlib.suppress(OSError):
            self._fan.unmark(root.path, FanMask.DELETE_SELF | ondir, FanMark.INODE)
        return ignored

    def close(self) -> None:
        self._epoll.close()
        if not self._fan.closed:
            os.close(self._wake)
        self._fan.close()
        self._paths.close()
        if self._actors is not None:
            self._actors.close()
        self._roots.clear()

    def __enter__(self) -> FanotifyBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- internals --------------------------------------------------------------

    def _ignore_known(self, root: Root) -> None:
        """Ignore marks for the excluded directories known at add(): those named
        literally (a pattern without wildcards, relative to the root). Excluded
        directories found later get theirs when created or renamed
        (core.ignore_dir)."""
        if not root.is_dir or root.patterns is None:
            return
        for pat in root.patterns:
            if not pat or any(c in pat for c in "*?[") or pat.startswith("/"):
                continue
            cand = os.path.normpath(os.path.join(root.path, os.fsencode(pat)))
            if not os.path.isdir(cand) or os.path.islink(cand) or not self._core.excluded(cand):
                continue
            try:
                handle, _mnt = _sys.name_to_handle_at(cand)
            except OSError:
                continue
            self._ignores.directory(handle_key(root.fsid, handle), cand)

    def _kernel_mask(self, mask: int, fsid: bytes) -> int:
        exec_too = self._actors is not None and bool(self._exec_paths)
        return kernel_mask(mask, exec_too, rename=not self._halves)

    def _mark_for(self, fsid: bytes, path: bytes, mask: int) -> None:
        want = self._kernel_mask(mask, fsid)
        marked, have = self._marks.get(fsid, (path, 0))
        if want & ~have:
            try:
                self._fan.mark(path, want | have)
            except UnsupportedEventError:
                if self._halves or self._rename_asked is not None or self._marks:
                    raise
                # EINVAL for FAN_RENAME: a kernel before 5.17. Pair the halves.
                self._use_halves()
                want = self._kernel_mask(mask, fsid)
                self._fan.mark(path, want | have)
        self._marks[fsid] = (marked, want | have)

    def _mark_exec_filesystems(self) -> None:
        # Best effort: a filesystem we cannot mark only means exes on it stay
        # unknown once their process has exited.
        for p in self._exec_paths:
            bp = os.fsencode(p)
            try:
                fd = os.open(bp, os.O_PATH | os.O_CLOEXEC)
            except OSError:
                continue
            try:
                fsid = _sys.fsid(fd)
            finally:
                os.close(fd)
            if fsid in self._exec_fsids:
                continue
            try:
                self._fan.mark(bp, FanMask.OPEN_EXEC)
                self._paths.add_filesystem(bp)
            except (FanotifyError, OSError):
                continue
            self._exec_fsids.add(fsid)

    def _find(self, path_or_id: int | str | bytes) -> int:
        if isinstance(path_or_id, int):
            if path_or_id not in self._roots:
                raise KeyError(f"no watched root with id {path_or_id}")
            return path_or_id
        want = os.path.abspath(os.fsencode(path_or_id))
        for rid, root in self._roots.items():
            if root.shown == want or root.path == want:
                return rid
        raise KeyError(f"not watched: {path_or_id!r}")


def _real_parent(path: bytes) -> bytes:
    # Without follow_symlinks a final symlink is the object itself: resolve
    # only its parent.
    head, tail = os.path.split(path)
    return os.path.join(os.path.realpath(head), tail) if tail else os.path.realpath(path)
