"""Which path runs the inotify hot path: the optional C accelerator or pure Python.

The accelerator (``inwatch.inotify._accel``, built from ``_accel.c`` when a
compiler was there at install time) is the C twin of Python code that stays
the reference: the parser (:func:`inwatch.inotify.wire.parse_flat_py`), the
per-record loop of the dispatcher (``InotifyCore._dispatch``), and
``InotifyCore.take()``, the read and its per-read steps on the latency path. The
environment variable ``INWATCH_ACCEL``, read once at import, chooses:

- unset or ``auto``: the accelerator if it is built and loads, else pure Python
  (with a :class:`RuntimeWarning` when it is built but cannot be used);
- ``0``: pure Python;
- ``1``: the accelerator, or :class:`ImportError` saying why it cannot be had.

:data:`ACTIVE` says which path is in use, as ``inwatch --version`` prints it:
``"accelerator: C"`` or ``"pure Python: <reason>"``.
"""

from __future__ import annotations

import importlib
import os
import warnings
from types import ModuleType

from .errors import EventParseError
from .event import Event

__all__ = ["ACTIVE", "native"]


def _load() -> tuple[ModuleType | None, str]:
    choice = os.environ.get("INWATCH_ACCEL", "auto").strip().lower() or "auto"
    if choice not in ("auto", "0", "1"):
        raise ImportError(f"INWATCH_ACCEL={choice!r}: use auto, 0 (pure Python) or 1 (C)")
    if choice == "0":
        return None, "pure Python: INWATCH_ACCEL=0"
    name = __name__.rpartition(".")[0] + ".inotify._accel"
    try:
        # import_module, not "from .inotify import": inwatch.inotify is being
        # imported when this runs (wire imports us), and a missing submodule
        # must read as missing, not as a circular import.
        module = importlib.import_module(name)
        # bind() checks Event's slots against the ones the C code stores.
        module.bind(EventParseError, Event)
    except (ImportError, TypeError) as exc:
        why = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        missing = isinstance(exc, ModuleNotFoundError) and exc.name == name
        if missing:
            why = "the accelerator was not built (no C compiler at install time?)"
        if choice == "1":
            raise ImportError(
                f"INWATCH_ACCEL=1 but the C accelerator cannot be used: {why}"
            ) from exc
        if not missing:
            # Built but unusable (another Python's build, an Event it cannot
            # fill): a fault to see, not a choice; pure Python still runs.
            warnings.warn(
                f"inwatch: the C accelerator is built but cannot be used ({why}); "
                "running pure Python",
                RuntimeWarning,
                stacklevel=2,
            )
        return None, f"pure Python: {why}"
    return module, "accelerator: C"


native, ACTIVE = _load()
"""The loaded accelerator module (None on the pure path), and what is in use."""
