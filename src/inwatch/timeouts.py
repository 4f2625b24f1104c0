"""Timeouts as poll(2) takes them: one rule for every wait of the library."""

from __future__ import annotations

import math

__all__ = ["poll_ms"]


def poll_ms(timeout: float | None) -> int | None:
    """``None`` or ``inf``: wait forever (``None``); else whole milliseconds,
    rounded up so that a short timeout still waits, capped at poll's maximum.
    ``nan`` is refused (``ValueError``): it is no duration."""
    if timeout is None or (math.isinf(timeout) and timeout > 0):
        return None
    if math.isnan(timeout):
        raise ValueError("timeout must be a number of seconds, not nan")
    return max(0, min(int(timeout * 1000 + 0.999), 2**31 - 1))
