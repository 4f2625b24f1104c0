"""inwatch: lossless Linux inotify for Python.

Low level: :class:`Inotify` (one fd, add/rm watch, read), :class:`Mask`,
:func:`parse_events` / :class:`RawEvent`, :func:`limits`. See the README for
the layers above.
"""

from __future__ import annotations

from .errors import EventParseError, InotifyLimitError, InstanceLimitError, WatchLimitError
from .event import Actor, Event
from .flags import *  # noqa: F403  (the IN_* constants, Mask, InitFlags)
from .flags import __all__ as _flags_all
from .inotify import Inotify
from .inotify.wire import RawEvent, parse_events
from .knobs import Limits, ProcessUsage, inotify_usage, limits
from .watcher import Watcher

__version__ = "0.1.0"

__all__ = [
    "Actor",
    "Event",
    "EventParseError",
    "Inotify",
    "InotifyLimitError",
    "InstanceLimitError",
    "Limits",
    "ProcessUsage",
    "RawEvent",
    "WatchLimitError",
    "Watcher",
    "__version__",
    "inotify_usage",
    "limits",
    "parse_events",
    *_flags_all,
]

# The pyinotify-style API (issue 4): `from inwatch import WatchManager, Notifier, ...`.
from .compat import (
    ALL_EVENTS,
    AsyncioNotifier,
    ChainIfTrue,
    ExcludeFilter,
    Notifier,
    PrintAllEvents,
    ProcessEvent,
    Stats,
    ThreadedNotifier,
    WatchManager,
    WatchManagerError,
)

__all__ += [
    "ALL_EVENTS",
    "AsyncioNotifier",
    "ChainIfTrue",
    "ExcludeFilter",
    "Notifier",
    "PrintAllEvents",
    "ProcessEvent",
    "Stats",
    "ThreadedNotifier",
    "WatchManager",
    "WatchManagerError",
]
