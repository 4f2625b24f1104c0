"""The asyncio driver: one ``async for``.

The loop's reader callback takes the kernel's bytes (cheap, never blocks) and
wakes the consumer. The consumer, the ``async for`` itself, processes them on
the loop when the backend says the processing stays in memory
(``backend.io_free()``, optional: plain events, a batch at most, microseconds
an event), like the blocking ``read()`` does in its caller's thread: one
wake-up of the loop between the kernel and the loop body. Processing that may
do file-system I/O (a new directory to watch and list, a rescan after an
overflow, renames waiting for their pair) is handed to a worker thread, one
batch at a time, and the events come back through the loop
(``call_soon_threadsafe``): the loop is never blocked by a listing.

Before, every event took three hops (the reader callback, the worker thread,
back to the loop: 119 µs p50 against 30 for iteration, bench/latency.py) and
every batch of a burst a round trip to the worker.

Where a burst's time goes beyond ``Watcher.read()`` iteration (bench/burst.py,
12,000 queued IN_CREATE, accelerator on; callgrind, instructions an event over
iteration's ~4,300, the harness's loop bodies alike): the interpreter's own
``async for`` step (GET_ANEXT, the awaitable checks, SEND) ~200, fixed by
CPython; the C feed's pop and its one reused awaitable ~70 (~250 with an
awaitable allocated and popleft called as a bound method per event); the
``io_free()`` check before each batch ~110 (``light._light`` ORs the
batch's distinct masks; ~210 with ``reduce(or_)`` over every mask, a call
each); the deque between ``process()`` and the feed ~30. Per burst, not per
event: a loop turn every _TURN (two in a 10 ms burst, ~20 µs each), and a
read too large to peek at (over ``light.PEEK_MAX``) has its first batch
processed by the worker thread (started then, once per ``async for``: ~0.1 ms
with the hand-over).
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

from ..accel import native
from ..event import Event
from .base import _MIN_EVENT_BYTES, Backend, _await_work

# The accelerator's async iterator (inotify/_accel_aio.c), or None: then the
# async generator AsyncFor.iterate does the same in Python.
_FEED: Callable[..., Any] | None = getattr(native, "aio_feed", None)

# The consumer gives the loop a turn at least this often (seconds) while it
# processes one batch after another on the loop: each turn costs ~20 µs (a
# poll of the loop's fds, the reader callback), under 0.5 % at this period.
# The kernel queue is then drained at least every _TURN plus the time the loop
# body takes for one batch (256 events): a storm needs ~100 ms to fill the
# kernel's 16,384 events (bench/storm.py).
_TURN = 0.005
# After a batch of this many events or more processed on the loop (a storm,
# never an event coming alone, whose latency stays as it is), the consumer
# naps _NAP seconds, the reader callback off, before it reads again: the next
# read takes more at once (the read-ahead thread of drivers/blocking.py and
# the threaded driver do the same).
_NAP_AFTER = 64
_NAP = 0.002

if TYPE_CHECKING:
    import asyncio  # imported where an async for starts: a command line never pays for it


class AsyncSession:
    """One ``async for`` over a backend: loop reader callback, processing on
    the loop or (when it may do I/O) in a worker thread."""

    def __init__(
        self,
        backend: Backend,
        loop: asyncio.AbstractEventLoop,
        max_queue: int,
        out: collections.deque[Event[Any]],
    ) -> None:
        self.backend = backend
        self.loop = loop
        self.max_queue = max(1, max_queue)
        self.limit = self.max_queue * _MIN_EVENT_BYTES
        # Events made and not taken by the consumer yet: at most a batch (the
        # consumer processes, or hands over, only once it took them all).
        self.out = out
        # What the consumer awaits (a bare future: asyncio.Event's wait()
        # makes one too, with more around it); None while it does not wait.
        self.waiter: asyncio.Future[None] | None = None
        self.cond = threading.Condition()
        # Under cond: the worker owns processing (the consumer waits for it).
        self.handed = False
        self.ending = False
        self.failure: BaseException | None = None
        self.waiting = False  # the consumer awaits inside the generator
        # When the consumer last gave the loop a turn (time.monotonic()).
        self.turn = time.monotonic()
        # The last batch processed on the loop was storm-sized (see _NAP_AFTER).
        self.burst = False
        self.superseded = False
        self.worker_done = False
        self.reading = False
        self.io_free: Callable[[], bool] = getattr(backend, "io_free", _never)
        # Started at the first hand-over: plain events never need it.
        self.worker = threading.Thread(target=self._work, name="inwatch-async", daemon=True)

    def begin(self) -> None:
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
        """On the loop: the backend's fd is readable."""
        backend = self.backend
        try:
            got = backend.read_raw()
        except BaseException as exc:
            self.fail(exc)
            return
        if got:
            if self.handed:
                with self.cond:
                    self.cond.notify_all()  # a worker waiting for bytes or a deadline
            else:
                self.wake()
        if backend.backlog >= self.limit:
            self.remove_reader()  # back-pressure until the consumer catches up
        elif not got and not backend.alive:
            self.remove_reader()
            self.wake()  # the last watch went: the consumer ends

    def wake(self) -> None:
        """On the loop: let a waiting consumer go on."""
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def wait(self) -> None:
        """In the consumer: wait for bytes, the worker, or the end."""
        waiter = self.waiter = self.loop.create_future()
        self.waiting = True
        try:
            await waiter
        finally:
            self.waiting = False
            self.waiter = None
            self.turn = time.monotonic()

    async def nap(self) -> None:
        """In the consumer, after a storm-sized batch: _NAP seconds with the
        reader callback off (room() puts it back)."""
        import asyncio  # loaded already: the loop runs

        self.remove_reader()
        await asyncio.sleep(_NAP)
        self.turn = time.monotonic()

    async def yield_to_loop(self) -> None:
        """In the consumer: one turn of the loop (its callbacks run, then we)."""
        import asyncio  # loaded already: the loop runs

        await asyncio.sleep(0)
        self.turn = time.monotonic()

    def room(self) -> None:
        """In the consumer, after it processed: read again if back-pressure
        stopped the reader and there is room now."""
        backend = self.backend
        if backend.backlog < self.limit // 2 and backend.alive and not self.ending:
            self._add_reader()

    def hand(self) -> None:
        """In the consumer: the worker processes the next batch (it may do I/O)."""
        with self.cond:
            self.handed = True
            self.cond.notify_all()
        if self.worker.ident is None:
            self.worker.start()

    def _work(self) -> None:
        backend = self.backend
        cond = self.cond
        try:
            while True:
                with cond:
                    while not self.handed and not self.ending:
                        cond.wait()
                    if not _await_work(backend, cond, lambda: self.ending):
                        return
                # The consumer waits while we own processing: the deque is ours.
                self.out.extend(backend.process())
                with cond:
                    self.handed = False
                self._notify_loop()
        except BaseException as exc:
            self.failure = exc
        finally:
            self.worker_done = True
            self._notify_loop()

    def _notify_loop(self) -> None:
        try:
            self.loop.call_soon_threadsafe(self.wake)
        except RuntimeError:
            pass  # loop closed

    def fail(self, exc: BaseException) -> None:
        self.failure = exc
        self.end()

    def end(self) -> None:
        """From any thread (Watcher.close()): the consumer ends."""
        with self.cond:
            self.ending = True
            self.cond.notify_all()
        self._notify_loop()

    def idle(self) -> bool:
        """Nothing read is waiting to be processed or delivered."""
        b = self.backend
        return not self.out and not b.backlog and b.deadline() is None

    def close(self) -> None:
        self.remove_reader()
        self.end()
        if self.worker.ident is not None and self.worker is not threading.current_thread():
            self.worker.join(10)


