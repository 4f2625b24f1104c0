"""The fanotify limits, read from ``/proc/sys/fs/fanotify/*`` (never written).

- ``max_queued_events``: events a group may queue before the kernel drops the
  rest and queues one FAN_Q_OVERFLOW (unless FAN_UNLIMITED_QUEUE, root only);
- ``max_user_groups``: fanotify groups per user (per user namespace, 5.13+);
- ``max_user_marks``: marks per user: one per filesystem with this backend;
- ``watchdog_timeout``: seconds a permission event may wait (not used here).

These knobs exist since Linux 5.13; on older kernels the values were fixed
(16384 events, 128 groups, 8192 marks) and the directory is missing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

__all__ = ["KNOBS", "FanotifyLimits", "limits"]

_DIR = "/proc/sys/fs/fanotify/"
KNOBS = ("max_queued_events", "max_user_groups", "max_user_marks", "watchdog_timeout")


@dataclass(frozen=True)
class FanotifyLimits:
    """Each knob's value, ``None`` where its file is missing or unreadable."""

    max_queued_events: int | None
    max_user_groups: int | None
    max_user_marks: int | None
    watchdog_timeout: int | None

    def rows(self) -> list[tuple[str, int | None]]:
        """(``/proc`` path, value) for display."""
        return [(_DIR + k, getattr(self, k)) for k in KNOBS]


def limits(directory: str = _DIR) -> FanotifyLimits:
    """Read the knobs (never write them)."""
    values: dict[str, int | None] = {}
    for knob in KNOBS:
        try:
            with open(os.path.join(directory, knob)) as f:
                values[knob] = int(f.read().strip())
        except (OSError, ValueError):
            values[knob] = None
    return FanotifyLimits(**values)
