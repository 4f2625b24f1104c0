"""The wd <-> path table of a recursive watcher (pure: no syscalls).

Three maps, kept lean because a tree can hold hundreds of thousands of watches:

- ``paths``: wd -> path, read on every event (the hot path);
- ``wds``: path -> wd, for O(1) lookups by path (moves, ``remove``, compat's
  ``get_wd``);
- ``children``: wd -> child wds, only for directories that have watched
  subdirectories, so renaming a directory rewrites its subtree at a cost
  proportional to the subtree, not to the whole table.

A watch's parent is found through ``wds`` by its dirname, so no parent map is
needed. Paths are ``str`` (surrogateescape for non-UTF-8); the watcher converts
at the edges for callers who passed bytes.
"""

from __future__ import annotations

import os

__all__ = ["WatchTable"]

_sep = os.sep


def join(path: str, name: str) -> str:
    """``path/name`` without doubling a trailing separator (``/`` as a root)."""
    if path.endswith(_sep):
        return path + name
    return path + _sep + name


def parent_of(path: str) -> str:
    return os.path.dirname(path) or _sep


class WatchTable:
    __slots__ = ("children", "paths", "wds")

    def __init__(self) -> None:
        self.paths: dict[int, str] = {}
        self.wds: dict[str, int] = {}
        self.children: dict[int, list[int]] = {}

    def __len__(self) -> int:
        return len(self.paths)

    def add(self, wd: int, path: str) -> None:
        """Record *wd* at *path* and link it under its parent if that is watched.

        The kernel returns the existing wd when an inode is watched twice; a wd
        known under another path (a hard link, or the same dir reached twice) keeps
        its first path.
        """
        old = self.paths.get(wd)
        if old is not None:
            if old == path:
                return
            self.discard(wd)
        self.paths[wd] = path
        stale = self.wds.get(path)
        if stale is not None and stale != wd:
            self.discard(stale)
        self.wds[path] = wd
        parent = self.wds.get(parent_of(path))
        if parent is not None and parent != wd:
            self.children.setdefault(parent, []).append(wd)

    def discard(self, wd: int) -> str | None:
        """Forget *wd* (not its children: the kernel sends them their own IGNORED)."""
        path = self.paths.pop(wd, None)
        if path is None:
            return None
        if self.wds.get(path) == wd:
            del self.wds[path]
        parent = self.wds.get(parent_of(path))
        if parent is not None:
            siblings = self.children.get(parent)
            if siblings is not None:
                try:
                    siblings.remove(wd)
                except ValueError:
                    pass
                if not siblings:
                    del self.children[parent]
        # Orphaned children stay until their own IGNORED; unlink them from us.
        self.children.pop(wd, None)
        return path

    def subtree(self, wd: int) -> list[int]:
        """*wd* and every watched descendant, parents first."""
        out = [wd]
        children = self.children
        i = 0
        while i < len(out):
            kids = children.get(out[i])
            if kids:
                out.extend(kids)
            i += 1
        return out

    def move(self, wd: int, new_path: str) -> None:
        """*wd*'s directory was renamed to *new_path*: rewrite it and its subtree."""
        old_path = self.paths.get(wd)
        if old_path is None or old_path == new_path:
            return
        old_parent = self.wds.get(parent_of(old_path))
        if old_parent is not None:
            siblings = self.children.get(old_parent)
            if siblings is not None and wd in siblings:
                siblings.remove(wd)
                if not siblings:
                    del self.children[old_parent]
        cut = len(old_path)
        paths = self.paths
        wds = self.wds
        for sub in self.subtree(wd):
            p = paths[sub]
            q = new_path + p[cut:]
            paths[sub] = q
            if wds.get(p) == sub:
                del wds[p]
            displaced = wds.get(q)
            if displaced is not None and displaced != sub:
                # A stale entry whose IGNORED has not arrived yet: the path is ours now.
                paths.pop(displaced, None)
            wds[q] = sub
        new_parent = wds.get(parent_of(new_path))
        if new_parent is not None and new_parent != wd:
            self.children.setdefault(new_parent, []).append(wd)