def _never() -> bool:
    return False


class AsyncFor:
    """One ``async for`` over a Watcher (*owner*: its session slot, its
    failure, its stop flag are the Watcher's own). The session begins at the
    first step, inside the running loop.

    The per-event step is either the async generator :meth:`iterate` (pure
    Python) or the accelerator's feed (``_accel_aio.c``) over the same deque;
    both call :meth:`fill` once the events at hand are taken."""

    def __init__(self, owner: Any) -> None:
        self.owner = owner
        self.out: collections.deque[Event[Any]] = collections.deque()
        self.session: AsyncSession | None = None
        self.closed = False

    def __aiter__(self) -> Any:
        feed = _FEED
        if feed is not None:
            return feed(self.out, self.refill, self.close)
        return self.iterate()

    async def iterate(self) -> AsyncIterator[Event[Any]]:
        out = self.out
        try:
            while True:
                # Per event only what an async for must do: the checks come
                # once the events at hand are taken (a new async for that
                # takes over clears this one's deque first, so a superseded
                # loop resumed at its yield ends up in fill()).
                while out:
                    yield out.popleft()
                if not await self.fill():
                    return
        finally:
            self.close()

    async def refill(self) -> Event[Any]:
        """The feed's slow step: the next event once there is one."""
        try:
            if self.closed or not await self.fill():
                raise StopAsyncIteration
        except BaseException:
            self.close()
            raise
        return self.out.popleft()

    def _begin(self) -> AsyncSession:
        owner = self.owner
        owner._check_readable("async for")
        import asyncio  # here, not at import: loaded already when a loop runs

        loop = asyncio.get_running_loop()
        old: AsyncSession | None = owner._session
        if old is not None:
            if old.waiting:
                raise RuntimeError("another async for is already iterating this Watcher")
            # The previous loop was left (break, an exception): it is over.
            old.superseded = True
            old.close()
        session = AsyncSession(owner._core, loop, owner.max_queue, self.out)
        if old is not None:
            self.out.extend(old.out)  # read but not delivered: never dropped
            old.out.clear()
        owner._session = session
        self.session = session
        session.begin()
        return session

    async def fill(self) -> bool:
        """Wait until events are at hand (True), or the async for ends
        (False); raise what stopped the driver."""
        session = self.session
        if session is None:
            session = self._begin()
        elif session.superseded:
            raise RuntimeError("another async for took this Watcher over")
        owner = self.owner
        core = owner._core
        out = self.out
        io_free = session.io_free
        while not out:
            if session.failure is not None:
                owner._failure = session.failure
                raise session.failure
            if session.ending or owner._blocking.stopped or core.closed:
                return False
            if session.handed:
                await session.wait()  # the worker processes
                continue
            if core.backlog or core.deadline() is not None:
                if io_free():
                    if time.monotonic() - session.turn >= _TURN:
                        # A burst or a storm processed here never gives the
                        # loop a turn by itself: the reader callback would not
                        # drain the kernel queue while a slow loop body works
                        # through a read (bench/storm.py, slow handler), and
                        # other tasks would wait. One turn every _TURN.
                        await session.yield_to_loop()
                        continue
                    # In memory, a batch at most: here, on the loop.
                    try:
                        out.extend(core.process())
                    except BaseException as exc:
                        owner._failure = exc
                        raise
                    session.burst = len(out) >= _NAP_AFTER
                    session.room()
                    continue
                session.hand()  # may list directories: never on the loop
                await session.wait()
                continue
            if not core.alive:
                return False  # nothing read waits, and nothing can come
            if session.burst:
                # A storm: let the kernel queue gather more before the next
                # read (a wake-up of the loop and a read cost ~20 µs each).
                session.burst = False
                await session.nap()
                continue
            session.room()
            await session.wait()
        return True

    def close(self) -> None:
        """The async for is over (ended, failed, or left): once."""
        if self.closed:
            return
        self.closed = True
        session = self.session
        if session is not None:
            session.close()
            if self.owner._session is session and not self.out:
                # (Events made and not taken stay with the Watcher: the next
                # async for takes them first, as it takes over this session.)
                self.owner._session = None
