"""The manager's table, ``wd -> Watch``, and its Groups: looked up, and kept in
the order events are processed (a mixin of :class:`~.manager.WatchManager`,
which owns the state declared here).

Every wd the manager holds is in exactly one place: its own :class:`Watch` in
``_wmd``, or LIVE in the :class:`Group` of the recursive add_watch that
watched it (groups.py), until a Watch is asked for.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Mapping
from typing import Any

from ..watcher import Watcher
from . import _state
from ._state import PathT
from .groups import Groups
from .watch import GONE, OWN, Group, Watch, key

__all__ = ["WatchTable"]


class WatchTable:
    """pyinotify's table of watches, on the Watcher's (see the module)."""

    _wmd: dict[int, Watch]
    _groups: Groups
    _shown: bool
    _making: threading.Lock
    _watcher: Watcher
    _table: Mapping[int, str]
    _maybe_dropped: bool
    _removed: set[int]
    _announced_at: dict[str, Watch | Group]

    # --- the table ------------------------------------------------------------

    @property
    def watches(self) -> dict[int, Watch]:
        """``{wd: Watch}``, the manager's own table, as of the last event
        processed: a directory the Watcher added by itself (``auto_add``) is in
        it once its IN_CREATE was processed, and a watch leaves it when its
        IN_IGNORED is processed (or at :meth:`rm_watch`), as in pyinotify.

        It is the manager's own dict, which programs index, iterate, change
        and keep: the watches of a recursive add_watch that were held as one
        :class:`~.watch.Group` become Watch objects here, all at once, and
        the manager makes no Group after (see ``_shown``)."""
        with self._making:  # (see get_watch)
            self._shown = True
            if self._groups:
                # In place: a notifier dispatching may hold the dict's get.
                every = self._all_watches()
                self._wmd.clear()
                self._wmd.update(every)
        return self._wmd

    def _all_watches(self) -> dict[int, Watch]:
        """The dict with every member of every Group made its Watch, in
        pyinotify's order (insertion order): a Group's members come right
        after its add_watch call's root, i.e. (the kernel numbering wds in
        increasing order) before the first later entry whose wd is above
        theirs; a member made its Watch earlier (OWN) takes its place there."""
        groups = list(self._groups)
        self._groups.clear()
        old = self._wmd
        owned: dict[int, Group] = {}
        for group in groups:
            for i, state in enumerate(group.state):
                if state == OWN:
                    owned[group.wd_at(i)] = group
        out: dict[int, Watch] = {}
        at = 0

        def put(group: Group) -> None:
            for i, state in enumerate(group.state):
                wd = group.wd_at(i)
                if not state:
                    out[wd] = group.watch(wd)
                    group.leave(i, OWN)  # (a notifier may hold the Group: see _dispatch)
                elif state == OWN and wd in old:
                    out[wd] = old[wd]

        for wd, watch in old.items():
            if owned.get(wd) is not None:
                continue  # placed with its Group
            while at < len(groups) and groups[at].lo < wd:
                put(groups[at])
                at += 1
            out[wd] = watch
        for group in groups[at:]:
            put(group)
        return out

    def get_watch(self, wd: int) -> Watch | None:
        """The :class:`Watch` for *wd*, or None: made from its Group the first
        time (and kept, so that what a program sets on it stays)."""
        found = self._wmd.get(wd)
        if found is None and self._groups:
            # Made once: a notifier's thread and the program's may both ask.
            with self._making:
                found = self._wmd.get(wd)
                if found is None:
                    group = self._groups.find(wd)
                    if group is not None:
                        found = self._wmd[wd] = group.watch(wd)
                        self._groups.leave(wd, OWN)
        return found

    def _holds(self, wd: int) -> bool:
        return wd in self._wmd or self._groups.find(wd) is not None

    def _lookup(self, wd: int) -> Watch | Group | None:
        """*wd*'s Watch, or the Group standing for it: no Watch made."""
        found = self._wmd.get(wd)
        if found is None and self._groups:
            return self._groups.find(wd)
        return found

    def _held(self) -> Iterator[tuple[int, Watch | Group]]:
        """Every wd held, with its Watch or Group (a snapshot of the dict's
        entries, then the Groups' members)."""
        yield from list(self._wmd.items())
        yield from self._groups.members()

    def _forget(self, wd: int) -> bool:
        """*wd* leaves the table (rm_watch, del_watch, its IN_IGNORED
        processed); True if it was in it."""
        with self._making:  # (not while another thread makes its Watch)
            if self._wmd.pop(wd, None) is not None:
                return True
            return bool(self._groups) and self._groups.leave(wd, GONE)

    def del_watch(self, wd: int) -> None:
        """Forget *wd* (the kernel watch stays; see :meth:`rm_watch`)."""
        self._removed.add(wd)
        if not self._forget(wd):
            _state.log().error("Cannot delete unknown watch descriptor %s", wd)

    def get_wd(self, path: Any) -> int | None:
        """The wd watching *path* (its current path, after renames), or None: O(1)
        for a path the Watcher watches."""
        try:
            wanted = key(path)
        except TypeError:
            return None
        wd = self._watcher.wd_of(wanted)
        if wd is not None and self._holds(wd):
            return wd
        # A path pinned by hand ("-unknown-path"), or a directory whose
        # IN_IGNORED the Watcher read but we have not processed yet.
        table = self._table
        for wd, watch in self._held():
            if watch._table is not None and wd in table:
                continue
            path = watch.path_of(wd) if isinstance(watch, Group) else watch.path
            if key(path) == wanted:
                return wd
        return None

    def get_path(self, wd: int) -> PathT | None:
        """The current path of *wd*, or None (no Watch is made for it)."""
        watch = self._lookup(wd)
        if watch is None:
            return None
        return watch.path_of(wd) if isinstance(watch, Group) else watch.path

    # --- the table in process order (issue 10, item 14) ---------------------------
    #
    # The Watcher updates its own table when it *reads* events: a directory's
    # watch is gone from it as soon as its IN_IGNORED is read, although the
    # events queued ahead of that IGNORED (the last writes in the directory, its
    # DELETE_SELF) are still waiting to be processed. pyinotify programs see the
    # table of the *processed* events: pyinotify adds an auto_add watch when it
    # processes the IN_CREATE, and forgets a watch when it processes its
    # IN_IGNORED. So this manager keeps its own wd -> Watch map and changes it
    # only from Notifier.process_events, in event order (and from the calls a
    # program makes: add_watch, rm_watch, del_watch).

    def _adopt(self, wd: int, path: PathT, parent: Watch | Group) -> Watch:
        """A directory the Watcher added by itself (auto_add): it inherits its
        parent's attributes, as pyinotify's auto-added watches do."""
        as_bytes = parent.as_bytes if isinstance(parent, Group) else isinstance(parent._path, bytes)
        if as_bytes != isinstance(path, bytes):
            path = os.fsencode(path) if as_bytes else os.fsdecode(path)
        self._removed.discard(wd)  # the kernel gave it out again
        watch = Watch(
            wd,
            path,
            parent.mask,
            parent.proc_fun,
            parent.auto_add,
            parent.exclude_filter,
            table=self._table,
            is_dir=True,
        )
        with self._making:
            self._wmd[wd] = watch
            if self._groups:
                self._groups.leave(wd, OWN)  # (a wd of a Group's, given out again)
        return watch

    def _announced(self, parent: Watch | Group, pathname: PathT) -> None:
        """Processing IN_CREATE|IN_ISDIR (or IN_MOVED_TO|IN_ISDIR) on an
        auto_add watch: the new directory joins the table now, as in pyinotify.
        If the Watcher already forgot it (created and removed within one read),
        its events still come, and :meth:`_unknown` adopts it from them."""
        wd = self._watcher.wd_of(pathname)
        if wd is None:
            # Its events, if any, carry the path it had when the Watcher read
            # them: this one. Bounded: the oldest are forgotten first.
            if len(self._announced_at) >= 4096:
                del self._announced_at[next(iter(self._announced_at))]
            self._announced_at[key(pathname)] = parent
        elif not self._holds(wd):
            path = self._table.get(wd)
            if path is not None:
                self._adopt(wd, path, parent)

    def _unknown(self, wd: int, path: PathT) -> Watch | None:
        """An event of a wd this manager does not hold: a directory the Watcher
        watched by itself whose announcement was not processed (its IN_CREATE
        was filtered out by the mask, or the directory had already gone when it
        was). *path* is the directory's path as the event carries it; its
        parent is a watch of ours (the one that reported the directory)."""
        if wd in self._removed:
            return None
        parent: Watch | Group | None = self._announced_at.pop(key(path), None)
        if parent is not None:
            return self._adopt(wd, path, parent)
        parent_path = os.path.dirname(path)
        parent_wd = self._watcher.wd_of(parent_path)
        if parent_wd is not None and parent_wd != wd:
            parent = self._lookup(parent_wd)
        if parent is None:  # the parent is gone from the Watcher too: search ours
            wanted = key(parent_path)
            for held, watch in self._held():
                if held == wd:
                    continue
                found = watch.path_of(held) if isinstance(watch, Group) else watch.path
                if key(found) == wanted:
                    parent = watch
                    break
        if parent is None:
            # The event's path is stale: the Watcher processed later renames
            # (of this directory or an ancestor) before this event reached us.
            # Its current path in the Watcher's table says where it is now: the
            # nearest ancestor we hold there is the watch it inherits from.
            now = self._table.get(wd)
            up = None if now is None else os.path.dirname(now)
            while parent is None and up and up != os.path.dirname(up):
                up_wd = self._watcher.wd_of(up)
                if up_wd is not None and up_wd != wd:
                    parent = self._lookup(up_wd)
                up = os.path.dirname(up)
        if parent is None:
            return None
        return self._adopt(wd, path, parent)

    def _sync_dropped(self) -> None:
        """Forget the watches the Watcher dropped without an IN_IGNORED reaching
        us (a directory moved out of the watched tree, a directory found gone by
        the rescan after an overflow). Called once every event read so far was
        processed, so no event still needs them."""
        table = self._table
        wmd = self._wmd
        groups = self._groups
        with self._making:
            for wd in [wd for wd, w in wmd.items() if wd not in table and w._table is not None]:
                del wmd[wd]
            for wd in [wd for wd, _ in groups.members() if wd not in table]:
                groups.leave(wd, GONE)
        self._maybe_dropped = False
