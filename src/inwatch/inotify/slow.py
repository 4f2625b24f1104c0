"""The dispatcher's slow path: the events that change what is watched or
reported (CREATE, DELETE, MOVED_FROM/TO, MOVE_SELF, IGNORED, UNMOUNT, the
queue's overflow). :class:`~inwatch.inotify.core.InotifyCore` sends them here
from its per-record loop (in Python, or in C: ``_accel_dispatch.c`` calls these
methods by name), one record at a time, in read order; the kernel's semantics
they rely on are in core.py's docstring."""

from __future__ import annotations

import os

from ..event import Event
from ..flags import (
    IN_CREATE,
    IN_IGNORED,
    IN_ISDIR,
    IN_MOVE_SELF,
    IN_MOVED_FROM,
    IN_MOVED_TO,
    IN_Q_OVERFLOW,
    IN_UNMOUNT,
)
from .news import News
from .state import Emit
from .table import join

__all__ = ["SlowPath"]


class SlowPath(News):
    # Set by InotifyCore for the read being dispatched.
    _started: float

    def _overflow(self, emit: Emit) -> None:
        roots = self.roots.values()
        if roots and all(root.as_bytes for root in roots):
            emit(Event(-1, IN_Q_OVERFLOW, 0, b"", b"", None, "kernel", self.now))  # bytes in, out
        else:
            emit(Event(-1, IN_Q_OVERFLOW, 0, "", "", None, "kernel", self.now))
        held = self.recent.release_all()
        if held:
            self.emit_held(emit, held)
        self.recover()

    def _slow(
        self,
        wd: int,
        mask: int,
        cookie: int,
        raw_name: bytes,
        path: str,
        emit: Emit,
    ) -> None:
        name = raw_name.decode("utf-8", "surrogateescape")
        if mask & IN_IGNORED:
            self.emit_one(emit, wd, mask, cookie, name, path)
            if wd in self._unmounts:
                self.recent.drop_dirs({wd})
                self.forget(wd)
                return  # the directory it covered: see _uncover
            # (Not if its parent's DELETE was processed already: see _slow.)
            if wd not in self.roots and self.table.wd_of(path) == wd:
                parent = self.table.wd_of(os.path.dirname(path) or "/")
                if parent is not None:
                    # Until the parent's DELETE (or MOVED_FROM) of it is processed,
                    # it is a reported directory without a watch.
                    self.note_unwatched(parent, os.path.basename(path))
            self.recent.drop_dirs({wd})
            self.forget(wd)
            return
        if mask & IN_UNMOUNT:
            self.emit_one(emit, wd, mask, cookie, name, path)
            self._unmounts[wd] = path  # settled at the end of the read: see _uncover
            return
        if mask & IN_MOVE_SELF:
            self.emit_one(emit, wd, mask, cookie, name, path)
            # One rename queues MOVED_FROM, MOVED_TO, MOVE_SELF, in that order
            # (fsnotify_move): its MOVE_SELF before any MOVED_TO means the
            # directory went where we have no watch. Waiting for the pairing
            # window instead would report what happens in it next under the
            # path a reader saw it leave.
            if self.moves._pending and self.moves.take(lambda item: item[1] == wd):
                self._moved_out(wd)
            if wd in self.root_ids:
                self._follow_root(wd, path)
            return
        if mask & (IN_CREATE | IN_MOVED_TO):
            leaves = bool(mask & IN_ISDIR) and self._leaves_later(wd, raw_name)
            self._arrival(wd, mask, cookie, name, path, emit, leaves)
            return
        # DELETE or MOVED_FROM. An entry never reported (it was there before our
        # watch and went before our listing) is no news to a reader: dropped.
        full = join(path, name)
        if mask & IN_ISDIR:
            names = self.unwatched.get(wd)
            known = names is not None and name in names
            if names:
                names.discard(name)
            child = self.table.wd_of(full)
            if child is None and not known and self.root_of(wd).auto_add:
                return
            if mask & IN_MOVED_FROM:
                if self._arrives_later(cookie):
                    self.moves.depart(cookie, (full, child), self._started)
                elif child is not None:
                    self._moved_out(child)
            elif child is not None:
                # DELETE|ISDIR: the child's own IGNORED cleans up after it, but
                # that IGNORED (and its DELETE_SELF) can come late: the kernel
                # queues them when the inode is finally released, which a
                # reader of it (our listing, rm -rf itself) delays. Meanwhile it
                # is no longer below its parent: a rename of an ancestor must
                # not re-path it to where it never was.
                self.table._unlink(full, child)
        else:
            files = self.files.get(wd)
            if files is None or name not in files:
                return
            files.discard(name)
            if mask & IN_MOVED_FROM and self._arrives_later(cookie):
                self.moves.depart(cookie, (full, None), self._started)
        self.emit_one(emit, wd, mask, cookie, name, path)

    def _moved_out(self, child: int) -> None:
        """The directory *child* left with no MOVED_TO: moved out of the watched
        set, unless a listing saw it arrive inside (into a directory that was not
        watched yet, so no MOVED_TO was queued): then it is re-pathed and its
        contents reported there (a reader of the events saw it leave)."""
        if self.follow_sighting(child):
            return
        self.drop_subtree(child, remove_from_kernel=True)

    def _arrival(
        self,
        wd: int,
        mask: int,
        cookie: int,
        name: str,
        path: str,
        emit: Emit,
        leaves: bool = False,
    ) -> None:
        root = self.root_of(wd)
        src: str | None = None
        moved_wd: int | None = None
        if mask & IN_MOVED_TO:
            departed = self.moves.arrive(cookie)
            if departed is not None:
                src, moved_wd = departed
        full = join(path, name)
        if root.excludes(full, name):
            if moved_wd is not None:  # a watched dir moved into an excluded name
                self.drop_subtree(moved_wd, remove_from_kernel=True)
            return
        if not mask & IN_ISDIR:
            self.note_file(wd, name)
            self.emit_one(emit, wd, mask, cookie, name, path, src)
            return
        names = self.unwatched.get(wd)
        if names:
            names.discard(name)
        if src is not None and self.recent._echo:
            from_wd = self.table.wd_of(os.path.dirname(src) or "/")
            if from_wd is not None:
                self.recent.carry_echo(
                    from_wd, os.fsencode(os.path.basename(src)), wd, os.fsencode(name)
                )
        if moved_wd is not None and moved_wd in self.table.paths:
            # A sighting is where a listing saw the directory, after every event
            # queued so far: a paired rename processed now is older than it, so
            # it stands unless this rename is the one that took it there.
            seen = self.sightings.get(moved_wd)
            if seen is not None and seen[1] == wd and os.path.basename(seen[0]) == name:
                del self.sightings[moved_wd]
            self.table.move(moved_wd, full, wd)
            self.emit_one(emit, wd, mask, cookie, name, path, src)
            if moved_wd in self.pending or moved_wd in self.unlisted:
                self.settle_pending()
            return
        self.emit_one(emit, wd, mask, cookie, name, path, src)
        if root.auto_add:
            if leaves:
                # Reported, not watched here: its DELETE or MOVED_FROM (later in
                # this read) is news, and a MOVED_TO watches it where it went.
                self.note_unwatched(wd, name)
            else:
                self.watch_new_dir(full, wd, root, "scan")
