"""Who did it, as the command line shows it: user names, the ``actor`` JSON object."""

from __future__ import annotations

from typing import Any

from ..event import Actor
from ..users import user_name

__all__ = ["actor_json", "actor_text", "user_name"]


def actor_json(actor: Actor | None) -> dict[str, Any] | None:
    """The ``actor`` object of ``--json`` (shared with ``watch`` and ``top``)."""
    if actor is None:
        return None
    return {
        "pid": actor.pid,
        "uid": actor.uid,
        "user": user_name(actor.uid),
        "gid": actor.gid,
        "comm": actor.comm,
        "exe": actor.exe,
        "status": actor.status,
    }


def actor_text(actor: Actor) -> str:
    """``pid 123 user root comm touch`` for the human line (unknown fields as ?)."""
    who = user_name(actor.uid) or ("?" if actor.uid is None else str(actor.uid))
    comm = actor.comm or (actor.exe.rsplit("/", 1)[-1] if actor.exe else "?")
    text = f"pid {actor.pid} user {who} comm {comm}"
    return text if actor.status == "ok" else f"{text} ({actor.status})"
