"""What a driver reads from: the contract every backend implements.

A backend is split in two halves with different clocks:

- **reading** (:meth:`Source.read_raw`): take whatever the kernel has queued,
  as bytes, and nothing else. It must be cheap and never block, because while
  it does not run the kernel queue fills and then overflows. The threaded and
  asyncio drivers run it on their own (a reader thread, the event loop's
  reader callback) so that a slow consumer cannot make the kernel drop events.
- **processing** (:meth:`Source.process`): turn those bytes into
  :class:`~inwatch.Event` objects, keeping the backend's bookkeeping in step.
  This may do file-system I/O (watch a new directory and list it, rescan a
  tree after an overflow) and so never runs on an event loop. Calls are
  serialised and made in read order, one call per ``read_raw`` result.

Some decisions wait for the *next* read (did the MOVED_TO of that directory's
MOVED_FROM come?). :meth:`Source.deadline` then says by when
``process(b"")`` must be called even if nothing more arrives.
"""

from __future__ import annotations

from typing import Any, Protocol

from .event import Event

__all__ = ["Source"]


class Source(Protocol):
    def fileno(self) -> int:
        """The kernel fd: readable (poll/select/asyncio) when events are queued."""
        ...

    def read_raw(self) -> bytes:
        """Everything queued now, unparsed; ``b""`` when nothing is (never blocks)."""
        ...

    def process(self, data: bytes) -> list[Event[Any]]:
        """The events of *data* (``b""``: only what a passed deadline releases)."""
        ...

    def deadline(self) -> float | None:
        """``time.monotonic()`` value by which ``process(b"")`` is due, or ``None``."""
        ...

    @property
    def alive(self) -> bool:
        """False once nothing is watched any more: drivers deliver what they
        hold and end."""
        ...
