"""The exceptions inwatch raises.

Everything the kernel refuses becomes an :class:`OSError` carrying ``errno``, the
path involved (``filename``) and, where a limit binds, which ``/proc`` knob and
how to raise it. Python maps the errno to the usual subclass, so callers can catch
what they already know::

    OSError
     ├── FileNotFoundError      ENOENT   path does not exist
     ├── PermissionError        EACCES   no read permission on the path
     ├── NotADirectoryError     ENOTDIR  Mask.ONLYDIR on a non-directory
     ├── FileExistsError        EEXIST   Mask.MASK_CREATE on an already watched path
     ├── InotifyLimitError               a per-user inotify limit binds
     │    ├── WatchLimitError   ENOSPC   max_user_watches reached (inotify_add_watch)
     │    └── InstanceLimitError EMFILE  max_user_instances reached (inotify_init1)
     └── ...                             any other errno, as OSError(errno, ...)

    ValueError
     ├── EventParseError                 a buffer that is not a sequence of
     │                                   ``struct inotify_event`` records
     └── WatcherClosedError              any use of a closed Watcher

    RuntimeError
     ├── WatcherStoppedError             read()/iteration after stop() (resume() first)
     └── WatcherFailedError              reading again after a failure stopped the driver

An overflow of the kernel queue is not an exception: it is an event
(``Mask.Q_OVERFLOW``), delivered like any other, so nothing is lost silently and
nothing stops the reader.
"""

from __future__ import annotations

__all__ = [
    "EventParseError",
    "InotifyLimitError",
    "InstanceLimitError",
    "WatchLimitError",
    "WatcherClosedError",
    "WatcherFailedError",
    "WatcherStoppedError",
]


class WatcherClosedError(ValueError):
    """The Watcher was closed; only ``close()`` works on it."""


class WatcherStoppedError(RuntimeError):
    """``read()``/iteration/``async for`` after ``stop()``: call ``resume()`` first."""


class WatcherFailedError(RuntimeError):
    """A failure stopped the driver before; its cause is ``__cause__``."""


class EventParseError(ValueError):
    """The bytes read are not a whole number of inotify event records."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.offset = offset


class InotifyLimitError(OSError):
    """A per-user inotify limit was reached.

    Attributes: ``limit`` (the value that binds), ``in_use`` (what the user holds
    now, or ``None`` if it could not be counted), ``knob`` (the ``/proc`` file that
    binds), ``needed`` (how many more the caller wanted, when known) and ``fix``
    (a command that raises the limit enough).
    """

    def __init__(
        self,
        err: int,
        message: str,
        filename: str | bytes | None = None,
        *,
        limit: int | None = None,
        in_use: int | None = None,
        knob: str | None = None,
        needed: int | None = None,
        fix: str | None = None,
    ) -> None:
        super().__init__(err, message, filename)
        self.limit = limit
        self.in_use = in_use
        self.knob = knob
        self.needed = needed
        self.fix = fix

    def __str__(self) -> str:
        where = f": {self.filename!r}" if self.filename is not None else ""
        return f"[Errno {self.errno}] {self.strerror}{where}"


class WatchLimitError(InotifyLimitError):
    """ENOSPC from ``inotify_add_watch``: the user's watch limit is reached."""


class InstanceLimitError(InotifyLimitError):
    """EMFILE from ``inotify_init1``: the user's instance limit is reached (not the
    per-process file descriptor limit, which stays a plain ``OSError(EMFILE)``)."""
