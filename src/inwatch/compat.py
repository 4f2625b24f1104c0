"""Deprecated: the pyinotify-style API is :mod:`inwatch.pyinotify`.

Every name of :mod:`inwatch.pyinotify` is still reachable here for one
release; using one issues a ``DeprecationWarning`` naming the new spelling.
"""

from __future__ import annotations

import warnings
from typing import Any

from . import pyinotify as _pyinotify

__all__ = list(_pyinotify.__all__)


def __getattr__(name: str) -> Any:
    if name.startswith("__"):  # importlib asks for __path__, __spec__...
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    try:
        value = getattr(_pyinotify, name)
    except AttributeError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    warnings.warn(
        f"inwatch.compat is deprecated and goes in the next release: use inwatch.pyinotify.{name}",
        DeprecationWarning,
        stacklevel=2,
    )
    return value


def __dir__() -> list[str]:
    return sorted(set(__all__) | {"__all__"})
