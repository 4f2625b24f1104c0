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

import contextlib
import errno
import os
import sys
from collections.abc import Callable

from .args import CliError

__all__ = ["Aborted", "StdoutError", "check_stdout", "run_guarded"]


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
