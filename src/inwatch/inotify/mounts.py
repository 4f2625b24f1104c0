"""The mount table, as far as watching a tree needs it.

inotify does not see mounts: a file system mounted on a directory of a
watched tree hides the directory (whose watch goes on watching the hidden
inode, silent) and shows the mounted root, which nobody watches. Unmounting
sends UNMOUNT and IGNORED for the watches on the unmounted file system, but
nothing for the directory it uncovers. ``/proc/self/mountinfo`` tells both:
poll(2) reports POLLPRI on it when the mount table changes (proc(5)); reading
it again re-arms that. Each open file has its own marker, and any poll of it
(epoll's own check included) consumes the news, so the table is opened twice:
one descriptor wakes the drivers (in their epoll set), the other is polled
by us to learn that the table changed.

:func:`mount_points` is pure: the text of mountinfo in, the set of mount
points out (field 5, with the kernel's octal escapes of space, tab, newline
and backslash undone).
"""

from __future__ import annotations

import os
import re
import select
import threading

__all__ = ["MountTable", "mount_points"]

_ESCAPE = re.compile(rb"\\([0-7]{3})")


def _unescape(field: bytes) -> str:
    raw = _ESCAPE.sub(lambda m: bytes([int(m.group(1), 8)]), field)
    return os.fsdecode(raw)


def mount_points(text: bytes) -> set[str]:
    out: set[str] = set()
    for line in text.splitlines():
        fields = line.split(b" ")
        if len(fields) > 4:
            out.add(_unescape(fields[4]))
    return out


class MountTable:
    """``/proc/self/mountinfo``, open: its fd for poll, and what changed."""

    __slots__ = ("_added", "_fd", "_lock", "_poll", "_wake_fd", "gone", "points")

    def __init__(self) -> None:
        self._fd = os.open("/proc/self/mountinfo", os.O_RDONLY | os.O_CLOEXEC)
        self._wake_fd = os.open("/proc/self/mountinfo", os.O_RDONLY | os.O_CLOEXEC)
        self._lock = threading.Lock()  # the reader and the processor both ask
        self._poll = select.poll()
        self._poll.register(self._fd, select.POLLPRI)
        self.points = self._read()
        self.gone: list[str] = []  # recently unmounted mount points, newest last
        self._added: set[str] = set()  # new mount points not yet taken

    def wake_fileno(self) -> int:
        """For an epoll set (EPOLLPRI): wakes the waiter when the table changes."""
        return self._wake_fd

    def _read(self) -> set[str]:
        chunks = []
        os.lseek(self._fd, 0, os.SEEK_SET)
        while True:
            chunk = os.read(self._fd, 65536)
            if not chunk:
                break
            chunks.append(chunk)
        return mount_points(b"".join(chunks))

    def _refresh(self) -> tuple[set[str], set[str]]:
        now = self._read()
        added, removed = now - self.points, self.points - now
        self.points = now
        self.gone = [*self.gone, *sorted(removed)][-256:]
        self._added |= added
        self._added -= removed
        return added, removed

    def take_added(self) -> set[str] | None:
        """New mount points since last taken (reading the table if it changed)."""
        with self._lock:
            if self._poll.poll(0):
                self._refresh()
            if not self._added:
                return None
            added, self._added = self._added, set()
            return added

    def was_mount_point(self, path: str) -> bool:
        """Is (or was, until lately) *path* a mount point?"""
        with self._lock:
            if self._poll.poll(0):
                self._refresh()
            return path in self.points or path in self.gone

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            os.close(self._wake_fd)
            self._fd = self._wake_fd = -1
