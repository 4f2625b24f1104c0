"""The drivers, written once over a :class:`Backend` (the contract below).

- :class:`Blocking`: ``read(timeout)`` in the caller's thread: wait (poll on the
  backend's fd and a stop eventfd), read, process, return.
- :class:`Threaded`: a *reader* thread that only takes bytes off the kernel
  queue (so a slow consumer never makes the kernel drop events) and a
  *handler* thread that processes them and calls the user's callback.
- :class:`AsyncSession`: one ``async for``: the event loop's reader callback
  only takes bytes; processing (which may list directories) runs in a worker
  thread, never on the loop; events come back through the loop.

One failure channel: whatever a backend or a user function raises stops the
driver, :attr:`Threaded.running` turns false, and the error is raised to the
caller (from ``read()``, ``join()``, ``drain()``, or the ``async for``).
Back-pressure: the user-space backlog is bounded (``max_queue`` events, counted
as their smallest wire size); when full the reader stops reading, the kernel
queue fills, and its overflow is reported and recovered (never a silent drop).
"""

from __future__ import annotations

import collections
import os
import select
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from .event import Event
from .timeouts import poll_ms

if TYPE_CHECKING:
    import asyncio  # imported where an async for starts: a command line never pays for it

__all__ = ["AsyncSession", "Backend", "Blocking", "ReadAhead", "Threaded", "poll_ms"]

_MIN_EVENT_BYTES = 16
# Events the asyncio worker makes ahead of the consumer, at most (two of
# the inotify backend's batches; see AsyncSession._work).
_AHEAD = 512


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


class Threaded:
    """A reader thread and a handler thread around one callback."""

    def __init__(
        self,
        backend: Backend,
        deliver: Callable[[list[Event[Any]]], None],
        max_queue: int,
    ) -> None:
        self.backend = backend
        # Our own wake-up: the reader sleeps in poll on the backend's fd and this.
        self.wake_fd = os.eventfd(0, os.EFD_CLOEXEC | os.EFD_NONBLOCK)
        self.deliver = deliver
        self.limit = max(1, max_queue) * _MIN_EVENT_BYTES
        self.cond = threading.Condition()
        self.stopping = False
        self.reader_done = False
        self.handler_done = False
        self.busy = False
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
        self._wake_reader()

    def _wake_reader(self) -> None:
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
                self._wake_reader()

        return run

    def _read_loop(self) -> None:
        backend = self.backend
        poller = select.poll()
        fd, side = _register(poller, backend)
        poller.register(self.wake_fd, select.POLLIN)
        cond = self.cond
        try:
            while not self.stopping:
                if backend.backlog >= self.limit:
                    with cond:
                        # Back-pressure: the kernel queue absorbs, then
                        # overflows. The flag is up before the backlog is
                        # looked at, so a handler that makes room after that
                        # look sees it and wakes us (see _handle_loop).
                        self.reader_waiting = True
                        try:
                            while backend.backlog >= self.limit and not self.stopping:
                                cond.wait()
                        finally:
                            self.reader_waiting = False
                    if self.stopping:
                        break
                ready = poller.poll()
                if self.stopping or backend.closed:
                    break
                if _read(backend, ready, fd, side):
                    with cond:
                        cond.notify_all()
                elif not backend.alive and not backend.backlog:
                    break  # the last watch is gone and its IGNORED was read
        finally:
            with cond:
                self.reader_done = True
                cond.notify_all()

    def _handle_loop(self) -> None:
        backend = self.backend
        cond = self.cond
        try:
            while True:
                with cond:
                    if not _await_work(
                        backend, cond, lambda: self.stopping, lambda: self.reader_done
                    ):
                        return
                    self.busy = True
                try:
                    events = backend.process()
                    if self.reader_waiting:
                        with cond:
                            cond.notify_all()  # room in the backlog again
                    if events:
                        self.deliver(events)
                finally:
                    with cond:
                        self.busy = False
                        cond.notify_all()
                if not backend.alive and not backend.backlog and backend.deadline() is None:
                    # The last watch is gone and everything read was delivered:
                    # the run ends by itself (start() may begin another).
                    with cond:
                        self.stopping = True
                        cond.notify_all()
                    self._wake_reader()
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
            self.wake_fd = -1


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
