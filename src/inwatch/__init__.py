"""inwatch: lossless Linux file monitoring for Python (inotify and fanotify).

The native API: :class:`Watcher` (recursive, move-aware, overflow-recovering;
``backend="inotify" | "fanotify" | "auto"``) delivering :class:`Event`
(with its :class:`Actor` under fanotify); the binding :class:`Inotify`,
:class:`Mask`, :func:`parse_events` / :class:`RawEvent`; :func:`limits`.
The pyinotify drop-in lives in :mod:`inwatch.pyinotify`. The README's
"Architecture" section maps every module.
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

# The pyinotify spellings lived here before inwatch.pyinotify became their home:
# kept importable for one release, with a DeprecationWarning.
_PYINOTIFY_NAMES = frozenset(
    {
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
    }
)


def __getattr__(name: str) -> object:
    if name in _PYINOTIFY_NAMES:
        import warnings

        from . import pyinotify

        warnings.warn(
            f"inwatch.{name} is deprecated: import it from inwatch.pyinotify",
            DeprecationWarning,
            stacklevel=2,
        )
        return getattr(pyinotify, name)
    raise AttributeError(f"module 'inwatch' has no attribute {name!r}")
