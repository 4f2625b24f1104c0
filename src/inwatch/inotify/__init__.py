"""The inotify backend.

- ``_sys``: the only ctypes code (inotify_init1, inotify_add_watch, inotify_rm_watch, FIONREAD);
- ``wire``: the one parser of the wire format (``struct inotify_event``);
- ``fd``: :class:`Inotify`, one fd: add/rm watch, read;
- ``table``: the wd <-> path table (pure);
- ``walk``: watch-then-list of a directory tree;
- ``moves``: MOVED_FROM/MOVED_TO pairing (pure, injected clock);
- ``recent``: what our own listings found and made the kernel report (pure);
- ``port``: the narrow port of effects (add/rm watch, list a directory) the core goes through;
- ``roots``: adding and removing watched roots (walks, rollback);
- ``core``: the dispatcher: bytes -> :class:`~inwatch.Event` objects, the table kept in step.
"""

from __future__ import annotations

from .fd import Inotify, PathArg
from .wire import HEADER_SIZE, RawEvent, pack_event, parse_events, parse_records

__all__ = [
    "HEADER_SIZE",
    "Inotify",
    "PathArg",
    "RawEvent",
    "pack_event",
    "parse_events",
    "parse_records",
]
