"""The fanotify group: owns the fd, places marks, reads.

One group serves every watched tree: a FAN_MARK_FILESYSTEM mark reports every
object of a filesystem, through every mount of it, with no per-directory setup
and no watch limit (one mark counts against ``max_user_marks``). The group
reports objects by file handle (FAN_REPORT_DFID_NAME plus the child's own
handle, FAN_REPORT_TARGET_FID, 5.17) and, when allowed, a pidfd per event
(FAN_REPORT_PIDFD, 5.15, CAP_SYS_ADMIN).
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable

from . import _sys
from .errors import FanotifyPermissionError, UnsupportedEventError
from .flags import FanInit, FanMark

__all__ = ["BASE_INIT", "Fanotify"]

BASE_INIT = (
    FanInit.CLOEXEC | FanInit.NONBLOCK | FanInit.CLASS_NOTIF | FanInit.REPORT_DFID_NAME_TARGET
)
_CHUNK = 64 * 1024
_MAX_READ = 16 * 1024 * 1024  # per read_raw: a storm must not keep the reader forever


class Fanotify:
    """A notification-class fanotify group reporting file handles.

    ``flags`` is what the kernel granted: REPORT_PIDFD is dropped (and
    ``pidfd_refused`` says why) when the process lacks CAP_SYS_ADMIN."""

    def __init__(self, *, pidfd: bool = True) -> None:
        self.pidfd_refused = ""
        flags = BASE_INIT | (FanInit.REPORT_PIDFD if pidfd else 0)
        try:
            fd = _sys.fanotify_init(flags, os.O_RDONLY | os.O_CLOEXEC)
        except (FanotifyPermissionError, UnsupportedEventError) as e:
            if not flags & FanInit.REPORT_PIDFD:
                fd = self._older(flags, e)
                flags &= ~FanInit.REPORT_TARGET_FID
            else:
                self.pidfd_refused = str(e)
                flags &= ~FanInit.REPORT_PIDFD
                try:
                    fd = _sys.fanotify_init(flags, os.O_RDONLY | os.O_CLOEXEC)
                except UnsupportedEventError as e2:
                    fd = self._older(flags, e2)
                    flags &= ~FanInit.REPORT_TARGET_FID
        self._fd = fd
        self.flags = FanInit(flags)

    @staticmethod
    def _older(flags: int, error: OSError) -> int:
        """Linux 5.9 to 5.16: FAN_REPORT_DFID_NAME without the child's handle
        (FAN_REPORT_TARGET_FID is 5.17). The backend then pairs rename halves
        and resolves moved directories by the kernel again (see .moves)."""
        if not isinstance(error, UnsupportedEventError) or not flags & FanInit.REPORT_TARGET_FID:
            raise error
        return _sys.fanotify_init(flags & ~FanInit.REPORT_TARGET_FID, os.O_RDONLY | os.O_CLOEXEC)

    def fileno(self) -> int:
        if self._fd < 0:
            raise ValueError("I/O operation on a closed fanotify group")
        return self._fd

    @property
    def closed(self) -> bool:
        return self._fd < 0

    def close(self) -> None:
        if self._fd >= 0:
            fd, self._fd = self._fd, -1
            os.close(fd)

    def __enter__(self) -> Fanotify:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def mark(
        self,
        path: bytes,
        mask: int,
        kind: int = FanMark.FILESYSTEM,
        *,
        shown: str | bytes | None = None,
    ) -> None:
        """Add *mask* to the mark of *kind* on *path* (the filesystem it is on, by default)."""
        _sys.fanotify_mark(self.fileno(), FanMark.ADD | kind, mask, path, shown=shown)

    def unmark(
        self, path: bytes | None, mask: int, kind: int = FanMark.FILESYSTEM, dirfd: int = -100
    ) -> None:
        """Remove *mask* from that mark (the mark goes when its mask is empty);
        *path* ``None`` names the object of *dirfd*."""
        _sys.fanotify_mark(self.fileno(), FanMark.REMOVE | kind, mask, path, dirfd)

    def read_raw(self, on_chunk: Callable[[bytearray], None] | None = None) -> bytes:
        """Everything queued now (``b""`` if nothing; never blocks). Each chunk
        ``read`` returns goes through *on_chunk* first (the pidfds it installed
        are turned into identities and closed before the next read)."""
        parts: list[bytes] = []
        total = 0
        fd = self.fileno()
        while total < _MAX_READ:
            try:
                chunk = os.read(fd, _CHUNK)
            except BlockingIOError:
                break
            except OSError as e:
                if e.errno == errno.EINTR:  # pragma: no cover - PEP 475 retries
                    continue
                raise
            if not chunk:
                break
            if on_chunk is not None:
                buf = bytearray(chunk)
                on_chunk(buf)
                chunk = bytes(buf)
            parts.append(chunk)
            total += len(chunk)
        return b"".join(parts)
