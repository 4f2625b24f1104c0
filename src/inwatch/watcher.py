"""`Watcher`: recursive, move-aware, overflow-recovering watching, and its drivers.

One dispatcher, :meth:`Watcher._process`, turns the bytes of one ``read(2)``
into :class:`~inwatch.Event` objects; the drivers (blocking ``read()`` and
iteration, a thread with a callback, asyncio) only decide when to call it.

What the kernel does, and what we rely on (inotify(7)):

- A watch covers one directory (or file) and its direct entries, never deeper.
  A new subdirectory needs its own watch, and whatever is created in it before
  that watch exists is never reported by the kernel. So on ``CREATE|ISDIR`` we
  add the watch *first*, then list the directory and report each entry as a
  synthetic CREATE (recursively). Entries made after the watch was added are
  reported by the kernel as well; we remember the names we synthesised for one
  more read (by then the kernel has queued everything that happened before our
  listing) and drop the kernel's duplicate, so each entry is reported once.
- A rename inside the watched set queues MOVED_FROM then MOVED_TO with one
  cookie (adjacent in practice, but not guaranteed). A directory's watch
  follows its inode, so a renamed directory keeps its wd and we rewrite the
  paths of its subtree. A directory moved *out* keeps reporting under its old
  name unless we remove its watches, so a MOVED_FROM of a directory with no
  MOVED_TO in the same read (or a few milliseconds after) drops the subtree.
- When the queue holds ``max_queued_events``, further events are dropped and
  one ``Q_OVERFLOW`` (wd -1) is queued. We deliver it, then rescan every tree
  against what we know (watched directories, and the names of the files in
  them) and report the differences as synthetic CREATE / DELETE / MODIFY.
- ``IGNORED`` ends a watch (rm_watch, deletion, unmount); the wd may later be
  reused, so we forget it at once.

Watches of a tree added with the defaults (recursive, every event, no
exclusion, ``str`` paths) cost only their table entries. Roots with other
options are listed in ``_options``; those whose events need filtering (by
mask, exclusion, or conversion to bytes) are "special": their wds are also
listed in ``_special`` and their events
are filtered by mask and exclusion, and converted to bytes where asked.
"""

from __future__ import annotations

import asyncio
import collections
import errno
import os
import select
import threading
import time
import warnings
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from types import MappingProxyType, TracebackType
from typing import Any

from .event import Event, Origin
from .flags import Mask
from .inotify import Inotify, PathArg
from .inotify import walk as tree
from .inotify.moves import MovePairer
from .inotify.table import WatchTable, join
from .inotify.wire import parse_records
from .knobs import watch_limit_error

__all__ = ["Watcher"]

_ACCESS = 0x1
_MODIFY = 0x2
_CLOSE_NOWRITE = 0x10
_OPEN = 0x20
_MOVED_FROM = 0x40
_MOVED_TO = 0x80
_CREATE = 0x100
_DELETE = 0x200
_DELETE_SELF = 0x400
_MOVE_SELF = 0x800
_UNMOUNT = 0x2000
_Q_OVERFLOW = 0x4000
_IGNORED = 0x8000
_ONLYDIR = 0x01000000
_DONT_FOLLOW = 0x02000000
_ISDIR = 0x40000000
_ALL_EVENTS = 0xFFF

# What listing a directory makes the kernel report about it.
_ECHO = _OPEN | _ACCESS | _CLOSE_NOWRITE
_MASK_ADD = 0x20000000
# Bits a directory watch needs for bookkeeping whatever the user asked for.
_INTERNAL = _CREATE | _DELETE | _MOVED_FROM | _MOVED_TO | _DELETE_SELF | _MOVE_SELF
# Events that touch the table, the file baseline or the move pairer.
_SLOW = _CREATE | _DELETE | _MOVED_FROM | _MOVED_TO | _IGNORED | _Q_OVERFLOW
# A plain file's CREATE or DELETE: any other bit sends it down the slow path.
_NOT_PLAIN_FILE = ~(_CREATE | _DELETE)
# Events delivered whatever the user's mask.
_UNASKED = _UNMOUNT | _Q_OVERFLOW | _IGNORED

# How long a MOVED_FROM of a directory waits for its MOVED_TO when it is the
# last event read: the kernel queues both in the same rename(2).
_MOVE_WAIT = 0.005
# Modification times are coarse (the kernel's tick); look back this much more
# when deciding what changed while blind.
_MTIME_SLACK = 0.05

Record = tuple[int, int, int, bytes]  # (wd, mask, cookie, name) from parse_records
Callback = Callable[[Event[Any]], object]
BatchCallback = Callable[[list[Event[Any]]], object]


