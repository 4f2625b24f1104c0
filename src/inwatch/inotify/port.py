"""The narrow port the inotify core goes through for every effect.

The core's correctness is an order of syscalls: watch a directory *then* list
it; read the queue *after* a listing to know what it explains. Everything
with an effect goes through :class:`Port`, so the unit tests can put a fake
kernel behind it and script the races a real kernel cannot be forced into (an
entry created between our watch and our listing, a directory renamed between
its CREATE and our listing); the same scenarios run again on the real kernel
through :class:`KernelPort`.
"""

from __future__ import annotations

import os
import select
import time
from typing import Protocol

from .fd import LARGEST_EVENT, READ_SIZE, Inotify, more
from .mounts import MountTable

__all__ = ["DirEntryLike", "KernelPort", "Port"]

_NEARLY_FULL = READ_SIZE - LARGEST_EVENT  # a read this full may have left events queued


class DirEntryLike(Protocol):
    """What the core uses of :class:`os.DirEntry`."""

    @property
    def name(self) -> str: ...
    @property
    def path(self) -> str: ...
    def inode(self) -> int: ...
    def is_dir(self, *, follow_symlinks: bool = True) -> bool: ...
    def stat(self, *, follow_symlinks: bool = True) -> os.stat_result: ...


class Port(Protocol):
    def fileno(self) -> int:
        """What to wait on: readable when events are queued or mounts changed."""
        ...

    def inotify_fd(self) -> int: ...
    def wait_fds(self) -> list[tuple[int, int]]:
        """(fd, poll events) to wait on directly: the inotify fd first."""
        ...

    def new_mounts(self) -> set[str] | None:
        """Mount points added since last asked, or ``None``."""
        ...

    def was_mount_point(self, path: str) -> bool | None:
        """Is (or was, lately) *path* a mount point; ``None`` if unknown."""
        ...

    def add_watch(self, path: str, mask: int) -> int: ...
    def rm_watch(self, wd: int) -> None: ...
    def read(self) -> bytes:
        """Everything queued now (whole events), ``b""`` if nothing; never blocks."""
        ...

    def scandir(self, path: str) -> list[DirEntryLike]: ...
    def stat(self, path: str, follow_symlinks: bool) -> os.stat_result: ...
    def clock(self) -> float:
        """``time.monotonic()``."""
        ...

    @property
    def closed(self) -> bool: ...
    def close(self) -> None: ...


class KernelPort:
    """The real thing: one non-blocking inotify fd, the mount table, and the
    file system. What the drivers wait on is an epoll fd over both."""

    __slots__ = ("_epoll", "_fd", "_ino", "_mounts", "clock")

    def __init__(self) -> None:
        self._ino = Inotify(nonblocking=True)
        self._fd = self._ino.fileno()  # -1 once closed
        self.clock = time.monotonic
        self._epoll = select.epoll(2)
        self._epoll.register(self._ino.fileno(), select.EPOLLIN)
        self._mounts: MountTable | None = None
        try:
            self._mounts = MountTable()
            self._epoll.register(self._mounts.wake_fileno(), select.EPOLLPRI)
        except OSError:
            pass  # no /proc: mounts inside a tree stay invisible, as with inotify alone

    # Methods, so that a subclass can wrap them (the forced-race tests do); the
    # fd's methods bound as attributes in __init__ would shadow an override.
    def read(self) -> bytes:
        # Inotify.read_now, inlined: this is once per wake-up on the latency path.
        fd = self._fd
        if fd < 0:
            raise ValueError("I/O operation on a closed Inotify")
        try:
            data = os.read(fd, READ_SIZE)
        except BlockingIOError:
            return b""  # nothing queued (the fd is non-blocking)
        return data if len(data) <= _NEARLY_FULL else more(fd, data)

    def add_watch(self, path: str, mask: int) -> int:
        return self._ino.add_watch(path, mask)

    def fileno(self) -> int:
        return self._epoll.fileno()

    def inotify_fd(self) -> int:
        return self._ino.fileno()

    def wait_fds(self) -> list[tuple[int, int]]:
        fds = [(self._ino.fileno(), select.POLLIN)]
        if self._mounts is not None:
            fds.append((self._mounts.wake_fileno(), select.POLLPRI))
        return fds

    def new_mounts(self) -> set[str] | None:
        return None if self._mounts is None else self._mounts.take_added()

    def was_mount_point(self, path: str) -> bool | None:
        if self._mounts is None:
            return None
        return self._mounts.was_mount_point(os.path.abspath(path))

    def rm_watch(self, wd: int) -> None:
        self._ino.rm_watch(wd)

    def scandir(self, path: str) -> list[DirEntryLike]:
        with os.scandir(path) as it:
            return list(it)

    def stat(self, path: str, follow_symlinks: bool) -> os.stat_result:
        return os.stat(path, follow_symlinks=follow_symlinks)

    @property
    def closed(self) -> bool:
        return self._ino.closed

    def close(self) -> None:
        self._fd = -1
        self._ino.close()
        self._epoll.close()
        if self._mounts is not None:
            self._mounts.close()


# KernelPort.read as defined here: the C take() (inotify/_accel_take.c) does
# this read itself, so the core uses it only while the class still has it.
KERNEL_READ = KernelPort.read
