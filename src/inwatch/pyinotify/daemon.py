"""``Notifier.loop(daemonize=True)``: fork into the background, as pyinotify does,
without its three traps (issue 10, item 13).

pyinotify checked that the pid file did not exist from the caller's directory,
then ``chdir("/")`` and opened the pid file, ``stdout`` and ``stderr`` there: a
relative path was created under ``/``. A pid file that could not be written
killed the daemon silently, after the caller had already exited 0. And SIGTERM,
the usual way to stop a daemon, skipped the ``atexit`` that removes the pid
file, so the next start refused to run.

Here every path is made absolute first; the pid file (created exclusively),
``stdin``, ``stdout`` and ``stderr`` are all opened *before* the first fork, so
any failure is a :class:`NotifierError` raised in the caller; the pid of the
daemon is written by the intermediate process (which knows it) and the caller
exits only once that write succeeded, told through a pipe. The daemon removes
its pid file on normal exit and on SIGTERM (then dies of SIGTERM as before).
"""

from __future__ import annotations

import atexit
import os
import signal
import sys
from types import FrameType
from typing import Any

from .errors import NotifierError

__all__ = ["daemonize"]

_PID_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


def _open(path: str, flags: int, what: str) -> int:
    try:
        return os.open(path, flags | os.O_CLOEXEC, 0o600)
    except OSError as err:
        raise NotifierError(f"Cannot daemonize: cannot open {what} {path}: {err.strerror}") from err


def daemonize(
    pid_file: Any = None,
    stdin: Any = os.devnull,
    stdout: Any = os.devnull,
    stderr: Any = os.devnull,
) -> None:
    """Become a daemon; return in the daemon only. *pid_file* ``None`` means
    ``/var/run/<program>.pid``, ``False`` no pid file."""
    if pid_file is None:
        base = os.path.basename(sys.argv[0]) or "pyinotify"
        pid_file = os.path.join("/var/run/", base + ".pid")
    pid_path = None if pid_file is False else os.path.abspath(os.fsdecode(pid_file))
    fds: list[int] = []
    try:
        for name, flags, what in (
            (stdin, os.O_RDONLY, "stdin"),
            (stdout, os.O_WRONLY | os.O_CREAT | os.O_APPEND, "stdout"),
            (stderr, os.O_WRONLY | os.O_CREAT | os.O_APPEND, "stderr"),
        ):
            fds.append(_open(os.path.abspath(os.fsdecode(name)), flags, what))
        pid_fd = -1
        if pid_path is not None:
            try:
                pid_fd = os.open(pid_path, _PID_FLAGS, 0o644)
            except FileExistsError:
                raise NotifierError(
                    f"Cannot daemonize: pid file {pid_path} already exists."
                ) from None
            except OSError as err:
                raise NotifierError(
                    f"Cannot daemonize: cannot write pid file {pid_path}: {err.strerror}"
                ) from err
    except BaseException:
        for fd in fds:
            os.close(fd)
        raise
    try:
        _fork_away(pid_path, pid_fd)
    except BaseException:
        for fd in fds:
            os.close(fd)
        raise
    os.chdir("/")
    os.umask(0o022)
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    if pid_path is not None:
        _remove_on_exit(pid_path)


def _fork_away(pid_path: str | None, pid_fd: int) -> None:
    """Fork twice (the daemon is no session leader and has no terminal). The
    caller waits until the middle process has written the daemon's pid, then
    exits 0; if that write failed it raises instead."""
    read_end, write_end = os.pipe2(os.O_CLOEXEC)
    try:
        first = os.fork()
    except OSError as err:
        _abandon(pid_path, pid_fd, read_end, write_end)
        raise NotifierError(f"Cannot daemonize: fork failed: {err.strerror}") from err
    if first:  # the caller
        os.close(write_end)
        if pid_fd >= 0:
            os.close(pid_fd)
        report = b""
        while chunk := os.read(read_end, 4096):
            report += chunk
        os.close(read_end)
        os.waitpid(first, 0)
        if report == b"ok":
            os._exit(0)
        if pid_path is not None:
            _unlink(pid_path)
        raise NotifierError(f"Cannot daemonize: {report.decode(errors='replace') or 'died'}")
    os.close(read_end)
    try:
        os.setsid()
        second = os.fork()
        if second:  # the middle process: record the daemon, tell the caller
            if pid_fd >= 0:
                os.write(pid_fd, f"{second}\n".encode())
                os.close(pid_fd)
            os.write(write_end, b"ok")
            os._exit(0)
    except OSError as err:
        os.write(write_end, f"cannot write pid file {pid_path}: {err.strerror}".encode())
        os._exit(1)
    if pid_fd >= 0:  # the daemon
        os.close(pid_fd)
    os.close(write_end)


def _abandon(pid_path: str | None, pid_fd: int, *fds: int) -> None:
    for fd in (pid_fd, *fds):
        if fd >= 0:
            os.close(fd)
    if pid_path is not None:
        _unlink(pid_path)


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _remove_on_exit(pid_path: str) -> None:
    """Remove the pid file at exit and on SIGTERM, if it is still ours."""
    me = os.getpid()

    def remove() -> None:
        if os.getpid() != me:
            return  # a child forked by the program exits: not the daemon
        try:
            with open(pid_path) as f:
                if f.read().strip() != str(me):
                    return
        except OSError:
            return
        _unlink(pid_path)

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        remove()
        # Die of SIGTERM, as the default disposition would have.
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)

    atexit.register(remove)
    signal.signal(signal.SIGTERM, on_sigterm)
