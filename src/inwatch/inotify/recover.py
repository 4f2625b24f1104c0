"""Listing watched directories again: after an overflow, and after a race.

After ``Q_OVERFLOW`` every tree is listed again and compared with what was
reported (:func:`inwatch.rescan.diff_dir`); the differences are held as
synthetic events of origin ``"rescan"`` and released like any listing's
findings, so a kernel event queued after the overflow that reports the same
change settles it instead of doubling it.

A *pending* directory is one in which a subdirectory vanished before we could
watch it (renamed or deleted between its CREATE and our listing). Once the
queue has been processed further, the directory is listed again at the path it
has then: subdirectories that were reported but never watched and that exist
now are watched and their contents reported. ``add_watch`` of the path is
the identity check: if it gives back another wd, the path is stale (the rename
that moved our directory is still queued) and the listing waits.

An *unlisted* directory is one we watch but could not list: ``add_watch``
returned its wd, then ``scandir`` failed with ENOENT (it was renamed, or
deleted, in between). Its watch follows its inode, so the rename's events
re-path it; what it held before our watch was never reported. It is listed
(and what it holds reported) once ``add_watch`` of its path in the table gives
back its own wd, the same identity check.
"""

from __future__ import annotations

import os

from ..filters import Root
from ..rescan import MTIME_SLACK, diff_dir
from .port import DirEntryLike
from .roots import ECHO, Roots, kernel_mask
from .table import join

__all__ = ["Recovery"]

_MODIFY = 0x2
_CREATE = 0x100
_DELETE = 0x200
_ISDIR = 0x40000000
_MASK_ADD = 0x20000000


