"""wd -> path for every watch, in a list indexed by wd (pure: no syscalls).

A dict of 50,000 watches costs ~85 bytes a watch before the path itself: the
wd's int object (32; only -5..256 are shared) and the dict's slot, index and
spare room (~52). The kernel makes that unnecessary: an inotify instance hands
out wds from its own idr with idr_alloc_cyclic (fs/notify/inotify/
inotify_user.c, inotify_add_to_idr), starting at 1 and counting up from the
last one given, and a walk adds its watches one after another. So the wds of a
tree are one dense run 1, 2, 3, ... and a list indexed by wd holds its paths at
8 bytes a watch (plus the list's spare room), with no int kept at all.

Two cases keep a dict, :attr:`WdPaths.spill`:

- a wd that would leave the list less than half used (wds only grow, so a
  long-lived watcher whose directories come and go would otherwise grow the
  list by one slot per directory ever made), and a wd far past its end;
- every wd, once the list has shrunk to a quarter used (a tree deleted): its
  live paths move to the dict and the list starts again.

Invariant: a wd below ``len(dense)`` is never in ``spill``; so a lookup reads
one place. ``dense[0]`` is always ``None`` (wds start at 1), and wd -1 (what
the kernel gives IN_Q_OVERFLOW) is looked up in ``spill``, where it never is.

The dispatch loops (core.py and its C twin) read :attr:`dense` and
:attr:`spill` directly, which is why neither is ever rebound: both are
changed in place.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TypeVar, overload

__all__ = ["WdPaths"]

_T = TypeVar("_T")

# A wd at most this far past the list's end is padded up to (None slots): a
# watch the kernel gave and took back (a directory gone between listing and
# watching) leaves one hole, and must not send every later wd to the dict.
_GAP = 1024
# Below this many slots the list is never given up (see _shrink).
_SMALL = 4096


class WdPaths(Mapping[int, str]):
    __slots__ = ("dense", "live", "spill")

    def __init__(self) -> None:
        self.dense: list[str | None] = [None]
        self.spill: dict[int, str] = {}
        self.live = 0  # slots of dense that hold a path (WatchTable.add keeps it too)

    # --- reading ---------------------------------------------------------------

    @overload
    def get(self, wd: int, /) -> str | None: ...
    @overload
    def get(self, wd: int, default: str, /) -> str: ...
    @overload
    def get(self, wd: int, default: _T, /) -> str | _T: ...

    def get(self, wd: int, default: object = None, /) -> object:
        dense = self.dense
        if type(wd) is int and 0 < wd < len(dense):
            path = dense[wd]
            return default if path is None else path
        return self.spill.get(wd, default)

    def __getitem__(self, wd: int) -> str:
        path = self.get(wd)
        if path is None:
            raise KeyError(wd)
        return path

    def __contains__(self, wd: object) -> bool:
        dense = self.dense
        if type(wd) is int and 0 < wd < len(dense):
            return dense[wd] is not None
        return wd in self.spill

    def __len__(self) -> int:
        return self.live + len(self.spill)

    def __iter__(self) -> Iterator[int]:
        dense = self.dense
        # A snapshot: callers iterate while callbacks add and drop watches.
        wds = [wd for wd in range(1, len(dense)) if dense[wd] is not None]
        wds.extend(self.spill)
        return iter(wds)

    def __repr__(self) -> str:
        return f"WdPaths({dict(self.items())!r})"

    # --- writing (the table's only) ----------------------------------------------

    def __setitem__(self, wd: int, path: str) -> None:
        dense = self.dense
        n = len(dense)
        if 0 < wd < n:
            if dense[wd] is None:
                self.live += 1
            dense[wd] = path
        elif wd in self.spill:
            self.spill[wd] = path  # a path rewritten (a rename): it stays where it is
        elif n <= wd <= n + _GAP and (self.live + 1) * 2 >= wd + 1:
            # Half the slots (slot 0 counted) stay used with this one.
            if wd == n:
                dense.append(path)  # the common case: the next wd of a walk
            else:
                self._pad(wd)
                dense[wd] = path
            self.live += 1
        else:
            self.spill[wd] = path

    def _pad(self, wd: int) -> None:
        """Grow the list to hold *wd*, taking in any wd of the new slots that
        was in the dict (the invariant)."""
        dense = self.dense
        spill = self.spill
        start = len(dense)
        dense.extend([None] * (wd + 1 - start))
        if spill:
            for k in range(start, wd + 1):
                path = spill.pop(k, None)
                if path is not None:
                    dense[k] = path
                    self.live += 1

    def __delitem__(self, wd: int) -> None:
        dense = self.dense
        if 0 < wd < len(dense) and dense[wd] is not None:
            dense[wd] = None
            self.live -= 1
            if wd == len(dense) - 1:
                while len(dense) > 1 and dense[-1] is None:
                    dense.pop()
            self._shrink()
        else:
            del self.spill[wd]

    def _shrink(self) -> None:
        """A list mostly of holes (a tree deleted) costs 8 bytes a hole: once
        it is a quarter used, its paths go to the dict and it starts again."""
        dense = self.dense
        if len(dense) > _SMALL and self.live * 4 < len(dense):
            spill = self.spill
            for wd in range(1, len(dense)):
                path = dense[wd]
                if path is not None:
                    spill[wd] = path
            del dense[1:]
            self.live = 0
