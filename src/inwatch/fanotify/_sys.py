"""The only ctypes code of the fanotify backend.

``fanotify_init``, ``fanotify_mark``, ``name_to_handle_at`` and
``open_by_handle_at`` are glibc/musl wrappers around the syscalls of the same
name. Each is retried on EINTR; each failure becomes a
:class:`~inwatch.fanotify.errors.FanotifyError` subclass carrying the path and a
hint. The pidfd helpers need no ctypes (``ioctl`` and ``poll`` come from the
standard library, which retries EINTR itself, PEP 475).

Kernel rules the hints rely on (fanotify_init(2), fanotify_mark(2)):

- Without CAP_SYS_ADMIN (5.13+) only ``FAN_CLASS_NOTIF`` groups reporting file
  handles may be created; REPORT_PIDFD, REPORT_TID, UNLIMITED_* need the
  capability, and so do mount and filesystem marks, except that Linux 6.16+
  accepts them from a process holding CAP_SYS_ADMIN in the user namespace that
  owns the filesystem (a tmpfs mounted inside ``unshare -Urm``).
- A mount mark cannot report directory-entry events (CREATE, DELETE, MOVED_*,
  RENAME, ATTRIB, *_SELF): EINVAL.
- ``FAN_REPORT_FID`` needs a filesystem that can encode file handles with a
  non-zero fsid: EOPNOTSUPP/ENODEV where it cannot, EXDEV when the fsid differs
  between the object and its filesystem's root (a btrfs subvolume, an overlay).
- ``open_by_handle_at`` needs CAP_DAC_READ_SEARCH; ESTALE means the object
  behind the handle no longer exists.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import os
import select
import struct
from typing import NamedTuple

from .errors import (
    FanotifyError,
    FanotifyPermissionError,
    NoFileHandlesError,
    UnsupportedEventError,
)

__all__ = [
    "AT_FDCWD",
    "AT_HANDLE_FID",
    "AT_SYMLINK_FOLLOW",
    "Handle",
    "PidfdInfo",
    "fanotify_init",
    "fanotify_mark",
    "fsid",
    "name_to_handle_at",
    "open_by_handle_at",
    "pidfd_alive",
    "pidfd_info",
]

AT_FDCWD = -100
AT_SYMLINK_FOLLOW = 0x400
AT_HANDLE_FID = 0x200  # 6.5: a handle for identification only (cannot be opened)
_MAX_HANDLE_SZ = 128


class _FileHandle(ctypes.Structure):
    _fields_ = (
        ("handle_bytes", ctypes.c_uint),
        ("handle_type", ctypes.c_int),
        ("f_handle", ctypes.c_ubyte * _MAX_HANDLE_SZ),
    )


def _load_libc() -> ctypes.CDLL:
    # dlopen(NULL), as in inwatch.inotify._sys: no ldconfig subprocess at start.
    return ctypes.CDLL(None, use_errno=True)


_libc = _load_libc()
_init = _libc.fanotify_init
_init.argtypes = [ctypes.c_uint, ctypes.c_uint]
_init.restype = ctypes.c_int
_mark = _libc.fanotify_mark
_mark.argtypes = [ctypes.c_int, ctypes.c_uint, ctypes.c_uint64, ctypes.c_int, ctypes.c_char_p]
_mark.restype = ctypes.c_int
_n2h = _libc.name_to_handle_at
_n2h.argtypes = [
    ctypes.c_int,
    ctypes.c_char_p,
    ctypes.POINTER(_FileHandle),
    ctypes.POINTER(ctypes.c_int),
    ctypes.c_int,
]
_n2h.restype = ctypes.c_int
_obh = _libc.open_by_handle_at
_obh.argtypes = [ctypes.c_int, ctypes.POINTER(_FileHandle), ctypes.c_int]
_obh.restype = ctypes.c_int


class _Statfs(ctypes.Structure):
    # struct statfs of 64-bit Linux (x86-64, aarch64, ...): __fsword_t is long.
    _fields_ = (
        ("f_type", ctypes.c_long),
        ("f_bsize", ctypes.c_long),
        ("f_blocks", ctypes.c_uint64),
        ("f_bfree", ctypes.c_uint64),
        ("f_bavail", ctypes.c_uint64),
        ("f_files", ctypes.c_uint64),
        ("f_ffree", ctypes.c_uint64),
        ("f_fsid", ctypes.c_int * 2),
        ("f_namelen", ctypes.c_long),
        ("f_frsize", ctypes.c_long),
        ("f_flags", ctypes.c_long),
        ("f_spare", ctypes.c_long * 4),
    )


_fstatfs = _libc.fstatfs
_fstatfs.argtypes = [ctypes.c_int, ctypes.POINTER(_Statfs)]
_fstatfs.restype = ctypes.c_int

_NO_CAP = (
    "fanotify needs CAP_SYS_ADMIN for this (run as root, or mount the filesystem "
    "inside your own user namespace); inotify works without it: backend='inotify'"
)
_NO_HANDLES = (
    "this filesystem cannot give usable file handles (no fsid, or objects on it "
    "report another fsid); watch it with inotify"
)


def fanotify_init(flags: int, event_f_flags: int = os.O_RDONLY) -> int:
    """``fanotify_init(flags, event_f_flags)`` -> the group's fd."""
    while True:
        fd: int = _init(flags, event_f_flags)
        if fd >= 0:
            return fd
        err = ctypes.get_errno()
        if err == errno.EINTR:
            continue
        if err == errno.EPERM:
            raise FanotifyPermissionError(
                err,
                f"fanotify_init({flags:#x}) not permitted",
                hint=_NO_CAP + " (unprivileged: only FAN_CLASS_NOTIF with FAN_REPORT_FID, "
                "without REPORT_PIDFD/UNLIMITED_*)",
            )
        if err == errno.EINVAL:
            raise UnsupportedEventError(
                err,
                f"fanotify_init flags {flags:#x} not supported",
                hint="this kernel lacks one of them: FAN_REPORT_DFID_NAME needs 5.9, "
                "REPORT_TARGET_FID 5.17, REPORT_PIDFD 5.15",
            )
        if err == errno.EMFILE:
            raise FanotifyError(
                err,
                "too many fanotify groups",
                hint="/proc/sys/fs/fanotify/max_user_groups, or ulimit -n",
            )
        if err == errno.ENOSYS:
            raise FanotifyError(
                err, "fanotify not available", hint="kernel built without CONFIG_FANOTIFY"
            )
        raise FanotifyError(err, os.strerror(err))


