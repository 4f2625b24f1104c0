"""stdout for the commands: loud when it cannot be written, quiet when the reader
has gone, and the error rule every command shares (:func:`run_guarded`).

- A broken pipe (the reader exited: ``| head -1``) ends the command at once with
  status 0 and nothing on stderr, as cat and grep do.
- Any other failed write (``> /dev/full``: ENOSPC; a closed stdout: EBADF) ends
  it with ``inwatch CMD: cannot write to stdout: ...`` and status 1 -- never a
  silent loss. A stdout closed before start (``>&-``) is caught before anything
  opens a file, so fd 1 cannot be taken by another file and written to.
"""

from __future__ import annotations

import collections
import contextlib
import errno
import os
import select
import stat
import sys
import threading
from collections.abc import Callable

from .args import CliError

__all__ = ["Aborted", "Output", "StdoutError", "Writer", "check_stdout", "run_guarded"]


class StdoutError(Exception):
    """stdout cannot be written (not a broken pipe): status 1."""

    def __init__(self, exc: OSError) -> None:
        super().__init__(f"cannot write to stdout: {exc.strerror or exc}")
        self.errno = exc.errno


class Aborted(Exception):
    """A second stop signal while finishing: status 128 + signal, and how many
    events were read but not written (set by the command, when it knows)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum
        self.unwritten: int | None = None


class Output:
    """Text for fd 1, gathered and written with one ``os.write`` loop per flush.

    Bypasses ``sys.stdout``'s buffering on purpose: the command decides when
    bytes leave (after each batch of events, see :mod:`~inwatch.cli.watch`), a
    failed write raises at once instead of at interpreter exit, and a partial
    write is counted (:attr:`pending`) when a second signal aborts it. Text is
    encoded as UTF-8 with surrogateescape: names were decoded that way, so each
    goes out as exactly the bytes the kernel gave, whatever the locale.
    """

    #: write before this many characters pile up, even mid-batch
    HIGH_WATER = 1 << 20

    def __init__(self, fd: int = 1) -> None:
        self.fd = fd
        self._parts: list[str] = []
        self._size = 0
        self._items = 0

    def write(self, text: str, items: int = 1) -> None:
        """Gather *text*, which holds *items* things (lines, events) for :attr:`pending`."""
        self._parts.append(text)
        self._size += len(text)
        self._items += items
        if self._size >= self.HIGH_WATER:
            self.flush()

    @property
    def pending(self) -> int:
        """Items given to :meth:`write` and not written yet."""
        return self._items

    def flush(self) -> None:
        """Write everything gathered; BrokenPipeError or :class:`StdoutError`."""
        if not self._parts:
            return
        self.write_all("".join(self._parts).encode("utf-8", "surrogateescape"))
        self._parts.clear()
        self._size = 0
        self._items = 0

    def write_all(self, data: bytes) -> None:
        """*data* to the fd, now (nothing gathered before it may be pending)."""
        view = memoryview(data)
        try:
            while view:
                n = os.write(self.fd, view)
                view = view[n:]
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise StdoutError(exc) from None


class Writer:
    """Writes text on a thread of its own, so the main thread goes back to
    reading the kernel queue at once, whatever stdout's reader costs.

    The main thread formats (a batch of events is one string, see
    :mod:`~inwatch.cli.lines`) and gives it to :meth:`put`, which holds it
    until *hand_over* characters are held or :meth:`release` is called (the
    command calls it before it sleeps): in a storm the thread is woken once
    per 64 KiB, not once per read (each wake-up is a futex call and a GIL
    hand-off on both sides). This thread only encodes and writes, which
    releases the GIL while the kernel copies. After each hand-over taken,
    everything queued is written (a writer that fell behind takes several at
    once, so a slow reader gets bigger writes, not more of them). Bounded:
    past *limit* queued events the hand-over waits, the main thread stops
    reading, and the kernel queue absorbs and then reports its overflow (never
    a silent drop). A failed write is kept in :attr:`error` and *on_error* is
    called (to wake the main thread), which raises it from :meth:`check`.

    (Formatting on this thread instead was measured costlier: the two threads
    then take the GIL from each other thousands of times a second, and the
    writer had to step aside for the reader; formatting is now cheap enough
    for the reader to do it in passing.)

    When events come one at a time, the hand-over is a thread wake-up per
    event on the way to the reader of stdout (~20-40 µs here). So
    :meth:`release` writes itself when that cannot block: the thread is idle
    with nothing queued (the order of the lines is kept), stdout is a pipe or
    a regular file, the text is at most ``PIPE_BUF`` (4,096) bytes, and a
    pipe has room (poll's POLLOUT on a pipe means a free page slot: a write
    of at most a page then completes without waiting; a regular file is
    always ready). The read-ahead thread takes the kernel's bytes meanwhile.
    """

    def __init__(
        self,
        out: Output,
        on_error: Callable[[], None],
        limit: int = 1_000_000,
        hand_over: int = 1 << 16,
    ) -> None:
        self.out = out
        self._on_error = on_error
        self._limit = limit
        self._hand_over = hand_over
        self._held: list[str] = []  # the main thread's, until handed over
        self._held_size = 0
        self._held_events = 0
        self._texts: collections.deque[tuple[str, int]] = collections.deque()
        self._queued = 0
        self._busy = False
        self._closed = False
        self._cond = threading.Condition()
        self.error: BaseException | None = None
        self._direct = _never_blocks(out.fd)
        self._direct_poll = select.poll()
        self._direct_poll.register(out.fd, select.POLLOUT)
        self._thread = threading.Thread(target=self._loop, name="inwatch-writer", daemon=True)
        self._thread.start()

    def put(self, text: str, events: int) -> None:
        """Hold *text*, the lines of *events* events; hand over past the mark."""
        if not text:
            return
        self._held.append(text)
        self._held_events += events
        self._held_size += len(text)
        if self._held_size >= self._hand_over:
            self.release()

    @property
    def holding(self) -> bool:
        """Text held by :meth:`put` and not handed over (:meth:`release` has work)."""
        return bool(self._held)

    def release(self) -> None:
        """Hand everything held to the thread."""
        if not self._held:
            return
        text = self._held[0] if len(self._held) == 1 else "".join(self._held)
        events = self._held_events
        if self._direct is not None and len(text) <= _PIPE_BUF and self._write_now(text):
            self._held.clear()
            self._held_size = self._held_events = 0
            return
        with self._cond:
            while self._queued >= self._limit and self.error is None:
                self._cond.wait(0.1)
            self._texts.append((text, events))
            self._queued += events
            self._cond.notify_all()
        self._held.clear()
        self._held_size = self._held_events = 0

    def _write_now(self, text: str) -> bool:
        """Write *text* on this thread if that cannot block (see the class);
        False: hand it over instead."""
        if self._texts or self._busy or self.error is not None or self.out.pending:
            return False  # (only this thread queues: an idle writer stays idle)
        data = text.encode("utf-8", "surrogateescape")
        if len(data) > _PIPE_BUF:
            return False
        if self._direct is _PIPE:
            ready = self._direct_poll.poll(0)
            if not ready or not ready[0][1] & select.POLLOUT:
                return False  # full (or the reader is gone: the thread says so)
        try:
            self.out.write_all(data)
        except BaseException as exc:  # as the thread's failures: raised by check()
            self.error = exc
            self._on_error()
        return True

    def _loop(self) -> None:
        cond = self._cond
        out = self.out
        while True:
            with cond:
                while not self._texts and not self._closed:
                    cond.wait()
                if not self._texts:
                    return
                texts = list(self._texts)
                self._texts.clear()
                self._busy = True
            try:
                for text, events in texts:
                    out.write(text, events)
                    with cond:
                        self._queued -= events
                out.flush()
            except BaseException as exc:  # handed to the main thread
                with cond:
                    self.error = exc
                    self._busy = False
                    cond.notify_all()
                self._on_error()
                return
            with cond:
                self._busy = False
                cond.notify_all()

    def check(self) -> None:
        """Raise the writer's error, if it had one."""
        if self.error is not None:
            raise self.error

    @property
    def pending(self) -> int:
        """Events given to :meth:`put` and not written yet (approximately, while
        running)."""
        return self._held_events + self._queued + self.out.pending

    def finish(self) -> None:
        """Hand over what is held, wait until everything is written (interruptible:
        a second signal raises from here), then end the thread; raise its error."""
        if self.error is None:
            self.release()
        with self._cond:
            while (self._texts or self._busy) and self.error is None:
                self._cond.wait(0.1)
            self._closed = True
            self._cond.notify_all()
        self._thread.join()
        self.check()


