"""One watch as pyinotify programs see it (:class:`Watch`), and the small
helpers of the watch manager: pyinotify's "one or a list" arguments, path keys
and the directory-only exclusion."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ._state import PathT
from .events import _fields_repr

__all__ = ["Watch"]


def _is_dir(path: PathT) -> bool:
    try:
        return stat.S_ISDIR(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False


class Watch:
    """One watched file or directory: ``wd, path, mask, proc_fun, auto_add,
    exclude_filter, dir``.

    ``path`` follows renames: it is read from the Watcher, which rewrites the
    paths of renamed directories. Assigning ``path`` pins it to the value given.
    """

    __slots__ = (
        "_path",
        "_table",
        "auto_add",
        "dir",
        "exclude_filter",
        "mask",
        "proc_fun",
        "wd",
    )

    _fields = ("wd", "path", "mask", "proc_fun", "auto_add", "exclude_filter", "dir")

    def __init__(
        self,
        wd: int,
        path: PathT,
        mask: int,
        proc_fun: Any,
        auto_add: bool,
        exclude_filter: Any,
        *,
        table: Mapping[int, str] | None = None,
        is_dir: bool | None = None,
    ) -> None:
        self.wd = wd
        self._path = path
        self._table = table
        self.mask = mask
        self.proc_fun = proc_fun
        self.auto_add = auto_add
        self.exclude_filter = exclude_filter
        if is_dir is None:
            self.dir = _is_dir(path)
        else:
            self.dir = is_dir

    @property
    def path(self) -> PathT:
        table = self._table
        if table is not None:
            live = table.get(self.wd)
            if live is not None:
                self._path = os.fsencode(live) if isinstance(self._path, bytes) else live
        return self._path

    @path.setter
    def path(self, value: PathT) -> None:
        self._table = None
        self._path = value

    def __repr__(self) -> str:
        return _fields_repr("Watch", [(f, getattr(self, f)) for f in self._fields])


def never(path: Any) -> bool:
    """The default exclude_filter: exclude nothing (and cost the Watcher nothing)."""
    return False


def as_list(param: Any) -> list[Any]:
    """pyinotify's "one or a list": also any non-string iterable (dict views, sets)."""
    if isinstance(param, (str, bytes, int, os.PathLike)):
        return [param]
    if isinstance(param, Iterable):
        return list(param)
    return [param]


def key(path: PathT) -> str:
    """The Watcher's spelling of a path: str, normalised."""
    return os.path.normpath(os.fsdecode(os.fspath(path)))


def dir_excluder(exclude_filter: Callable[[Any], bool], record: list[Any]) -> Callable[[str], bool]:
    """pyinotify's exclude_filter says which *directories* not to watch; files in
    watched directories are always reported. The Watcher's exclusion also drops
    entries, so only directories are passed on (the user's filter runs first:
    the stat is paid only for paths it matches)."""

    def excluded(path: str) -> bool:
        if exclude_filter(path) and os.path.isdir(path):
            record.append(path)
            return True
        return False

    return excluded
