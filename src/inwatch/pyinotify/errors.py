"""The exceptions of pyinotify 0.9.6 (same classes, same bases, same texts)."""

from __future__ import annotations

import errno as _errno
import os
from typing import Any

from ._state import PathT

__all__ = [
    "InotifyBindingNotFoundError",
    "NotifierError",
    "ProcessEventError",
    "PyinotifyError",
    "UnsupportedPythonVersionError",
    "WatchManagerError",
]


class PyinotifyError(Exception):
    """Base of the errors raised by the pyinotify-style classes."""


class UnsupportedPythonVersionError(PyinotifyError):
    """Kept for pyinotify's name list; never raised (inwatch needs Python 3.10)."""

    def __init__(self, version: str) -> None:
        super().__init__(f"Python {version} is unsupported, requires at least Python 3.0")


class InotifyBindingNotFoundError(PyinotifyError):
    """Kept for pyinotify's name list; inwatch always finds its binding."""

    def __init__(self) -> None:
        super().__init__("Couldn't find any inotify binding")


class ProcessEventError(PyinotifyError):
    """An event whose mask names no single event (cannot be dispatched)."""

    def __init__(self, err: str) -> None:
        super().__init__(err)


class NotifierError(PyinotifyError):
    """A Notifier could not read, or could not daemonize."""

    def __init__(self, err: object) -> None:
        super().__init__(err)


class WatchManagerError(Exception):
    """A watch operation failed with ``quiet=False``.

    ``wmd`` holds the partial result of the call (``{path: wd}`` or
    ``{wd: bool}``). The message ends with ``Errno=<strerror> (<ENAME>)`` when
    the kernel refused, as pyinotify's does; programs parse that name.
    """

    def __init__(self, msg: str, wmd: dict[Any, Any]) -> None:
        self.wmd = wmd
        Exception.__init__(self, msg)


def str_errno(code: int | None) -> str:
    if code is None:
        return "Errno: no errno support"
    return f"Errno={os.strerror(code)} ({_errno.errorcode.get(code, str(code))})"


def shown(path: PathT) -> str:
    return os.fsdecode(path) if isinstance(path, bytes) else str(path)