class _Root:
    """The options of one ``add()``; shared by every watch of its tree."""

    __slots__ = ("as_bytes", "auto_add", "deliver", "excluded", "follow", "mask", "path")

    def __init__(
        self,
        path: str,
        mask: int,
        auto_add: bool,
        excluded: tree.Excluder | None,
        follow: bool,
        as_bytes: bool,
    ) -> None:
        self.path = path
        self.mask = mask
        self.auto_add = auto_add
        self.excluded = excluded
        self.follow = follow
        self.as_bytes = as_bytes
        self.deliver = (mask & _ALL_EVENTS) | _UNASKED

    @property
    def filters(self) -> bool:
        """Do its events need filtering or converting one by one?"""
        # A path ending in "/" (the root directory) needs Event's careful join,
        # not the hot path's plain one.
        return (
            self.path.endswith("/")
            or self.excluded is not None
            or self.as_bytes
            or self.mask & _ALL_EVENTS != _ALL_EVENTS
        )

    @property
    def is_default(self) -> bool:
        """Does it behave as the defaults in every respect?"""
        return self.auto_add and not self.follow and not self.filters

    def rel(self, path: str) -> str:
        if path == self.path:
            return ""
        cut = len(self.path) if self.path.endswith("/") else len(self.path) + 1
        return path[cut:]


_DEFAULT_ROOT = _Root("", _ALL_EVENTS, True, None, False, False)


