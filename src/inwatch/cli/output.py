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
import sys
import threading
from collections.abc import Callable
from typing import Any

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
        self.lines = 0  # items written (or being written) in the current flush

    def write(self, text: str) -> None:
        self._parts.append(text)
        self._size += len(text)
        if self._size >= self.HIGH_WATER:
            self.flush()

    @property
    def pending(self) -> int:
        """Items given to :meth:`write` and not written yet."""
        return len(self._parts)

    def flush(self) -> None:
        """Write everything gathered; BrokenPipeError or :class:`StdoutError`."""
        if not self._parts:
            return
        data = memoryview("".join(self._parts).encode("utf-8", "surrogateescape"))
        try:
            while data:
                n = os.write(self.fd, data)
                data = data[n:]
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise StdoutError(exc) from None
        self._parts.clear()
        self._size = 0


class Writer:
    """Formats and writes batches of events on a thread of its own, so the main
    thread goes back to reading the kernel queue at once.

    *render(batch, out)* formats a batch into *out* (an :class:`Output`); after
    each batch taken, everything rendered is written (one write per batch; a
    writer that fell behind takes several batches at once, so a slow reader
    gets bigger writes, not more of them). Bounded: past *limit* queued events
    :meth:`put` waits, the main thread stops reading, and the kernel queue
    absorbs and then reports its overflow (never a silent drop). A failed write
    is kept in :attr:`error` and *on_error* is called (to wake the main thread),
    which raises it from :meth:`check`.
    """

    def __init__(
        self,
        out: Output,
        render: Callable[[list[Any], Output], None],
        on_error: Callable[[], None],
        limit: int = 1_000_000,
    ) -> None:
        self.out = out
        self._render = render
        self._on_error = on_error
        self._limit = limit
        self._batches: collections.deque[list[Any]] = collections.deque()
        self._queued = 0
        self._busy = False
        self._closed = False
        self._cond = threading.Condition()
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._loop, name="inwatch-writer", daemon=True)
        self._thread.start()

    def put(self, batch: list[Any]) -> None:
        if not batch:
            return
        with self._cond:
            while self._queued >= self._limit and self.error is None:
                self._cond.wait(0.1)
            self._batches.append(batch)
            self._queued += len(batch)
            self._cond.notify_all()

    def _loop(self) -> None:
        cond = self._cond
        while True:
            with cond:
                while not self._batches and not self._closed:
                    cond.wait()
                if not self._batches:
                    return
                batches = list(self._batches)
                self._batches.clear()
                self._busy = True
            try:
                for batch in batches:
                    self._render(batch, self.out)
                    with cond:
                        self._queued -= len(batch)
                        cond.notify_all()
                self.out.flush()
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
        """Events handed over and not written yet (approximately, while running)."""
        return self._queued + self.out.pending

    def finish(self) -> None:
        """Wait until everything handed over is written (interruptible: a second
        signal raises from here), then end the thread; raise its error."""
        with self._cond:
            while (self._batches or self._busy) and self.error is None:
                self._cond.wait(0.1)
            self._closed = True
            self._cond.notify_all()
        self._thread.join()
        self.check()


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
