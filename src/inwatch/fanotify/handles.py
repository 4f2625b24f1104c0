"""File handle -> path, kept current by the events themselves.

fanotify names objects by file handle, not by path (FAN_REPORT_DFID_NAME: the
directory's handle and the entry's name). A path is rebuilt here from what is
known about each handle:

- ``(parent handle, name)`` links, learned from every event that names a child
  together with the child's own handle (FAN_REPORT_TARGET_FID, 5.17: CREATE,
  DELETE, FAN_RENAME and every event on a file carry both). A rename rewrites one
  link, and so every path below the renamed directory, at the point of the event
  stream where it happened;
- *anchors*: absolute paths of handles resolved by the kernel
  (``open_by_handle_at`` + ``/proc/self/fd``), for directories that existed before
  we started and that no event has named yet.

Events are processed in queue order, so a link reflects the tree as it was when
the event being processed happened, except for anchors, which are resolved "now":
a directory renamed after the event but before we resolve it would give its new
path. To narrow that, :meth:`PathCache.prime` is given each batch first and
remembers, for handles not known yet, the *first* place the batch names them
(for a FAN_RENAME, its old place): that is where they were before anything in the
batch moved them.

Before 5.17 (no FAN_REPORT_TARGET_FID) no event carries the handle of the
entry it names, so no link is ever learned: every directory is an anchor,
resolved by the kernel where it is when first met, and a directory rename
forgets them all (:meth:`PathCache.moved_unknown`). An event queued before a
directory was renamed, and resolved after, then shows the later path.

Deleted objects keep their last known link: an event about something already
gone (its handle is stale: ESTALE) still comes out with its last known path.
Only an object that no event ever named and that was gone before we could ask
the kernel has no path; :func:`unresolved_path` gives it a placeholder and
:mod:`.core` decides where (if anywhere) it can be shown. Links of deleted
objects are forgotten only after many later deletions (a bounded history), so
memory stays bounded on a busy filesystem.
"""

from __future__ import annotations

import errno
import os
import struct
from collections import OrderedDict
from collections.abc import Iterable

from . import _sys
from .errors import FanotifyError
from .wire import RawEvent, key_fsid, key_handle

__all__ = ["UNRESOLVED", "PathCache"]

UNRESOLVED = b"?"
"""Path prefix of an object no source could place (see :meth:`PathCache.path`)."""

_DELETED = b" (deleted)"
_KEEP_DELETED = 65536  # links of deleted objects kept for late events
_KEEP_FILES = 65536  # links of non-directories (LRU)
_KEEP_DIRS = 262144  # links of directories and kernel-resolved paths (oldest dropped first)
_RENAME = 0x10000000
_ONDIR = 0x40000000


