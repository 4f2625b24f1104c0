"""The only ctypes code in inwatch: the three inotify syscalls, EINTR retried,
failures turned into exceptions that carry the path and, for limits, the fix.

``inotify_init1``, ``inotify_add_watch`` and ``inotify_rm_watch`` are glibc/musl
wrappers around the syscalls of the same name (Linux ≥ 2.6.27 for init1).
``read``, ``poll`` and ``ioctl(FIONREAD)`` need no ctypes: ``os``, ``select``
and ``fcntl`` already retry on EINTR (PEP 475).
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import os
import resource
import termios
from array import array

__all__ = ["add_watch", "fionread", "init1", "rm_watch"]


def _load_libc() -> ctypes.CDLL:
    # dlopen(NULL): the running program's own symbols, libc's among them (glibc
    # and musl alike). ctypes.util.find_library("c") would run ldconfig in a
    # subprocess at every start: milliseconds a short-lived command pays.
    return ctypes.CDLL(None, use_errno=True)


_libc = _load_libc()
_inotify_init1 = _libc.inotify_init1
_inotify_init1.argtypes = [ctypes.c_int]
_inotify_init1.restype = ctypes.c_int
_inotify_add_watch = _libc.inotify_add_watch
_inotify_add_watch.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]
_inotify_add_watch.restype = ctypes.c_int
_inotify_rm_watch = _libc.inotify_rm_watch
_inotify_rm_watch.argtypes = [ctypes.c_int, ctypes.c_int]
_inotify_rm_watch.restype = ctypes.c_int

_MASK_CREATE = 0x10000000
_ONLYDIR = 0x01000000


def init1(flags: int) -> int:
    """``inotify_init1(flags)`` -> a new fd."""
    while True:
        fd: int = _inotify_init1(flags)
        if fd >= 0:
            return fd
        err = ctypes.get_errno()
        if err == errno.EINTR:
            continue
        raise _init_error(err)


def add_watch(fd: int, path: bytes, mask: int, shown: str | bytes | None = None) -> int:
    """``inotify_add_watch(fd, path, mask)`` -> wd. *shown* is the path as the
    caller gave it, for the error message."""
    # ctypes would silently cut the path at a NUL and the mask to 32 bits: refuse,
    # as os.stat refuses an embedded NUL.
    if b"\0" in path:
        raise ValueError(f"embedded null byte in path to watch: {path!r}")
    if not 0 <= mask <= 0xFFFFFFFF:
        raise OverflowError(f"watch mask {mask:#x} is not a 32-bit unsigned value")
    while True:
        wd: int = _inotify_add_watch(fd, path, mask)
        if wd >= 0:
            return wd
        err = ctypes.get_errno()
        if err == errno.EINTR:
            continue
        raise _add_watch_error(err, path if shown is None else shown, mask)


def rm_watch(fd: int, wd: int) -> None:
    """``inotify_rm_watch(fd, wd)``. EINVAL means *wd* is not (or no longer) a watch."""
    if not -(2**31) <= wd < 2**31:  # ctypes would wrap it onto another wd
        raise OverflowError(f"watch descriptor {wd} is not a 32-bit signed value")
    while True:
        if _inotify_rm_watch(fd, wd) == 0:
            return
        err = ctypes.get_errno()
        if err == errno.EINTR:
            continue
        if err == errno.EINVAL:
            raise OSError(err, f"not a watch descriptor of this inotify instance: {wd}")
        raise OSError(err, os.strerror(err))


def fionread(fd: int) -> int:
    """Bytes the kernel has queued on *fd* (``ioctl(FIONREAD)``)."""
    buf = array("i", [0])
    fcntl.ioctl(fd, termios.FIONREAD, buf, True)
    return buf[0]


# --- errors -------------------------------------------------------------------


def _add_watch_error(err: int, path: str | bytes, mask: int) -> OSError:
    # filename is the path as the caller gave it (bytes stay bytes), as os.stat does.
    shown = path
    if err == errno.ENOSPC:
        from ..knobs import watch_limit_error  # only on the error path

        return watch_limit_error(shown, needed=1)
    if err == errno.ENOENT:
        return OSError(err, "no such file or directory to watch", shown)
    if err == errno.EACCES:
        return OSError(err, "no read permission on the path to watch", shown)
    if err == errno.ENOTDIR and mask & _ONLYDIR:
        return OSError(err, "not a directory (Mask.ONLYDIR asks for one)", shown)
    if err == errno.EEXIST and mask & _MASK_CREATE:
        return OSError(err, "already watched by this instance (Mask.MASK_CREATE)", shown)
    if err == errno.EINVAL:
        return OSError(
            err,
            f"invalid watch mask {mask:#x} (no event bits, or MASK_ADD with MASK_CREATE)",
            shown,
        )
    if err == errno.ENAMETOOLONG:
        return OSError(err, "path too long", shown)
    if err == errno.ELOOP:
        return OSError(err, "too many levels of symbolic links", shown)
    return OSError(err, os.strerror(err), shown)


def _init_error(err: int) -> OSError:
    if err == errno.EMFILE:
        soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        try:
            open_fds = len(os.listdir("/proc/self/fd"))
        except OSError as e:
            # Listing needs an fd too: EMFILE here means the process table is full.
            open_fds = soft if e.errno == errno.EMFILE else 0
        if open_fds < soft - 1:
            from ..knobs import instance_limit_error

            return instance_limit_error()
        return OSError(err, f"per-process open file limit reached (ulimit -n = {soft})")
    if err == errno.ENFILE:
        return OSError(err, "system-wide open file limit reached (/proc/sys/fs/file-max)")
    if err == errno.ENOMEM:
        return OSError(err, "out of kernel memory creating an inotify instance")
    return OSError(err, os.strerror(err))
