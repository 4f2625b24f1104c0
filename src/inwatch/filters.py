"""Root options, and the one predicate that decides what a root delivers.

``add()``'s options (mask, exclusion, ``str``/``bytes`` paths, symlinks,
auto-add) are kept once per root in a :class:`Root`, shared by every watch of
its tree. Exclusion has one glob engine (``fnmatch`` compiled into one regular
expression), matched against an entry's name and its path relative to the
root, or a callable given the full path. Pure: no syscalls.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Iterable

__all__ = ["ALL_EVENTS", "UNASKED", "ExcludeSpec", "Excluder", "Root", "make_excluder"]

# excluder(path_relative_to_root, name, full_path) -> True to leave it out
Excluder = Callable[[str, str, str], bool]
ExcludeSpec = Iterable[str] | Callable[[str], bool] | None

ALL_EVENTS = 0xFFF
# Delivered whatever the user's mask: the kernel's own news about the watch.
UNASKED = 0x2000 | 0x4000 | 0x8000  # UNMOUNT, Q_OVERFLOW, IGNORED


def make_excluder(exclude: ExcludeSpec) -> Excluder | None:
    """Globs match the entry's name or its path relative to the watched root
    (``"*.tmp"``, ``".git"``, ``"build/cache"``); a callable gets the full path."""
    if exclude is None:
        return None
    if callable(exclude):
        func = exclude
        return lambda rel, name, full: bool(func(full))
    patterns = [exclude] if isinstance(exclude, str) else list(exclude)
    if not patterns:
        return None
    regex = re.compile("|".join(f"(?:{fnmatch.translate(p.rstrip('/'))})" for p in patterns))
    match = regex.match
    return lambda rel, name, full: match(name) is not None or match(rel) is not None


class Root:
    """The options of one ``add()``; shared by every watch of its tree."""

    __slots__ = ("as_bytes", "auto_add", "deliver", "excluded", "follow", "mask", "narrow", "path")

    def __init__(
        self,
        path: str,
        mask: int,
        auto_add: bool,
        excluded: Excluder | None,
        follow: bool,
        as_bytes: bool,
    ) -> None:
        self.path = path
        self.mask = mask
        self.auto_add = auto_add
        self.excluded = excluded
        self.follow = follow
        self.as_bytes = as_bytes
        self.deliver = (mask & ALL_EVENTS) | UNASKED
        self.narrow = self._narrow()

    def _narrow(self) -> int:
        """``deliver`` if the mask is all that filters this root's events, else 0.

        The dispatchers' hot paths (inotify/core.py, _accel_dispatch.c) filter
        such a root's events with one AND and build them as for the default
        root; 0 sends every event of the root through :meth:`passes` and
        Event's own constructor. The other options never change after add(),
        so only :meth:`widen` has to compute it again."""
        if self.path.endswith("/") or self.excluded is not None or self.as_bytes:
            return 0
        return self.deliver

    def widen(self, mask: int) -> None:
        """Deliver *mask*'s events too (``set_mask`` only ever widens)."""
        self.mask |= mask
        self.deliver |= mask & ALL_EVENTS
        self.narrow = self._narrow()

    @property
    def filters(self) -> bool:
        """Do its events need filtering or converting one by one?"""
        # A path ending in "/" (the root directory) needs Event's careful join,
        # not the hot path's plain one.
        return (
            self.path.endswith("/")
            or self.excluded is not None
            or self.as_bytes
            or self.mask & ALL_EVENTS != ALL_EVENTS
        )

    @property
    def is_default(self) -> bool:
        """Does it behave as the defaults in every respect?"""
        return self.auto_add and not self.follow and not self.filters

    def rel(self, path: str) -> str:
        """*path* relative to the root (``""`` for the root itself)."""
        if path == self.path:
            return ""
        cut = len(self.path) if self.path.endswith("/") else len(self.path) + 1
        return path[cut:]

    def excludes(self, full: str, name: str) -> bool:
        """Is the entry *name* at *full* left out?"""
        return self.excluded is not None and self.excluded(self.rel(full), name, full)

    def passes(self, mask: int, name: str, full: str) -> bool:
        """Does an event with *mask* about *full* reach the user?"""
        if not mask & self.deliver:
            return False
        return not (name and self.excludes(full, name))


DEFAULT_ROOT = Root("", ALL_EVENTS, True, None, False, False)
