"""What the commands share: error lines, signal flags, output streams, path lists."""

from __future__ import annotations

import errno
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import TextIO

from ..errors import InotifyLimitError
from .args import CliError

__all__ = [
    "Progress",
    "StopFlag",
    "error_line",
    "read_fromfile",
    "stop_on_signals",
    "text_out",
]

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
        where = f"cannot watch {_quote(exc.filename)}: " if exc.filename is not None else ""
        return f"{where}{exc.strerror}"
    if isinstance(exc, OSError):
        what = exc.strerror or os.strerror(exc.errno or 0) or str(exc)
        where = f"cannot watch {_quote(exc.filename)}: " if exc.filename is not None else ""
        hint = _HINTS.get(exc.errno or 0)
        return f"{where}{what}" + (f" ({hint})" if hint else "")
    return f"{type(exc).__name__}: {exc}"


def _quote(path: object) -> str:
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    return repr(str(path)) if any(c in str(path) for c in " '\"\n\t") else f"'{path}'"


class StopFlag:
    """Set by SIGINT/SIGTERM; the loops check it between bounded waits."""

    def __init__(self) -> None:
        self.signum: int | None = None
        #: called from the signal handler (e.g. ``Watcher.stop``) to end a wait
        self.callback: Callable[[], object] | None = None

    def __bool__(self) -> bool:
        return self.signum is not None


@contextmanager
def stop_on_signals() -> Iterator[StopFlag]:
    """Within the block, SIGINT and SIGTERM set the returned flag instead of
    killing the process (an ignored SIGINT, as under ``nohup``/``&``, stays ignored)."""
    flag = StopFlag()

    def handler(signum: int, frame: FrameType | None) -> None:
        flag.signum = signum
        if flag.callback is not None:
            flag.callback()

    saved: dict[int, Callable[[int, FrameType | None], object] | int | None] = {}
    for sig in (int(signal.SIGINT), int(signal.SIGTERM)):
        old = signal.getsignal(sig)
        if sig == signal.SIGINT and old == signal.SIG_IGN:
            continue
        saved[sig] = old
        signal.signal(sig, handler)
    try:
        yield flag
    finally:
        for sig, old in saved.items():
            signal.signal(sig, old)


def text_out() -> TextIO:
    """stdout as UTF-8 with surrogateescape: names were decoded that way, so each
    is written back as exactly the bytes the kernel gave, whatever the locale
    (and JSON output is UTF-8, as RFC 8259 requires)."""
    out = sys.stdout
    reconfigure = getattr(out, "reconfigure", None)
    if reconfigure is not None:
        reconfigure(encoding="utf-8", errors="surrogateescape")
    return out


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
