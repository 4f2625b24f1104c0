"""Import guard for the optional extras: a missing client library says which extra installs it.

The core of inwatch has no runtime dependency; shipping to NATS JetStream needs ``nats-py`` and the
PostgreSQL store needs ``psycopg`` 3. They are imported only when a sink or a collector is built.
"""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["MissingExtraError", "require"]

_EXTRA = {"nats": ("nats", "nats-py"), "psycopg": ("postgres", "psycopg 3")}


class MissingExtraError(ImportError):
    """An optional client library is not installed; the message names the pip command."""


def require(module: str) -> ModuleType:
    """Import *module* (``"nats"`` or ``"psycopg"``) or raise MissingExtraError with the fix."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        extra, what = _EXTRA[module]
        raise MissingExtraError(
            f"{what} is not installed: pip install 'inwatch[{extra}]'", name=module
        ) from exc
