"""Pairing MOVED_FROM with MOVED_TO by cookie (pure; time comes in as values).

A rename inside the watched set makes the kernel queue MOVED_FROM on the old
directory's watch and MOVED_TO on the new one's, with one non-zero cookie,
from the same ``rename(2)`` call, microseconds apart (fsnotify_move queues
them one after the other; another event may slip in between, and a reader
may read between the two). A move out of the watched set queues only the
MOVED_FROM; a move in, only the MOVED_TO.

One rule for files and directories: a departure is *gone* (moved out) once a
``read(2)`` that started at least ``window`` seconds after the read that
brought the MOVED_FROM has been processed without its MOVED_TO. Until then it
waits; :meth:`MovePairer.deadline` tells the driver when to read again. For a
directory it is gone sooner: ``fsnotify_move`` queues MOVED_FROM, MOVED_TO, then
the directory's own MOVE_SELF, so a MOVE_SELF processed before the MOVED_TO
means no MOVED_TO is coming (:meth:`MovePairer.take`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = ["MOVE_WINDOW", "MovePairer"]

T = TypeVar("T")

MOVE_WINDOW = 0.002


class MovePairer(Generic[T]):
    """Departures (cookie -> item) waiting for their arrival."""

    __slots__ = ("_pending", "window")

    def __init__(self, window: float = MOVE_WINDOW) -> None:
        self.window = window
        self._pending: dict[int, tuple[float, T]] = {}

    def __len__(self) -> int:
        return len(self._pending)

    def depart(self, cookie: int, item: T, read_at: float) -> None:
        """A MOVED_FROM brought by the read that started at *read_at*."""
        self._pending[cookie] = (read_at + self.window, item)

    def arrive(self, cookie: int) -> T | None:
        """The departure with this cookie, or ``None`` if it came from outside."""
        found = self._pending.pop(cookie, None)
        return None if found is None else found[1]

    def gone(self, horizon: float) -> list[T]:
        """Departures settled as moved out, given that every read started before
        *horizon* has been processed; oldest first. They are forgotten."""
        if not self._pending:
            return []
        out = [c for c, (due, _) in self._pending.items() if due <= horizon]
        return [self._pending.pop(c)[1] for c in out]

    def take(self, match: Callable[[T], bool]) -> list[T]:
        """The departures whose item *match* accepts, forgotten (settled now)."""
        found = [c for c, (_, item) in self._pending.items() if match(item)]
        return [self._pending.pop(c)[1] for c in found]

    def deadline(self) -> float | None:
        """When a read must start to settle the oldest departure."""
        if not self._pending:
            return None
        return min(due for due, _ in self._pending.values())