class Watcher:
    """Watch files and directory trees; read :class:`~inwatch.Event` objects.

    ``max_queue`` bounds the events held in user space by the threaded and
    asyncio drivers when the consumer is slower than the producer; when it is
    full they stop reading, the kernel queue fills, and its overflow is
    reported and recovered like any other (never a silent drop).
    ``onerror`` receives errors met while watching new directories at run time
    (no permission, the watch limit); by default they are issued as
    ``RuntimeWarning`` and kept in :attr:`errors`.
    """

    def __init__(
        self,
        *,
        max_queue: int = 1_000_000,
        onerror: Callable[[OSError], object] | None = None,
    ) -> None:
        self._ino = Inotify(nonblocking=True)
        self._stop_fd = os.eventfd(0, os.EFD_CLOEXEC | os.EFD_NONBLOCK)
        self._poll = select.poll()
        self._poll.register(self._ino.fileno(), select.POLLIN)
        self._poll.register(self._stop_fd, select.POLLIN)
        self._table = WatchTable()
        self._roots: dict[int, _Root] = {}
        # wd -> its root's options, for wds whose root differs from the defaults;
        # _special: the subset whose events need filtering one by one.
        self._options: dict[int, _Root] = {}
        self._special: dict[int, _Root] = {}
        self._files: dict[int, set[str]] = {}
        self._fresh: dict[int, set[str]] = {}
        self._fresh_prev: dict[int, set[str]] = {}
        # (parent wd, name) of directories we just listed: their parent's watch
        # reports our OPEN/ACCESS/CLOSE_NOWRITE of them for one more read.
        self._echo: set[tuple[int, bytes]] = set()
        self._echo_prev: set[tuple[int, bytes]] = set()
        self._moves: MovePairer[tuple[str, int | None]] = MovePairer(time.monotonic)
        self._stopped = False
        self._last_read = time.time()
        self._now = self._last_read
        self.max_queue = max_queue
        self.onerror = onerror
        self.errors: list[OSError] = []
        self._lock = threading.RLock()
        self._threads: list[threading.Thread] = []
        self._queue: collections.deque[Event[Any]] = collections.deque()
        self._cond = threading.Condition()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._awake: asyncio.Event | None = None
        self._reading = False
        self._reader_done = False
        self._busy = False

    # --- the fd and lifetime ----------------------------------------------------

    def fileno(self) -> int:
        """The inotify fd: readable when events are queued (for select/poll)."""
        return self._ino.fileno()

    @property
    def closed(self) -> bool:
        return self._ino.closed

    @property
    def watches(self) -> Mapping[int, str]:
        """wd -> path of every watch, read-only and live."""
        return MappingProxyType(self._table.paths)

    def stop(self) -> None:
        """Make blocked reads return and iteration end; safe from any thread or a
        signal handler."""
        self._stopped = True
        try:
            os.eventfd_write(self._stop_fd, 1)
        except OSError:
            pass  # already closed
        with self._cond:
            self._cond.notify_all()
        if self._loop is not None and self._awake is not None:
            try:
                self._loop.call_soon_threadsafe(self._awake.set)
            except RuntimeError:
                pass  # loop closed

    def close(self) -> None:
        """Stop, join the driver threads, drop every watch and close the fds."""
        if self._ino.closed:
            return
        self.stop()
        self.join()
        if self._loop is not None and self._reading:
            try:
                self._loop.remove_reader(self._ino.fileno())
            except (RuntimeError, ValueError):
                pass
            self._reading = False
        self._ino.close()
        os.close(self._stop_fd)

    @property
    def running(self) -> bool:
        """True while the threads of :meth:`start` run (they end by themselves
        once no watch remains and every event was handed over)."""
        return any(t.is_alive() for t in self._threads)

    def drain(self, timeout: float) -> bool:
        """With :meth:`start`: wait up to *timeout* seconds until everything the
        kernel had queued has been handed to the callback. True if it was."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                idle = not self._queue and not self._busy
                if idle and (self._ino.closed or self._ino.pending_bytes() == 0):
                    return True
                if self._reader_done and not self._queue and not self._busy:
                    return True
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.02))

    def join(self, timeout: float | None = None) -> None:
        """Wait for the threads started by :meth:`start` to end."""
        current = threading.current_thread()
        for thread in self._threads:
            if thread is not current:
                thread.join(timeout)
        self._threads = [t for t in self._threads if t.is_alive()]

    def __enter__(self) -> Watcher:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    async def __aenter__(self) -> Watcher:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __del__(self) -> None:
        ino = getattr(self, "_ino", None)
        if ino is not None and not ino.closed:
            warnings.warn(f"unclosed {self!r}", ResourceWarning, source=self, stacklevel=2)
            self._ino.close()
            os.close(self._stop_fd)

    def __repr__(self) -> str:
        state = "closed" if self._ino.closed else f"{len(self._table)} watches"
        return f"<Watcher {state}>"

    # --- adding and removing -----------------------------------------------------

    def add(
        self,
        path: PathArg,
        mask: int = Mask.ALL_EVENTS,
        *,
        recursive: bool = False,
        exclude: tree.ExcludeSpec = None,
        follow_symlinks: bool = False,
        auto_add: bool | None = None,
        onerror: Callable[[OSError], object] | None = None,
    ) -> int:
        """Watch *path* (a file or directory); return its wd.

        With *recursive*, every directory below is watched too, and (unless
        *auto_add* is False) directories that appear later are watched as they
        appear, their contents reported as synthetic CREATE events. *exclude*
        is a list of globs matched against each entry's name and its path
        relative to *path*, or a callable taking the full path; excluded entries
        cost no watch and produce no event. Symbolic links to directories are
        followed only with *follow_symlinks* (loops are detected).

        Errors: ``FileNotFoundError``/``PermissionError``/... for *path*;
        ``WatchLimitError`` saying how many watches the tree needs, with every
        watch this call added removed again. A subdirectory that cannot be
        watched raises too, unless *onerror* is given: then it is passed the
        error and the walk goes on.
        """
        raw = os.fspath(path)
        as_bytes = isinstance(raw, bytes)
        top = os.path.normpath(os.fsdecode(raw))
        if auto_add is None:
            auto_add = recursive
        excluded = tree.make_excluder(exclude)
        root = _Root(top, int(mask), auto_add, excluded, follow_symlinks, as_bytes)
        kernel_mask = int(mask) & ~_ONLYDIR
        if not follow_symlinks:
            kernel_mask |= _DONT_FOLLOW
        is_dir = os.path.isdir(top) if follow_symlinks else _is_real_dir(top)
        if is_dir:
            kernel_mask |= _INTERNAL

        def keep_going(exc: OSError) -> None:
            if onerror is None:
                raise exc
            onerror(exc)

        with self._lock:
            root_wd = -1
            try:
                if not is_dir:
                    root_wd = self._ino.add_watch(top, kernel_mask)
                    self._register(root_wd, top, root, None)
                    self._roots[root_wd] = root
                    return root_wd
                visited: set[tuple[int, int]] | None = None
                if follow_symlinks:
                    st = os.stat(top)
                    visited = {(st.st_dev, st.st_ino)}

                def on_entry(
                    wd: int, parent: str, name: str, is_dir: bool, entry: os.DirEntry[str]
                ) -> None:
                    if not is_dir:
                        self._files.setdefault(wd, set()).add(name)

                root_wd = self._walk(
                    top,
                    None,
                    root,
                    kernel_mask,
                    on_entry,
                    keep_going,
                    visited,
                    recursive=recursive,
                    rollback=True,
                )
                self._roots[root_wd] = root
            except OSError as exc:
                if exc.errno == errno.ENOSPC:
                    needed = tree.count_dirs(top, excluded, follow_symlinks) if recursive else 1
                    raise watch_limit_error(top, needed=needed) from None
                raise
        return root_wd

    def remove(self, path_or_wd: PathArg | int) -> None:
        """Stop watching a path (or wd) and every watch below it."""
        with self._lock:
            if isinstance(path_or_wd, int):
                wd = path_or_wd
                if wd not in self._table.paths:
                    raise KeyError(f"not a watch of this Watcher: {wd}")
            else:
                p = os.path.normpath(os.fsdecode(os.fspath(path_or_wd)))
                found = self._table.wd_of(p)
                if found is None:
                    raise KeyError(f"not watched: {p!r}")
                wd = found
            self._drop_subtree(wd, remove_from_kernel=True)

    # --- single watches (what the pyinotify-style API needs) -----------------------

    def wd_of(self, path: PathArg) -> int | None:
        """The wd watching *path* (as this Watcher knows it), or ``None``."""
        return self._table.wd_of(os.path.normpath(os.fsdecode(os.fspath(path))))

    def subtree(self, wd: int) -> list[int]:
        """*wd* and every watch below it, parents first (``[]`` if unknown)."""
        return self._table.subtree(wd) if wd in self._table.paths else []

    def unwatch(self, wd: int) -> None:
        """Remove the one watch *wd*; watched subdirectories stay watched, each
        becoming a root with the same options. ``OSError(EINVAL)`` if unknown."""
        with self._lock:
            table = self._table
            if wd not in table.paths:
                raise OSError(errno.EINVAL, f"not a watch of this Watcher: {wd}")
            root = self._options.get(wd, _DEFAULT_ROOT)
            kids = list(table.children.get(wd, ()))
            self._ino.rm_watch(wd)
            self._forget(wd)
            for kid in kids:
                path = table.paths.get(kid)
                if path is not None:
                    table.add(kid, path, None)
                    self._roots[kid] = root

    def set_mask(self, wd: int, mask: int) -> None:
        """Give the one watch *wd* the events of *mask* (plus what the Watcher
        needs for its bookkeeping) and let them through its tree's filter."""
        with self._lock:
            path = self._table.paths.get(wd)
            if path is None:
                raise OSError(errno.EINVAL, f"not a watch of this Watcher: {wd}")
            root = self._options.get(wd, _DEFAULT_ROOT)
            kernel_mask = mask & ~_ONLYDIR
            if _is_real_dir(path) or (root.follow and os.path.isdir(path)):
                kernel_mask |= _INTERNAL
            if not root.follow:
                kernel_mask |= _DONT_FOLLOW
            self._ino.add_watch(path, kernel_mask)
            if root is not _DEFAULT_ROOT:
                root.mask |= mask
                root.deliver |= mask & _ALL_EVENTS

    def set_auto_add(self, wd: int) -> None:
        """Watch directories that appear below *wd* from now on (its tree's option)."""
        root = self._options.get(wd)
        if root is not None:
            root.auto_add = True

    def _walk(
        self,
        top: str,
        parent: int | None,
        root: _Root,
        kernel_mask: int,
        on_entry: Callable[[int, str, str, bool, os.DirEntry[str]], None],
        onerror: Callable[[OSError], None],
        visited: set[tuple[int, int]] | None,
        *,
        recursive: bool = True,
        rollback: bool = False,
    ) -> int:
        """Watch the directory *top* (and, if *recursive*, the tree below it) for
        *root*; return *top*'s wd. With *rollback*, an error removes every watch
        this walk created before it propagates.

        Listing a directory opens and reads it, which a watch asking for OPEN,
        ACCESS or CLOSE_NOWRITE would report: thousands of events about our own
        walk, enough to overflow the queue on a large tree. So the walk watches
        without those bits, then widens each watch to the full mask.
        """
        # MASK_ADD: watching a path again widens its watch, never narrows it.
        quiet = (kernel_mask & ~_ECHO) | _MASK_ADD
        table = self._table
        table_paths = table.paths
        top_wd = -1
        # Watches that existed before this walk (rare: nested roots, links), kept
        # on rollback. The new ones are found again as top's subtree, which costs
        # no list as long as the tree.
        preexisting: set[int] = set()

        def watch(p: str, parent_wd: int | None) -> int:
            nonlocal top_wd
            wd = self._ino.add_watch(p, quiet)
            if wd in table_paths:
                preexisting.add(wd)
            if wd in table_paths and parent_wd is not None:
                old = table_paths[wd]
                if old != p and _same_dir(old, p):
                    # Watched already under another path that still names it: a
                    # symbolic link (a loop, with follow_symlinks) or a bind
                    # mount. Not walked twice; scan_tree skips ELOOP silently.
                    raise OSError(errno.ELOOP, f"already watched as {old!r}", p)
            self._register(wd, p, root, parent_wd)
            if top_wd < 0:
                top_wd = wd
            return wd

        try:
            if recursive:
                tree.scan_tree(
                    top,
                    root.rel(top),
                    parent,
                    watch=watch,
                    excluded=root.excluded,
                    follow_symlinks=root.follow,
                    on_entry=on_entry,
                    onerror=onerror,
                    visited=visited,
                )
            else:
                top_wd = watch(top, parent)
                self._remember_files(top_wd, top, root.excluded, root)
        except OSError:
            if rollback and top_wd >= 0:
                for wd in reversed(table.subtree(top_wd)):
                    if wd not in preexisting:
                        try:
                            self._ino.rm_watch(wd)
                        except OSError:
                            pass
                        self._forget(wd)
            raise
        finally:
            if top_wd >= 0 and kernel_mask & _ECHO:
                self._widen(top_wd, kernel_mask)
        return top_wd

    def _widen(self, top_wd: int, mask: int, replace: bool = False) -> None:
        """Add *mask* to the watch *top_wd* and every watch below it (with
        *replace*, set it instead)."""
        if not replace:
            mask |= _MASK_ADD
        paths = self._table.paths
        children = self._table.children
        stack = [top_wd]
        while stack:
            wd = stack.pop()
            path = paths.get(wd)
            if path is None:
                continue
            try:
                again = self._ino.add_watch(path, mask)
            except OSError:
                continue  # gone or renamed: its own events tell what happened
            if again != wd and again not in paths:
                self._ino.rm_watch(again)  # the path now names another inode
            kids = children.get(wd)
            if kids:
                stack.extend(kids)

    def _register(self, wd: int, path: str, root: _Root, parent: int | None) -> None:
        old = self._table.paths.get(wd)
        if old is not None and old != path and parent is not None:
            # A directory has one path (no hard links), so the kernel handing back
            # a known wd for a new path means it moved while we were blind
            # (aliases, symlinks and bind mounts, were refused by _walk).
            self._table.move(wd, path, parent)
        else:
            self._table.add(wd, path, parent)
        if not root.is_default:
            self._options[wd] = root
            if root.filters:
                self._special[wd] = root

    def _forget(self, wd: int) -> None:
        self._table.discard(wd)
        self._options.pop(wd, None)
        self._special.pop(wd, None)
        self._files.pop(wd, None)
        self._fresh.pop(wd, None)
        self._fresh_prev.pop(wd, None)
        self._roots.pop(wd, None)

    def _drop_subtree(self, wd: int, remove_from_kernel: bool) -> None:
        for sub in self._table.subtree(wd):
            if remove_from_kernel:
                try:
                    self._ino.rm_watch(sub)
                except OSError:
                    pass  # already gone (IGNORED on its way)
            self._forget(sub)

    def _remember_files(
        self, wd: int, path: str, excluded: tree.Excluder | None, root: _Root
    ) -> None:
        try:
            with os.scandir(path) as it:
                names = set()
                for entry in it:
                    if excluded is not None and excluded(
                        root.rel(entry.path), entry.name, entry.path
                    ):
                        continue
                    if not entry.is_dir(follow_symlinks=False):
                        names.add(entry.name)
        except OSError:
            return
        if names:
            self._files[wd] = names

    # --- the dispatcher ---------------------------------------------------------

    def _process(self, data: bytes) -> list[Event[Any]]:
        """Turn one read's bytes into events, keeping the table in step.

        The loop is the hot path: an event that needs no bookkeeping costs a
        dict lookup, a decode and one `Event`; a file created or deleted in a
        plain tree adds a set update. Everything else goes to `_slow`.
        """
        out: list[Event[Any]] = []
        emit = out.append
        paths = self._table.paths
        special = self._special
        files = self._files
        new = Event
        now = self._now = time.time()  # one timestamp per read
        slow, not_plain_file, create, isdir = _SLOW, _NOT_PLAIN_FILE, _CREATE, _ISDIR
        # Names synthesised two reads ago have had their kernel duplicates read.
        fresh_prev = self._fresh_prev = self._fresh
        fresh = self._fresh = {}
        echo_prev = self._echo_prev = self._echo
        echo = self._echo = set()
        events = parse_records(data)
        with self._lock:
            for event in events:
                wd, mask, cookie, name = event
                path = paths.get(wd)
                if path is None:
                    if mask & _Q_OVERFLOW:
                        self._overflow(emit)
                    continue  # a watch we already dropped
                if mask & slow:
                    if special or fresh or fresh_prev or mask & not_plain_file:
                        self._slow(events, event, path, emit)
                        continue
                    # A file created or deleted in a plain tree: keep the baseline.
                    sname = name.decode("utf-8", "surrogateescape")
                    names = files.get(wd)
                    if mask & create:
                        if names is None:
                            files[wd] = {sname}
                        else:
                            names.add(sname)
                    elif names is not None:
                        names.discard(sname)
                    emit(
                        new(
                            wd,
                            mask,
                            cookie,
                            sname,
                            path,
                            None,
                            "kernel",
                            now,
                            None,
                            path + "/" + sname,
                        )
                    )
                    continue
                if (echo or echo_prev) and mask & isdir and name:
                    key = (wd, name)
                    if key in echo or key in echo_prev:
                        continue  # our own listing of a new directory
                if special:
                    root = special.get(wd)
                    if root is not None:
                        sname = name.decode("utf-8", "surrogateescape")
                        self._deliver(root, wd, mask, cookie, sname, path, emit)
                        continue
                sname = name.decode("utf-8", "surrogateescape")
                full = path + "/" + sname if sname else path
                emit(new(wd, mask, cookie, sname, path, None, "kernel", now, None, full))
            if self._moves:
                self._moves.expired()  # files moved out: nothing to undo
        self._last_read = now
        return out

    def _overflow(self, emit: Callable[[Event[Any]], None]) -> None:
        roots = self._roots.values()
        if roots and all(root.as_bytes for root in roots):
            emit(Event(-1, _Q_OVERFLOW, 0, b"", b"", None, "kernel", self._now))  # bytes in, out
        else:
            emit(Event(-1, _Q_OVERFLOW, 0, "", "", None, "kernel", self._now))
        self._recover(emit)

    def _deliver(
        self,
        root: _Root,
        wd: int,
        mask: int,
        cookie: int,
        name: str,
        path: str,
        emit: Callable[[Event[Any]], None],
        src: str | None = None,
        origin: Origin = "kernel",
    ) -> None:
        """Filter and emit an event of a special root."""
        if not mask & root.deliver:
            return
        excluded = root.excluded
        if name and excluded is not None:
            full = join(path, name)
            if excluded(root.rel(full), name, full):
                return
        if root.as_bytes:
            bname = os.fsencode(name)
            bsrc = None if src is None else os.fsencode(src)
            emit(Event(wd, mask, cookie, bname, os.fsencode(path), bsrc, origin, self._now))
        else:
            emit(Event(wd, mask, cookie, name, path, src, origin, self._now))

    def _emit(
        self,
        wd: int,
        mask: int,
        cookie: int,
        name: str,
        path: str,
        emit: Callable[[Event[Any]], None],
        src: str | None = None,
        origin: Origin = "kernel",
    ) -> None:
        root = self._special.get(wd)
        if root is None:
            emit(Event(wd, mask, cookie, name, path, src, origin, self._now))
        else:
            self._deliver(root, wd, mask, cookie, name, path, emit, src, origin)

    def _slow(
        self,
        events: list[Record],
        event: Record,
        path: str,
        emit: Callable[[Event[Any]], None],
    ) -> None:
        wd, mask, cookie, raw_name = event
        name = raw_name.decode("utf-8", "surrogateescape")
        if mask & _IGNORED:
            root = self._special.get(wd)
            self._forget(wd)
            if root is None:
                emit(Event(wd, mask, cookie, name, path, None, "kernel", self._now))
            else:
                self._deliver(root, wd, mask, cookie, name, path, emit)
            return
        if mask & (_CREATE | _MOVED_TO):
            if self._seen_fresh(wd, name):
                return  # already reported from a scan
            root = self._options.get(wd, _DEFAULT_ROOT)
            src: str | None = None
            moved_wd: int | None = None
            if mask & _MOVED_TO:
                departed = self._moves.arrive(cookie)
                if departed is not None:
                    src, moved_wd = departed
            full = join(path, name)
            if root.excluded is not None and root.excluded(root.rel(full), name, full):
                if moved_wd is not None:  # a watched dir moved into an excluded name
                    self._drop_subtree(moved_wd, remove_from_kernel=True)
                return
            if mask & _ISDIR:
                if moved_wd is not None and moved_wd in self._table.paths:
                    self._table.move(moved_wd, full, wd)
                    self._emit(wd, mask, cookie, name, path, emit, src)
                    return
                self._emit(wd, mask, cookie, name, path, emit, src)
                if root.auto_add and self._table.wd_of(full) is None:
                    self._watch_new_dir(full, wd, root, emit)
                return
            files = self._files.get(wd)
            if files is None:
                self._files[wd] = {name}
            else:
                files.add(name)
            self._emit(wd, mask, cookie, name, path, emit, src)
            return
        # DELETE or MOVED_FROM
        self._unfresh(wd, name)
        if mask & _ISDIR:
            full = join(path, name)
            child = self._table.wd_of(full)
            if mask & _MOVED_FROM:
                if self._arrives_later(events, event, cookie):
                    self._moves.depart(cookie, (full, child))
                elif child is not None:
                    self._drop_subtree(child, remove_from_kernel=True)  # moved out
            # DELETE|ISDIR: the child's own IGNORED cleans up after it.
        else:
            files = self._files.get(wd)
            if files is not None:
                files.discard(name)
            if mask & _MOVED_FROM:
                self._moves.depart(cookie, (join(path, name), None))
        self._emit(wd, mask, cookie, name, path, emit)

    def _arrives_later(self, events: list[Record], event: Record, cookie: int) -> bool:
        """Is the MOVED_TO with *cookie* in this read, or about to be queued?"""
        index = events.index(event)  # the only MOVED_FROM with this cookie
        for later in events[index + 1 :]:
            if later[2] == cookie and later[1] & _MOVED_TO:
                return True
        if index + 1 < len(events):
            return False
        # The MOVED_FROM was the last event read: the MOVED_TO of the same
        # rename may be queued a moment later. Read on, into this same batch.
        more = self._ino.read_bytes(_MOVE_WAIT)
        if not more:
            return False
        extra = parse_records(more)
        events.extend(extra)
        return any(e[2] == cookie and e[1] & _MOVED_TO for e in extra)

    def _seen_fresh(self, wd: int, name: str) -> bool:
        for fresh in (self._fresh, self._fresh_prev):
            names = fresh.get(wd)
            if names is not None and name in names:
                names.discard(name)
                return True
        return False

    def _unfresh(self, wd: int, name: str) -> None:
        for fresh in (self._fresh, self._fresh_prev):
            names = fresh.get(wd)
            if names is not None:
                names.discard(name)

    def _watch_new_dir(
        self,
        top: str,
        parent: int,
        root: _Root,
        emit: Callable[[Event[Any]], None],
        origin: Origin = "scan",
    ) -> None:
        """Watch a directory that just appeared, then report what is already in it."""
        kernel_mask = root.mask | _INTERNAL | _ONLYDIR
        if not root.follow:
            kernel_mask |= _DONT_FOLLOW
        fresh = self._fresh

        def on_entry(
            wd: int, parent: str, name: str, is_dir: bool, entry: os.DirEntry[str]
        ) -> None:
            names = fresh.get(wd)
            if names is None:
                fresh[wd] = {name}
            else:
                names.add(name)
            if not is_dir:
                files = self._files.get(wd)
                if files is None:
                    self._files[wd] = {name}
                else:
                    files.add(name)
            mask = _CREATE | _ISDIR if is_dir else _CREATE
            self._emit(wd, mask, 0, name, parent, emit, origin=origin)

        try:
            self._walk(top, parent, root, kernel_mask, on_entry, self._runtime_error, None)
            if kernel_mask & _ECHO:
                self._echo.add((parent, os.fsencode(os.path.basename(top))))
        except OSError as exc:
            if exc.errno not in (errno.ENOENT, errno.ENOTDIR, errno.ELOOP):
                self._runtime_error(exc)

    def _runtime_error(self, exc: OSError) -> None:
        if exc.errno == errno.ENOSPC and exc.filename is not None:
            exc = watch_limit_error(os.fsdecode(exc.filename))
        if self.onerror is not None:
            self.onerror(exc)
            return
        self.errors.append(exc)
        warnings.warn(f"inwatch: {exc}", RuntimeWarning, stacklevel=2)

    # --- overflow recovery --------------------------------------------------------

    def _recover(self, emit: Callable[[Event[Any]], None]) -> None:
        """After events were lost: rescan every tree and report what differs from
        what we know (synthetic events)."""
        since = self._last_read - _MTIME_SLACK
        for root_wd, root in list(self._roots.items()):
            if root_wd not in self._table.paths:
                continue
            full_mask = self._kernel_mask(root)
            if full_mask & _ECHO:
                # Listing every directory again must not flood the queue with our
                # own reads (and overflow it again): quiet the tree meanwhile.
                self._widen(root_wd, full_mask & ~_ECHO, replace=True)
            try:
                stack = [root_wd]
                while stack:
                    wd = stack.pop()
                    path = self._table.paths.get(wd)
                    if path is None:
                        continue
                    stack.extend(self._rescan_dir(wd, path, root, since, emit))
            finally:
                if full_mask & _ECHO and root_wd in self._table.paths:
                    self._widen(root_wd, full_mask)

    @staticmethod
    def _kernel_mask(root: _Root) -> int:
        """The mask every directory watch of *root* has once set up."""
        mask = (root.mask & ~_ONLYDIR) | _INTERNAL
        if not root.follow:
            mask |= _DONT_FOLLOW
        return mask

    def _rescan_dir(
        self, wd: int, path: str, root: _Root, since: float, emit: Callable[[Event[Any]], None]
    ) -> list[int]:
        """Compare one watched directory with our knowledge; return the known
        subdirectory wds still to visit."""
        try:
            with os.scandir(path) as it:
                entries = list(it)
        except NotADirectoryError:
            return []  # a watched file
        except OSError:
            return []  # gone: its IGNORED is coming
        table = self._table
        known_files = self._files.get(wd, set())
        known_dirs = {table.paths[c]: c for c in table.children.get(wd, ())}
        seen_files: set[str] = set()
        visit: list[int] = []
        for entry in entries:
            name = entry.name
            full = entry.path
            if root.excluded is not None and root.excluded(root.rel(full), name, full):
                continue
            try:
                is_dir = entry.is_dir(follow_symlinks=root.follow)
            except OSError:
                continue
            if is_dir and root.auto_add:
                child = known_dirs.pop(full, None)
                if child is not None:
                    visit.append(child)
                    continue
                if table.wd_of(full) is not None:
                    continue
                self._fresh.setdefault(wd, set()).add(name)
                self._emit(wd, _CREATE | _ISDIR, 0, name, path, emit, origin="rescan")
                self._watch_new_dir(full, wd, root, emit, "rescan")
                continue
            if is_dir:
                continue
            seen_files.add(name)
            if name not in known_files:
                self._fresh.setdefault(wd, set()).add(name)
                self._emit(wd, _CREATE, 0, name, path, emit, origin="rescan")
                continue
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if st.st_mtime >= since or st.st_ctime >= since:
                self._emit(wd, _MODIFY, 0, name, path, emit, origin="rescan")
        for name in known_files - seen_files:
            self._emit(wd, _DELETE, 0, name, path, emit, origin="rescan")
        if seen_files or wd in self._files:
            self._files[wd] = seen_files
        for full, child in known_dirs.items():  # watched dirs that are gone
            name = os.path.basename(full)
            if self._table.paths.get(child) == full:
                self._drop_subtree(child, remove_from_kernel=True)
            # else: found again under another name above (moved while blind)
            self._emit(wd, _DELETE | _ISDIR, 0, name, path, emit, origin="rescan")
        return visit

    # --- blocking driver ----------------------------------------------------------

    def _wait(self, timeout: float | None) -> bool:
        """Wait until events are queued (True) or stop()/timeout (False)."""
        ms = None if timeout is None else max(0, int(timeout * 1000 + 0.999))
        ready = self._poll.poll(ms)
        if not ready or self._stopped:
            return False
        return all(fd != self._stop_fd for fd, _ in ready)

    def read(self, timeout: float | None = None) -> list[Event[Any]]:
        """Wait up to *timeout* seconds (``None``: until :meth:`stop`) and return
        the events of everything the kernel has queued; ``[]`` on timeout or stop."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            if self._stopped or self._ino.closed:
                return []
            wait = None if deadline is None else max(0.0, deadline - time.monotonic())
            if not self._wait(wait):
                return []
            data = self._ino.read_bytes(0)
            if data:
                events = self._process(data)
                if events:
                    return events
            if not self._table.paths:
                return []  # the last watch was removed (its IGNORED woke us): nothing to wait for
            if deadline is not None and time.monotonic() >= deadline:
                return []

    def __iter__(self) -> Iterator[Event[Any]]:
        """Events as they come; ends on :meth:`stop`/:meth:`close` or when no
        watch remains."""
        while self._table.paths and not self._stopped:
            yield from self.read()

    # --- threaded driver ----------------------------------------------------------

    def start(self, callback: Callback | BatchCallback, *, batch: bool = False) -> None:
        """Deliver events to *callback* from background threads until :meth:`stop`.

        One thread drains the kernel queue into a user-space queue (bounded by
        ``max_queue``) and another calls *callback* with each event (or, with
        *batch*, with each list of events), so a slow callback does not make the
        kernel queue overflow. An exception from the callback is issued as a
        ``RuntimeWarning`` and delivery goes on.
        """
        if self._threads:
            raise RuntimeError("this Watcher is already started")
        self._reader_done = False
        reader = threading.Thread(target=self._reader_loop, name="inwatch-reader", daemon=True)
        handler = threading.Thread(
            target=self._handler_loop, args=(callback, batch), name="inwatch-handler", daemon=True
        )
        self._threads = [reader, handler]
        reader.start()
        handler.start()

    def _reader_loop(self) -> None:
        queue = self._queue
        cond = self._cond
        while not self._stopped and self._table.paths:
            with cond:
                while len(queue) >= self.max_queue and not self._stopped:
                    cond.wait()  # back-pressure: the kernel queue absorbs, then overflows
            events = self.read()
            if events:
                with cond:
                    queue.extend(events)
                    cond.notify_all()
        with cond:
            self._reader_done = True
            cond.notify_all()

    def _handler_loop(self, callback: Callable[[Any], object], batch: bool) -> None:
        queue = self._queue
        cond = self._cond
        while True:
            with cond:
                while not queue and not self._stopped and not self._reader_done:
                    cond.wait()
                if self._stopped or (not queue and self._reader_done):
                    return
                items = list(queue)
                queue.clear()
                self._busy = True
                cond.notify_all()
            try:
                if not self._deliver_batch(callback, batch, items):
                    return
            finally:
                with cond:
                    self._busy = False
                    cond.notify_all()

    def _deliver_batch(
        self, callback: Callable[[Any], object], batch: bool, items: list[Any]
    ) -> bool:
        """Call *callback* for *items*; False once stop() was called."""
        if batch:
            try:
                callback(items)
            except Exception as exc:  # reported; delivery goes on
                warnings.warn(f"inwatch: callback raised {exc!r}", RuntimeWarning, stacklevel=1)
            return not self._stopped
        # One iterator, so that after a failing callback the loop resumes with
        # the next event of the batch instead of dropping the rest.
        pending = iter(items)
        while True:
            try:
                for event in pending:
                    callback(event)
                    if self._stopped:
                        return False
                return True
            except Exception as exc:  # reported; delivery goes on
                warnings.warn(f"inwatch: callback raised {exc!r}", RuntimeWarning, stacklevel=1)

    # --- asyncio driver -----------------------------------------------------------

    def __aiter__(self) -> AsyncIterator[Event[Any]]:
        return self._aiter()

    async def _aiter(self) -> AsyncIterator[Event[Any]]:
        loop = asyncio.get_running_loop()
        self._loop = loop
        self._awake = asyncio.Event()
        queue = self._queue
        fd = self._ino.fileno()

        def on_readable() -> None:
            data = self._ino.read_bytes(0)
            if data:
                queue.extend(self._process(data))
            if len(queue) >= self.max_queue and self._reading:
                loop.remove_reader(fd)  # back-pressure until the consumer catches up
                self._reading = False
            assert self._awake is not None
            self._awake.set()

        loop.add_reader(fd, on_readable)
        self._reading = True
        try:
            while True:
                while queue:
                    yield queue.popleft()
                    if not self._reading and len(queue) < self.max_queue // 2:
                        loop.add_reader(fd, on_readable)
                        self._reading = True
                if self._stopped or self._ino.closed or not self._table.paths:
                    return
                if not self._reading:
                    loop.add_reader(fd, on_readable)
                    self._reading = True
                self._awake.clear()
                await self._awake.wait()
        finally:
            if self._reading and not self._ino.closed:
                loop.remove_reader(fd)
            self._reading = False


def _same_dir(a: str, b: str) -> bool:
    """Do both paths name the same directory now (following links)?"""
    try:
        sa, sb = os.stat(a), os.stat(b)
    except OSError:
        return False
    return sa.st_ino == sb.st_ino and sa.st_dev == sb.st_dev


def _is_real_dir(path: str) -> bool:
    try:
        return os.path.isdir(path) and not os.path.islink(path)
    except OSError:
        return False
