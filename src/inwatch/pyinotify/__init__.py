"""A drop-in for pyinotify 0.9.6: ``import inwatch.pyinotify as pyinotify``.

Every public name of pyinotify 0.9.6, with the behaviour programs observe, on
one :class:`inwatch.Watcher` per ``WatchManager`` (used through its public
methods only). ``asyncore`` is imported only when ``AsyncNotifier`` is used.
``python -m inwatch.pyinotify [options] [path ...]`` is pyinotify's command
line (``-r -a -g -e EVENTS -s -V -f -c CMD -v``).

Where things are (one job per module):

=================  ============================================================
``codes``          the IN_* ints, ``ALL_EVENTS``, ``EventsCodes``, dispatch
                   names, ``compatibility_mode()``, the ``/proc`` knobs
``errors``         the exception classes and errno texts
``events``         ``Event`` (the Watcher's events presented as pyinotify's)
                   and the ``<Event ... >`` text forms
``handlers``       ``ProcessEvent`` and its dispatch, ``PrintAllEvents``,
                   ``ChainIfTrue``, ``Stats``, ``ExcludeFilter``
``watch``          ``Watch``, ``Group`` (a tree's directories until a Watch is
                   asked for) and the manager's small helpers
``groups``         the manager's Groups, found by wd (one bisection)
``wdtable``        the wd -> Watch table and its Groups, looked up and kept in
                   the order events are processed (the manager's mixin)
``manager``        ``WatchManager``: add/update/rm_watch, the fd
``added``          add_watch's return dict, a tree's entries made when read
``notifiers``      ``Notifier``: the blocking read and the dispatch every
                   notifier uses (``process_events``)
``driven``         ``ThreadedNotifier`` (the Watcher's threads),
                   ``AsyncioNotifier`` (``async for``)
``fd_notifiers``   ``TornadoAsyncNotifier``, ``AsyncNotifier`` (asyncore)
``daemon``         ``Notifier.loop(daemonize=True)``
``binding``        ``INotifyWrapper`` (raw syscalls, -1 and errno)
``cli``            ``command_line()``, run by ``__main__``
``_state``         reads the mutable globals below (one place: this namespace)
=================  ============================================================

What differs from pyinotify, on purpose (each is a pyinotify bug or hazard):
non-UTF-8 names, ``bytes`` and ``os.PathLike`` paths, ``rm_watch(rec=True)`` and
``rm_watch(d.values())``, ``update_watch`` keeping ``Watch.mask`` in sync, fast
path -> wd lookups, no log handler installed at import, the fd closed with the
manager or by garbage collection (and close-on-exec), ``auto_add`` without lost
or duplicated creates (and the contents of a directory *moved in* reported
too), paths that stay right after renames, directories moved out of a watched
tree that stop reporting, the queue overflow reported and followed by a
rescan, a loop on a closed manager that ends instead of spinning, and a
daemon that fails loudly. Kept because programs rely on it: the
``-unknown-path`` suffix on a watched *root* moved elsewhere,
``process_IN_DELETE`` receiving IN_DELETE_SELF, IN_CREATE added to the mask by
``auto_add``, IN_IGNORED delivered before its watch is forgotten (not after
``rm_watch``), and the OPEN/ACCESS/CLOSE_NOWRITE of each subdirectory that a
recursive ``add_watch`` lists (the native Watcher stays quiet there).
"""

from __future__ import annotations

import logging
from typing import Any

from ._state import DEFAULT_LOG as _DEFAULT_LOG
from ._state import logger_init
from .binding import INotifyWrapper
from .cli import command_line
from .codes import (
    ALL_EVENTS,
    IN_ACCESS,
    IN_ATTRIB,
    IN_CLOSE_NOWRITE,
    IN_CLOSE_WRITE,
    IN_CREATE,
    IN_DELETE,
    IN_DELETE_SELF,
    IN_DONT_FOLLOW,
    IN_EXCL_UNLINK,
    IN_IGNORED,
    IN_ISDIR,
    IN_MASK_ADD,
    IN_MODIFY,
    IN_MOVE_SELF,
    IN_MOVED_FROM,
    IN_MOVED_TO,
    IN_ONESHOT,
    IN_ONLYDIR,
    IN_OPEN,
    IN_Q_OVERFLOW,
    IN_UNMOUNT,
    EventsCodes,
    ProcINotify,
    compatibility_mode,
    max_queued_events,
    max_user_instances,
    max_user_watches,
)
from .driven import AsyncioNotifier, ThreadedNotifier
from .errors import (
    InotifyBindingNotFoundError,
    NotifierError,
    ProcessEventError,
    PyinotifyError,
    UnsupportedPythonVersionError,
    WatchManagerError,
)
from .events import ColoredOutputFormat, Event, RawOutputFormat
from .fd_notifiers import TornadoAsyncNotifier, make_async_notifier
from .handlers import ChainIfTrue, ExcludeFilter, PrintAllEvents, ProcessEvent, Stats
from .manager import WatchManager
from .notifiers import Notifier
from .watch import Watch

__version__ = "0.9.6"
__author__ = "inwatch developers (API of pyinotify by Sebastien Martini)"

# The layer's mutable state (see _state): programs assign these, and
# compatibility_mode() / command_line() switch them.
log: logging.Logger = _DEFAULT_LOG
output_format: RawOutputFormat = RawOutputFormat()
COMPATIBILITY_MODE = False

__all__ = [
    "ALL_EVENTS",
    "COMPATIBILITY_MODE",
    "IN_ACCESS",
    "IN_ATTRIB",
    "IN_CLOSE_NOWRITE",
    "IN_CLOSE_WRITE",
    "IN_CREATE",
    "IN_DELETE",
    "IN_DELETE_SELF",
    "IN_DONT_FOLLOW",
    "IN_EXCL_UNLINK",
    "IN_IGNORED",
    "IN_ISDIR",
    "IN_MASK_ADD",
    "IN_MODIFY",
    "IN_MOVED_FROM",
    "IN_MOVED_TO",
    "IN_MOVE_SELF",
    "IN_ONESHOT",
    "IN_ONLYDIR",
    "IN_OPEN",
    "IN_Q_OVERFLOW",
    "IN_UNMOUNT",
    "AsyncioNotifier",
    "ChainIfTrue",
    "ColoredOutputFormat",
    "Event",
    "EventsCodes",
    "ExcludeFilter",
    "INotifyWrapper",
    "InotifyBindingNotFoundError",
    "Notifier",
    "NotifierError",
    "PrintAllEvents",
    "ProcINotify",
    "ProcessEvent",
    "ProcessEventError",
    "PyinotifyError",
    "RawOutputFormat",
    "Stats",
    "ThreadedNotifier",
    "TornadoAsyncNotifier",
    "UnsupportedPythonVersionError",
    "Watch",
    "WatchManager",
    "WatchManagerError",
    "command_line",
    "compatibility_mode",
    "log",
    "logger_init",
    "max_queued_events",
    "max_user_instances",
    "max_user_watches",
    "output_format",
]


def __getattr__(name: str) -> Any:
    # AsyncNotifier is built on first use: it imports asyncore, which Python
    # 3.12 removed (the pyasyncore package brings it back).
    if name == "AsyncNotifier":
        return make_async_notifier()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
