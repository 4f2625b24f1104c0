"""One watch as pyinotify programs see it (:class:`Watch`), and the small
helpers of the watch manager: pyinotify's "one or a list" arguments, path keys
and the directory-only exclusion."""

from __future__ import annotations

import os
import stat
from array import array
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from ._state import PathT
from .events import _fields_repr

__all__ = ["Group", "Watch"]


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


class Group:
    """The subdirectories one recursive add_watch call watched, as one object
    until each is asked for as a :class:`Watch` (issue 15: memory per watch).

    A Watch per directory cost ~100 bytes on top of the Watcher's own ~210; a
    tree's directories share their settings (pyinotify gives them all the
    call's mask, proc_fun, auto_add and exclude_filter), so the manager's
    table maps each of their wds to this one object, and
    :meth:`WatchManager.get_watch` turns a wd's entry into its Watch (cached:
    it replaces the entry) the first time a program or a notifier needs one
    of its own. Per directory only its wd (4 bytes, in :attr:`wds`) and a
    reference to its path as the walk found it (the Watcher's own str, in
    :attr:`paths`) are kept, the latter for a directory the Watcher forgets
    before the manager does (its IN_IGNORED read, not yet processed).

    A Group is never changed after the call: update_watch, a program
    assigning ``watch.mask`` and so on act on the wd's own Watch. The
    attributes a notifier reads per event (``mask``, ``proc_fun``,
    ``_table``) are named as a Watch's, so its short path reads either.
    """

    __slots__ = (
        "_table",
        "as_bytes",
        "auto_add",
        "exclude_filter",
        "mask",
        "paths",
        "proc_fun",
        "wds",
    )

    def __init__(
        self,
        wds: array[int],
        paths: list[str],
        mask: int,
        proc_fun: Any,
        auto_add: bool,
        exclude_filter: Any,
        *,
        table: Mapping[int, str],
        as_bytes: bool,
    ) -> None:
        self.wds = wds  # ascending (WatchManager._add_one checks): bisected
        self.paths = paths  # paths[i] is the walk's path of wds[i]
        self.mask = mask
        self.proc_fun = proc_fun
        self.auto_add = auto_add
        self.exclude_filter = exclude_filter
        self._table: Mapping[int, str] | None = table
        self.as_bytes = as_bytes

    def _walk_path(self, wd: int) -> str:
        i = bisect_left(self.wds, wd)
        if i == len(self.wds) or self.wds[i] != wd:
            raise KeyError(wd)
        return self.paths[i]

    def path_of(self, wd: int) -> PathT:
        """What ``Watch.path`` of *wd* would say: the Watcher's path now, else
        the walk's (str or bytes, as the add_watch call's path)."""
        assert self._table is not None
        path = self._table.get(wd)
        if path is None:
            path = self._walk_path(wd)
        return os.fsencode(path) if self.as_bytes else path

    def watch(self, wd: int) -> Watch:
        """A new :class:`Watch` for *wd*, as add_watch would have made it."""
        path: PathT = self._walk_path(wd)
        if self.as_bytes:
            path = os.fsencode(path)
        return Watch(
            wd,
            path,
            self.mask,
            self.proc_fun,
            self.auto_add,
            self.exclude_filter,
            table=self._table,
            is_dir=True,
        )

    def walked(self) -> Iterator[tuple[PathT, int]]:
        """``(path, wd)`` of each directory, as the walk found them, in walk order."""
        encode = os.fsencode if self.as_bytes else None
        for path, wd in zip(self.paths, self.wds, strict=True):
            yield (encode(path) if encode else path), wd


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
