"""The manager's :class:`~.watch.Group` objects, found by wd (issue 15: memory per watch).

The manager's dict ``wd -> Watch`` has no entry for a Group's members (an
entry costs ~50 bytes, often with an int object of its own: 32 more, for a
directory the program never asks about): a wd not in the dict is looked up
here. The kernel hands out wds in increasing order (``idr_alloc_cyclic``: a
freed wd is not given out again before the counter wraps at INT_MAX), so the
members of one add_watch call lie in a range ``[lo, hi)`` no other call's
members share: the Groups are kept sorted by ``lo`` and one bisection finds the
only candidate. A Group whose range would overlap another's (the counter
wrapped) is refused, and its call makes a Watch per directory as without Groups.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterator

from .watch import Group

__all__ = ["Groups"]


class Groups:
    """Groups by range of wds; :attr:`live` counts the members they stand for."""

    __slots__ = ("_groups", "_los", "live")

    def __init__(self) -> None:
        self._groups: list[Group] = []  # sorted by lo; ranges disjoint
        self._los: list[int] = []
        self.live = 0

    def __bool__(self) -> bool:
        return bool(self._groups)

    def __iter__(self) -> Iterator[Group]:
        return iter(list(self._groups))

    def add(self, group: Group) -> bool:
        """Hold *group*; False (not held) if its range overlaps a held one's."""
        at = bisect_right(self._los, group.lo)
        if at and self._groups[at - 1].hi > group.lo:
            return False
        if at < len(self._groups) and self._los[at] < group.hi:
            return False
        self._groups.insert(at, group)
        self._los.insert(at, group.lo)
        self.live += group.live
        return True

    def locate(self, wd: int) -> tuple[Group, int] | None:
        """The Group *wd* is a member of (in any state) and its index there."""
        at = bisect_right(self._los, wd)
        if not at:
            return None
        group = self._groups[at - 1]
        i = group.index(wd)
        return None if i < 0 else (group, i)

    def find(self, wd: int) -> Group | None:
        """The Group standing for *wd* (a LIVE member), or None."""
        found = self.locate(wd)
        if found is None:
            return None
        group, i = found
        return None if group.state[i] else group

    def leave(self, wd: int, state: int) -> bool:
        """*wd* is no longer stood for (state OWN or GONE); True if it was."""
        found = self.locate(wd)
        if found is None:
            return False
        group, i = found
        was = not group.state[i]
        group.leave(i, state)
        if was:
            self.live -= 1
            if not group.live:
                self._drop(group)
        return was

    def _drop(self, group: Group) -> None:
        # Nothing left to stand for: its OWN members are plain Watches now.
        at = self._groups.index(group)
        del self._groups[at]
        del self._los[at]

    def clear(self) -> None:
        self._groups.clear()
        self._los.clear()
        self.live = 0

    def members(self) -> Iterator[tuple[int, Group]]:
        """``(wd, group)`` of every LIVE member, group by group, in wd order."""
        for group in list(self._groups):
            for _, wd in group.members():
                yield wd, group
