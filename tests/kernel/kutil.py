"""Helpers for the real-kernel tests: read what the kernel queued, show it plainly."""

from __future__ import annotations

import time

from inwatch import Inotify, RawEvent, mask_names

Ev = tuple[int, str, bytes]
"""An event as the tests compare it: (wd, "OPEN|ISDIR", name)."""


def names(mask: int) -> str:
    return "|".join(mask_names(mask))


def short(events: list[RawEvent]) -> list[Ev]:
    return [(e.wd, names(e.mask), e.name) for e in events]


def drain(ino: Inotify, timeout: float = 2.0, settle: float = 0.05) -> list[RawEvent]:
    """Everything the kernel queues: wait up to *timeout* for the first events,
    then keep reading until nothing more arrives for *settle* seconds.

    inotify queues events synchronously in the syscall that causes them, so after
    an operation returns its events are already there; *settle* only guards the
    few that come from deferred work (inode eviction, unmount)."""
    events = ino.read(timeout=timeout)
    deadline = time.monotonic() + timeout
    while events and time.monotonic() < deadline:
        more = ino.read(timeout=settle)
        if not more:
            break
        events += more
    return events


def drain_short(ino: Inotify, timeout: float = 2.0) -> list[Ev]:
    return short(drain(ino, timeout))


def assert_quiet(ino: Inotify, wait: float = 0.1) -> None:
    """Assert that no event arrives within *wait* seconds."""
    extra = ino.read(timeout=wait)
    assert extra == [], f"unexpected events: {short(extra)}"
