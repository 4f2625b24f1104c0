"""The threaded driver: a handler thread that calls the user's callback, and a
reader thread that keeps the kernel queue drained while the handler works.

Latency: one thread wake-up per event. While it is idle (nothing taken and not
processed, nothing due) the *handler* itself waits in poll(2) on the kernel's
fd; when that wakes it, it reads and processes in one call (``backend.take()``,
the blocking driver's latency path) and calls the callback at once. Before,
the reader woke, took the bytes and woke the handler through a condition
variable: two wake-ups and a hand-off on the way to the callback (64 against
30 µs p50 for iteration, bench/latency.py).

Safety: while the handler works (processes, or runs the callback) the *reader*
takes the kernel's bytes every :data:`_TICK` into the backlog (bounded by
``max_queue``): a slow callback never makes the kernel drop events
(bench/storm.py, "slow handler"). It does not wait on the kernel's fd: the
kernel wakes every poller of an inotify fd, and a reader woken with the
handler for each event fought it for the GIL (+15 µs p50). Once the handler
has been idle for :data:`_LINGER` the reader parks (no timeout: an idle
Watcher wakes nobody); the first event after that wakes it through the
condition variable, a futex wake that keeps the GIL, before the callback.

One wake-up could be lost between the two: the handler sees an empty backlog,
the reader takes the bytes, the handler polls a kernel fd that has nothing
left to say. So the handler raises ``idle`` before it looks at the backlog, and
a reader that took bytes while ``idle`` is up signals ``news_fd``, which the
handler's poll also waits on. The reads themselves are serialised by the
backend's read lock and processed in read order.
"""

from __future__ import annotations

import os
import select
import threading
import time
from collections.abc import Callable
from typing import Any

from ..event import Event
from ..timeouts import poll_ms
from .base import _MIN_EVENT_BYTES, Backend, _read, _register

# While the handler works (processes, or runs the callback), the reader takes
# the kernel's bytes this often (seconds). The kernel queue holds
# max_queued_events (16,384 by default): a storm would need millions of events
# a second to fill it in one tick. A callback that holds the GIL delays the
# reader by up to the interpreter's switch interval (5 ms) whatever the tick,
# as it did any reader thread.
_TICK = 0.001
# The reader parks (sleeps with no timeout: an idle Watcher wakes nobody) once
# the handler has waited this long (seconds) with nothing to do. Until then it
# ticks, so that events coming one at a time find it awake: waking it costs a
# futex wake of a thread on another CPU, ~10 µs on the way to the callback
# (bench/latency.py), which only the first event after a quiet spell pays.
_LINGER = 0.05
# After delivering this many events or more from one wake-up (a storm, never
# an event coming alone, whose latency stays as it is), the handler naps _NAP
# seconds before it waits on the kernel again, so that its next read takes
# more at once: each wake-up and read has a fixed cost of several µs (the
# read-ahead thread of drivers/blocking.py does the same).
_NAP_AFTER = 64
_NAP = 0.002