class Recovery(Roots):
    def recover(self) -> None:
        """After events were lost: rescan every tree and hold what differs."""
        since = self.last_read - MTIME_SLACK
        for root_wd, root in list(self.roots.items()):
            if root_wd not in self.table.paths:
                continue
            full_mask = kernel_mask(root)
            if full_mask & ECHO:
                # Listing every directory again must not flood the queue with our
                # own reads (and overflow it again): quiet the tree meanwhile.
                self.widen(root_wd, full_mask & ~ECHO, replace=True)
            try:
                stack = [root_wd]
                while stack:
                    wd = stack.pop()
                    path = self.table.paths.get(wd)
                    if path is not None:
                        stack.extend(self._rescan_dir(wd, path, root, since))
            finally:
                if full_mask & ECHO and root_wd in self.table.paths:
                    self.widen(root_wd, full_mask)

    def _listing(self, path: str, root: Root) -> tuple[list[DirEntryLike], list[tuple[str, bool]]]:
        entries = self.port.scandir(path)
        listing: list[tuple[str, bool]] = []
        for entry in entries:
            if root.excludes(entry.path, entry.name):
                continue
            try:
                is_dir = entry.is_dir(follow_symlinks=root.follow)
            except OSError:
                continue
            listing.append((entry.name, is_dir))
        return entries, listing

    def _rescan_dir(self, wd: int, path: str, root: Root, since: float) -> list[int]:
        """Compare one watched directory with what was reported; hold the
        differences; return the watched subdirectories still to visit."""
        try:
            entries, listing = self._listing(path, root)
        except OSError:
            return []  # a watched file, or gone: its IGNORED is coming
        by_name = {e.name: e for e in entries}
        table = self.table
        watched = {os.path.basename(table.paths[c]): c for c in table.kids(wd)}

        def changed_at(name: str) -> float | None:
            try:
                st = by_name[name].stat(follow_symlinks=False)
            except (OSError, KeyError):
                return None
            return max(st.st_mtime, st.st_ctime)

        d = diff_dir(
            listing,
            self.files.get(wd, set()),
            watched,
            self.unwatched.get(wd, set()),
            changed_at,
            since,
            root.auto_add,
        )
        hold = self.recent.hold
        until = self.port.clock()
        # Departures first: a name that changed kind while we were blind (a
        # directory removed, a file made at its name) is deleted, then created,
        # in that order (held findings are released in the order held).
        for name in d.deleted_files:
            hold(wd, name, _DELETE, "rescan", until)
        for name in d.deleted_dirs:
            self.unwatched[wd].discard(name)
            hold(wd, name, _DELETE | _ISDIR, "rescan", until)
        for name, child in d.gone_watched.items():
            if table.paths.get(child) == join(path, name):
                self.drop_subtree(child, remove_from_kernel=True)
            # else: found again under another name (moved while blind)
            hold(wd, name, _DELETE | _ISDIR, "rescan", until)
        for name in d.created_files:
            hold(wd, name, _CREATE, "rescan", until)
        for name in d.modified:
            hold(wd, name, _MODIFY, "rescan", until)
        if d.files_now or wd in self.files:
            self.files[wd] = d.files_now
        for name in d.created_dirs:
            hold(wd, name, _CREATE | _ISDIR, "rescan", until)
            self.watch_new_dir(join(path, name), wd, root, "rescan")
        for name in d.rewatch_dirs:
            self.unwatched[wd].discard(name)
            self.watch_new_dir(join(path, name), wd, root, "rescan")
        return d.visit

    def settle_pending(self) -> None:
        """List again the directories in which a subdirectory got away from us,
        and list those we watch but could never list."""
        if self.unlisted:
            self._settle_unlisted()
        for wd in list(self.pending):
            path = self.table.paths.get(wd)
            if path is None:
                self.pending.discard(wd)
                continue
            names = self.unwatched.get(wd)
            if not names:
                self.pending.discard(wd)
                continue
            root = self.root_of(wd)
            if not self._still_at(path, wd, kernel_mask(root)):
                continue
            self.pending.discard(wd)
            for name in sorted(names):
                full = join(path, name)
                if self._is_dir(full, root.follow):
                    names.discard(name)
                    self.watch_new_dir(full, wd, root, "scan")

    def _still_at(self, path: str, wd: int, mask: int) -> bool:
        """Is the directory of *wd* at *path* now? ``add_watch`` of a path returns
        the wd of the inode it names at this moment (adding *mask* to its watch,
        ``MASK_ADD``): ours means the queue has caught up with the rename that
        took it there. A stale path (ENOENT) or another directory's wd: not yet
        (a wd made just now for that other directory is removed again)."""
        try:
            again = self.port.add_watch(path, mask | _MASK_ADD)
        except OSError:
            return False  # the path is stale: the rename is still queued
        if again != wd:
            if again not in self.table.paths:
                self.port.rm_watch(again)
            return False  # another directory now has that name: wait for the queue
        return True

    def _settle_unlisted(self) -> None:
        """A directory watched but never listed (see roots.watch_new_dir) is
        listed once ``add_watch`` of the path the table has for it gives back
        its own wd: the inode is at that path *now*, so the queue has caught up
        with the rename that made its listing fail (a stale path gives ENOENT
        or another wd: wait; a deletion ends it with IGNORED; a move out of the
        tree, with MOVED_FROM)."""
        for wd in list(self.unlisted):
            path = self.table.paths.get(wd)
            parent = None if path is None else self.table.wd_of(os.path.dirname(path) or "/")
            if path is None or parent is None:
                self.unlisted.discard(wd)  # left the tree (or a root): nothing to list
                continue
            root = self.root_of(wd)
            full_mask = kernel_mask(root)
            if not self._still_at(path, wd, full_mask & ~ECHO):
                continue
            self.unlisted.discard(wd)
            if full_mask & ECHO:
                # Listing it must not make its watch report our own reads.
                self.widen(wd, full_mask & ~ECHO, replace=True)
            self.watch_new_dir(path, parent, root, "scan", rewalk=True, known=self._known_in(wd))

    def _known_in(self, top: int) -> tuple[dict[int, set[str]], set[str]]:
        """What a reader knows in the subtree of *top* (an unlisted directory):
        the files by directory wd, the directories by path. The kernel's events
        in it since its watch (a CREATE, a MOVED_TO, a subdirectory and what
        that one's listing found) were processed before its listing at last;
        found again by that listing, they would be created twice (ground
        truth, seed 34: dup-create). Known means reported: an entry a listing
        found and still holds (its CREATE not released yet) is not known, and
        the relisting holds it again in its place."""
        files: dict[int, set[str]] = {}
        dirs: set[str] = set()
        paths = self.table.paths
        subtree = self.table.subtree(top)
        held = self.recent.held_in(set(subtree))
        for wd in subtree:
            path = paths[wd]
            if wd in self.files:
                files[wd] = {n for n in self.files[wd] if (wd, n) not in held}
            for name in self.unwatched.get(wd, ()):
                if (wd, name) not in held:
                    dirs.add(join(path, name))
            for kid in self.table.kids(wd):
                name = os.path.basename(paths[kid])
                if (wd, name) not in held:
                    dirs.add(paths[kid])
        return files, dirs
