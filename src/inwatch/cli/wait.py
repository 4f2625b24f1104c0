"""The one wait of the command line: a stop signal, a deadline, or a condition.

Every command's main thread sleeps in :meth:`Waiter.wait` and nowhere else. It
wakes for

- SIGINT, SIGTERM or SIGHUP (a closed terminal or a lost SSH link is a request
  to stop, like SIGTERM): the handler records the signal. The kernel may run
  the C-level handler on any thread; ``signal.set_wakeup_fd`` makes it write a
  byte to our self-pipe, which wakes the main thread's ``poll()``; Python then
  runs the handler in the main thread before the loop looks at the flag.
  A signal ignored at start (``nohup``, ``&`` in a non-interactive shell) stays
  ignored. A second stop signal raises :class:`~inwatch.cli.output.Aborted`
  from wherever the main thread is, even a blocked write.
- :meth:`Waiter.poke` from another thread (an event arrived, setup finished,
  the last watch went away, a child exited): the same byte, so no wake-up is lost
  between a check and the sleep.
- stdout's reader going away: ``poll()`` reports POLLERR on a pipe's write end
  once its read end is closed (and POLLHUP on a hung-up terminal), even when we
  asked for no event, so ``inwatch watch DIR | head -1`` ends after head exits,
  without waiting for another event to fail to write. A regular file never
  reports either.
- the deadline (``time.monotonic()``), or ``until()`` becoming true.

No polling: an idle command sleeps in the kernel until one of these happens.
(Two waits have nothing to be woken by and look again in steps: ``run``
waiting for a deleted PATH to reappear, and for a stopped command's process
group to empty.)
"""

from __future__ import annotations

import os
import select
import signal
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import Any

from .output import Aborted

__all__ = ["STOP_SIGNALS", "Waiter"]

#: Signals that ask a command to stop.
STOP_SIGNALS: tuple[int, ...] = (int(signal.SIGINT), int(signal.SIGTERM), int(signal.SIGHUP))

_GONE = select.POLLERR | select.POLLHUP


class Waiter:
    """Signal handlers plus a self-pipe; a context manager (restores the handlers).

    :attr:`signum` is the first stop signal received (None before). After a
    first signal, a second raises :class:`Aborted` when :attr:`abortable` (the
    default); a command clears it while it cannot be interrupted cleanly.
    """

    def __init__(self, watch_stdout: bool = True, wake_on: tuple[int, ...] = ()) -> None:
        self.signum: int | None = None
        self.abortable = True
        self._watch_stdout = watch_stdout
        self._r, self._w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._poll = select.poll()
        self._poll.register(self._r, select.POLLIN)
        if watch_stdout:
            self._poll.register(1, 0)  # errors only (always reported)
        self._saved: dict[int, Any] = {}
        self._wake_on = wake_on  # signals that only wake (SIGCHLD: a child exited)
        self._main = threading.main_thread() is threading.current_thread()
        self._old_wakeup = -1

    # --- signals ---------------------------------------------------------------

    def __enter__(self) -> Waiter:
        if self._main:
            # The kernel delivers a process signal to any thread that does not
            # block it, often a Watcher thread: then the main thread's poll() is
            # not interrupted, and the Python handler would wait for the main
            # thread's next bytecode. The C-level handler writes the signal
            # number to this fd whatever thread it runs on, which wakes poll().
            self._old_wakeup = signal.set_wakeup_fd(self._w, warn_on_full_buffer=False)
            for sig in STOP_SIGNALS:
                old = signal.getsignal(sig)
                if old == signal.SIG_IGN:
                    continue
                self._saved[sig] = old
                signal.signal(sig, self._handler)
            for sig in self._wake_on:
                self._saved[sig] = signal.getsignal(sig)
                signal.signal(sig, self._wake)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, old in self._saved.items():
            if self.signum is not None and sig in STOP_SIGNALS:
                # Already stopping: a Ctrl-C pressed again on the way out must
                # not become a KeyboardInterrupt traceback.
                old = signal.SIG_IGN
            signal.signal(sig, old)
        self._saved.clear()
        if self._main:
            signal.set_wakeup_fd(self._old_wakeup)
        os.close(self._r)
        os.close(self._w)

    def _handler(self, signum: int, frame: FrameType | None) -> None:
        if self.signum is not None and self.abortable:
            raise Aborted(signum)
        if self.signum is None:
            self.signum = signum
        self.poke()

    def _wake(self, signum: int, frame: FrameType | None) -> None:
        self.poke()

    @property
    def stopped(self) -> bool:
        """A stop signal was received."""
        return self.signum is not None

    # --- waking up ---------------------------------------------------------------

    def poke(self) -> None:
        """Wake :meth:`wait` (safe from any thread and from a signal handler)."""
        try:
            os.write(self._w, b"\0")
        except (BlockingIOError, OSError):
            pass  # the pipe is full (a wake-up is pending anyway) or closed

    def wait(
        self,
        deadline: float | None = None,
        until: Callable[[], bool] | None = None,
        readable: int | None = None,
        stop: bool = True,
        before_sleep: Callable[[], object] | None = None,
    ) -> str:
        """Sleep until a stop signal (``"signal"``), *until()* is true (``"ready"``),
        the fd *readable* is readable (``"readable"``), or *deadline* in
        ``time.monotonic()`` seconds passes (``"timeout"``).

        With *stop* false a stop signal already received does not end the wait
        (finishing work after it, e.g. a child's grace period); a second one
        still raises :class:`Aborted`.

        *before_sleep* is called once, before the first ``poll()`` that would
        block: the wait first polls without blocking, and only if nothing is
        ready calls it (``watch`` writes the output it holds then, so output
        is held while events keep coming, never while the command sleeps).

        Raises BrokenPipeError when stdout's reader has gone.
        """
        if readable is not None:
            self._poll.register(readable, select.POLLIN)
        try:
            return self._wait(deadline, until, readable, stop, before_sleep)
        finally:
            if readable is not None:
                self._poll.unregister(readable)

    def _wait(
        self,
        deadline: float | None,
        until: Callable[[], bool] | None,
        readable: int | None,
        stop: bool,
        before_sleep: Callable[[], object] | None = None,
    ) -> str:
        while True:
            if stop and self.signum is not None:
                return "signal"
            if until is not None and until():
                return "ready"
            timeout_ms: int | None = None
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    return "timeout"
                # poll() takes an int of milliseconds: round up, so a deadline
                # is never reported early; cap it (an hour) to stay in range.
                timeout_ms = min(int(left * 1000) + 1, 3_600_000)
            if before_sleep is not None and timeout_ms != 0:
                ready = self._poll.poll(0)
                if not ready:
                    before_sleep()
                    before_sleep = None
                    continue  # (it may have taken time: the deadline again)
            else:
                ready = self._poll.poll(timeout_ms)
            for fd, revents in ready:
                if fd == self._r:
                    self._drain()
                elif fd == readable:
                    return "readable"
                elif fd == 1 and revents & _GONE:
                    raise BrokenPipeError(32, "stdout's reader has gone")

    def sleep(self, seconds: float) -> str:
        """:meth:`wait` for *seconds* (``"timeout"``) unless a signal comes first."""
        return self.wait(time.monotonic() + seconds)

    def _drain(self) -> None:
        try:
            while os.read(self._r, 4096):
                pass
        except BlockingIOError:
            pass
