"""The threaded driver: a reader thread that only takes the kernel's bytes,
and a handler thread that processes them and calls the user's callback."""

from __future__ import annotations

import os
import select
import threading
import time
from collections.abc import Callable
from typing import Any

from ..event import Event
from .base import _MIN_EVENT_BYTES, Backend, _await_work, _read, _register


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
