"""uid -> login name, cached (the journal and the command line name users alike)."""

from __future__ import annotations

import pwd

__all__ = ["user_name"]

_users: dict[int, str | None] = {}


def user_name(uid: int | None) -> str | None:
    """The login name of *uid* (cached; ``None`` if it has none, or no uid)."""
    if uid is None:
        return None
    if uid not in _users:
        try:
            _users[uid] = pwd.getpwuid(uid).pw_name
        except KeyError:
            _users[uid] = None
    return _users[uid]
