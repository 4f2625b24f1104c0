"""The drivers, written once over a :class:`Backend` (the contract, in :mod:`.base`).

- :class:`Blocking`: ``read(timeout)`` in the caller's thread: wait (poll on the
  backend's fd and a stop eventfd), read, process, return.
- :class:`Threaded`: a *handler* thread that waits on the kernel's fd while
  idle, processes and calls the user's callback, and a *reader* thread that
  takes the kernel's bytes while the handler works (so a slow consumer never
  makes the kernel drop events).
- :class:`AsyncSession`: one ``async for``: the event loop's reader callback
  only takes bytes; the ``async for`` processes them on the loop when that
  stays in memory (``backend.io_free()``), and processing that may list
  directories runs in a worker thread, never on the loop.

One failure channel: whatever a backend or a user function raises stops the
driver, :attr:`Threaded.running` turns false, and the error is raised to the
caller (from ``read()``, ``join()``, ``drain()``, or the ``async for``).
Back-pressure: the user-space backlog is bounded (``max_queue`` events, counted
as their smallest wire size); when full the reader stops reading, the kernel
queue fills, and its overflow is reported and recovered (never a silent drop).
"""

from ..timeouts import poll_ms
from .aio import AsyncSession
from .base import Backend
from .blocking import Blocking, ReadAhead
from .threaded import Threaded

__all__ = ["AsyncSession", "Backend", "Blocking", "ReadAhead", "Threaded", "poll_ms"]
