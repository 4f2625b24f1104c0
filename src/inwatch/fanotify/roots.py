"""One watched tree (or file) of the fanotify backend: which paths are inside.

A filesystem mark reports the whole filesystem; a :class:`Root` decides, by
path, what belongs to one ``add()``: its subtree (or only its entries, or the
one file), minus what its ``exclude`` patterns or callable name. An excluded
directory excludes everything below it.
"""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Callable, Iterable
from typing import Any

from . import rescan

__all__ = ["Root", "typed"]


class Root:
    """One watched tree (or file), as ``add`` was given it."""

    __slots__ = (
        "_func",
        "_match",
        "as_bytes",
        "fsid",
        "id",
        "is_dir",
        "mask",
        "path",
        "patterns",
        "prefix",
        "recursive",
        "shown",
        "snapshot",
        "spans_fs",
    )

    def __init__(
        self,
        id: int,
        path: bytes,
        mask: int,
        *,
        recursive: bool,
        is_dir: bool,
        exclude: Iterable[str] | Callable[[str], bool] | None,
        as_bytes: bool,
        fsid: bytes,
    ) -> None:
        self.id = id
        self.path = path
        self.prefix = path if path.endswith(b"/") else path + b"/"
        self.mask = mask
        self.recursive = recursive
        self.is_dir = is_dir
        self.as_bytes = as_bytes
        self.fsid = fsid
        self.snapshot: rescan.Snapshot | None = None
        self.shown = path
        """The path as the caller named it (absolute, symlinks unresolved): events
        show it in place of ``path``, which is what the kernel's paths start with."""
        self.spans_fs = False
        """The root is its filesystem's root: every object of the mark is inside."""
        self._func: Callable[[str], bool] | None = None
        self._match: Callable[[bytes], Any] | None = None
        self.patterns: list[str] | None = None
        """The exclude patterns as given (``None`` for a callable or none)."""
        if callable(exclude):
            self._func = exclude
        elif exclude is not None:
            pats = [exclude] if isinstance(exclude, str) else list(exclude)
            self.patterns = pats
            if pats:
                rx = "|".join(f"(?:{fnmatch.translate(p.rstrip('/'))})" for p in pats)
                self._match = re.compile(os.fsencode(rx)).match

    def rel(self, pathname: bytes) -> bytes | None:
        """*pathname* relative to this root, or ``None`` if it is not inside
        (or excluded)."""
        if pathname == self.path:
            return b""
        if not self.is_dir or not pathname.startswith(self.prefix):
            return None
        rel = pathname[len(self.prefix) :]
        if not self.recursive and b"/" in rel:
            return None
        if self._match is not None:
            # An excluded directory excludes everything below it: test each
            # component and each leading part of the relative path.
            match = self._match
            start = 0
            while True:
                end = rel.find(b"/", start)
                stop = len(rel) if end < 0 else end
                if match(rel[start:stop]) is not None or match(rel[:stop]) is not None:
                    return None
                if end < 0:
                    break
                start = end + 1
        func = self._func
        if func is not None and rel:
            # As for patterns, an excluded directory excludes what is below it:
            # each leading path inside the root is asked (as the inotify backend
            # asks each directory it would watch).
            end = rel.find(b"/")
            while end >= 0:
                if func(os.fsdecode(self.prefix + rel[:end])):
                    return None
                end = rel.find(b"/", end + 1)
            if func(os.fsdecode(pathname)):
                return None
        return rel

    def moved(self, src: bytes, dst: bytes) -> bool:
        """The directory *src* was renamed to *dst*: if this root is it or lies
        below it, follow it (as the inotify backend follows a renamed root)."""
        if self.path == src:
            rest = b""
        elif self.path.startswith(src + b"/"):
            rest = self.path[len(src) :]
        else:
            return False
        self.path = dst + rest
        self.prefix = self.path if self.path.endswith(b"/") else self.path + b"/"
        self.shown = self.path
        return True

    def show(self, p: bytes) -> bytes:
        """*p* (inside this root) under the name the caller gave the root."""
        shown = self.shown
        if shown is self.path or shown == self.path:
            return p
        if p == self.path:
            return shown
        if p.startswith(self.prefix):
            return _join(shown, p[len(self.prefix) :])
        return p

    def excludes(self, pathname: bytes) -> bool:
        """Whether *pathname* lies where this tree watches but is excluded."""
        if not self.is_dir or not pathname.startswith(self.prefix):
            return False
        if not self.recursive and b"/" in pathname[len(self.prefix) :]:
            return False
        return self.rel(pathname) is None

    def excluded(self, parent: bytes, name: bytes) -> bool:
        """For the rescan walk: is *parent*/*name* outside or excluded?"""
        return self.rel(_join(parent, name)) is None


def _join(parent: bytes, name: bytes) -> bytes:
    if not name:
        return parent
    return parent + name if parent.endswith(b"/") else parent + b"/" + name


def typed(root: Root, parent: bytes, name: bytes, full: bytes) -> tuple[Any, Any, Any]:
    """(path, name, pathname) of an event, as the caller named the root and in
    its type (str roots give str, bytes roots bytes)."""
    if root.shown is not root.path:
        parent, full = root.show(parent), root.show(full)
    if root.as_bytes:
        return parent, name, full
    return os.fsdecode(parent), os.fsdecode(name), os.fsdecode(full)
