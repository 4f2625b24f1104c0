"""Pairing MOVED_FROM with MOVED_TO by cookie (pure; the clock is injected).

A rename inside the watched set produces MOVED_FROM on the old directory and
MOVED_TO on the new one with the same non-zero cookie, queued one after the
other by the same ``rename(2)``. A move out of the watched set produces only
the MOVED_FROM; a move in, only the MOVED_TO. So a departure waits a short while
for its arrival and is then declared gone.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = ["MovePairer"]

T = TypeVar("T")


class MovePairer(Generic[T]):
    """Remembers departures (cookie -> item) until their arrival or a deadline."""

    __slots__ = ("_clock", "_pending", "window")

    def __init__(self, clock: Callable[[], float], window: float = 1.0) -> None:
        self._clock = clock
        self.window = window
        self._pending: dict[int, tuple[float, T]] = {}

    def __len__(self) -> int:
        return len(self._pending)

    def depart(self, cookie: int, item: T) -> None:
        self._pending[cookie] = (self._clock() + self.window, item)

    def arrive(self, cookie: int) -> T | None:
        """The departure with this cookie, or ``None`` if it came from outside."""
        found = self._pending.pop(cookie, None)
        return None if found is None else found[1]

    def expired(self) -> list[T]:
        """Departures whose window has passed, oldest first; they are forgotten."""
        if not self._pending:
            return []
        now = self._clock()
        gone = [c for c, (deadline, _) in self._pending.items() if deadline <= now]
        return [self._pending.pop(c)[1] for c in gone]
