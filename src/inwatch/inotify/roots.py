"""Adding and removing watched trees; watching a directory that appeared.

Listing a directory opens and reads it, which a watch asking for OPEN, ACCESS
or CLOSE_NOWRITE reports: thousands of events about our own walk, enough to
overflow the queue on a large tree. So a walk watches with a *quiet* mask
(those bits off) and widens each watch to the full mask afterwards
(``IN_MASK_ADD``: watching a path again widens its watch, never narrows it).

Why not watch with the full mask and drop the echo instead, as recent.py's
windows do for a directory found later? Listing a directory queues 8 events
(OPEN, ACCESS twice: getdents64 until it returns nothing, CLOSE_NOWRITE; each on
the directory's own watch and, named, on its parent's): 50,000 directories make
400,000 events, 25 times the default queue (max_queued_events, 16,384), and
reading them back costs more (about 1 µs an event) than the second add_watch
(about 2 µs a directory).
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable, Iterator

from ..filters import DEFAULT_ROOT, ExcludeSpec, Root, make_excluder
from ..knobs import watch_limit_error
from . import walk
from .port import DirEntryLike
from .state import TreeState
from .table import join

__all__ = ["ECHO", "INTERNAL", "Roots", "kernel_mask"]

_ACCESS = 0x1
_CLOSE_NOWRITE = 0x10
_OPEN = 0x20
_CREATE = 0x100
_ISDIR = 0x40000000
_ONLYDIR = 0x01000000
_DONT_FOLLOW = 0x02000000
_MASK_ADD = 0x20000000

# What listing a directory makes the kernel report about it.
ECHO = _OPEN | _ACCESS | _CLOSE_NOWRITE
# Bits a directory watch needs for bookkeeping whatever the user asked for:
# CREATE, DELETE, MOVED_FROM, MOVED_TO, DELETE_SELF, MOVE_SELF.
INTERNAL = 0x100 | 0x200 | 0x40 | 0x80 | 0x400 | 0x800


def kernel_mask(root: Root) -> int:
    """The mask every directory watch of *root* has once set up."""
    mask = (root.mask & ~_ONLYDIR) | INTERNAL
    if not root.follow:
        mask |= _DONT_FOLLOW
    return mask


class Roots(TreeState):
    """``add``/``remove`` and the single-watch operations, over the state."""

    def add_root(
        self,
        path: str,
        mask: int,
        *,
        recursive: bool,
        exclude: ExcludeSpec,
        follow_symlinks: bool,
        auto_add: bool | None,
        onerror: Callable[[OSError], object] | None,
        as_bytes: bool,
        listing_events: bool = False,
    ) -> int:
        """Watch *path* for a new root (see Watcher.add). With *listing_events*
        (the pyinotify layer's), the set-up walk's listing of each subdirectory
        is reported on its parent's watch, as pyinotify's own walk was (see
        walk())."""
        top = os.path.normpath(path)
        if auto_add is None:
            auto_add = recursive
        excluded = make_excluder(exclude)
        root = Root(top, int(mask), auto_add, excluded, follow_symlinks, as_bytes)
        mask_k = int(mask) & ~_ONLYDIR
        if not follow_symlinks:
            mask_k |= _DONT_FOLLOW
        is_dir = self._is_dir(top, follow_symlinks)
        if is_dir:
            mask_k |= INTERNAL

        def keep_going(exc: OSError) -> None:
            if onerror is None:
                raise exc
            onerror(exc)

        with self.lock:
            try:
                if not is_dir:
                    wd = self.port.add_watch(top, mask_k)
                    self.register(wd, top, root, None)
                else:
                    wd = self._add_tree(top, root, mask_k, recursive, keep_going, listing_events)
            except OSError as exc:
                if exc.errno == errno.ENOSPC:
                    needed = walk.count_dirs(top, excluded, follow_symlinks) if recursive else 1
                    raise watch_limit_error(top, needed=needed) from None
                raise
            self.roots[wd] = root
            self._hold_root_fd(wd, top)
            # Listing top made its parent's watch (if we have one: nested roots)
            # report OPEN/ACCESS/CLOSE_NOWRITE of it: our own work, not news.
            parent = self.table.wd_of(os.path.dirname(top) or "/")
            if is_dir and parent is not None and parent != wd:
                self.recent.quiet(parent, os.fsencode(os.path.basename(top)), self.port.clock())
        return wd

    def _add_tree(
        self,
        top: str,
        root: Root,
        mask_k: int,
        recursive: bool,
        keep_going: Callable[[OSError], None],
        listing_events: bool = False,
    ) -> int:
        visited: set[tuple[int, int]] | None = None
        if root.follow:
            st = self.port.stat(top, True)
            visited = {(st.st_dev, st.st_ino)}

        def on_file(wd: int, parent: str, name: str, is_dir: bool, entry: DirEntryLike) -> None:
            self.note_file(wd, name)

        return self.walk(
            top,
            None,
            root,
            mask_k,
            on_file,
            keep_going,
            visited,
            recursive=recursive,
            rollback=True,
            files_only=True,
            listing_events=listing_events,
        )

    def _is_dir(self, path: str, follow: bool) -> bool:
        import stat

        try:
            st = self.port.stat(path, follow)
        except OSError:
            return False
        return stat.S_ISDIR(st.st_mode)

    def _hold_root_fd(self, wd: int, path: str) -> None:
        # Not a descriptor: an O_PATH fd would keep the file system busy (umount
        # fails with EBUSY), which a watch must never do. The inode is enough
        # to find a renamed root again in its old parent directory.
        try:
            st = self.port.stat(path, False)
        except OSError:
            return
        self.root_ids[wd] = (st.st_dev, st.st_ino)

    def remove_path(self, path_or_wd: str | int) -> None:
        with self.lock:
            if isinstance(path_or_wd, int):
                wd = path_or_wd
                if wd not in self.table.paths:
                    raise KeyError(f"not a watch of this Watcher: {wd}")
            else:
                p = os.path.normpath(path_or_wd)
                found = self.table.wd_of(p)
                if found is None:
                    raise KeyError(f"not watched: {p!r}")
                wd = found
            self.drop_subtree(wd, remove_from_kernel=True)

    def unwatch(self, wd: int) -> None:
        """Remove the one watch *wd*; watched subdirectories become roots."""
        with self.lock:
            table = self.table
            if wd not in table.paths:
                raise OSError(errno.EINVAL, f"not a watch of this Watcher: {wd}")
            root = self.root_of(wd)
            kids = list(table.kids(wd))
            self.port.rm_watch(wd)
            self.forget(wd)
            for kid in kids:
                path = table.paths.get(kid)
                if path is not None:
                    table.add(kid, path, None)
                    self.roots[kid] = root

    def set_mask(self, wd: int, mask: int) -> None:
        with self.lock:
            path = self.table.paths.get(wd)
            if path is None:
                raise OSError(errno.EINVAL, f"not a watch of this Watcher: {wd}")
            root = self.root_of(wd)
            mask_k = mask & ~_ONLYDIR
            if self._is_dir(path, root.follow):
                mask_k |= INTERNAL
            if not root.follow:
                mask_k |= _DONT_FOLLOW
            self.port.add_watch(path, mask_k)
            if root is not DEFAULT_ROOT:
                root.widen(mask)

    def set_auto_add(self, wd: int) -> None:
        root = self.root_of(wd)
        if root is not DEFAULT_ROOT:
            root.auto_add = True

    # --- walking ------------------------------------------------------------------------

    def walk(
        self,
        top: str,
        parent: int | None,
        root: Root,
        mask_k: int,
        on_entry: Callable[[int, str, str, bool, DirEntryLike], None],
        onerror: Callable[[OSError], None],
        visited: set[tuple[int, int]] | None,
        *,
        recursive: bool = True,
        rollback: bool = False,
        known_ok: bool = False,
        report_known: bool = False,
        seen: set[int] | None = None,
        files_only: bool = False,
        listing_events: bool = False,
    ) -> int:
        """Watch the directory *top* (and, if *recursive*, the tree below it) for
        *root*; return *top*'s wd (-1 if *top* is watched already under another
        name: it arrived by a rename still in the queue, which will say so).

        A directory the kernel hands back a wd for that we hold under another
        path is not walked again; with *known_ok* (a rescan after an overflow,
        when the rename's events may be lost) it is re-pathed instead.
        With *rollback*, an error removes every watch this walk created.
        With *files_only*, *on_entry* hears of files only (set-up: the directories
        report themselves by being watched).
        With *listing_events*, each directory is widened as soon as its own
        listing is done instead of in a pass at the end: the listing of each
        subdirectory (watched quietly, so nothing on its own watch) is then
        reported on its parent's watch as OPEN, ACCESS and CLOSE_NOWRITE with
        ISDIR and its name, in walk order: what pyinotify's walk (list, then
        watch, top-down) made the kernel queue. Same two add_watch calls a
        directory; a directory not listed (gone, no permission) is widened at
        the end.
        """
        quiet = (mask_k & ~ECHO) | _MASK_ADD
        table = self.table
        paths = table.paths
        dense, spill = paths.dense, paths.spill  # never rebound (wdmap.py)
        top_wd = -1
        preexisting: set[int] = set()
        recent = self.recent
        unwatched = self.unwatched
        plain_root = root.is_default  # asked once a walk, not once a directory
        add_watch = self.port.add_watch
        children = table.children

        def childless(wd: int) -> bool:
            return wd not in children

        # listing_events: watched, not widened yet (at most the directory being
        # listed, and those whose listing failed: the walk is depth first).
        unwidened: dict[int, str] | None = {} if listing_events and mask_k & ECHO else None
        wide = mask_k | _MASK_ADD

        def listed(wd: int, p: str) -> None:
            assert unwidened is not None
            del unwidened[wd]
            self._widen_watch(wd, p, wide)

        def watch(p: str, parent_wd: int | None, fresh: bool) -> int:
            nonlocal top_wd
            wd = add_watch(p, quiet)
            old = dense[wd] if 0 < wd < len(dense) else spill.get(wd)  # paths.get(wd)
            if old is not None:
                preexisting.add(wd)
                if old != p and parent_wd is not None:
                    if not known_ok or _same_dir(self, old, p):
                        # Known under another name: renamed with the rename still
                        # queued, or an alias (symlink loop, bind mount). Where
                        # we saw it tells where it went if its MOVED_TO never
                        # comes (moved from its old place into a directory that
                        # was not watched yet).
                        self.sightings[wd] = (p, parent_wd)
                        # Not adopted: the events queued in it before the rename
                        # happened under its old name, known to a reader (or held
                        # there); they must not release this later finding ahead
                        # of the queue (see Recent.adopt).
                        # Reported here (the listing's CREATE), watched elsewhere:
                        # a rescan must not report it a second time.
                        self.note_unwatched(parent_wd, os.path.basename(p))
                        return -1
                    table.move(wd, p, parent_wd)
                elif old == p and parent_wd is not None and not report_known:
                    return -1  # watched and listed already
            if unwidened is not None:
                unwidened[wd] = p
            if old is None or old == p:
                if plain_root:
                    table.add(wd, p, parent_wd, fresh)  # what register does for a default root
                else:
                    self.register(wd, p, root, parent_wd, fresh)
            if parent_wd is not None:
                # os.path.basename(p), without the call, and only when asked: in
                # the common case nothing is held and nothing is unwatched.
                if recent._items:
                    recent.adopt(parent_wd, p[p.rfind("/") + 1 :], wd)
                names = unwatched.get(parent_wd)
                if names:
                    names.discard(p[p.rfind("/") + 1 :])
            if top_wd < 0:
                top_wd = wd
            if seen is not None:
                seen.add(wd)
            return wd

        def on_gone(p: str, parent_wd: int | None, wd: int | None) -> None:
            if wd is not None and paths.get(wd) == p:
                # Watched, then its listing failed: renamed (or deleted) in
                # between. Its watch follows it; it is listed once its rename
                # is processed (see recover._settle_unlisted).
                self.unlisted.add(wd)
                return
            if parent_wd is not None:
                self.note_unwatched(parent_wd, os.path.basename(p))
                self.pending.add(parent_wd)

        try:
            if recursive:
                walk.scan_tree(
                    top,
                    root.rel(top),
                    parent,
                    watch=watch,
                    excluded=root.excluded,
                    follow_symlinks=root.follow,
                    on_entry=on_entry,
                    onerror=onerror,
                    visited=visited,
                    listdir=self.port.scandir,
                    on_gone=on_gone,
                    files_only=files_only,
                    childless=childless,
                    listed=None if unwidened is None else listed,
                )
            else:
                top_wd = watch(top, parent, False)
                if top_wd >= 0:
                    self._remember_files(top_wd, top, root)
        except OSError:
            if rollback and top_wd >= 0:
                for wd in reversed(table.subtree(top_wd)):
                    if wd not in preexisting:
                        try:
                            self.port.rm_watch(wd)
                        except OSError:
                            pass
                        self.forget(wd)
            raise
        finally:
            if unwidened is not None:
                for wd, p in unwidened.items():
                    if paths.get(wd) == p:  # (not rolled back)
                        self._widen_watch(wd, p, wide)
            elif top_wd >= 0 and mask_k & ECHO:
                self.widen(top_wd, mask_k)
        return top_wd

    def _widen_watch(self, wd: int, path: str, mask: int) -> bool:
        """add_watch(*path*, *mask*) for the one watch *wd* (see widen); False
        if *path* is gone."""
        try:
            again = self.port.add_watch(path, mask)
        except OSError:
            return False  # gone or renamed: its own events tell what happened
        if again != wd and again not in self.table.paths:
            self.port.rm_watch(again)  # the path now names another inode
        return True

    def widen(self, top_wd: int, mask: int, replace: bool = False) -> None:
        """Add *mask* to the watch *top_wd* and every watch below it (with
        *replace*, set it instead).

        Depth first on a stack of iterators over each directory's children,
        not over ``table.subtree(top_wd)`` nor a stack of wds: a list of every
        wd of a large tree (36 bytes a watch more on 50,000 directories,
        measured), or of every child of a flat directory (an int and a slot,
        40 bytes each), would be the set-up's peak memory."""
        if not replace:
            mask |= _MASK_ADD
        paths = self.table.paths
        children = self.table.children
        kids_of = self.table.kids
        widen_watch = self._widen_watch  # once a directory: bound once
        stack: list[Iterator[int]] = [iter((top_wd,))]
        pop, push = stack.pop, stack.append
        while stack:
            wd = next(stack[-1], -1)
            if wd < 0:
                pop()
                continue
            path = paths.get(wd)
            if path is None:
                continue
            if widen_watch(wd, path, mask) and wd in children:
                push(iter(kids_of(wd)))

    def _remember_files(self, wd: int, path: str, root: Root) -> None:
        try:
            entries = self.port.scandir(path)
        except OSError:
            return
        names = set()
        for entry in entries:
            if root.excludes(entry.path, entry.name):
                continue
            try:
                if not entry.is_dir(follow_symlinks=False):
                    names.add(entry.name)
            except OSError:
                continue
        if names:
            self.files[wd] = names

    def follow_sighting(self, child: int) -> bool:
        """Follow the directory *child* to where a listing last saw it (its
        sighting), re-path its subtree and list it again there; False if there
        is no such sighting (it left the watched set)."""
        seen = self.sightings.pop(child, None)
        paths = self.table.paths
        if seen is None or seen[1] not in paths or child not in paths:
            return False
        parent = seen[1]
        # At its parent's path now (the parent may have been renamed since).
        path = join(paths[parent], os.path.basename(seen[0]))
        root = self.root_of(parent)
        self.table.move(child, path, parent)
        # From here on its events name it there, after the listing's CREATE
        # of that name (still held, if the queue has not caught up with it).
        self.recent.adopt(parent, os.path.basename(path), child)
        # Its watches have their full masks: listing the subtree again would
        # make them report our own reads. Quiet them meanwhile (the walk
        # widens them again when done).
        full_mask = kernel_mask(root)
        if full_mask & ECHO:
            self.widen(child, full_mask & ~ECHO, replace=True)
        self.watch_new_dir(path, parent, root, "scan", rewalk=True)
        return True

    def watch_new_dir(
        self,
        full: str,
        parent: int,
        root: Root,
        origin: str,
        rewalk: bool = False,
        known: tuple[dict[int, set[str]], set[str]] | None = None,
    ) -> None:
        """Watch a directory that appeared in *parent*, then hold what is already
        in it as synthetic CREATEs (released once the queue has caught up),
        except what *known* says a reader knows already: files by directory
        wd, directories by path (see recover._settle_unlisted)."""
        mask_k = kernel_mask(root) | _ONLYDIR
        recent = self.recent
        clock = self.port.clock
        known_files, known_dirs = known or ({}, set())

        def on_entry(wd: int, path: str, name: str, is_dir: bool, entry: DirEntryLike) -> None:
            if is_dir:
                if known_dirs and join(path, name) in known_dirs:
                    return  # reported already (its CREATE or MOVED_TO)
                recent.hold(wd, name, _CREATE | _ISDIR, origin, clock())
            else:
                self.note_file(wd, name)
                names = known_files.get(wd) if known_files else None
                if names is not None and name in names:
                    return  # reported already
                recent.hold(wd, name, _CREATE, origin, clock())

        seen: set[int] = set()  # the wds this walk watched (or re-registered)
        before: list[int] = []
        if rewalk:
            # The subtree is listed again from scratch: what it holds now is what
            # gets reported; directories it no longer holds (renamed away or
            # deleted meanwhile, their events still queued) leave the table, so
            # those events find no watch and are dropped, as news of entries a
            # reader never heard of.
            top = self.table.wd_of(full)
            before = self.table.subtree(top) if top is not None else []
            for wd in before:
                self.files.pop(wd, None)
                self.unwatched.pop(wd, None)
            # What an earlier listing found there and still holds is found again
            # (or is gone): held twice, it would be reported twice. The echo
            # of that earlier listing stays ours (see Recent.drop_held).
            recent.drop_held(set(before))
        # Every event queued before this moment is in the listing that follows.
        began = clock()
        try:
            wd = self.walk(
                full,
                parent,
                root,
                mask_k,
                on_entry,
                self.runtime_error,
                None,
                # Only a rescan after an overflow takes over a directory found
                # under another name (its rename's events may be lost). In any
                # other listing, that rename is still queued: the directory is
                # a sighting, and the queue moves it for a reader.
                known_ok=origin == "rescan",
                report_known=rewalk,
                seen=seen,
            )
        except OSError as exc:
            if exc.errno in (errno.ENOENT, errno.ENOTDIR, errno.ELOOP):
                # Renamed or deleted before we got to it: its own events (still
                # queued) say which; until then it is reported but unwatched.
                unlisted = self.table.wd_of(full)
                ours = unlisted in seen or (rewalk and before[:1] == [unlisted])
                if unlisted is not None and ours and unlisted in self.table.paths:
                    # Watched (by this walk, or before a rewalk), never listed at
                    # this name: it was renamed (or deleted) after our add_watch
                    # (or, for a rewalk, after it was last seen here). Its watch follows its
                    # inode, so the rename's MOVED_FROM/MOVED_TO will re-path it;
                    # then it is listed (settle_pending). What it held before is
                    # not known here: nothing of it is kept or held meanwhile.
                    for sub in self.table.subtree(unlisted)[1:]:
                        if sub in self.table.paths:
                            self.drop_subtree(sub, remove_from_kernel=True)
                    self.recent.drop_held({unlisted})
                    self.files.pop(unlisted, None)
                    self.unwatched.pop(unlisted, None)
                    self.unlisted.add(unlisted)
                else:
                    self.note_unwatched(parent, os.path.basename(full))
                    self.pending.add(parent)
            else:
                self.runtime_error(exc)
            return
        if wd >= 0 and mask_k & ECHO:
            recent.quiet(parent, os.fsencode(os.path.basename(full)), clock())
        if rewalk:
            # The subtree was listed again at the path it has now: events about
            # it that were queued before (read by a read that started before
            # *began*) happened where it was then, and the listing holds what
            # they did. They are not reported (see core._settles).
            for wd in seen:
                self.relisted[wd] = began
            for gone in before:
                # Not in it any more: seen elsewhere by a listing (followed
                # there), or gone from the watched set.
                if gone not in seen and gone in self.table.paths and not self.follow_sighting(gone):
                    self.drop_subtree(gone, remove_from_kernel=True)


def _same_dir(state: TreeState, a: str, b: str) -> bool:
    """Do both paths name the same directory now (following links)?"""
    try:
        sa, sb = state.port.stat(a, True), state.port.stat(b, True)
    except OSError:
        return False
    return sa.st_ino == sb.st_ino and sa.st_dev == sb.st_dev
