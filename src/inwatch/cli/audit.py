"""``inwatch audit PATH...``: every access to files or trees, and who did it.

The security use of the fanotify backend: one line (or, with ``--json``, one
object) per open, read, write, close, attribute change, rename, delete and
exec, each with its actor -- the process, its user and its program, as
certain as :mod:`inwatch.fanotify.actors` can make them (``exited``: the
process was gone before it could be read, only what is certain is shown;
``hidden``: the kernel gave no pid). At exit (SIGINT, SIGTERM, ``-t``) a
summary per (file, user, program).

Needs fanotify filesystem marks (root, or a filesystem mounted in your own user
namespace). The kernel merges identical events of one process while they are
unread, so repeated reads of one file may show as one line.
An overflow of the kernel queue is reported on stderr and makes the exit status 1.
"""

from __future__ import annotations

import argparse
import collections
import os
import pwd
import time
from typing import Any

from ..event import Actor, Event
from ..fanotify.backend import FanotifyBackend
from ..fanotify.core import EXEC
from ..fanotify.errors import FanotifyError
from ..flags import mask_names
from .args import FORMATTER, CliError, seconds
from .format import dumps, printable
from .output import Output, run_guarded
from .wait import Waiter

__all__ = ["AUDIT_MASK", "HELP", "actor_json", "add_parser", "event_names", "run", "user_name"]

HELP = "every access to files or trees, with who did it (fanotify)"

EXAMPLES = """\
examples:
  inwatch audit /etc/shadow                  who reads or changes it
  inwatch audit --json /srv/secrets          one JSON object per event, actor included
  inwatch audit --user www-data -t 60 /srv   one user's accesses for a minute, then the summary
"""

#: open, read, write, close, attribute change, rename, create, delete, exec
AUDIT_MASK = 0xFFF | EXEC

_STATUS_MARK = {"ok": "", "exited": " [exited]", "hidden": " [hidden]"}


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(
        "audit",
        help=HELP,
        description="Report every access to the named files or trees with the process, "
        "user and program that made it; a summary per (file, user, program) at exit.",
        epilog=EXAMPLES,
        formatter_class=FORMATTER,
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="files or trees (recursive)")
    p.add_argument("--json", action="store_true", help="one JSON object per event")
    p.add_argument("-t", "--timeout", type=seconds, metavar="SECONDS", help="stop after this")
    p.add_argument("--user", metavar="NAME|UID", help="only this user's accesses")
    p.add_argument(
        "--comm", metavar="NAME", help="only this program (command name or exe basename)"
    )
    p.add_argument("--exclude", action="append", metavar="GLOB", help="skip matching entries")
    return p


_users: dict[int, str | None] = {}


def user_name(uid: int | None) -> str | None:
    """The user name of *uid* (cached), ``None`` if unknown."""
    if uid is None:
        return None
    if uid not in _users:
        try:
            _users[uid] = pwd.getpwuid(uid).pw_name
        except KeyError:
            _users[uid] = None
    return _users[uid]


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


def program(actor: Actor | None) -> str:
    """What to call the program: its exe, else its command name, else ``?``."""
    if actor is None:
        return "?"
    return actor.exe or actor.comm or "?"


def who(actor: Actor | None) -> str:
    """``user`` (or the uid, or ``?``)."""
    if actor is None or actor.uid is None:
        return "?"
    return user_name(actor.uid) or str(actor.uid)


def event_names(mask: int) -> list[str]:
    names = list(mask_names(mask & ~EXEC))
    if mask & EXEC:
        names.insert(0, "EXEC")
    return names


def _line(ev: Event[Any]) -> str:
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ev.time))
    names = ",".join(event_names(ev.mask))
    if ev.mask & 0x4000:
        return f"{stamp} {names:<14} events were lost (kernel queue overflow)"
    a = ev.actor
    text = f"{stamp} {names:<14} {printable(ev.pathname)}"
    if ev.src_pathname is not None:
        text += f"  (from {printable(ev.src_pathname)})"
    if ev.origin != "kernel":
        text += f"  (found by {ev.origin})"
    elif a is not None:
        comm = a.comm or (os.path.basename(a.exe) if a.exe else "?")
        text += f"  pid={a.pid} user={who(a)} comm={printable(comm)}"
        if a.exe:
            text += f" exe={printable(a.exe)}"
        text += _STATUS_MARK[a.status]
    return text


