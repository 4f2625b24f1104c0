"""Where things went that the kernel does not say: mounts and renamed roots.

- A file system mounted on a directory of a watched tree hides the directory
  (its watch sees nothing more) and shows the mounted root; inotify says
  nothing of it. The mount table (``poll()`` on ``/proc/self/mountinfo``) tells
  the core (:meth:`Places._cover`).
- Unmounting queues UNMOUNT, then IGNORED, for every watch on that file
  system; the directory it covered is uncovered (:meth:`Places._uncover`).
- A watched root that is renamed reports MOVE_SELF without saying where it
  went (:meth:`Places._follow_root`).

Each is said as synthetic events and the table follows. Part of the core
(:class:`~inwatch.inotify.core.InotifyCore`), split out to keep modules small.
"""

from __future__ import annotations

import os
import threading

from ..filters import Root
from .recover import Recovery
from .roots import kernel_mask

__all__ = ["Places"]

_DELETE = 0x200
_ISDIR = 0x40000000
_CREATE = 0x100
_MASK_ADD = 0x20000000


class Places(Recovery):
    """Mounts covering and uncovering directories; a renamed root followed."""

    # Set up by InotifyCore.__init__.
    _read_lock: threading.Lock
    _unmounts: dict[int, str]  # wd -> path, of UNMOUNTs in this read
    _mounted: set[str]  # new mount points, not yet looked at

    def _uncover(self) -> None:
        """File systems were unmounted (UNMOUNT, then IGNORED, for every watch
        on one). If one was mounted on a directory of a watched tree, that
        directory is uncovered: the tree lost the mounted contents and gained
        the directory's own. Said as synthetic events (the directory deleted,
        then created with what it holds), and the uncovered directory is
        watched. The mount's root is the unmounted watch whose parent was not
        unmounted with it."""
        gone = self._unmounts
        self._unmounts = {}
        gone_paths = set(gone.values())
        for wd, path in sorted(gone.items(), key=lambda item: len(item[1])):
            parent_path = os.path.dirname(path) or "/"
            if parent_path in gone_paths or path == parent_path:
                continue  # inside the unmounted file system, or "/"
            if self.port.was_mount_point(path) is False:
                continue  # inside it too: its parent's UNMOUNT is in a later read
            if wd in self.table.paths:
                if wd in self.roots:
                    continue  # a watched root: nothing of ours is uncovered
                self.drop_subtree(wd, remove_from_kernel=False)  # IGNOREDs queued
            parent = self.table.wd_of(parent_path)
            if parent is None:
                continue
            root = self.root_of(parent)
            name = os.path.basename(path)
            until = self.port.clock()
            self.recent.hold(parent, name, _DELETE | _ISDIR, "rescan", until)
            if root.auto_add:
                self.recent.hold(parent, name, _CREATE | _ISDIR, "rescan", until)
                self.watch_new_dir(path, parent, root, "rescan")

    def _cover(self) -> None:
        """File systems were mounted: one mounted on a directory of a watched tree
        hides the directory (its watch now sees nothing) and shows the mounted
        root. Said as synthetic events (the directory deleted, then created with
        what the mount holds), and the mounted root is watched."""
        with self._read_lock:
            points = sorted(self._mounted, key=len)
            self._mounted.clear()
        for point in points:
            parent = self.table.wd_of(os.path.dirname(point) or "/")
            if parent is None or point == "/":
                continue
            root = self.root_of(parent)
            name = os.path.basename(point)
            if not root.auto_add or root.excludes(point, name):
                continue
            old = self.table.wd_of(point)
            try:
                now = self.port.add_watch(point, kernel_mask(root) | _MASK_ADD)
            except OSError:
                continue
            if now == old:
                continue  # watched already (mounted before we walked there)
            if now not in self.table.paths:
                self.port.rm_watch(now)  # watch_new_dir adds it again, its way
            if old is not None:
                self.drop_subtree(old, remove_from_kernel=True)  # the hidden directory
                until = self.port.clock()
                self.recent.hold(parent, name, _DELETE | _ISDIR, "rescan", until)
            self.recent.hold(parent, name, _CREATE | _ISDIR, "rescan", self.port.clock())
            self.watch_new_dir(point, parent, root, "rescan")

    def _follow_root(self, wd: int, path: str) -> None:
        """A watched root was renamed: follow it to where it went.

        inotify does not say where. We look for the root's inode in its old
        parent directory (``mv dir dir.old``, the common case); found, the
        tree's paths follow it. Not found (moved elsewhere), its path becomes
        ``PATH-unknown-path`` (pyinotify's spelling), so that no later event
        names a path where the entry is not.
        """
        dev_ino = self.root_ids[wd]
        parent = os.path.dirname(path) or "."
        where = None
        try:
            for entry in self.port.scandir(parent):
                if entry.inode() == dev_ino[1] and entry.is_dir(follow_symlinks=False):
                    st = entry.stat(follow_symlinks=False)
                    if (st.st_dev, st.st_ino) == dev_ino:
                        where = entry.path
                        break
        except OSError:
            pass
        if where == path:
            return
        if where is None:
            where = path + "-unknown-path"
        elif parent == "." and not path.startswith("./"):
            where = os.path.basename(where)
        self.table.move(wd, where, None)
        root = self.roots.get(wd)
        if isinstance(root, Root):
            root.path = where