class PathCache:
    """Directory/file handle keys -> absolute ``bytes`` paths."""

    def __init__(self) -> None:
        self._dirs: dict[bytes, tuple[bytes, bytes]] = {}  # dir key -> (parent key, name)
        self._files: OrderedDict[bytes, tuple[bytes, bytes]] = OrderedDict()
        self._fixed: dict[bytes, bytes] = {}  # watched roots' keys -> path (never dropped)
        self._anchors: dict[bytes, bytes] = {}  # key -> path the kernel resolved
        self._resolved: dict[bytes, bytes] = {}  # memo of path(); cleared on any dir move
        self._primed: dict[bytes, tuple[bytes, bytes]] = {}
        self._deleted: OrderedDict[bytes, None] = OrderedDict()
        self._mount_fds: dict[bytes, int] = {}  # fsid -> an O_PATH fd on that filesystem
        self.kernel_lookups = 0
        """How many handles were resolved by open_by_handle_at (for statistics)."""

    # --- filesystems --------------------------------------------------------

    def add_filesystem(self, path: bytes) -> bytes:
        """Anchor *path* (a directory on a marked filesystem) and, the first time
        its filesystem is seen, open the mount it is on as the place to open that
        filesystem's handles from; returns *path*'s key.

        The fd is on the mount point, not on *path*: an open directory is not
        removed while referenced (rmdir defers its DELETE_SELF until the last
        reference goes), and a mount point cannot be removed at all."""
        handle, _mnt = _sys.name_to_handle_at(path)
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
        try:
            fsid = _sys.fsid(fd)
        finally:
            os.close(fd)
        key = handle_key(fsid, handle)
        if fsid not in self._mount_fds:
            # open_by_handle_at refuses an O_PATH mount fd (EBADF): open it for reading.
            top = _mount_point(path)
            mfd = os.open(top, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            if _sys.fsid(mfd) != fsid:  # a mount of another filesystem on the way
                os.close(mfd)
                mfd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            self._mount_fds[fsid] = mfd
        self._fixed[key] = path
        self._resolved.clear()
        return key

    def mount_fd(self, fsid: bytes) -> int | None:
        """An open directory fd on the filesystem *fsid* (valid until :meth:`close`)."""
        return self._mount_fds.get(fsid)

    def close(self) -> None:
        for fd in self._mount_fds.values():
            os.close(fd)
        self._mount_fds.clear()

    # --- learning from events -----------------------------------------------

    def prime(self, events: Iterable[RawEvent]) -> None:
        """Note where this batch first names each child handle we do not know."""
        primed = self._primed
        primed.clear()
        dirs, files = self._dirs, self._files
        for ev in events:
            child = ev.fid
            if child is None or child in dirs or child in files or child in primed:
                continue
            if ev.old_dir is not None and ev.old_name is not None:
                primed[child] = (ev.old_dir, ev.old_name)
            elif ev.dir is not None and ev.name and ev.name != b".":
                primed[child] = (ev.dir, ev.name)

    def learn(self, child: bytes, parent: bytes, name: bytes, is_dir: bool) -> None:
        """*child* is entry *name* of directory *parent* (now)."""
        if is_dir:
            old = self._dirs.get(child)
            if old != (parent, name):
                dirs = self._dirs
                dirs[child] = (parent, name)
                if len(dirs) > _KEEP_DIRS:
                    # Bounded on a busy filesystem: a dropped link of a directory
                    # that still exists is resolved by the kernel again if needed.
                    del dirs[next(iter(dirs))]
                if (
                    old is not None
                    or child in self._anchors
                    or child in self._fixed
                    or child in self._primed
                ):
                    # A directory moved: every memoised path below it is stale.
                    self._anchors.pop(child, None)
                    self._fixed.pop(child, None)
                    self._resolved.clear()
                else:
                    self._resolved.pop(child, None)
        else:
            files = self._files
            files[child] = (parent, name)
            files.move_to_end(child)
            if len(files) > _KEEP_FILES:
                files.popitem(last=False)

    def moved_away(self, key: bytes) -> None:
        """Directory *key* was moved to a place no event told (a lone
        FAN_MOVED_FROM): forget where it was, so that it is asked of the
        kernel again rather than placed in its old spot."""
        self._dirs.pop(key, None)
        self._anchors.pop(key, None)
        self._primed.pop(key, None)
        self._resolved.clear()

    def moved_unknown(self) -> None:
        """A directory moved and its handle is not known (no FAN_REPORT_TARGET_FID,
        before 5.17): every path resolved from the kernel may now be stale, so
        each is asked again (they are "now" paths from then on)."""
        self._anchors.clear()
        self._resolved.clear()

    def deleted(self, child: bytes) -> None:
        """*child* was deleted: keep its link for late events, for a while."""
        d = self._deleted
        d[child] = None
        if len(d) > _KEEP_DELETED:
            old, _ = d.popitem(last=False)
            self._dirs.pop(old, None)
            self._files.pop(old, None)
            self._anchors.pop(old, None)
            self._resolved.pop(old, None)

    # --- resolving ----------------------------------------------------------

    def dir_path(self, key: bytes) -> bytes | None:
        """The absolute path of directory *key*, or ``None`` if nothing places it."""
        path = self._resolved.get(key)
        if path is not None:
            return path
        path = self._walk(key, 0)
        if path is not None:
            if len(self._resolved) > _KEEP_DIRS:
                self._resolved.clear()
            self._resolved[key] = path
        return path

    def file_path(self, key: bytes) -> bytes | None:
        """The last known path of a non-directory object (FID-only events)."""
        link = self._files.get(key) or self._primed.get(key)
        if link is not None:
            parent = self.dir_path(link[0])
            if parent is not None:
                return _join(parent, link[1])
        if key in self._dirs or key in self._anchors or key in self._fixed:
            return self.dir_path(key)
        return self._from_kernel(key)

    def _walk(self, key: bytes, depth: int) -> bytes | None:
        anchor = self._fixed.get(key) or self._anchors.get(key)
        if anchor is not None:
            return anchor
        link = self._dirs.get(key) or self._primed.get(key)
        if link is not None and depth < 4096:
            parent = self._resolved.get(link[0]) or self._walk(link[0], depth + 1)
            if parent is not None:
                return _join(parent, link[1])
        return self._from_kernel(key)

    def _from_kernel(self, key: bytes) -> bytes | None:
        mount_fd = self._mount_fds.get(key_fsid(key))
        if mount_fd is None:
            return None
        htype, data = key_handle(key)
        try:
            fd = _sys.open_by_handle_at(mount_fd, _sys.Handle(htype, data))
        except FanotifyError as e:
            if e.errno in (errno.ESTALE, errno.ENOENT, errno.EPERM, errno.EACCES):
                return None  # gone, or not ours to open: the caller marks it unresolved
            raise
        try:
            path = os.readlink(f"/proc/self/fd/{fd}".encode())
        finally:
            os.close(fd)
        self.kernel_lookups += 1
        if path.endswith(_DELETED):
            path = path[: -len(_DELETED)]
        anchors = self._anchors
        anchors[key] = path
        if len(anchors) > _KEEP_DIRS:
            del anchors[next(iter(anchors))]
        return path


def handle_key(fsid: bytes, handle: _sys.Handle) -> bytes:
    """The key events carry for this object (see :mod:`.wire`)."""
    return fsid + struct.pack("=Ii", len(handle.data), handle.type) + handle.data


def _mount_point(path: bytes) -> bytes:
    """The mount point *path* is on."""
    p = os.path.abspath(path)
    while not os.path.ismount(p):
        parent = os.path.dirname(p)
        if parent == p:
            break
        p = parent
    return p


def _join(parent: bytes, name: bytes) -> bytes:
    return parent + name if parent.endswith(b"/") else parent + b"/" + name


def unresolved_path(key: bytes) -> bytes:
    """A placeholder path for an object no source could place: ``?`` and its handle."""
    return UNRESOLVED + key.hex().encode()
