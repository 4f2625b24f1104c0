"""The wd <-> path table of a recursive watcher (pure: no syscalls).

A tree can hold hundreds of thousands of watches, so the table is lean:

- ``paths``: wd -> path, for every watch; read on every event (the hot path).
  A list indexed by wd (:class:`~.wdmap.WdMap`): the kernel's wds are a
  dense run, and a dict would cost ~85 bytes a watch more;
- ``children``: wd -> child wds, only for directories that have watched
  subdirectories, so renaming a directory rewrites its subtree at a cost
  proportional to the subtree, not to the whole table. The kernel hands out
  wds in increasing order (idr_alloc_cyclic in fs/notify/inotify/
  inotify_user.c) and a walk watches top-down (walk.scan_tree), so the
  subdirectories of a directory whose subdirectories have none of their own
  are one run of wds, and the first of them is the directory's own wd + 1
  (the walk watches them right after listing it). A run is kept as one int,
  ``first << 24 | count``, with ``first`` 0 when it is the parent's wd + 1: a
  count below 257 is then one of CPython's cached small ints, so the common
  run costs the dict slot and nothing else (an int of its own is 32 bytes; a
  ``range`` 48 plus its stop's 32). Other children are an ``array('i')``
  (4 bytes a wd; a list would be 8 plus, for a wd made from a run, the int).
  ``kids(wd)`` reads either as a sequence;
- ``wds``: path -> wd, only for roots and for directories that have watched
  children. A leaf is found through its parent's children, so most watches
  cost one entry in ``paths`` and nothing else, and ``wd_of`` stays
  O(siblings) at worst.

Paths are ``str`` (surrogateescape for non-UTF-8); the watcher converts at the
edges for callers who passed bytes.
"""

from __future__ import annotations

import os
from array import array
from collections.abc import Sequence
from typing import TypeAlias

from .wdmap import WdMap

__all__ = ["Kids", "WatchTable"]

#: A directory's watched children as stored: a run of wds (see _RUN), or any wds.
Kids: TypeAlias = "int | array[int]"

# A run of child wds first, first + 1, ... first + count - 1 under the
# directory *parent* is the int first << _RUN | count, or just count when
# first is parent + 1 (wds are positive, so a stored first is never 0); a
# longer run (2**24 subdirectories) becomes an array.
_RUN = 24
_MOST = (1 << _RUN) - 1
_NONE: tuple[int, ...] = ()


def _run(parent: int, first: int, count: int) -> int:
    return count if first == parent + 1 else first << _RUN | count


def _first(parent: int, kids: int) -> int:
    return (kids >> _RUN) or parent + 1


def _expand(parent: int, kids: Kids) -> Sequence[int]:
    if isinstance(kids, int):
        first = (kids >> _RUN) or parent + 1
        return range(first, first + (kids & _MOST))
    return kids


_sep = os.sep


def join(path: str, name: str) -> str:
    """``path/name`` without doubling a trailing separator (``/`` as a root)."""
    if path.endswith(_sep):
        return path + name
    return path + _sep + name


def parent_of(path: str) -> str:
    """``os.path.dirname(path) or "/"``; on the setup path (once a watch), so
    the common case (one separator, not at the end) is one ``rfind``."""
    i = path.rfind(_sep)
    if i > 0 and path[i - 1] != _sep and i != len(path) - 1:
        return path[:i]
    return os.path.dirname(path) or _sep