_PIPE_BUF = select.PIPE_BUF  # 4096 on Linux: a page, one pipe buffer slot
_PIPE = "pipe"
_FILE = "file"


def _never_blocks(fd: int) -> str | None:
    """Whether a short write to *fd* can be known not to block: ``_PIPE`` (when
    poll says POLLOUT), ``_FILE`` (always), or ``None`` (a terminal, a socket,
    a device: the writer thread writes)."""
    try:
        mode = os.fstat(fd).st_mode
    except OSError:
        return None
    if stat.S_ISFIFO(mode):
        return _PIPE
    return _FILE if stat.S_ISREG(mode) else None


def check_stdout() -> None:
    """Raise :class:`StdoutError` if fd 1 is not open."""
    try:
        os.fstat(1)
    except OSError as exc:
        raise StdoutError(exc) from None


def _quiet_stdout() -> None:
    """Point fd 1 at /dev/null, so the interpreter's final flush of a broken
    pipe neither raises nor prints."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.close(devnull)
    except OSError:
        pass


def run_guarded(name: str, body: Callable[[], int]) -> int:
    """Run command *name*'s *body* and turn what it raises into one stderr line
    and an exit status."""
    from ._common import error_line

    try:
        check_stdout()
        status = body()
        with contextlib.suppress(ValueError, AttributeError):
            sys.stdout.flush()
        return status
    except BrokenPipeError:
        _quiet_stdout()
        return 0
    except StdoutError as exc:
        _quiet_stdout()
        sys.stderr.write(f"inwatch {name}: {exc}\n")
        return 1
    except KeyboardInterrupt:  # Ctrl-C before or after the command's own handling
        return 128 + 2
    except Aborted as exc:
        import signal

        what = signal.Signals(exc.signum).name
        lost = "" if exc.unwritten is None else f": {exc.unwritten} events read were not written"
        sys.stderr.write(f"inwatch {name}: aborted by a second {what}{lost}\n")
        return 128 + exc.signum
    except (CliError, OSError) as exc:
        if isinstance(exc, OSError) and exc.errno == errno.EPIPE:
            _quiet_stdout()
            return 0
        with contextlib.suppress(OSError, ValueError, AttributeError):
            sys.stdout.flush()
        sys.stderr.write(f"inwatch {name}: {error_line(exc)}\n")
        return 1