class Threaded:
    """A handler thread and a reader thread around one callback."""

    def __init__(
        self,
        backend: Backend,
        deliver: Callable[[list[Event[Any]]], None],
        max_queue: int,
    ) -> None:
        self.backend = backend
        # Our own wake-up: both threads sleep in poll on the backend's fd and this.
        self.wake_fd = os.eventfd(0, os.EFD_CLOEXEC | os.EFD_NONBLOCK)
        # The reader's news for a handler that waits in poll (see the module
        # docstring): bytes it took that the kernel's fd no longer shows.
        self.news_fd = os.eventfd(0, os.EFD_CLOEXEC | os.EFD_NONBLOCK)
        # The handler's wake-ups from poll, counted (the reader parks after
        # _LINGER without one), and the reader sleeps without a timeout (set
        # before it looks at `idle` a last time).
        self.rounds = 0
        self.parked = False
        self.deliver = deliver
        self.limit = max(1, max_queue) * _MIN_EVENT_BYTES
        self.cond = threading.Condition()
        self.stopping = False
        self.reader_done = False
        self.handler_done = False
        # Under cond: the handler took (or is about to take) bytes and has not
        # delivered their events yet (drain() must not call that drained).
        self.busy = False
        # The handler waits in poll, or is about to (set before it looks at
        # the backlog): a reader that takes bytes then signals news_fd.
        self.idle = False
        # The reader waits for room in the backlog (back-pressure): only then
        # does the handler wake it after processing, a lock taking less a batch.
        self.reader_waiting = False
        self.failure: BaseException | None = None
        self.threads = [
            threading.Thread(target=self._guard(self._read_loop), name="inwatch-reader"),
            threading.Thread(target=self._guard(self._handle_loop), name="inwatch-handler"),
        ]
        for t in self.threads:
            t.daemon = True

    def start(self) -> None:
        for t in self.threads:
            t.start()

    @property
    def running(self) -> bool:
        return self.failure is None and any(t.is_alive() for t in self.threads)

    def stop(self) -> None:
        with self.cond:
            self.stopping = True
            self.cond.notify_all()
        self._wake()

    def _wake(self) -> None:
        """Wake both threads out of poll (the eventfd stays readable: the run
        is over)."""
        try:
            os.eventfd_write(self.wake_fd, 1)
        except (OSError, ValueError):
            pass  # closed: the run is over

    def _guard(self, loop: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                loop()
            except BaseException as exc:
                with self.cond:
                    if self.failure is None:
                        self.failure = exc
                    self.stopping = True
                    self.cond.notify_all()
                self._wake()

        return run

    def _read_loop(self) -> None:
        """Parked (waiting on cond, no timeout) once the handler has been idle
        for :data:`_LINGER` seconds; otherwise awake every :data:`_TICK`
        seconds, taking the kernel's bytes whenever the handler is not waiting
        on them itself (it is processing, or in the callback)."""
        backend = self.backend
        cond = self.cond
        news_fd = self.news_fd
        quiet_ticks = max(1, round(_LINGER / _TICK))
        try:
            while True:
                with cond:
                    seen = self.rounds
                    quiet = 0
                    while not self.stopping:
                        if self.rounds != seen:
                            seen, quiet = self.rounds, 0
                        elif self.idle:
                            quiet += 1
                        if quiet >= quiet_ticks:
                            # Up before `idle` is looked at: a handler that
                            # wakes after that look sees it and notifies
                            # (under cond: we are waiting by then).
                            self.parked = True
                            if self.idle:
                                cond.wait()
                                quiet = 0
                            self.parked = False
                            continue
                        cond.wait(_TICK)
                        if not self.idle:
                            break  # the handler works: take what came meanwhile
                    if self.stopping:
                        return
                    if backend.backlog >= self.limit:
                        # Back-pressure: the kernel queue absorbs, then
                        # overflows. The flag is up before the backlog is
                        # looked at, so a handler that makes room after that
                        # look sees it and wakes us.
                        self.reader_waiting = True
                        try:
                            while backend.backlog >= self.limit and not self.stopping:
                                cond.wait()
                        finally:
                            self.reader_waiting = False
                        continue
                if backend.closed:
                    return
                if backend.read_raw() and self.idle:
                    os.eventfd_write(news_fd, 1)
        finally:
            with cond:
                self.reader_done = True
                cond.notify_all()
            self._wake_handler()

    def _wake_handler(self) -> None:
        try:
            os.eventfd_write(self.news_fd, 1)
        except (OSError, ValueError):
            pass  # closed: the run is over

    def _handle_loop(self) -> None:
        backend = self.backend
        cond = self.cond
        poller = select.poll()
        fd, side = _register(poller, backend)
        poller.register(self.wake_fd, select.POLLIN)
        news_fd = self.news_fd
        poller.register(news_fd, select.POLLIN)
        poll = poller.poll
        take = getattr(backend, "take", None)
        deliver = self.deliver
        try:
            while True:
                events: list[Event[Any]] | None = None
                if not backend.backlog:
                    due = backend.deadline()
                    if due is None or due > time.monotonic():
                        # Nothing at hand: wait on the kernel's fd ourselves
                        # (idle is up before the backlog's second look).
                        self.idle = True
                        if backend.backlog:
                            self.idle = False
                            continue
                        if self.stopping or self.reader_done or backend.closed:
                            # (The reader ends on stop, close, or once no watch
                            # is left and nothing was read: nothing to wait for.)
                            self.idle = False
                            return
                        ready = poll(None if due is None else poll_ms(due - time.monotonic()))
                        self.idle = False
                        self.rounds += 1
                        if self.parked:
                            # The first work after a quiet spell: the reader
                            # watches the kernel queue again while we process
                            # and call back (its wake-up costs this one event
                            # some µs; the next ones find it awake).
                            with cond:
                                cond.notify_all()
                        if self.stopping:
                            return
                        with cond:
                            self.busy = True
                        if len(ready) == 1 and ready[0][0] == fd and take is not None:
                            if backend.quiet:  # type: ignore[attr-defined]
                                events = take()  # read and process: the latency path
                            else:
                                backend.read_raw()
                        elif ready:
                            if any(r == news_fd for r, _ in ready):
                                try:
                                    os.eventfd_read(news_fd)
                                except BlockingIOError:
                                    pass
                            _read(backend, ready, fd, side)
                if events is None:
                    if not self.busy:
                        with cond:
                            self.busy = True
                    events = backend.process()
                try:
                    if self.reader_waiting:
                        with cond:
                            cond.notify_all()  # room in the backlog again
                    if events:
                        deliver(events)
                finally:
                    with cond:
                        self.busy = False
                        cond.notify_all()
                if self.stopping:
                    return
                if len(events) >= _NAP_AFTER and not backend.backlog:
                    # A storm: let the kernel queue gather more before the
                    # next read (the reader takes it meanwhile if it fills).
                    time.sleep(_NAP)
                if not backend.alive and not backend.backlog and backend.deadline() is None:
                    # The last watch is gone and everything read was delivered:
                    # the run ends by itself (start() may begin another).
                    with cond:
                        self.stopping = True
                        cond.notify_all()
                    self._wake()
                    return
        finally:
            with cond:
                self.handler_done = True
                cond.notify_all()

    def drain(self, timeout: float, pending_in_kernel: Callable[[], int]) -> bool:
        """Wait until everything the kernel had queued was handed to the callback."""
        end = time.monotonic() + timeout
        with self.cond:
            while True:
                if self.failure is not None:
                    raise self.failure
                idle = not self.busy and not self.backend.backlog
                drained = idle and (self.backend.closed or pending_in_kernel() == 0)
                if drained and self.backend.deadline() is None:
                    return True
                if self.handler_done:
                    return idle and (self.backend.closed or pending_in_kernel() == 0)
                left = end - time.monotonic()
                if left <= 0:
                    return False
                self.cond.wait(min(left, 0.02))

    def join(self, timeout: float | None) -> None:
        current = threading.current_thread()
        for t in self.threads:
            if t is not current and t.ident is not None:
                t.join(timeout)
        if not any(t.is_alive() for t in self.threads) and self.wake_fd >= 0:
            os.close(self.wake_fd)
            os.close(self.news_fd)
            self.wake_fd = self.news_fd = -1
