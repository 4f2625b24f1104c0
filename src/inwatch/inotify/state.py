"""What the inotify core knows: the watch table and what was reported in it.

Shared by the three parts of the core (``roots``: adding and removing trees;
``recover``: listing again; ``core``: the dispatcher). Bookkeeping only; the
effects go through the :class:`~inwatch.inotify.port.Port`.

Per watched directory (by wd) we keep what has been *reported* about its
entries, because that is what a reader of the events knows and what a
rescan must compare with:

- ``files``: names of the files in it;
- ``unwatched``: names of directories reported in it that have no watch (the
  watch failed because the directory was already renamed or deleted, or its
  IGNORED came before the parent's DELETE). A later listing watches those that
  still exist, and an overflow rescan reports the DELETE of those that do not.
"""

from __future__ import annotations

import errno
import os
import threading
import warnings
from collections.abc import Callable
from typing import Any

from ..event import Event, Origin
from ..filters import DEFAULT_ROOT, Root
from ..knobs import watch_limit_error
from .moves import MovePairer
from .port import Port
from .recent import Held, Recent
from .table import WatchTable, join
from .wdmap import WdMap

__all__ = ["TreeState"]

Emit = Callable[[Event[Any]], None]


class TreeState:
    def __init__(self, port: Port, onerror: Callable[[OSError], object] | None) -> None:
        self.port = port
        self.onerror = onerror
        self.errors: list[OSError] = []
        self.table = WatchTable()
        # What the C dispatcher reads paths from (neither is ever rebound).
        self._wd_paths = (self.table.paths.dense, self.table.paths.spill)
        self.roots: dict[int, Root] = {}
        # wd -> its root's options, for wds whose root differs from the defaults,
        # in one of two maps (one entry a watch, but see register):
        # special: those whose events need filtering (the dispatcher looks each
        # event's wd up there: a mask alone, Root.narrow, is one AND on its hot
        # path; anything more goes one by one to emit_one); options: the
        # others (not following symlinks, or not adding new directories). One
        # entry a watch, not two, in a list indexed by wd (wdmap.py: 8 bytes,
        # a dict's ~85).
        self.options: WdMap[Root] = WdMap()
        self.special: WdMap[Root] = WdMap()
        # What the C dispatcher reads them from (neither is ever rebound).
        self._wd_special = (self.special.dense, self.special.spill)
        self.files: dict[int, set[str]] = {}
        self.unwatched: dict[int, set[str]] = {}
        self.recent = Recent()
        self.moves: MovePairer[tuple[str, int | None]] = MovePairer()
        # Directories to list again once the queue explains why a listing inside
        # them failed (a subdirectory renamed or deleted before we got to it).
        self.pending: set[int] = set()
        # Watched directories whose listing failed (renamed or deleted between
        # our add_watch and our scandir): what they held before the watch was
        # never reported. Listed once the queue has explained where they went
        # (see recover.settle_pending).
        self.unlisted: set[int] = set()
        # wd -> when a rewalk began listing it again at the path it has now:
        # events read by a read that started before then are in that listing.
        self.relisted: dict[int, float] = {}
        # wd -> (path, parent wd) where a listing found a directory we watch
        # under another name (see roots.walk).
        self.sightings: dict[int, tuple[str, int]] = {}
        # (st_dev, st_ino) of each root: to find it again once renamed.
        self.root_ids: dict[int, tuple[int, int]] = {}
        self.lock = threading.RLock()
        self.now = 0.0  # wall clock of the read being processed
        self.last_read = 0.0

    # --- the table ------------------------------------------------------------------

    def register(
        self, wd: int, path: str, root: Root, parent: int | None, fresh: bool = False
    ) -> None:
        self.table.add(wd, path, parent, fresh)
        if not root.is_default:
            # root.filters never turns true later (set_mask only widens the mask).
            # A wd registered again (a nested root) takes the last root's
            # options, as root_of reads them: options first.
            if root.filters:
                self.special[wd] = root
                self.options.pop(wd, None)
            else:
                self.options[wd] = root

    def forget(self, wd: int) -> None:
        self.table.discard(wd)
        self.options.pop(wd, None)
        self.special.pop(wd, None)
        self.files.pop(wd, None)
        self.unwatched.pop(wd, None)
        self.pending.discard(wd)
        self.unlisted.discard(wd)
        self.relisted.pop(wd, None)
        self.roots.pop(wd, None)
        self.root_ids.pop(wd, None)
        self.sightings.pop(wd, None)

    def drop_subtree(self, wd: int, remove_from_kernel: bool) -> None:
        subtree = self.table.subtree(wd)
        self.recent.drop_dirs(set(subtree))
        for sub in subtree:
            if remove_from_kernel:
                try:
                    self.port.rm_watch(sub)
                except OSError:
                    pass  # already gone (IGNORED on its way)
            self.forget(sub)

    def root_of(self, wd: int) -> Root:
        root = self.options.get(wd)
        return self.special.get(wd, DEFAULT_ROOT) if root is None else root

    def note_unwatched(self, wd: int, name: str) -> None:
        names = self.unwatched.get(wd)
        if names is None:
            self.unwatched[wd] = {name}
        else:
            names.add(name)

    def note_file(self, wd: int, name: str) -> None:
        names = self.files.get(wd)
        if names is None:
            self.files[wd] = {name}
        else:
            names.add(name)

    # --- delivering -------------------------------------------------------------------

    def emit_one(
        self,
        emit: Emit,
        wd: int,
        mask: int,
        cookie: int,
        name: str,
        path: str,
        src: str | None = None,
        origin: Origin = "kernel",
    ) -> None:
        """Filter (for a special root) and deliver one event."""
        root = self.special.get(wd)
        if root is None:
            emit(Event(wd, mask, cookie, name, path, src, origin, self.now))
            return
        if not root.passes(mask, name, join(path, name) if name else path):
            return
        if root.as_bytes:
            bsrc = None if src is None else os.fsencode(src)
            ev = Event(
                wd, mask, cookie, os.fsencode(name), os.fsencode(path), bsrc, origin, self.now
            )
            emit(ev)
        else:
            emit(Event(wd, mask, cookie, name, path, src, origin, self.now))

    def emit_held(self, emit: Emit, items: list[Held]) -> None:
        """Deliver released findings at the path their directory has now."""
        paths = self.table.paths
        for item in items:
            path = paths.get(item.wd)
            if path is None:
                continue  # its directory left the watched set meanwhile
            origin: Origin = "rescan" if item.origin == "rescan" else "scan"
            self.emit_one(emit, item.wd, item.mask, 0, item.name, path, None, origin)

    def runtime_error(self, exc: OSError) -> None:
        if exc.errno == errno.ENOSPC and exc.filename is not None:
            exc = watch_limit_error(os.fsdecode(exc.filename))
        if self.onerror is not None:
            self.onerror(exc)  # may raise: the driver then stops and re-raises it
            return
        self.errors.append(exc)
        warnings.warn(f"inwatch: {exc}", RuntimeWarning, stacklevel=2)
