"""pyinotify's raw syscall wrapper, :class:`INotifyWrapper` (``-1`` and
``get_errno()`` on failure, as C does), for programs that call it directly."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from ..inotify import _sys
from .errors import str_errno

__all__ = ["INotifyWrapper"]


class INotifyWrapper:
    """pyinotify's raw syscall wrapper (-1 and ``get_errno()`` on failure)."""

    def __init__(self) -> None:
        self._last_errno: int | None = None

    @staticmethod
    def create() -> INotifyWrapper:
        return INotifyWrapper()

    def get_errno(self) -> int | None:
        return self._last_errno

    def str_errno(self) -> str:
        return str_errno(self._last_errno)

    def _call(self, func: Callable[..., Any], *args: Any) -> int:
        try:
            ret = func(*args)
        except OSError as err:
            self._last_errno = err.errno
            return -1
        return 0 if ret is None else int(ret)

    def inotify_init(self) -> int:
        return self._call(_sys.init1, os.O_CLOEXEC)

    def inotify_add_watch(self, fd: int, pathname: Any, mask: int) -> int:
        return self._call(_sys.add_watch, fd, os.fsencode(pathname), mask)

    def inotify_rm_watch(self, fd: int, wd: int) -> int:
        return self._call(_sys.rm_watch, fd, wd)