class WatchTable:
    __slots__ = ("children", "paths", "roots", "wds")

    def __init__(self) -> None:
        self.paths: WdMap[str] = WdMap()
        self.children: dict[int, Kids] = {}
        self.wds: dict[str, int] = {}
        self.roots: set[int] = set()

    def __len__(self) -> int:
        return len(self.paths)

    def kids(self, wd: int) -> Sequence[int]:
        """The watched children of *wd* (empty if none)."""
        kids = self.children.get(wd)
        return _NONE if kids is None else _expand(wd, kids)

    def wd_of(self, path: str) -> int | None:
        """The wd watching *path*, or ``None``."""
        wd = self.wds.get(path)
        if wd is not None:
            return wd
        parent = self.wds.get(parent_of(path))
        if parent is None:
            return None
        paths = self.paths
        for child in self.kids(parent):
            if paths[child] == path:
                return child
        return None

    def add(self, wd: int, path: str, parent: int | None, fresh: bool = False) -> None:
        """Record *wd* at *path*, under *parent* (``None`` for a root).

        The kernel returns the existing wd when an inode is watched twice; a wd
        known under another path (a hard link, the same dir reached twice) keeps
        its first path. *fresh* says *parent*'s watched children all come from
        the listing that found *path*, each under its own name, and *path* is
        that listing's path plus one name: no other watch holds *path* under
        *parent*, and *parent* cannot be below *wd*. A walk says so for a
        directory that had no watched child before its listing, which spares a
        scan of the siblings per watch (quadratic in a directory of many
        subdirectories) and the cycle check.
        """
        paths = self.paths
        dense = paths.dense  # `wd in paths` and `paths[wd] = path` inlined (below)
        if dense[wd] is not None if 0 < wd < len(dense) else wd in paths.spill:
            if parent is None:
                self.roots.add(wd)
                self.wds[paths[wd]] = wd
            return
        # wd_of(path), inlined: this runs once a watch when a tree is set up.
        stale = self.wds.get(path)
        if stale is None and not fresh:
            up = self.wds.get(parent_of(path))
            if up is not None:
                for child in self.kids(up):
                    if paths[child] == path:
                        stale = child
                        break
        if stale is not None:
            self.discard(stale)  # its IGNORED is still on its way
        n = len(dense)
        if wd == n and (paths.live + 1) * 2 >= n + 1:
            # WdMap.__setitem__'s common case (a walk's next wd), without the
            # call: this runs once a watch when a tree is set up.
            dense.append(path)
            paths.live += 1
        else:
            paths[wd] = path
        if parent is None:
            self.roots.add(wd)
            self.wds[path] = wd
            parent = self.wd_of(parent_of(path))  # a root inside another tree
        if (
            parent is not None
            and (dense[parent] is not None if 0 < parent < len(dense) else parent in paths.spill)
            and (fresh or not self._below(parent, wd))
        ):
            self._link(parent, wd)

    def _link(self, parent: int, wd: int) -> None:
        children = self.children
        kids = children.get(parent)
        if kids is None:
            children[parent] = _run(parent, wd, 1)
            self.wds[self.paths[parent]] = parent
        elif isinstance(kids, int):
            count = kids & _MOST
            if wd == _first(parent, kids) + count and count < _MOST:
                children[parent] = kids + 1
            else:
                # The run is broken: an array from now on.
                wds = array("i", _expand(parent, kids))
                wds.append(wd)
                children[parent] = wds
        else:
            kids.append(wd)

    def _unlink(self, path: str, wd: int) -> None:
        parent = self.wds.get(parent_of(path))
        if parent is None:
            return
        children = self.children
        kids = children.get(parent)
        if kids is None:
            return
        if isinstance(kids, int):
            first, count = _first(parent, kids), kids & _MOST
            if not first <= wd < first + count:
                return
            if count > 1:
                if wd == first:
                    children[parent] = _run(parent, first + 1, count - 1)
                elif wd == first + count - 1:
                    children[parent] = kids - 1
                else:
                    children[parent] = array(
                        "i", [k for k in range(first, first + count) if k != wd]
                    )
                return
        elif wd not in kids:
            return
        else:
            kids.remove(wd)
            if kids:
                return
        del children[parent]
        if parent not in self.roots:
            self.wds.pop(self.paths[parent], None)

    def discard(self, wd: int) -> str | None:
        """Forget *wd* (not its children: the kernel sends them their own IGNORED)."""
        path = self.paths.get(wd)
        if path is None:
            return None
        self._unlink(path, wd)
        del self.paths[wd]
        if self.wds.get(path) == wd:
            del self.wds[path]
        self.roots.discard(wd)
        # Orphaned children stay until their own IGNORED; unlink them from us.
        self.children.pop(wd, None)
        return path

    def subtree(self, wd: int) -> list[int]:
        """*wd* and every watched descendant, parents first."""
        out = [wd]
        children = self.children
        i = 0
        limit = len(self.paths)
        while i < len(out):
            kids = children.get(out[i])
            if kids is not None:
                out.extend(_expand(out[i], kids))
                if len(out) > limit:  # a cycle: never silently loop forever
                    raise RuntimeError(f"inwatch: watch table cycle below wd {wd}")
            i += 1
        return out

    def move(self, wd: int, new_path: str, new_parent: int | None) -> None:
        """*wd*'s directory was renamed to *new_path* (now in *new_parent*):
        rewrite it and its subtree."""
        old_path = self.paths.get(wd)
        if old_path is None or old_path == new_path:
            return
        self._unlink(old_path, wd)
        displaced = self.wd_of(new_path)
        if displaced is not None and displaced != wd:
            # rename(2) replaced an (empty) directory, or a stale entry: its
            # DELETE_SELF and IGNORED are on their way and name it by this path,
            # so it keeps its path until then but leaves the tree's structure.
            self._unlink(new_path, displaced)
            if self.wds.get(new_path) == displaced:
                del self.wds[new_path]
            self.roots.discard(displaced)
            self.children.pop(displaced, None)
        cut = len(old_path)
        paths = self.paths
        wds = self.wds
        for sub in self.subtree(wd):
            p = paths[sub]
            q = new_path + p[cut:]
            paths[sub] = q
            if wds.get(p) == sub:
                del wds[p]
                wds[q] = sub
        if new_parent is not None and new_parent in paths and not self._below(new_parent, wd):
            self._link(new_parent, wd)

    def _below(self, wd: int, top: int) -> bool:
        """Is *wd* *top* or inside *top*'s subtree (by path)?

        A directory cannot be moved into itself, so a rename that seems to is
        one we learnt of out of order (a stale path): linking it would make the
        table a cycle, and every walk of it endless.
        """
        if wd == top:
            return True
        path, top_path = self.paths.get(wd), self.paths.get(top)
        if path is None or top_path is None:
            return False
        return path == top_path or path.startswith(top_path.rstrip(_sep) + _sep)