def fanotify_mark(
    fd: int,
    flags: int,
    mask: int,
    path: bytes | None,
    dirfd: int = AT_FDCWD,
    shown: str | bytes | None = None,
) -> None:
    """``fanotify_mark(fd, flags, mask, dirfd, path)``; *path* ``None``: the
    object *dirfd* refers to (it may have been deleted since it was opened)."""
    if path is not None and b"\0" in path:
        raise ValueError(f"embedded null byte in path to mark: {path!r}")
    if not 0 <= mask < 2**64:
        raise OverflowError(f"fanotify mask {mask:#x} is not a 64-bit unsigned value")
    where = (path or b"") if shown is None else shown
    while True:
        if _mark(fd, flags, mask, dirfd, path) == 0:
            return
        err = ctypes.get_errno()
        if err == errno.EINTR:
            continue
        raise _mark_error(err, flags, mask, where)


def _mark_error(err: int, flags: int, mask: int, where: str | bytes) -> OSError:
    kind = "filesystem" if flags & 0x100 == 0x100 else "mount" if flags & 0x10 else "inode"
    if err == errno.EPERM:
        return FanotifyPermissionError(err, f"may not place a {kind} mark", where, hint=_NO_CAP)
    if err == errno.EINVAL:
        hint = f"mask {mask:#x}"
        if kind == "mount":
            hint += ": a mount mark cannot report CREATE/DELETE/MOVE/RENAME/ATTRIB/*_SELF"
        else:
            hint += " or mark flags unsupported by this kernel or this group"
        return UnsupportedEventError(err, f"invalid {kind} mark", where, hint=hint)
    if err in (errno.ENODEV, errno.EXDEV, errno.EOPNOTSUPP, errno.ESTALE):
        return NoFileHandlesError(err, f"cannot mark this {kind}", where, hint=_NO_HANDLES)
    if err == errno.ENOENT:
        return FanotifyError(err, "no such file or directory to mark", where)
    if err == errno.ENOSPC:
        return FanotifyError(
            err, "too many marks", where, hint="/proc/sys/fs/fanotify/max_user_marks"
        )
    if err == errno.EACCES:
        return FanotifyError(err, "no search permission on the path to mark", where)
    return FanotifyError(err, os.strerror(err), where)


class Handle(NamedTuple):
    """A file handle: its type and opaque bytes (as the kernel encodes them)."""

    type: int
    data: bytes


