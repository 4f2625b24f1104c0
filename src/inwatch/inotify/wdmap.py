"""wd -> value for every watch, in a list indexed by wd (pure: no syscalls).

The watch table's paths (wd -> path) and a non-default root's options (wd ->
its Root) are one entry a watch. A dict of 50,000 watches costs ~85 bytes a
watch before the value itself: the
wd's int object (32; only -5..256 are shared) and the dict's slot, index and
spare room (~52). The kernel makes that unnecessary: an inotify instance hands
out wds from its own idr with idr_alloc_cyclic (fs/notify/inotify/
inotify_user.c, inotify_add_to_idr), starting at 1 and counting up from the
last one given, and a walk adds its watches one after another. So the wds of a
tree are one dense run 1, 2, 3, ... and a list indexed by wd holds its values at
8 bytes a watch (plus the list's spare room), with no int kept at all.

Two cases keep a dict, :attr:`WdMap.spill`:

- a wd that would leave the list less than half used (wds only grow, so a
  long-lived watcher whose directories come and go would otherwise grow the
  list by one slot per directory ever made), and a wd far past its end;
- every wd, once the list has shrunk to a quarter used (a tree deleted): its
  live values move to the dict, which then takes every later wd too (wds
  only grow, and the list takes one only within _GAP of its end) until the
  kernel's wds wrap around.

Invariant: a wd below ``len(dense)`` is never in ``spill``; so a lookup reads
one place. ``dense[0]`` is always ``None`` (wds start at 1), and wd -1 (what
the kernel gives IN_Q_OVERFLOW) is looked up in ``spill``, where it never is.
``dense[-1]`` is never ``None`` but in an empty list (a delete at the end trims
the holes before it), so the map is empty exactly when ``len(dense) == 1``
and ``spill`` is empty: what the dispatch loops test per event. Values are
never ``None``.

The dispatch loops (core.py and its C twin) read :attr:`dense` and
:attr:`spill` directly, which is why neither is ever rebound: both are
changed in place.
"""

from __future__ import annotations

from collections.abc import ItemsView, Iterator, Mapping, ValuesView
from typing import Generic, TypeVar, overload

__all__ = ["WdMap"]

_T = TypeVar("_T")
_V = TypeVar("_V")

# A wd at most this far past the list's end is padded up to (None slots): a
# watch the kernel gave and took back (a directory gone between listing and
# watching) leaves one hole, and must not send every later wd to the dict.
_GAP = 1024
# Below this many slots the list is never given up (see _shrink).
_SMALL = 4096


class WdMap(Mapping[int, _V], Generic[_V]):
    __slots__ = ("dense", "live", "spill")

    def __init__(self) -> None:
        self.dense: list[_V | None] = [None]
        self.spill: dict[int, _V] = {}
        self.live = 0  # slots of dense that hold a value (WatchTable.add keeps it too)

    # --- reading ---------------------------------------------------------------

    @overload
    def get(self, wd: int, /) -> _V | None: ...
    @overload
    def get(self, wd: int, default: _V, /) -> _V: ...
    @overload
    def get(self, wd: int, default: _T, /) -> _V | _T: ...

    def get(self, wd: int, default: object = None, /) -> object:
        dense = self.dense
        if type(wd) is int and 0 < wd < len(dense):
            value = dense[wd]
            return default if value is None else value
        return self.spill.get(wd, default)

    def __getitem__(self, wd: int) -> _V:
        dense = self.dense
        if type(wd) is int and 0 < wd < len(dense):
            value = dense[wd]
            if value is None:
                raise KeyError(wd)
            return value
        return self.spill[wd]

    def __contains__(self, wd: object) -> bool:
        dense = self.dense
        if type(wd) is int and 0 < wd < len(dense):
            return dense[wd] is not None
        return wd in self.spill

    def __len__(self) -> int:
        return self.live + len(self.spill)

    def __bool__(self) -> bool:
        return len(self.dense) > 1 or bool(self.spill)

    def __iter__(self) -> Iterator[int]:
        dense = self.dense
        # A snapshot: callers iterate while callbacks add and drop watches.
        wds = [wd for wd in range(1, len(dense)) if dense[wd] is not None]
        wds.extend(self.spill)
        return iter(wds)

    def snapshot(self) -> dict[int, _V]:
        """A dict of the map as it is now (wd order, then the dict's)."""
        dense = self.dense
        out = {wd: value for wd, value in enumerate(dense) if value is not None}
        out.update(self.spill)
        return out

    # The views of a snapshot: Mapping's own would look each wd up again (a
    # Python call a watch) and fail with KeyError if a watch went meanwhile (a
    # reader thread processing while a caller lists Watcher.watches).
    def items(self) -> ItemsView[int, _V]:
        return self.snapshot().items()

    def values(self) -> ValuesView[_V]:
        return self.snapshot().values()

    def __repr__(self) -> str:
        return f"WdMap({self.snapshot()!r})"

    # --- writing ---------------------------------------------------------------------

    def __setitem__(self, wd: int, value: _V) -> None:
        dense = self.dense
        n = len(dense)
        if 0 < wd < n:
            if dense[wd] is None:
                self.live += 1
            dense[wd] = value
        elif wd in self.spill:
            self.spill[wd] = value  # rewritten (a rename): it stays where it is
        elif n <= wd <= n + _GAP and (self.live + 1) * 2 >= wd + 1:
            # Half the slots (slot 0 counted) stay used with this one.
            if wd == n:
                dense.append(value)  # the common case: the next wd of a walk
            else:
                self._pad(wd)
                dense[wd] = value
            self.live += 1
        else:
            self.spill[wd] = value

    def _pad(self, wd: int) -> None:
        """Grow the list to hold *wd*, taking in any wd of the new slots that
        was in the dict (the invariant)."""
        dense = self.dense
        spill = self.spill
        start = len(dense)
        dense.extend([None] * (wd + 1 - start))
        if spill:
            for k in range(start, wd + 1):
                value = spill.pop(k, None)
                if value is not None:
                    dense[k] = value
                    self.live += 1

    def __delitem__(self, wd: int) -> None:
        dense = self.dense
        if 0 < wd < len(dense) and dense[wd] is not None:
            dense[wd] = None
            self.live -= 1
            if wd == len(dense) - 1:
                # Trim the holes at the end: dense[-1] is None only when empty.
                while len(dense) > 1 and dense[-1] is None:
                    dense.pop()
            self._shrink()
        else:
            del self.spill[wd]

    def pop(self, wd: int, default: _T) -> _V | _T:
        """``dict.pop(wd, default)``."""
        if wd not in self:
            return default
        value = self[wd]
        del self[wd]
        return value

    def _shrink(self) -> None:
        """A list mostly of holes (a tree deleted) costs 8 bytes a hole: once
        it is a quarter used, its values go to the dict and it starts again."""
        dense = self.dense
        if len(dense) > _SMALL and self.live * 4 < len(dense):
            spill = self.spill
            for wd in range(1, len(dense)):
                value = dense[wd]
                if value is not None:
                    spill[wd] = value
            del dense[1:]
            self.live = 0
