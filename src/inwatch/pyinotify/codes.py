"""Event codes as pyinotify names them: the ``IN_*`` ints, ``ALL_EVENTS``,
:class:`EventsCodes` (its flag tables and ``maskname``), the method names an
event is dispatched to, ``compatibility_mode()`` and the ``/proc`` knobs.

The bits themselves are spelled once, in :mod:`inwatch.flags`.
"""

from __future__ import annotations

import os
from typing import ClassVar

from ..flags import (
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
)
from . import _state

__all__ = [
    "ALL_EVENTS",
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
    "EventsCodes",
    "ProcINotify",
    "compatibility_mode",
    "max_queued_events",
    "max_user_instances",
    "max_user_watches",
]

_OP_FLAGS = {
    "IN_ACCESS": IN_ACCESS,
    "IN_MODIFY": IN_MODIFY,
    "IN_ATTRIB": IN_ATTRIB,
    "IN_CLOSE_WRITE": IN_CLOSE_WRITE,
    "IN_CLOSE_NOWRITE": IN_CLOSE_NOWRITE,
    "IN_OPEN": IN_OPEN,
    "IN_MOVED_FROM": IN_MOVED_FROM,
    "IN_MOVED_TO": IN_MOVED_TO,
    "IN_CREATE": IN_CREATE,
    "IN_DELETE": IN_DELETE,
    "IN_DELETE_SELF": IN_DELETE_SELF,
    "IN_MOVE_SELF": IN_MOVE_SELF,
}
_EVENT_FLAGS = {"IN_UNMOUNT": IN_UNMOUNT, "IN_Q_OVERFLOW": IN_Q_OVERFLOW, "IN_IGNORED": IN_IGNORED}
_SPECIAL_FLAGS = {
    "IN_ONLYDIR": IN_ONLYDIR,
    "IN_DONT_FOLLOW": IN_DONT_FOLLOW,
    "IN_EXCL_UNLINK": IN_EXCL_UNLINK,
    "IN_MASK_ADD": IN_MASK_ADD,
    "IN_ISDIR": IN_ISDIR,
    "IN_ONESHOT": IN_ONESHOT,
}

#: Every event that can be asked for (pyinotify's ``ALL_EVENTS``, 0xfff).
ALL_EVENTS = 0
for _v in _OP_FLAGS.values():
    ALL_EVENTS |= _v


class EventsCodes:
    """pyinotify's table of flags: ``FLAG_COLLECTIONS`` (``OP_FLAGS``,
    ``EVENT_FLAGS``, ``SPECIAL_FLAGS``), ``ALL_FLAGS`` (name -> value, with
    ``ALL_EVENTS``), ``ALL_VALUES`` (value -> name) and :meth:`maskname`."""

    FLAG_COLLECTIONS: ClassVar[dict[str, dict[str, int]]] = {
        "OP_FLAGS": _OP_FLAGS,
        "EVENT_FLAGS": _EVENT_FLAGS,
        "SPECIAL_FLAGS": _SPECIAL_FLAGS,
    }
    OP_FLAGS = _OP_FLAGS
    EVENT_FLAGS = _EVENT_FLAGS
    SPECIAL_FLAGS = _SPECIAL_FLAGS
    ALL_FLAGS: ClassVar[dict[str, int]] = {}
    ALL_VALUES: ClassVar[dict[int, str]] = {}

    @staticmethod
    def maskname(mask: int) -> str:
        """``"IN_CREATE"``, ``"IN_CREATE|IN_ISDIR"``: the one event in *mask*.

        Raises ``KeyError`` when *mask* (without IN_ISDIR) is not one known
        value, as pyinotify does.
        """
        name = _MASKNAMES.get(mask)
        if name is None:
            if mask & IN_ISDIR:
                name = EventsCodes.ALL_VALUES[mask - IN_ISDIR] + "|IN_ISDIR"
            else:
                name = EventsCodes.ALL_VALUES[mask]
        return name


for _coll in EventsCodes.FLAG_COLLECTIONS.values():
    EventsCodes.ALL_FLAGS.update(_coll)
    for _n, _v in _coll.items():
        EventsCodes.ALL_VALUES[_v] = _n
EventsCodes.ALL_FLAGS["ALL_EVENTS"] = ALL_EVENTS
EventsCodes.ALL_VALUES[ALL_EVENTS] = "ALL_EVENTS"

# mask -> maskname for every mask the kernel sends (with and without ISDIR).
_MASKNAMES: dict[int, str] = {}
# mask without ISDIR -> (process_<NAME>, process_<FAMILY>) method names.
_DISPATCH: dict[int, tuple[str, str]] = {}
for _v, _n in EventsCodes.ALL_VALUES.items():
    if _v != IN_ISDIR:  # pyinotify: maskname(IN_ISDIR) is a KeyError (0)
        _MASKNAMES[_v] = _n
        _MASKNAMES[_v | IN_ISDIR] = _n + "|IN_ISDIR"
    _DISPATCH[_v] = ("process_" + _n, "process_IN_" + _n.split("_")[1])

# Events delivered whatever a watch's mask says.
UNASKED = IN_UNMOUNT | IN_Q_OVERFLOW | IN_IGNORED
MOVED = IN_MOVED_FROM | IN_MOVED_TO
SELF = IN_DELETE_SELF | IN_MOVE_SELF
# What listing a directory makes the kernel report about it on its parent's
# watch (inotify(7): opendir, getdents, closedir).
LISTING = IN_OPEN | IN_ACCESS | IN_CLOSE_NOWRITE


def compatibility_mode() -> None:
    """Turn on pyinotify 0.7.1 compatibility: ``EventsCodes.IN_*`` and
    ``EventsCodes.ALL_EVENTS`` attributes, ``event.is_dir`` and
    ``event.event_name``. For old programs only."""
    EventsCodes.ALL_EVENTS = ALL_EVENTS  # type: ignore[attr-defined]
    for name, value in EventsCodes.ALL_FLAGS.items():
        if name.startswith("IN_"):
            setattr(EventsCodes, name, value)
    _state.set_compat_mode()


# --------------------------------------------------------------------------- #
# /proc/sys/fs/inotify knobs
# --------------------------------------------------------------------------- #


class ProcINotify:
    """One ``/proc/sys/fs/inotify`` knob: ``max_queued_events.value`` reads it,
    assigning ``.value`` writes it (root only; machine-wide)."""

    def __init__(self, attr: str) -> None:
        self._base = "/proc/sys/fs/inotify"
        self._attr = attr

    def get_val(self) -> int:
        with open(os.path.join(self._base, self._attr)) as f:
            return int(f.readline())

    def set_val(self, nval: int) -> None:
        with open(os.path.join(self._base, self._attr), "w") as f:
            f.write(f"{nval}\n")

    value = property(get_val, set_val)

    def __repr__(self) -> str:
        return f"<{self._attr}={self.get_val()}>"


max_queued_events = ProcINotify("max_queued_events")
max_user_instances = ProcINotify("max_user_instances")
max_user_watches = ProcINotify("max_user_watches")


# Events whose attributes need more than the plain case (Notifier._special_event).
SPECIAL = MOVED | SELF | UNASKED
# Directory events that change the tree's shape (with IN_ISDIR).
ANNOUNCING = IN_CREATE | MOVED
