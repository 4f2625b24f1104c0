"""`Inotify`: one inotify instance, owned.

It holds the fd and nothing else: no wd table, no paths, no thread. Every
higher layer (recursive trees, the pyinotify-style API, the CLI) sits on this.
"""

from __future__ import annotations

import os
import select
import sys
import warnings
from types import TracebackType

from ..accel import native
from ..flags import InitFlags
from ..timeouts import poll_ms
from . import _sys
from .wire import RawEvent, parse_events

__all__ = ["Inotify", "PathArg"]

PathArg = str | bytes | os.PathLike[str] | os.PathLike[bytes]

# The kernel refuses a read smaller than one event with the longest name
# (EINVAL), and returns at most what fits. 64 KiB takes ~2,000 typical events;
# read() sizes its buffer from FIONREAD so one call drains the whole queue.
READ_SIZE = 65536
LARGEST_EVENT = 16 + 256  # header + NAME_MAX + NUL
_FS_ENCODING = sys.getfilesystemencoding()  # what os.fsencode uses
_FS_ERRORS = sys.getfilesystemencodeerrors()
# The accelerator's inotify_add_watch (inotify/_accel_watch.c): success only,
# None on any failure, which the Python path then makes again and reports.
_native_add_watch = None if native is None else native.add_watch


def more(fd: int, data: bytes) -> bytes:
    """*data* and the rest of the queue, when a read of READ_SIZE came back nearly
    full: the kernel fills the buffer with whole events only, so more may be
    queued; take the rest now, sized by FIONREAD (a read that is not nearly full
    needs no ioctl: that is the latency path)."""
    size = _sys.fionread(fd)
    if size:
        try:
            data += os.read(fd, size)
        except BlockingIOError:
            pass  # another reader took them
    return data


class Inotify:
    """An inotify instance.

    ``Inotify()`` opens it close-on-exec and blocking; ``nonblocking=True`` sets
    O_NONBLOCK on the fd (``read()`` still honours its timeout: it polls first).
    Use it as a context manager, or call :meth:`close`. Its :meth:`fileno` can be
    registered with ``select``/``poll``/``selectors``/asyncio: it is readable when
    events are queued.
    """

    __slots__ = ("_fd", "_nonblocking", "_poll")

    def __init__(self, *, nonblocking: bool = False, cloexec: bool = True) -> None:
        flags = 0
        if nonblocking:
            flags |= InitFlags.NONBLOCK
        if cloexec:
            flags |= InitFlags.CLOEXEC
        self._fd = -1
        self._nonblocking = nonblocking
        self._fd = _sys.init1(int(flags))
        self._poll = select.poll()
        self._poll.register(self._fd, select.POLLIN)

    # --- the fd ---------------------------------------------------------------

    def fileno(self) -> int:
        """The inotify fd. Raises ``ValueError`` once closed."""
        if self._fd < 0:
            raise ValueError("I/O operation on a closed Inotify")
        return self._fd

    @property
    def closed(self) -> bool:
        return self._fd < 0

    def close(self) -> None:
        """Close the fd; the kernel drops every watch. Idempotent."""
        fd, self._fd = self._fd, -1
        if fd >= 0:
            os.close(fd)

    def __enter__(self) -> Inotify:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __del__(self) -> None:
        if getattr(self, "_fd", -1) >= 0:
            warnings.warn(f"unclosed {self!r}", ResourceWarning, source=self, stacklevel=2)
            self.close()

    def __repr__(self) -> str:
        return f"<Inotify fd={self._fd}>" if self._fd >= 0 else "<Inotify closed>"

    # --- watches --------------------------------------------------------------

    def add_watch(self, path: PathArg, mask: int) -> int:
        """Watch *path* for the events in *mask*; return its watch descriptor.

        Adding a path already watched by this instance returns the same wd and
        replaces its mask (or ORs into it with ``Mask.MASK_ADD``). Raises
        ``FileNotFoundError``, ``PermissionError``, ``NotADirectoryError``
        (``ONLYDIR``), ``FileExistsError`` (``MASK_CREATE``) or
        :class:`~inwatch.WatchLimitError`, each naming the path.
        """
        if type(path) is str:  # the common case, without fsencode's generality
            if _native_add_watch is not None and type(mask) is int:
                wd: int | None = _native_add_watch(self._fd, path, mask)
                if wd is not None:
                    return wd
            return _sys.add_watch(
                self.fileno(), path.encode(_FS_ENCODING, _FS_ERRORS), int(mask), path
            )
        return _sys.add_watch(self.fileno(), os.fsencode(path), int(mask), os.fspath(path))

    def rm_watch(self, wd: int) -> None:
        """Remove watch *wd*; the kernel queues an ``IGNORED`` event for it.

        Raises ``OSError(EINVAL)`` if *wd* is not a current watch.
        """
        _sys.rm_watch(self.fileno(), wd)

    # --- events ---------------------------------------------------------------

    def pending_bytes(self) -> int:
        """Bytes of events queued in the kernel now (``ioctl(FIONREAD)``)."""
        return _sys.fionread(self.fileno())

    def read_bytes(self, timeout: float | None = None) -> bytes:
        """Wait up to *timeout* seconds (``None`` or ``inf``: forever) and return
        every byte the kernel has queued, whole events only; ``b""`` on timeout.

        The wait is a poll(2) whatever ``nonblocking`` says: that flag matters
        to callers reading the fd themselves. ``timeout=0`` returns at once."""
        fd = self.fileno()
        if not (timeout == 0 and self._nonblocking) and not self._poll_ready(timeout):
            return b""
        return self._take(fd)

    def read_now(self) -> bytes:
        """``read_bytes(0)`` of a ``nonblocking`` instance, in one call: every
        byte queued now, ``b""`` if nothing (the drivers' hot path)."""
        fd = self._fd
        if fd < 0:
            raise ValueError("I/O operation on a closed Inotify")
        if not self._nonblocking:
            return self.read_bytes(0)
        try:
            data = os.read(fd, READ_SIZE)
        except BlockingIOError:
            return b""
        return data if len(data) <= READ_SIZE - LARGEST_EVENT else more(fd, data)

    def _take(self, fd: int) -> bytes:
        """Everything queued, whole events; the fd is known readable or non-blocking."""
        try:
            data = os.read(fd, READ_SIZE)
        except BlockingIOError:  # nothing queued (or another reader took it)
            return b""
        return data if len(data) <= READ_SIZE - LARGEST_EVENT else more(fd, data)

    def read(self, timeout: float | None = None) -> list[RawEvent]:
        """Wait up to *timeout* seconds (``None``: forever) for events and return
        all that are queued, in the kernel's order; ``[]`` on timeout."""
        data = self.read_bytes(timeout)
        return parse_events(data) if data else []

    def _poll_ready(self, timeout: float | None) -> bool:
        # poll() counts whole milliseconds: round up so a short timeout still waits.
        return bool(self._poll.poll(poll_ms(timeout)))
