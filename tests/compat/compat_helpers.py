"""Helpers of the pyinotify-compat tests (imported by name: tests are not a package)."""

from __future__ import annotations

from typing import Any


def drain(notifier: Any, quiet_ms: int = 80, rounds: int = 100) -> None:
    """Read and process until no event comes for *quiet_ms* (bounded)."""
    for _ in range(rounds):
        notifier.process_events()
        if not notifier.check_events(quiet_ms):
            notifier.process_events()
            return
        notifier.read_events()
    raise AssertionError("events kept coming")


class Recorder:
    """A handler recording what pyinotify programs look at."""

    def __init__(self) -> None:
        self.events: list[Any] = []

    def __call__(self, event: Any) -> None:
        self.events.append(event)