def name_to_handle_at(
    path: bytes, dirfd: int = AT_FDCWD, flags: int = AT_SYMLINK_FOLLOW
) -> tuple[Handle, int]:
    """``name_to_handle_at`` -> (the handle, the mount id)."""
    fh = _FileHandle()
    mount_id = ctypes.c_int()
    while True:
        fh.handle_bytes = _MAX_HANDLE_SZ
        if _n2h(dirfd, path, ctypes.byref(fh), ctypes.byref(mount_id), flags) == 0:
            data = bytes(fh.f_handle[: fh.handle_bytes])
            return Handle(fh.handle_type, data), mount_id.value
        err = ctypes.get_errno()
        if err == errno.EINTR:
            continue
        if err in (errno.EOPNOTSUPP, errno.ENOTSUP, errno.EOVERFLOW):
            raise NoFileHandlesError(err, "no file handle for", path, hint=_NO_HANDLES)
        raise FanotifyError(err, os.strerror(err), path)


def open_by_handle_at(mount_fd: int, handle: Handle, flags: int = os.O_PATH) -> int:
    """``open_by_handle_at`` -> an fd (``O_PATH`` by default). ESTALE (the object is
    gone) raises :class:`NoFileHandlesError`; EPERM says CAP_DAC_READ_SEARCH is
    missing."""
    fh = _FileHandle()
    fh.handle_bytes = len(handle.data)
    fh.handle_type = handle.type
    ctypes.memmove(fh.f_handle, handle.data, len(handle.data))
    while True:
        fd: int = _obh(mount_fd, ctypes.byref(fh), flags | os.O_CLOEXEC)
        if fd >= 0:
            return fd
        err = ctypes.get_errno()
        if err == errno.EINTR:
            continue
        if err == errno.ESTALE:
            raise NoFileHandlesError(err, "the object behind this handle no longer exists")
        if err == errno.EPERM:
            raise FanotifyPermissionError(
                err,
                "open_by_handle_at not permitted",
                hint="needs CAP_DAC_READ_SEARCH; paths come from the events' names instead",
            )
        raise FanotifyError(err, os.strerror(err))


def fsid(fd: int) -> bytes:
    """The 8 bytes of ``fstatfs(fd).f_fsid``, as fanotify's records carry them.
    (``os.statvfs`` folds the two ints into one unsigned long, sign-extending the
    first: not the kernel's bytes.)"""
    buf = _Statfs()
    while _fstatfs(fd, ctypes.byref(buf)) != 0:
        err = ctypes.get_errno()
        if err != errno.EINTR:
            raise OSError(err, os.strerror(err))
    return bytes(buf.f_fsid)


# --- pidfds -------------------------------------------------------------------


class PidfdInfo(NamedTuple):
    """What ``ioctl(PIDFD_GET_INFO)`` (6.13) says about a pidfd's process."""

    pid: int
    ppid: int
    ruid: int
    euid: int
    egid: int


# struct pidfd_info, version 0 (64 bytes): mask, cgroupid, then pid, tgid, ppid,
# ruid, rgid, euid, egid, suid, sgid, fsuid, fsgid (u32), exit_code (s32).
_PIDFD_INFO = struct.Struct("=QQ11Ii")
_PIDFD_GET_INFO = (3 << 30) | (_PIDFD_INFO.size << 16) | (0xFF << 8) | 11
_PIDFD_INFO_PID = 1
_PIDFD_INFO_CREDS = 2
_have_get_info = True


def pidfd_info(pidfd: int) -> PidfdInfo | None:
    """Credentials of a pidfd's process, read atomically by the kernel; ``None``
    if the process is gone (reaped) or the kernel predates PIDFD_GET_INFO."""
    global _have_get_info
    if not _have_get_info:
        return None
    buf = bytearray(_PIDFD_INFO.size)
    struct.pack_into("=Q", buf, 0, _PIDFD_INFO_PID | _PIDFD_INFO_CREDS)
    try:
        fcntl.ioctl(pidfd, _PIDFD_GET_INFO, buf, True)
    except OSError as e:
        if e.errno in (errno.ENOTTY, errno.EINVAL):
            _have_get_info = False  # older kernel: fall back to /proc
        return None
    fields = _PIDFD_INFO.unpack(buf)
    mask = fields[0]
    if not mask & _PIDFD_INFO_CREDS:
        return None
    pid, _tgid, ppid, ruid, _rgid, euid, egid = fields[2:9]
    return PidfdInfo(pid, ppid, ruid, euid, egid)


def pidfd_alive(pidfd: int) -> bool:
    """Whether the pidfd's process is still running: a pidfd polls readable once
    its process has exited (5.3), and stays so; the pid cannot be reused while it
    has not."""
    p = select.poll()
    p.register(pidfd, select.POLLIN)
    return not p.poll(0)
