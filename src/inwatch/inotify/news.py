"""Is it news to a reader? The rules the dispatcher (:mod:`~inwatch.inotify.core`)
asks outside its hot loop, and its look-ahead into the read being dispatched.

A reader of the events knows only what they told it. The kernel queues events
from the moment a watch exists, so some name an entry no event ever reported
(there when the watch was added, gone before our listing): they are not news.
Our own listing of a directory queues OPEN, ACCESS and CLOSE_NOWRITE on it:
not news either. And what a read holds later (a MOVED_TO, a departure of the
same name) decides how an event early in it is taken.
"""

from __future__ import annotations

from operator import length_hint
from typing import Any

from .places import Places
from .state import Emit
from .table import join

__all__ = ["News"]

_MOVED_FROM = 0x40
_MOVED_TO = 0x80
_CREATE = 0x100
_DELETE = 0x200
_ISDIR = 0x40000000
_ECHO = 0x1 | 0x10 | 0x20  # ACCESS, CLOSE_NOWRITE, OPEN
# Events about a watch itself (DELETE_SELF, MOVE_SELF, UNMOUNT, Q_OVERFLOW, IGNORED).
_ABOUT_THE_WATCH = 0x400 | 0x800 | 0x2000 | 0x4000 | 0x8000


class News(Places):
    """The tree's state plus the "is it news?" rules; the read being dispatched
    is the core's (its flat records and the iterator over them)."""

    # Set by InotifyCore for the read being dispatched (see its __init__).
    _flat: list[Any]
    _it: Any
    _moved_to: set[int] | None
    _departures: dict[tuple[int, bytes], int] | None

    def _known_dir(self, wd: int, name: str, path: str) -> bool:
        """Has the subdirectory *name* of *wd* been reported (watched, or
        reported without a watch)? Always, for a root that does not track
        its subdirectories (no auto_add)."""
        if self.table.wd_of(join(path, name)) is not None:
            return True
        names = self.unwatched.get(wd)
        return (names is not None and name in names) or not self.root_of(wd).auto_add

    def _known_file(self, wd: int, name: str, path: str) -> bool:
        """Has the file *name* of *wd* been reported (its CREATE or MOVED_TO, or a
        listing)? A file that was there when our watch was added and left before
        our listing (renamed away, deleted) was never reported: the kernel
        still queues its MODIFY, CLOSE_WRITE... from the moment of the watch,
        naming an entry a reader of the events never heard of. Like its DELETE or
        MOVED_FROM, they are not news. Always known for a root that does not
        track its entries (no auto_add), and when a watched directory (a
        symlink followed) has that name."""
        if not self.root_of(wd).auto_add or self.table.wd_of(join(path, name)) is not None:
            return True
        names = self.unwatched.get(wd)
        return names is not None and name in names

    def _settles(self, wd: int, mask: int, name: bytes, emit: Emit, started: float) -> bool:
        """Deliver the held findings this event depends on; True to drop the
        event itself (the echo of our own listing, or an event a listing made
        since already holds)."""
        relisted = self.relisted.get(wd) if self.relisted else None
        if relisted is not None and started < relisted and not mask & _ABOUT_THE_WATCH:
            # Read by a read that started before this directory was listed again
            # at the path it has now (see roots.watch_new_dir, rewalk): queued
            # before that listing, which holds its outcome. Reported now, it
            # would name the new path for what happened at an older one.
            return True
        recent = self.recent
        if name and mask & _ISDIR and mask & _ECHO and recent.is_echo(wd, name):
            return True
        if name:
            held = recent.settle(wd, name.decode("utf-8", "surrogateescape"), mask)
        else:
            held = recent.inside(wd)
        if held:
            self.emit_held(emit, held)
        return False

    def _leaves_later(self, wd: int, raw_name: bytes) -> bool:
        """Does the directory this CREATE (or MOVED_TO) brings leave its name
        again later in the same read (a DELETE or MOVED_FROM of that name)?

        ``add_watch`` watches whatever the path names *now*: by then another
        directory may have taken the name (``mkdir b; mv b x/m3; mv y b``,
        all queued before we read), and watching and listing it here would report
        its contents under this directory's name, then follow this directory's
        rename with the wrong watch. Indexed once per read (one pass over its
        flat records), so a read full of new directories stays linear."""
        flat = self._flat
        # The record being dispatched: zip took its four fields off the iterator.
        here = (len(flat) - length_hint(self._it)) // 4 - 1
        departures = self._departures
        if departures is None:
            departures = self._departures = {}
            leave, isdir = _DELETE | _MOVED_FROM, _ISDIR
            for i in range(0, len(flat), 4):
                mask = flat[i + 1]
                if mask & isdir and mask & leave:
                    departures[(flat[i], flat[i + 3])] = i // 4
        return departures.get((wd, raw_name), -1) > here

    def _arrives_later(self, cookie: int) -> bool:
        """Can the MOVED_TO of the MOVED_FROM being dispatched still come?

        Yes if it is later in this read, or if the MOVED_FROM was the last event
        read (the same rename queues the MOVED_TO a moment later: the pairer
        waits for a read that started after that). No if other events follow it
        in this read without it. A MOVED_TO with its cookie in this read is
        later: the kernel queues a rename's MOVED_FROM first. (The set of them
        is made once per read: a storm of renames stays linear.)
        """
        if not length_hint(self._it):  # the records after this one
            return True
        if self._moved_to is None:
            flat = self._flat
            self._moved_to = {
                flat[i + 2] for i in range(0, len(flat), 4) if flat[i + 1] & _MOVED_TO
            }
        return cookie in self._moved_to
