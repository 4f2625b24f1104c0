"""In-kernel ignore marks: what we would drop anyway never reaches user space.

A filesystem mark reports every object of the filesystem; :mod:`.core` drops
what is outside the watched trees. For two kinds of objects the kernel can drop
it instead, before it is queued (no copy, no wake-up, no room taken in the
queue of 16,384 records):

- **excluded directories** inside a watched tree (``exclude=``): an ignore
  mark on the directory's inode;
- **the listener's own files**, the ones only it writes (its journal, its
  output redirected into a watched tree), when it names them
  (``FanotifyBackend.ignore_own_file(fd)``): an ignore mark on each file's
  inode. Never guessed from what is open: a file that others write too would
  lose their events.

What the kernel does with them (fanotify_mark(2); fs/notify/fanotify):

- An ignore mask on an *inode* mark applies to events that any mark of the
  group (our filesystem mark included) would report.
- A directory's ignore mark covers events *on the directory itself* (its
  entries being created or deleted are events on it: CREATE, DELETE) and, with
  ``FAN_EVENT_ON_CHILD``, events on its **direct children** (a file's OPEN,
  MODIFY, CLOSE_WRITE...). Never deeper: ``skip/a/f`` is a child of ``skip/a``,
  not of ``skip``. What happens below the first level still arrives and is
  dropped by path in :mod:`.core`, as before.
- ``FAN_MARK_IGNORE`` (Linux 6.0) takes ``FAN_ONDIR`` and ``FAN_EVENT_ON_CHILD``
  in the ignore mask itself and needs ``FAN_MARK_IGNORED_SURV_MODIFY`` on a
  directory (EISDIR otherwise). Before 6.0, ``FAN_MARK_IGNORED_MASK`` always
  applies to events on the directory, and to its children only if the mark's
  own (non-ignore) mask has ``FAN_EVENT_ON_CHILD``: so the legacy path adds
  that flag, alone, as the inode mark's mask (it reports nothing by itself).
  Without ``IGNORED_SURV_MODIFY`` a legacy ignore mask is cleared by the first
  MODIFY of the object: we always set it.
- Never ignored: renames and moves (FAN_RENAME is reported to the old and the
  new directory's marks together, so ignoring it on an excluded directory
  would lose a file moved *out* of it into the tree), ``*_SELF`` and
  FAN_OPEN_EXEC (what :mod:`.actors` learns executables from).
- A directory renamed from an excluded name to a watched one has its ignore
  mark removed (by its handle) before its contents are listed; what its direct
  children did between the rename and that moment is not seen: the same window
  an inotify watch on a moved-in directory has.
"""

from __future__ import annotations

import os

from . import _sys
from .errors import FanotifyError, UnsupportedEventError
from .fd import Fanotify
from .flags import FanMark, FanMask
from .handles import PathCache
from .wire import key_fsid, key_handle

__all__ = ["Ignores"]

_EVENTS = (
    FanMask.OPEN
    | FanMask.ACCESS
    | FanMask.MODIFY
    | FanMask.ATTRIB
    | FanMask.CLOSE_WRITE
    | FanMask.CLOSE_NOWRITE
)
DIR_EVENTS = _EVENTS | FanMask.CREATE | FanMask.DELETE
"""What an excluded directory's ignore mark drops (on it and its children)."""
FILE_EVENTS = _EVENTS
"""What an own file's ignore mark drops."""


class Ignores:
    """The group's ignore marks. *mode*: ``"auto"`` (FAN_MARK_IGNORE, or the
    legacy flags where the kernel refuses it), ``"legacy"`` (force those),
    ``"off"`` (none: every event reaches user space, for comparison)."""

    def __init__(self, fan: Fanotify, paths: PathCache, mode: str = "auto") -> None:
        if mode not in ("auto", "legacy", "off"):
            raise ValueError(f"ignore marks: 'auto', 'legacy' or 'off', not {mode!r}")
        self._fan = fan
        self._paths = paths
        self.mode = mode
        self.dirs: dict[bytes, bytes] = {}
        """Handle key -> path (when marked) of each ignored directory."""
        self.files = 0
        """Own files given an ignore mark."""

    @property
    def enabled(self) -> bool:
        return self.mode != "off"

    # --- directories ----------------------------------------------------------

    def directory(self, key: bytes, path: bytes) -> None:
        """Ignore what happens in excluded directory *key* (at *path*) and to
        its direct children. Best effort: a directory gone meanwhile is left
        to the path filter."""
        if not self.enabled or key in self.dirs:
            return
        fd = self._open(key)
        if fd is None:
            return
        try:
            self._mark_dir(fd, add=True)
        except FanotifyError:
            return
        finally:
            os.close(fd)
        self.dirs[key] = path

    def release(self, key: bytes) -> None:
        """Directory *key* is watched again (renamed to a name not excluded)."""
        if self.dirs.pop(key, None) is None:
            return
        fd = self._open(key)
        if fd is None:
            return  # deleted: its marks went with it
        try:
            self._mark_dir(fd, add=False)
        except FanotifyError:
            pass  # the mark is gone with the inode
        finally:
            os.close(fd)

    def _mark_dir(self, fd: int, *, add: bool) -> None:
        op = FanMark.ADD if add else FanMark.REMOVE
        surv = FanMark.IGNORED_SURV_MODIFY if add else 0
        if self.mode == "auto":
            flags = FanMask.ONDIR | FanMask.EVENT_ON_CHILD
            try:
                _sys.fanotify_mark(
                    self._fan.fileno(), op | FanMark.IGNORE | surv, DIR_EVENTS | flags, None, fd
                )
                return
            except UnsupportedEventError:
                if not add:
                    raise
                self.mode = "legacy"  # Linux < 6.0: no FAN_MARK_IGNORE
        _sys.fanotify_mark(
            self._fan.fileno(), op | FanMark.IGNORED_MASK | surv, DIR_EVENTS, None, fd
        )
        # The legacy ignore mask reaches the children only if the mark's own
        # mask asks for events on children.
        _sys.fanotify_mark(self._fan.fileno(), op, FanMask.EVENT_ON_CHILD, None, fd)

    # --- own files ----------------------------------------------------------------

    def file(self, fd: int) -> int:
        """Ignore events of the regular file open as *fd*; 1 if a mark was added."""
        flags = FanMark.ADD | FanMark.IGNORED_SURV_MODIFY
        flags |= FanMark.IGNORE if self.mode == "auto" else FanMark.IGNORED_MASK
        try:
            _sys.fanotify_mark(self._fan.fileno(), flags, FILE_EVENTS, None, fd)
        except UnsupportedEventError:
            if self.mode != "auto":
                return 0
            self.mode = "legacy"
            return self.file(fd)
        except FanotifyError:
            return 0
        self.files += 1
        return 1

    def _open(self, key: bytes) -> int | None:
        mount_fd = self._paths.mount_fd(key_fsid(key))
        if mount_fd is None:
            return None
        htype, data = key_handle(key)
        try:
            # O_RDONLY, not O_PATH: fanotify_mark needs a real open file as dirfd.
            return _sys.open_by_handle_at(
                mount_fd, _sys.Handle(htype, data), os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
            )
        except FanotifyError:
            return None
