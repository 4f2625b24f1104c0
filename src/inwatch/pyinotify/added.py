""":class:`Added`: what ``add_watch`` returns, ``{path: wd}``, its trees filled in when read.

pyinotify returns a dict with an entry for every directory a recursive call
watched. Built at once, it was the layer's largest cost per watch (issue 15):
a dict slot (~50 bytes, and about half as much again while the dict doubles)
and an int object for the wd (32 bytes: the Watcher's table holds no int per
wd), ~110 bytes a directory at the peak of the call, for a dict most programs
drop or read once. So the entries of a tree's directories are put in the first
time the dict is read, from what the call's :class:`~.watch.Group` keeps
anyway (the walk's paths and the wds' range): until then they cost nothing.

It is a real ``dict`` (``isinstance`` holds; only ``type(ret) is dict`` does
not), with every method that reads or changes it filling it first, in
pyinotify's order (the order of insertion, as if filled at once). C code
that reads a dict's storage directly, bypassing the methods, sees it as
it is before filling: that is why the call's own entries are in the storage
from the start (the root's first), so that a size check (the ``json``
encoder's fast path for ``{}``) is never fooled by an empty storage.
Copies and pickles are plain dicts.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from typing import Any

__all__ = ["Added"]

# A tree's entries: the walk's paths (str), their wds (in the same order), and
# whether the keys are bytes (the call's path was).
Tree = tuple[Sequence[str], Sequence[int], bool]


def _filling(name: str) -> Callable[..., Any]:
    method = getattr(dict, name)

    def filled(self: Added, *args: Any, **kwargs: Any) -> Any:
        if self._trees is not None:
            self._fill()
        return method(self, *args, **kwargs)

    filled.__name__ = name
    filled.__qualname__ = f"Added.{name}"
    filled.__doc__ = method.__doc__
    return filled


class Added(dict):  # type: ignore[type-arg]  # (dict[Any, int]: pyinotify's keys are any path)
    """``{path: wd}`` as pyinotify's add_watch returns it (see the module)."""

    __slots__ = ("_trees",)

    def __init__(self) -> None:
        super().__init__()
        # (position in the storage, tree): the tree's entries come after the
        # storage's first *position* entries. None once filled.
        self._trees: list[tuple[int, Tree]] | None = None

    def add_tree(self, paths: Sequence[str], wds: Sequence[int], as_bytes: bool) -> None:
        """The entries ``{path: wd}`` of a tree, after every entry set so far."""
        if self._trees is None:
            self._trees = []
        self._trees.append((dict.__len__(self), (paths, wds, as_bytes)))

    def put(self, key: Any, wd: int, *, default: bool = False) -> None:
        """An entry of the call's own (a path it was given, one excluded or
        failed): into the storage at once, with no filling (``default``: as
        ``setdefault``; such a path is never one of a tree's)."""
        if default:
            dict.setdefault(self, key, wd)
        else:
            dict.__setitem__(self, key, wd)

    def _fill(self) -> None:
        trees = self._trees
        self._trees = None
        if not trees:
            return
        own = list(dict.items(self))
        dict.clear(self)
        put = dict.__setitem__
        done = 0
        for at, (paths, wds, as_bytes) in trees:
            for k, v in own[done:at]:
                put(self, k, v)
            done = at
            keys: Iterator[Any] = map(os.fsencode, paths) if as_bytes else iter(paths)
            for k, wd in zip(keys, wds, strict=True):
                put(self, k, wd)
        for k, v in own[done:]:
            put(self, k, v)

    def __reduce_ex__(self, protocol: Any) -> Any:
        return (dict, (dict(self.items()),))

    def __copy__(self) -> dict[Any, int]:
        return dict(self.items())

    def __eq__(self, other: object) -> bool:
        # dict's own comparison reads the other dict's storage directly.
        if isinstance(other, Added) and other._trees is not None:
            other._fill()
        if self._trees is not None:
            self._fill()
        return dict.__eq__(self, other)

    def __ne__(self, other: object) -> bool:
        return not self == other


for _name in (
    "__getitem__",
    "__setitem__",
    "__delitem__",
    "__contains__",
    "__iter__",
    "__reversed__",
    "__len__",
    "__repr__",
    "__or__",
    "__ror__",
    "__ior__",
    "__sizeof__",
    "get",
    "keys",
    "values",
    "items",
    "copy",
    "pop",
    "popitem",
    "setdefault",
    "update",
    "clear",
):
    setattr(Added, _name, _filling(_name))
del _name
