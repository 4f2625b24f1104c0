"""The layer's mutable state, kept in one place: the package's namespace.

pyinotify programs change module globals: they assign
``pyinotify.log = my_logger`` or ``pyinotify.output_format = ...``, and
``compatibility_mode()`` sets ``COMPATIBILITY_MODE``. So those names live in
``inwatch.pyinotify`` itself (its ``__init__`` sets the defaults) and every
module reads them from there, at call time, through these functions: there is
no second copy to fall out of step.
"""

from __future__ import annotations

import logging
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .events import RawOutputFormat

PathT = Any  # str | bytes (what a watch's path is); kept loose for pyinotify programs

PACKAGE = __name__.rpartition(".")[0]  # "inwatch.pyinotify"

#: The ``pyinotify`` logger. Nothing is installed on it at import (pyinotify
#: added a stderr handler and set INFO, which programs then had to undo).
DEFAULT_LOG = logging.getLogger("pyinotify")


def _namespace() -> dict[str, Any]:
    return vars(sys.modules[PACKAGE])


def log() -> logging.Logger:
    """The logger to write to: ``inwatch.pyinotify.log``, which a program may replace."""
    found = _namespace().get("log")
    return found if isinstance(found, logging.Logger) else DEFAULT_LOG


def output_format() -> RawOutputFormat:
    """``inwatch.pyinotify.output_format`` (``command_line()`` or a program may set it)."""
    from .events import RawOutputFormat

    found = _namespace().get("output_format")
    return found if isinstance(found, RawOutputFormat) else RawOutputFormat()


def compat_mode() -> bool:
    """``inwatch.pyinotify.COMPATIBILITY_MODE`` (set by ``compatibility_mode()``)."""
    return bool(_namespace().get("COMPATIBILITY_MODE", False))


def set_compat_mode() -> None:
    _namespace()["COMPATIBILITY_MODE"] = True


def set_output_format(fmt: RawOutputFormat) -> None:
    _namespace()["output_format"] = fmt


def logger_init() -> logging.Logger:
    """pyinotify's logger set-up, for programs that want it: a stderr handler
    and level INFO on the ``pyinotify`` logger. inwatch never calls it itself."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("[%(asctime)s %(name)s %(levelname)s] %(message)s"))
    DEFAULT_LOG.addHandler(handler)
    DEFAULT_LOG.setLevel(20)
    return DEFAULT_LOG
