"""What every driver shares: the backend contract, and the waits and reads
written once for all of them."""

from __future__ import annotations

import select
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from ..event import Event

# The smallest inotify record (a header without a name): the backlog's bytes
# over this bound the events it may hold, for back-pressure.
_MIN_EVENT_BYTES = 16


class Backend(Protocol):
    """The contract every backend implements for the drivers.

    A backend is split in two halves with different clocks. *Reading*
    (:meth:`read_raw`) takes whatever the kernel has queued into the
    backend's own buffer, and nothing else: it must be cheap and never block,
    because while it does not run the kernel queue fills and then overflows.
    *Processing* (:meth:`process`) turns the buffer into events in read order
    and may do file-system I/O (watch a new directory and list it, rescan after
    an overflow), so it never runs on an event loop; calls are serialised.
    Some decisions wait for a later read (did the MOVED_TO of that MOVED_FROM
    come?): :meth:`deadline` says by when ``process()`` is due even if nothing
    more arrives.
    """

    def fileno(self) -> int:
        """What to wait on: readable when something is queued."""
        ...

    def read_raw(self) -> int:
        """Take what is queued into the buffer (never blocks); 0 if nothing."""
        ...

    def process(self) -> list[Event[Any]]:
        """The events of everything taken so far, in read order: all of it, or
        the next batch of it (then ``backlog`` stays non-zero and the drivers
        call again without waiting)."""
        ...

    def deadline(self) -> float | None:
        """``time.monotonic()`` value by which ``process()`` is due, or ``None``."""
        ...

    # Optional, together: ``take() -> list[Event]``, ``read_raw()`` then
    # ``process()`` in one call, for a poll-based driver whose poll found the
    # kernel's fd alone ready (no side fd: no news of them) with nothing taken
    # and nothing due; and ``quiet`` (a property), ``not backlog and
    # deadline() is None`` in one look. take() must give what the two calls
    # would; the pair saves their fixed costs on the latency path, where each
    # event comes with a wake-up of its own.

    @property
    def alive(self) -> bool:
        """False once nothing is watched: the drivers deliver what they hold and end."""
        ...

    @property
    def backlog(self) -> int:
        """What was taken and not processed yet (for back-pressure)."""
        ...

    @property
    def closed(self) -> bool: ...


def _wait_for(deadline: float | None, user_end: float | None) -> float | None:
    now = time.monotonic()
    waits = [t - now for t in (deadline, user_end) if t is not None]
    return max(0.0, min(waits)) if waits else None


def _await_work(
    backend: Backend,
    cond: threading.Condition,
    stop: Callable[[], bool],
    done: Callable[[], bool] = lambda: False,
) -> bool:
    """With *cond* held: wait until the backend has bytes to process or one of
    its deadlines passed (True); False at once on *stop*, or on *done* once
    nothing is left to process."""
    while True:
        if stop():
            return False
        if backend.backlog:
            return True
        due = backend.deadline()
        if due is not None and due <= time.monotonic():
            return True
        if done():
            return False
        cond.wait(_wait_for(due, None))


def _register(poller: Any, backend: Backend) -> tuple[int, set[int]]:
    """Register what wakes the backend: its kernel fd, and side fds (the mount
    table) that a backend may offer so that poll-based drivers need not go
    through an epoll fd. Returns (kernel fd, side fds)."""
    fds = getattr(backend, "wait_fds", None)
    pairs: list[tuple[int, int]] = fds() if fds is not None else [(backend.fileno(), select.POLLIN)]
    for fd, events in pairs:
        poller.register(fd, events)
    return pairs[0][0], {fd for fd, _ in pairs[1:]}


def _read(backend: Backend, ready: list[tuple[int, int]], fd: int, side: set[int]) -> int:
    """Take what the ready fds say: the kernel's bytes, and news of a side fd."""
    woke = False
    for r, _ in ready:
        if r == fd:
            woke = True
        elif r in side:
            backend.note_side()  # type: ignore[attr-defined]
            woke = True
    return backend.read_raw() if woke else 0
