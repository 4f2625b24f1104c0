"""The asyncio driver: one ``async for`` (the loop's reader callback takes the
kernel's bytes, a worker thread processes them, the events come back through
the loop)."""

from __future__ import annotations

import collections
import threading
from typing import TYPE_CHECKING, Any

from ..event import Event
from .base import _MIN_EVENT_BYTES, Backend, _await_work

if TYPE_CHECKING:
    import asyncio  # imported where an async for starts: a command line never pays for it

# Events the asyncio worker makes ahead of the consumer, at most (two of
# the inotify backend's batches; see AsyncSession._work).
_AHEAD = 512


class AsyncSession:
    """One ``async for`` over a backend: loop reader callback + worker thread."""

    def __init__(self, backend: Backend, loop: asyncio.AbstractEventLoop, max_queue: int) -> None:
        self.backend = backend
        self.loop = loop
        self.max_queue = max(1, max_queue)
        self.limit = self.max_queue * _MIN_EVENT_BYTES
        self.out: collections.deque[Event[Any]] = collections.deque()
        import asyncio  # loaded already: an event loop is running

        self.wake = asyncio.Event()
        self.cond = threading.Condition()
        self.ending = False
        self.failure: BaseException | None = None
        self.waiting = False  # the consumer awaits inside the generator
        self.superseded = False
        self.worker_done = False
        self.reading = False
        self.worker = threading.Thread(target=self._work, name="inwatch-async", daemon=True)

    def begin(self) -> None:
        self.worker.start()
        self._add_reader()

    def _add_reader(self) -> None:
        if not self.reading and not self.backend.closed:
            self.loop.add_reader(self.backend.fileno(), self._on_readable)
            self.reading = True

    def remove_reader(self) -> None:
        if self.reading:
            self.reading = False
            try:
                self.loop.remove_reader(self.backend.fileno())
            except (ValueError, RuntimeError, OSError):
                pass  # closed fd or loop

    def _on_readable(self) -> None:
        try:
            got = self.backend.read_raw()
        except BaseException as exc:
            self.fail(exc)
            return
        if got:
            with self.cond:
                self.cond.notify_all()
        if self.backend.backlog >= self.limit or len(self.out) >= self.max_queue:
            self.remove_reader()  # back-pressure until the consumer catches up
        elif not got and not self.backend.alive:
            self.remove_reader()

    def _work(self) -> None:
        backend = self.backend
        cond = self.cond
        out = self.out
        try:
            while True:
                with cond:
                    # The consumer has enough to go on: the rest of a burst stays
                    # bytes in the buffer meanwhile (the loop's reader keeps
                    # draining the kernel). Events made far ahead of the consumer
                    # would all be alive at once, and the GC traverses them at
                    # every collection (0.3 µs an event on a 12,000-event burst).
                    while len(out) >= _AHEAD and not self.ending:
                        cond.wait()
                    if not _await_work(backend, cond, lambda: self.ending):
                        return
                events = backend.process()
                if events:
                    out.extend(events)
                    if len(out) > len(events):
                        # The consumer has not taken everything before: it is
                        # not waiting, and takes these with the rest (it calls
                        # _after_work itself once it has taken all). Saves a
                        # wake-up of the loop per batch of a burst.
                        continue
                self._notify_loop()
        except BaseException as exc:
            self.failure = exc
            self._notify_loop()
        finally:
            self.worker_done = True
            self._notify_loop()

    def _notify_loop(self) -> None:
        try:
            self.loop.call_soon_threadsafe(self._after_work)
        except RuntimeError:
            pass  # loop closed

    def _after_work(self) -> None:
        """On the loop: events were added (by the worker) or all taken (by the
        consumer)."""
        self.wake.set()
        if len(self.out) < _AHEAD:
            with self.cond:
                self.cond.notify_all()  # a worker waiting for the consumer goes on
        roomy = len(self.out) < self.max_queue // 2 and self.backend.backlog < self.limit // 2
        if roomy and self.backend.alive and not self.ending:
            self._add_reader()

    def fail(self, exc: BaseException) -> None:
        self.failure = exc
        self.end()

    def end(self) -> None:
        with self.cond:
            self.ending = True
            self.cond.notify_all()
        self.wake.set()

    def idle(self) -> bool:
        """Nothing read is waiting to be processed or delivered."""
        b = self.backend
        return not self.out and not b.backlog and b.deadline() is None

    def close(self) -> None:
        self.remove_reader()
        self.end()
        if self.worker.ident is not None and self.worker is not threading.current_thread():
            self.worker.join(10)
