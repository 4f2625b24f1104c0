"""One watch as pyinotify programs see it (:class:`Watch`), and the small
helpers of the watch manager: pyinotify's "one or a list" arguments, path keys
and the directory-only exclusion."""

from __future__ import annotations

import os
import stat
from array import array
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

from ._state import PathT
from .events import _fields_repr

__all__ = ["GONE", "LIVE", "OWN", "Group", "Watch"]


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


# What a Group knows of each member (Group.state): one byte a member.
LIVE = 0  # the Group stands for it (the manager holds no Watch of its own)
OWN = 1  # it has a Watch of its own now, in the manager's dict (get_watch, add_watch again)
GONE = 2  # removed (rm_watch, del_watch, its IN_IGNORED processed, dropped by the Watcher)


class Group:
    """The subdirectories one recursive add_watch call watched, as one object
    until each is asked for as a :class:`Watch` (issue 15: memory per watch).

    A tree's directories share their settings (pyinotify gives them all the
    call's mask, proc_fun, auto_add and exclude_filter), so the manager holds
    no entry of its own for them: its dict holds Watch objects only, and a wd
    it does not have there is looked up in its Groups (by range: the kernel
    numbers a walk's directories in increasing order, usually one contiguous
    run, see ``WatchManager._add_one``). :meth:`WatchManager.get_watch` makes
    a member its own Watch (kept in the dict, so that what a program sets on
    it stays) the first time a program or a notifier needs one; the member is
    then marked :data:`OWN` here, a removed one :data:`GONE`, so every wd is
    found in exactly one place. Per member: its path as the walk found it (a
    reference to the Watcher's own str, in :attr:`paths`: 8 bytes), for a
    directory the Watcher forgets before the manager does (its IN_IGNORED
    read, not yet processed) and for the walk's listing events; one byte of
    :attr:`state`; and its wd (4 bytes, in :attr:`wds`) only if the run is
    not contiguous.

    The settings are never changed after the call: update_watch, a program
    assigning ``watch.mask`` and so on act on the member's own Watch. The
    attributes a notifier reads per event (``mask``, ``proc_fun``,
    ``auto_add``, ``dir``, ``_table``) are named as a Watch's, so its paths
    read either.
    """

    __slots__ = (
        "_table",
        "as_bytes",
        "auto_add",
        "exclude_filter",
        "hi",
        "live",
        "lo",
        "mask",
        "paths",
        "proc_fun",
        "state",
        "wds",
    )

    # Every member is a directory (a Watch's ``dir``, for events about itself).
    dir = True

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
        assert wds, "a Group has members"
        self.lo = wds[0]
        self.hi = wds[-1] + 1  # members are in lo <= wd < hi
        # None: the members are exactly range(lo, hi), a wd's index is wd - lo.
        # Else ascending (WatchManager._add_one checks), bisected.
        self.wds: array[int] | None = None if self.hi - self.lo == len(wds) else wds
        self.paths = paths  # paths[i] is the walk's path of the i-th member
        self.state = bytearray(len(wds))  # LIVE / OWN / GONE, by index
        self.live = len(wds)
        self.mask = mask
        self.proc_fun = proc_fun
        self.auto_add = auto_add
        self.exclude_filter = exclude_filter
        self._table: Mapping[int, str] | None = table
        self.as_bytes = as_bytes

    def index(self, wd: int) -> int:
        """The index of *wd* among the members (whatever its state), or -1."""
        if not self.lo <= wd < self.hi:
            return -1
        wds = self.wds
        if wds is None:
            return wd - self.lo
        i = bisect_left(wds, wd)
        return i if i < len(wds) and wds[i] == wd else -1

    def has(self, wd: int) -> bool:
        """True if the Group stands for *wd* (a LIVE member)."""
        i = self.index(wd)
        return i >= 0 and not self.state[i]

    def leave(self, i: int, state: int) -> None:
        """The member at index *i* is OWN or GONE from now on."""
        if not self.state[i]:
            self.live -= 1
        self.state[i] = state

    def wd_at(self, i: int) -> int:
        wds = self.wds
        return self.lo + i if wds is None else wds[i]

    def wds_all(self) -> Sequence[int]:
        """Every member's wd (whatever its state), in walk (= wd) order."""
        return range(self.lo, self.hi) if self.wds is None else self.wds

    def members(self) -> Iterator[tuple[int, int]]:
        """``(index, wd)`` of each LIVE member, in walk (= wd) order."""
        state = self.state
        wds = self.wds
        lo = self.lo
        start = 0
        while True:
            i = state.find(0, start)
            if i < 0:
                return
            yield i, (lo + i if wds is None else wds[i])
            start = i + 1

    def path_of(self, wd: int) -> PathT:
        """What ``Watch.path`` of *wd* would say: the Watcher's path now, else
        the walk's (str or bytes, as the add_watch call's path)."""
        assert self._table is not None
        path = self._table.get(wd)
        if path is None:
            path = self.paths[self.index(wd)]
        return os.fsencode(path) if self.as_bytes else path

    def watch(self, wd: int) -> Watch:
        """A new :class:`Watch` for *wd*, as add_watch would have made it."""
        path: PathT = self.paths[self.index(wd)]
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