def _json(ev: Event[Any]) -> str:
    overflow = bool(ev.mask & 0x4000)
    obj: dict[str, Any] = {
        "time": ev.time,
        "events": event_names(ev.mask),
        "mask": ev.mask,
        "dir": ev.is_dir,
        "pathname": None if overflow else os.fsdecode(ev.pathname),
    }
    if ev.src_pathname is not None:
        obj["src_pathname"] = os.fsdecode(ev.src_pathname)
    obj["origin"] = ev.origin
    obj["actor"] = actor_json(ev.actor)
    return dumps(obj)


def _uid_filter(text: str | None) -> int | None:
    if text is None:
        return None
    if text.isdigit():
        return int(text)
    try:
        return pwd.getpwnam(text).pw_uid
    except KeyError:
        raise CliError(f"no such user: {printable(text)!r}") from None


def _matches_comm(a: Actor | None, comm: str) -> bool:
    if a is None:
        return False
    return a.comm == comm or (a.exe is not None and os.path.basename(a.exe) == comm)


def open_backend(paths: list[str], mask: int, exclude: list[str] | None) -> FanotifyBackend:
    """A backend watching *paths* recursively, or a CliError that says what is
    missing and what works instead."""
    try:
        backend = FanotifyBackend()
    except FanotifyError as exc:
        raise CliError(f"cannot use fanotify: {exc}") from None
    try:
        for path in paths:
            backend.add(path, mask, recursive=True, exclude=exclude)
    except FanotifyError as exc:
        backend.close()
        raise CliError(f"cannot watch {printable(path)!r}: {exc}") from None
    except BaseException:
        backend.close()
        raise
    return backend


def run(args: argparse.Namespace) -> int:
    return run_guarded("audit", lambda: _audit(args))


def _audit(args: argparse.Namespace) -> int:
    uid = _uid_filter(args.user)
    out = Output()
    summary: collections.Counter[tuple[str, str, str]] = collections.Counter()
    kinds: dict[tuple[str, str, str], collections.Counter[str]] = {}
    overflows = 0
    backend = open_backend(args.paths, AUDIT_MASK, args.exclude)
    with backend, Waiter() as waiter:
        deadline = None if args.timeout is None else time.monotonic() + args.timeout
        while True:
            why = waiter.wait(deadline, readable=backend.fileno())
            if why in ("signal", "timeout"):
                break
            for ev in backend.process(backend.read_raw()):
                if ev.mask & 0x4000:
                    overflows += 1
                else:
                    a = ev.actor
                    if uid is not None and (a is None or a.uid != uid):
                        continue
                    if args.comm is not None and not _matches_comm(a, args.comm):
                        continue
                    key = (os.fsdecode(ev.pathname), who(a), program(a))
                    summary[key] += 1
                    kinds.setdefault(key, collections.Counter()).update(event_names(ev.mask))
                out.write((_json(ev) if args.json else _line(ev)) + "\n")
            out.flush()
    _summary(out, summary, kinds, args.json)
    out.flush()
    if overflows:
        os.write(
            2,
            f"inwatch audit: the kernel queue overflowed {overflows} time(s): events were "
            "lost (changes found by the rescan are marked; their actors are unknown)\n".encode(),
        )
        return 1
    return 0


def _summary(
    out: Output,
    summary: collections.Counter[tuple[str, str, str]],
    kinds: dict[tuple[str, str, str], collections.Counter[str]],
    as_json: bool,
) -> None:
    rows = sorted(summary.items(), key=lambda kv: (-kv[1], kv[0]))
    if as_json:
        out.write(
            dumps(
                {
                    "summary": [
                        {
                            "pathname": path,
                            "user": user,
                            "program": prog,
                            "count": n,
                            "events": dict(sorted(kinds[(path, user, prog)].items())),
                        }
                        for (path, user, prog), n in rows
                    ]
                }
            )
            + "\n"
        )
        return
    out.write(f"\nsummary: {len(rows)} (file, user, program)\n")
    out.write(f"{'count':>7}  {'user':<12} {'program':<24} file\n")
    for (path, user, prog), n in rows:
        detail = ", ".join(f"{k.lower()} {v}" for k, v in sorted(kinds[(path, user, prog)].items()))
        out.write(
            f"{n:>7}  {printable(user):<12} {printable(prog):<24} {printable(path)}  ({detail})\n"
        )
