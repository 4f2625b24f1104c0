"""The blocking driver (``read()`` in the caller's thread) and its optional
read-ahead thread."""

from __future__ import annotations

import os
import select
import threading
import time
from typing import Any

from ..event import Event
from ..timeouts import poll_ms
from .base import _MIN_EVENT_BYTES, Backend, _read, _register, _wait_for


class Blocking:
    """``read()`` in the caller's thread (with an optional :class:`ReadAhead`)."""

    def __init__(self, backend: Backend, stop_fd: int) -> None:
        self.backend = backend
        self.stop_fd = stop_fd
        #: set by the owner's stop() (which also signals stop_fd), cleared by resume()
        self.stopped = False
        self.ahead: ReadAhead | None = None
        self._poll = select.poll()
        self._fd, self._side = _register(self._poll, backend)
        self._poll.register(stop_fd, select.POLLIN)
        # read()'s latency path is open: the backend has take() (optional: see
        # Backend) and no read-ahead thread takes the bytes.
        self._fast = hasattr(backend, "take")
        # The last timeout read() was given, and its poll(2) milliseconds: a
        # caller passes the same object every time (one constant, one
        # variable), and identity is enough to know the conversion.
        self._last_timeout: float | None = None
        self._last_ms: int | None = None

    def read_ahead(self, max_queue: int) -> ReadAhead:
        """Start the read-ahead thread (once); read() then also wakes on its news."""
        if self.ahead is None:
            self.ahead = ReadAhead(self.backend, max_queue)
            self._fast = False
            self._poll.register(self.ahead.ready_fd, select.POLLIN)
            self.ahead.start()
        return self.ahead

    def read(self, timeout: float | None) -> list[Event[Any]]:
        # The latency path: when events come one at a time, each costs a
        # wake-up, a read and a process(), so every bytecode here counts (see
        # bench/profile_core.py). In the common state (nothing taken and not
        # processed, nothing due, no read-ahead thread, not stopped) it is one
        # poll and, if the kernel's fd alone woke us, one backend.take(); every
        # other case goes through _wait, the general loop.
        backend = self.backend
        if timeout is self._last_timeout:
            ms = self._last_ms
        else:
            ms = self._last_ms = poll_ms(timeout)  # validates it
            self._last_timeout = timeout
        user_end = None if ms is None else time.monotonic() + timeout  # type: ignore[operator]
        if not self._fast or self.stopped or not backend.quiet:  # type: ignore[attr-defined]
            return self._wait(timeout, ms, user_end, None)
        ready = self._poll.poll(ms)
        if len(ready) == 1 and ready[0][0] == self._fd and not self.stopped:
            events: list[Event[Any]] = backend.take()  # type: ignore[attr-defined]
            if events:
                # (_handed has work here only for read(0): no read-ahead thread.)
                if timeout == 0 and backend.backlog:
                    return self._handed(events, timeout)
                return events
            ready = []  # taken, and nothing came of it: as if the wait went on
        return self._wait(timeout, ms, user_end, ready)

    def _wait(
        self,
        timeout: float | None,
        ms: int | None,
        user_end: float | None,
        ready: list[tuple[int, int]] | None,
    ) -> list[Event[Any]]:
        """read()'s general loop; *ready* is a poll's result not acted on yet
        (``[]``: nothing woke it), or ``None`` to begin with the checks."""
        backend = self.backend
        fd, side = self._fd, self._side
        ahead = self.ahead
        poll = self._poll.poll
        first = ready is None
        while True:
            if ready is None:
                # (The owner checked that the backend is open before calling;
                # its close() stops this driver first, so `stopped` covers the
                # wait.)
                if self.stopped or (not first and backend.closed):
                    return []
                if ahead is not None and ahead.failure is not None:
                    raise ahead.failure
                if backend.backlog:
                    # Read and not processed yet (the rest of a burst handed out
                    # in batches, or what the read-ahead thread took): process
                    # it before reading more, so that a caller taking every
                    # buffered batch (pyinotify's read_events) is done in
                    # bounded time, storm or not.
                    if ahead is not None:
                        # What ready_fd announced is taken now: cleared first, so
                        # a caller waiting on it does not wake again for nothing
                        # (the thread signals after each append: news taken
                        # after this line signals again, never lost).
                        ahead.acknowledge()
                    events = backend.process()
                    if ahead is not None:
                        ahead.room()
                    if events:
                        return self._handed(events, timeout) if backend.backlog else events
                    first = False
                    continue
                due = backend.deadline()
                if due is not None:
                    ms = poll_ms(_wait_for(due, user_end))
                elif first:
                    pass  # the whole timeout: ms as read() computed it
                elif user_end is not None:
                    ms = poll_ms(max(0.0, user_end - time.monotonic()))
                else:
                    ms = None
                ready = poll(ms)
            if ready:
                if self.stopped:
                    return []
                if len(ready) == 1 and ready[0][0] == fd:
                    backend.read_raw()
                else:
                    _read(backend, ready, fd, side)
                    if ahead is not None and any(r == ahead.ready_fd for r, _ in ready):
                        ahead.acknowledge()
            ready = None
            events = backend.process()
            if ahead is not None:
                ahead.room()
            if events:
                return self._handed(events, timeout) if backend.backlog else events
            first = False
            if not backend.alive:
                return []  # the last watch went (its IGNORED woke us): nothing to wait for
            if user_end is not None and time.monotonic() >= user_end:
                return []

    def _handed(self, events: list[Event[Any]], timeout: float | None) -> list[Event[Any]]:
        """*events* go to the caller and a batch of the burst stays behind
        (the caller checked ``backlog``, so the latency path makes no call).

        A caller that waits on an fd before each ``read()`` must not wait while
        events sit in our buffer: the kernel's fd is not readable for bytes
        already taken off its queue, so it would stall until the next kernel
        event. With the read-ahead thread, its ``ready_fd`` (what ``wait_fd()``
        gives) is made readable again. Without it, ``read(0)`` (the poll that
        follows a select on the kernel's fd) takes every buffered batch."""
        backend = self.backend
        ahead = self.ahead
        if ahead is not None:
            ahead.ready()
        elif timeout == 0:
            while backend.backlog:
                more = backend.process()
                if not more:
                    break
                events.extend(more)
        return events

    def close(self) -> None:
        if self.ahead is not None:
            self.ahead.stop()


