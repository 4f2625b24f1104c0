"""What the commands share: error lines, ``--fromfile``, start-up progress."""

from __future__ import annotations

import errno
import os
import sys
import threading
import time
from collections.abc import Callable

from ..errors import InotifyLimitError
from .args import CliError
from .format import printable

__all__ = ["Progress", "error_line", "os_reason", "plural", "read_fromfile"]

_HINTS = {
    errno.ENOENT: "check the path",
    errno.EACCES: "run as a user who may read it, or fix its permissions",
    errno.EPERM: "run as a user who may read it, or fix its permissions",
    errno.ENOTDIR: "check the path",
    errno.ELOOP: "check the symbolic links, or use -P",
}


def error_line(exc: BaseException) -> str:
    """One line (no newline) saying what went wrong, on which path, and the fix."""
    if isinstance(exc, CliError):
        return str(exc)
    if isinstance(exc, InotifyLimitError):
        where = f"cannot watch {quote(exc.filename)}: " if exc.filename is not None else ""
        return f"{where}{exc.strerror}"
    if isinstance(exc, OSError):
        where = f"cannot watch {quote(exc.filename)}: " if exc.filename is not None else ""
        return where + os_reason(exc)
    return f"{type(exc).__name__}: {printable(str(exc))}"


def os_reason(exc: OSError) -> str:
    """``Permission denied (run as a user who may read it, ...)``: the kernel's
    reason and the fix."""
    what = exc.strerror or os.strerror(exc.errno or 0) or str(exc)
    hint = _HINTS.get(exc.errno or 0)
    return printable(what) + (f" ({hint})" if hint else "")


def quote(path: object) -> str:
    """*path* quoted for a message, through the one escaping function."""
    text = printable(os.fsdecode(path) if isinstance(path, bytes) else str(path))
    return repr(text) if any(c in text for c in " '\"") else f"'{text}'"


def plural(n: int, word: str) -> str:
    """``1 watch``, ``2 watches``, ``1,000 directories``."""
    if n == 1:
        return f"1 {word}"
    if word.endswith(("ch", "sh", "s", "x")):
        return f"{n:,} {word}es"
    if word.endswith("y"):
        return f"{n:,} {word[:-1]}ies"
    return f"{n:,} {word}s"


def read_fromfile(source: str) -> tuple[list[str], list[str]]:
    """Paths and ``@``-excludes from *source* (``-`` is stdin), one per line."""
    try:
        if source == "-":
            lines = sys.stdin.buffer.read().splitlines()
        else:
            with open(source, "rb") as f:
                lines = f.read().splitlines()
    except OSError as exc:
        raise CliError(f"cannot read --fromfile {source!r}: {exc.strerror}") from None
    paths: list[str] = []
    excludes: list[str] = []
    for raw in lines:
        line = os.fsdecode(raw)
        if not line:
            continue
        if line.startswith("@"):
            excludes.append(line[1:])
        else:
            paths.append(line)
    return paths, excludes


class Progress:
    """Start-up progress on stderr while the initial watches are added.

    A thread samples *count()* every 0.2 s and writes ``Setting up watches: N``
    when stderr is a terminal, or once a second after the first second when it is
    not. Stopped (and joined) by :meth:`close`.
    """

    def __init__(self, count: Callable[[], int], enabled: bool = True) -> None:
        self._count = count
        self._stop = threading.Event()
        self._tty = sys.stderr.isatty()
        self._shown = False
        self._thread: threading.Thread | None = None
        if enabled:
            self._thread = threading.Thread(target=self._loop, name="inwatch-progress", daemon=True)
            self._thread.start()

    def _loop(self) -> None:
        start = time.monotonic()
        last = 0.0
        while not self._stop.wait(0.2):
            now = time.monotonic()
            if now - start < 1.0 and not self._tty:
                continue
            if not self._tty and now - last < 1.0:
                continue
            last = now
            try:
                n = self._count()
            except RuntimeError:  # the table changed size while we looked
                continue
            end = "\r" if self._tty else "\n"
            sys.stderr.write(f"Setting up watches: {n} so far{end}")
            sys.stderr.flush()
            self._shown = True

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._shown and self._tty:
            sys.stderr.write("\x1b[K")  # clear the progress line
            sys.stderr.flush()
