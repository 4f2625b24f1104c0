"""Deprecated: the pyinotify-style API is :mod:`inwatch.pyinotify`.

Every name of :mod:`inwatch.pyinotify` is still reachable here for one
release; using one issues a ``DeprecationWarning`` naming the new spelling.
"""

from __future__ import annotations

import sys
import warnings
from types import FrameType
from typing import Any

from . import pyinotify as _pyinotify

__all__ = list(_pyinotify.__all__)


def _caller_is_inwatch() -> bool:
    # Transitional: inwatch/__init__.py takes the pyinotify names from here
    # until it switches to its own deprecating __getattr__; that is not a
    # program's use and must not warn.
    frame: FrameType | None = sys._getframe(2)
    while frame is not None and frame.f_code.co_filename.startswith("<frozen importlib"):
        frame = frame.f_back
    return frame is not None and frame.f_globals.get("__name__") == "inwatch"


def __getattr__(name: str) -> Any:
    if name.startswith("__"):  # importlib asks for __path__, __spec__...
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    try:
        value = getattr(_pyinotify, name)
    except AttributeError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    if not _caller_is_inwatch():
        warnings.warn(
            f"inwatch.compat is deprecated and goes in the next release: "
            f"use inwatch.pyinotify.{name}",
            DeprecationWarning,
            stacklevel=2,
        )
    return value


def __dir__() -> list[str]:
    return sorted(set(__all__) | {"__all__"})
