"""The C accelerator, bound as inwatch/accel.py binds it, for the tests that
compare it with the pure path (even when INWATCH_ACCEL=0 chose pure Python
for the rest of the process): skips when it is not built, unless
INWATCH_ACCEL=1 asked for it."""

from __future__ import annotations

import os
from types import ModuleType

import pytest


def bound_accelerator() -> ModuleType:
    from inwatch.accel import native

    if native is not None:
        return native
    try:
        from inwatch.inotify import _accel  # type: ignore[attr-defined]
    except ImportError:
        if os.environ.get("INWATCH_ACCEL") == "1":
            raise
        pytest.skip("the C accelerator is not built")
    from inwatch.errors import EventParseError
    from inwatch.event import Event

    _accel.bind(EventParseError, Event)
    module: ModuleType = _accel
    return module
