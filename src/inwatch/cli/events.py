"""Event names on the command line: ``-e create,delete -e CLOSE_WRITE``.

Kernel names without ``IN_`` (an ``IN_`` prefix is tolerated), any case, comma
separated and repeatable; ``close``, ``move`` and ``all_events`` are the kernel's
aliases (``all`` too). ``unmount``, ``q_overflow`` and ``ignored`` are accepted:
the kernel sends them unasked, naming them only makes them pass the output filter.
"""

from __future__ import annotations

from ..flags import Mask

__all__ = ["ALWAYS_SHOWN", "EVENT_NAMES", "UnknownEventError", "parse_events_option"]

_ALIASES = {
    "CLOSE": int(Mask.CLOSE),
    "MOVE": int(Mask.MOVE),
    "ALL_EVENTS": int(Mask.ALL_EVENTS),
    "ALL": int(Mask.ALL_EVENTS),
}

#: The names one can ask for, in the kernel's bit order.
EVENT_NAMES: tuple[str, ...] = (
    "ACCESS",
    "MODIFY",
    "ATTRIB",
    "CLOSE_WRITE",
    "CLOSE_NOWRITE",
    "OPEN",
    "MOVED_FROM",
    "MOVED_TO",
    "CREATE",
    "DELETE",
    "DELETE_SELF",
    "MOVE_SELF",
    "UNMOUNT",
    "Q_OVERFLOW",
    "IGNORED",
)

#: Shown whatever ``-e`` says: they mean events were lost or a whole watch went away.
ALWAYS_SHOWN = int(Mask.Q_OVERFLOW | Mask.UNMOUNT)


class UnknownEventError(ValueError):
    """An ``-e`` value that names no event."""

    def __init__(self, name: str) -> None:
        known = ", ".join(n.lower() for n in (*EVENT_NAMES, "close", "move", "all_events"))
        super().__init__(f"unknown event {name!r} (known: {known})")
        self.name = name


def parse_events_option(values: list[str] | None) -> int | None:
    """The mask named by the ``-e`` values, or ``None`` when none were given.

    Raises :class:`UnknownEventError` for a name no kernel defines.
    """
    if not values:
        return None
    mask = 0
    for value in values:
        for part in value.split(","):
            name = part.strip().upper()
            if not name:
                continue
            if name.startswith("IN_"):
                name = name[3:]
            if name in _ALIASES:
                mask |= _ALIASES[name]
            elif name in EVENT_NAMES:
                mask |= int(Mask[name])
            else:
                raise UnknownEventError(part.strip())
    if not mask:
        raise UnknownEventError(",".join(values))
    return mask