# The read-ahead thread in a storm. Every read costs the consumer a fixed price
# (a wake-up, a poll, the per-read bookkeeping: several µs), so reads of a few
# dozen events each, as a thread waking at every event makes them, cost the
# consumer more than the events do. After a read of at least _NAP_AFTER bytes
# (~60 events: a storm, never a single event, whose latency stays as it is) the
# thread naps _NAP seconds before its next poll, and the next read takes what
# arrived meanwhile in one go (measured on bench/cli_storm.py: -15 % CPU an
# event for `inwatch watch`). Not after a read of _NAP_UNLESS bytes or more
# (~2,000 events, an eighth of the default max_queued_events, 16,384): a queue
# filling that fast is drained at once; at the rates that make the smaller
# reads, 2 ms adds a few hundred events to the kernel queue, far from its limit.
_NAP_AFTER = 2048
_NAP_UNLESS = 65536
_NAP = 0.002


class ReadAhead:
    """A thread that only takes the kernel's bytes into the backend's buffer.

    For callers of the blocking ``read()`` that take their time between reads
    (formatting, writing to a slow pipe): the kernel queue is drained as it
    fills, whatever they cost, up to ``max_queue`` events held in user space;
    then the thread waits and the kernel queue absorbs (and at worst overflows,
    which is reported and recovered). ``ready_fd`` (an eventfd) is readable when
    it took something: wait on it instead of the kernel fd.
    """

    def __init__(self, backend: Backend, max_queue: int) -> None:
        self.backend = backend
        self.limit = max(1, max_queue) * _MIN_EVENT_BYTES
        self.ready_fd = os.eventfd(0, os.EFD_CLOEXEC | os.EFD_NONBLOCK)
        self._wake_fd = os.eventfd(0, os.EFD_CLOEXEC | os.EFD_NONBLOCK)
        self._cond = threading.Condition()
        self._stopping = False
        self.failure: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="inwatch-read-ahead", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def acknowledge(self) -> None:
        try:
            os.eventfd_read(self.ready_fd)
        except BlockingIOError:
            pass

    def ready(self) -> None:
        """Events wait in the buffer: make ``ready_fd`` readable (again)."""
        try:
            os.eventfd_write(self.ready_fd, 1)
        except OSError:
            pass  # closed: the run is over

    def room(self) -> None:
        """The consumer processed the buffer: a waiting reader may go on."""
        with self._cond:
            self._cond.notify_all()

    def _run(self) -> None:
        backend = self.backend
        poller = select.poll()
        fd, side = _register(poller, backend)
        poller.register(self._wake_fd, select.POLLIN)
        try:
            while not self._stopping:
                with self._cond:
                    while backend.backlog >= self.limit and not self._stopping:
                        self._cond.wait(0.1)  # back-pressure: the kernel queue absorbs
                ready = poller.poll()
                if self._stopping or backend.closed:
                    return
                taken = _read(backend, ready, fd, side)
                if taken:
                    os.eventfd_write(self.ready_fd, 1)
                    if _NAP_AFTER <= taken < _NAP_UNLESS:
                        time.sleep(_NAP)  # a storm: let the next read take more at once
        except BaseException as exc:
            self.failure = exc
            try:
                os.eventfd_write(self.ready_fd, 1)
            except OSError:
                pass

    def stop(self) -> None:
        self._stopping = True
        try:
            os.eventfd_write(self._wake_fd, 1)
        except OSError:
            pass
        with self._cond:
            self._cond.notify_all()
        if self._thread.ident is not None and self._thread is not threading.current_thread():
            self._thread.join(10)
        if not self._thread.is_alive() and self._wake_fd >= 0:
            os.close(self._wake_fd)
            os.close(self.ready_fd)
            self._wake_fd = self.ready_fd = -1
