"""How events are written: pure functions from an event (and its time) to text.

Nothing here reads a file descriptor or a clock; every function takes the event,
the epoch time it was read at, and returns a string (one line, no newline unless
the format asks for one). The commands write what these return.

Outputs:

- :func:`human_line` -- ``12:04:05.120 CREATE,ISDIR  /srv/data/new``, the default;
- :func:`json_line` -- one JSON object per event, the keys of :func:`json_object`;
- :func:`format_event` -- inotifywait's ``--format`` conversions
  (``%w %f %e %Xe %T %c %0 %n %%``) with ``--timefmt`` (``strftime``);
- :func:`csv_line` -- inotifywait's ``--csv`` columns, RFC 4180 quoting;
- :class:`ClassicPrinter` -- the lines of the C sample ``inotify_test``.
"""

from __future__ import annotations

import os
import re
from typing import Any, Protocol

from ..event import Actor
from ..flags import (
    IN_ACCESS,
    IN_ALL_EVENTS,
    IN_ATTRIB,
    IN_CLOSE_NOWRITE,
    IN_CLOSE_WRITE,
    IN_CREATE,
    IN_DELETE,
    IN_DELETE_SELF,
    IN_IGNORED,
    IN_ISDIR,
    IN_MODIFY,
    IN_MOVE_SELF,
    IN_MOVED_FROM,
    IN_MOVED_TO,
    IN_OPEN,
    IN_Q_OVERFLOW,
    IN_UNMOUNT,
    mask_names,
)
from ..inotify.wire import RawEvent
from .actors import actor_json, actor_text, user_name

__all__ = [
    "DEFAULT_TIMEFMT",
    "ClassicPrinter",
    "EventLike",
    "csv_line",
    "event_names",
    "format_event",
    "human_line",
    "json_line",
    "json_object",
    "printable",
    "strftime",
]

DEFAULT_TIMEFMT = "%Y-%m-%d %H:%M:%S"


class EventLike(Protocol):
    """What the formatters read from an event (``inwatch.Event`` has all of it)."""

    @property
    def wd(self) -> int: ...
    @property
    def mask(self) -> int: ...
    @property
    def cookie(self) -> int: ...
    @property
    def name(self) -> str | bytes: ...
    @property
    def path(self) -> str | bytes: ...
    @property
    def pathname(self) -> str | bytes: ...
    @property
    def src_pathname(self) -> str | bytes | None: ...
    @property
    def synthetic(self) -> bool: ...
    @property
    def origin(self) -> str: ...
    @property
    def actor(self) -> Actor | None: ...


def _s(value: str | bytes) -> str:
    return os.fsdecode(value) if isinstance(value, bytes) else value


def event_names(mask: int) -> list[str]:
    """``["CREATE", "ISDIR"]``: the kernel names of the bits in *mask*, no ``IN_``."""
    return list(mask_names(mask))


# C0 controls, DEL, C1 controls (U+0080-U+009F: U+009B is CSI, which a terminal
# obeys like ESC [), and lone surrogates (bytes that were not UTF-8).
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def _escape_char(m: re.Match[str]) -> str:
    c = ord(m.group())
    if 0xDC80 <= c <= 0xDCFF:  # a byte that was not UTF-8 (surrogateescape)
        return f"\\x{c - 0xDC00:02x}"
    return f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}"


def printable(text: str | bytes) -> str:
    """*text* with control characters and undecodable bytes shown as ``\\xNN``,
    so a file name cannot move the cursor, set the window title or break a line
    on a terminal. The one escaping function for every path that reaches a
    terminal or stderr."""
    if isinstance(text, bytes):
        text = os.fsdecode(text)
    return _UNPRINTABLE.sub(_escape_char, text)


def _is_overflow(ev: EventLike) -> bool:
    return bool(ev.mask & IN_Q_OVERFLOW)


# --- the default human line ---------------------------------------------------


_last_stamp: list[Any] = [None, ""]  # the events of one read share their time
_PADDED_NAMES: dict[int, str] = {}


def strftime(t: float, fmt: str) -> str:
    """The local time *t* as ``datetime.fromtimestamp(t).strftime(fmt)`` writes it
    (microseconds rounded as datetime rounds them: ``%f`` and the human line's
    milliseconds depend on it). datetime, json and csv are imported where they
    are used, not with this module: together ~4 ms of every start, and a
    ``--json`` storm needs none of them."""
    from datetime import datetime

    return datetime.fromtimestamp(t).strftime(fmt)


def _stamp(t: float) -> str:
    if _last_stamp[0] != t:
        _last_stamp[1] = strftime(t, "%H:%M:%S.%f")[:-3]
        _last_stamp[0] = t
    return str(_last_stamp[1])


def _padded_names(mask: int) -> str:
    text = _PADDED_NAMES.get(mask)
    if text is None:
        text = f"{','.join(mask_names(mask)):<19}"
        if len(_PADDED_NAMES) < 4096:
            _PADDED_NAMES[mask] = text
    return text


def human_line(ev: EventLike, t: float) -> str:
    """``HH:MM:SS.mmm EVENTS  PATHNAME [(from SRC)] [(found by scan)]``."""
    stamp = _stamp(t)
    names = _padded_names(ev.mask)
    if _is_overflow(ev):
        return f"{stamp} {names} events were lost (kernel queue overflow)"
    line = f"{stamp} {names} {printable(ev.pathname)}"
    if ev.src_pathname is not None:
        line += f"  (from {printable(_s(ev.src_pathname))})"
    if ev.synthetic:
        line += "  (found by scan)"
    actor = ev.actor
    if actor is not None:
        line += f"  [{printable(actor_text(actor))}]"
    return line


# --- JSON ------------------------------------------------------------------------


def json_object(ev: EventLike, t: float) -> dict[str, Any]:
    """The ``--json`` object: ``wd mask events cookie dir path name pathname
    [src_pathname] synthetic origin actor time`` (``actor``: ``null`` under
    inotify, else ``{pid, uid, user, gid, comm, exe, status}``).

    Names are ``str`` decoded with surrogateescape, so ``os.fsencode`` of what a
    reader decodes gives back the kernel's bytes. ``src_pathname`` is present only
    on a MOVED_TO paired with its MOVED_FROM; for Q_OVERFLOW ``path``, ``name``
    and ``pathname`` are ``null``.
    """
    overflow = _is_overflow(ev)
    obj: dict[str, Any] = {
        "wd": ev.wd,
        "mask": ev.mask,
        "events": event_names(ev.mask),
        "cookie": ev.cookie,
        "dir": bool(ev.mask & IN_ISDIR),
        "path": None if overflow else _s(ev.path),
        "name": None if overflow else _s(ev.name),
        "pathname": None if overflow else _s(ev.pathname),
    }
    if ev.src_pathname is not None:
        obj["src_pathname"] = _s(ev.src_pathname)
    obj["synthetic"] = bool(ev.synthetic)
    obj["origin"] = ev.origin
    obj["actor"] = actor_json(ev.actor)
    obj["time"] = t
    return obj


_SURROGATE = re.compile(r"[\ud800-\udfff]")


def _escape_surrogate(m: re.Match[str]) -> str:
    return f"\\u{ord(m.group()):04x}"


def dumps(obj: Any) -> str:
    """JSON text that is valid UTF-8: readable non-ASCII names stay as they are,
    lone surrogates (undecodable bytes) are written as ``\\udcXX`` escapes."""
    import json

    text = json.dumps(obj, ensure_ascii=False, separators=(", ", ": "))
    # Surrogates can only sit inside string literals, where \\uXXXX is valid JSON.
    return _SURROGATE.sub(_escape_surrogate, text)


_EVENTS_JSON: dict[int, str] = {}
# What json.dumps(ensure_ascii=False) escapes, plus lone surrogates.
_JSON_SPECIAL = re.compile(r'["\\\x00-\x1f\ud800-\udfff]')


def _events_json(mask: int) -> str:
    text = _EVENTS_JSON.get(mask)
    if text is None:
        text = "[" + ", ".join(f'"{n}"' for n in mask_names(mask)) + "]"
        if len(_EVENTS_JSON) < 4096:
            _EVENTS_JSON[mask] = text
    return text


def _jstr(value: str | bytes) -> str:
    """A JSON string literal, as :func:`dumps` writes it."""
    text = os.fsdecode(value) if isinstance(value, bytes) else value
    if _JSON_SPECIAL.search(text) is None:
        return f'"{text}"'
    import json

    return _SURROGATE.sub(_escape_surrogate, json.dumps(text, ensure_ascii=False))


def json_line(ev: EventLike, t: float) -> str:
    """One ``--json`` line (no newline): ``dumps(json_object(ev, t))``, built by
    hand because it runs once per event in a storm (a quarter of the cost)."""
    mask = ev.mask
    if mask & IN_Q_OVERFLOW:
        path = name = pathname = "null"
    else:
        path, name, pathname = _jstr(ev.path), _jstr(ev.name), _jstr(ev.pathname)
    src = ev.src_pathname
    moved = "" if src is None else f', "src_pathname": {_jstr(src)}'
    return (
        f'{{"wd": {ev.wd}, "mask": {mask}, "events": {_events_json(mask)}, '
        f'"cookie": {ev.cookie}, "dir": {"true" if mask & IN_ISDIR else "false"}, '
        f'"path": {path}, "name": {name}, "pathname": {pathname}{moved}, '
        f'"synthetic": {"true" if ev.synthetic else "false"}, "origin": {_jstr(ev.origin)}, '
        f'"actor": {"null" if ev.actor is None else dumps(actor_json(ev.actor))}, '
        f'"time": {float(t)!r}}}'
    )


# --- inotifywait --format --------------------------------------------------------


def inotifywait_names(mask: int) -> tuple[str, ...]:
    """The event names as inotifywait prints them: the kernel's, with ``CLOSE``
    after ``CLOSE_WRITE``/``CLOSE_NOWRITE`` (its alias), before ``ISDIR``."""
    names = mask_names(mask)
    if mask & _CLOSE_BITS:
        i = next(k for k, n in enumerate(names) if n.startswith("CLOSE_")) + 1
        names = (*names[:i], "CLOSE", *names[i:])
    return names


_CLOSE_BITS = IN_CLOSE_WRITE | IN_CLOSE_NOWRITE


def _watched(ev: EventLike, file_roots: frozenset[str]) -> str:
    """inotifywait's ``%w``: the watched path, with a slash when it is a directory."""
    if _is_overflow(ev):
        return ""
    path = _s(ev.path)
    if path in file_roots or path.endswith("/"):
        return path
    return path + "/"


def format_event(
    fmt: str,
    ev: EventLike,
    t: float,
    timefmt: str | None = None,
    file_roots: frozenset[str] = frozenset(),
) -> str:
    """Expand inotifywait's conversions in *fmt*.

    ``%w`` the watched path (directories end with ``/``), ``%f`` the entry name,
    ``%e`` the event names separated by commas (as inotifywait names them: a
    close also says ``CLOSE``), ``%Xe`` separated by the character ``X``, ``%T``
    the time through *timefmt* (``strftime``; ``%f`` gives microseconds), ``%c``
    the cookie, ``%p`` the pid, ``%u`` the user name (or uid), ``%C`` the command
    name of who did it (fanotify; empty under inotify or when unknown), ``%0`` a
    NUL, ``%n`` a newline, ``%%`` a percent sign. Anything
    else is copied as it is. *file_roots* are watched paths
    that are files (no slash added).
    """
    out: list[str] = []
    i = 0
    n = len(fmt)
    while i < n:
        c = fmt[i]
        if c != "%" or i + 1 >= n:
            out.append(c)
            i += 1
            continue
        k = fmt[i + 1]
        if k == "w":
            out.append(_watched(ev, file_roots))
        elif k == "f":
            out.append("" if _is_overflow(ev) else _s(ev.name))
        elif k == "e":
            out.append(",".join(inotifywait_names(ev.mask)))
        elif k == "T":
            out.append(strftime(t, timefmt or DEFAULT_TIMEFMT))
        elif k == "c":
            out.append(str(ev.cookie))
        elif k in "puC":
            out.append(_actor_field(k, ev.actor))
        elif k == "0":
            out.append("\0")
        elif k == "n":
            out.append("\n")
        elif k == "%":
            out.append("%")
        elif i + 2 < n and fmt[i + 2] == "e":
            out.append(k.join(inotifywait_names(ev.mask)))
            i += 3
            continue
        else:
            out.append("%" + k)
        i += 2
    return "".join(out)


def _actor_field(key: str, actor: Actor | None) -> str:
    if actor is None:
        return ""
    if key == "p":
        return str(actor.pid) if actor.pid else ""
    if key == "u":
        if actor.uid is None:
            return ""
        return user_name(actor.uid) or str(actor.uid)
    # A process gone before it could be read has no comm: its exe's name says it.
    comm = actor.comm or (actor.exe.rsplit("/", 1)[-1] if actor.exe else "")
    return printable(comm)


# --- CSV ---------------------------------------------------------------------------


_CSV_SPECIAL = re.compile(r'[,"\r\n]')


def csv_line(
    ev: EventLike,
    t: float,
    timefmt: str | None = None,
    file_roots: frozenset[str] = frozenset(),
) -> str:
    """inotifywait's ``--csv`` row: ``watched-path,EVENTS,name`` (with a leading
    time column when *timefmt* is given), quoted as RFC 4180 says (fields holding
    a comma, a quote or a line break are quoted, quotes doubled). No line end."""
    row = [_watched(ev, file_roots), ",".join(inotifywait_names(ev.mask))]
    row.append("" if _is_overflow(ev) else _s(ev.name))
    if timefmt is not None:
        row.insert(0, strftime(t, timefmt))
    if not any(_CSV_SPECIAL.search(f) for f in row):
        return ",".join(row)  # nothing to quote: what the csv module would write
    import csv
    import io

    buf = io.StringIO()
    # The line terminator's characters are what makes the writer quote CR and LF.
    csv.writer(buf, lineterminator="\r\n").writerow(row)
    return buf.getvalue()[:-2]


# --- the article's inotify_test ---------------------------------------------------

_CLASSIC_NAMES = {
    IN_ACCESS: "ACCESS",
    IN_MODIFY: "MODIFY",
    IN_ATTRIB: "ATTRIB",
    IN_CLOSE_WRITE: "CLOSE_WRITE",
    IN_CLOSE_NOWRITE: "CLOSE_NOWRITE",
    IN_OPEN: "OPEN",
    IN_MOVED_FROM: "MOVED_FROM",
    IN_MOVED_TO: "MOVED_TO",
    IN_DELETE: "DELETE",
    IN_CREATE: "CREATE",
    IN_DELETE_SELF: "DELETE_SELF",
    IN_MOVE_SELF: "MOVE_SELF",
    IN_UNMOUNT: "UNMOUNT",
}
_CLASSIC_SWITCH = IN_ALL_EVENTS | IN_UNMOUNT | IN_Q_OVERFLOW | IN_IGNORED


class ClassicPrinter:
    """The output of the sample program ``inotify_test`` (IBM developerWorks, the
    seed article), line for line.

    It keeps the program's one piece of state, the number of watched items, which
    each IGNORED decrements; the program ends when it reaches zero. Names print
    as C's ``%s`` does: ``(null)`` when the event has none.
    """

    def __init__(self) -> None:
        self.watched_items = 0

    def watching(self, path: str, wd: int) -> list[str]:
        """``Watching dir1/ WD=1`` and the new count, after a successful add."""
        self.watched_items += 1
        return [f"Watching {path} WD={wd}", f"Watching = {self.watched_items} items"]

    def batch(self, events: list[RawEvent]) -> list[str]:
        """The lines of one read: a blank line, ``N events queued``, each event."""
        lines = ["", f"{len(events)} events queued"]
        for ev in events:
            lines.extend(self.event(ev))
        return lines

    def event(self, ev: RawEvent) -> list[str]:
        """The lines ``handle_event`` prints for one event."""
        name = os.fsdecode(ev.name) if ev.name else "(null)"
        kind = "Dir" if ev.mask & IN_ISDIR else "File"
        what = ev.mask & _CLASSIC_SWITCH
        lines: list[str]
        if what in (IN_MOVED_FROM, IN_MOVED_TO):
            label = _CLASSIC_NAMES[what]
            lines = [f'{label}: {kind} "{name}" on WD #{ev.wd}. Cookie={_int32(ev.cookie)}']
        elif what in _CLASSIC_NAMES:
            lines = [f'{_CLASSIC_NAMES[what]}: {kind} "{name}" on WD #{ev.wd}']
        elif what == IN_IGNORED:
            self.watched_items -= 1
            lines = [f"IGNORED: WD #{ev.wd}", f"Watching = {self.watched_items} items"]
        elif what == IN_Q_OVERFLOW:
            lines = ["Warning: AN OVERFLOW EVENT OCCURRED: "]
        else:
            lines = [f'UNKNOWN EVENT "{ev.mask:X}" OCCURRED for file "{name}" on WD #{ev.wd}']
        # The program reports any flag bit other than IN_ISDIR with the whole mask.
        if ev.mask & ~_CLASSIC_SWITCH & ~IN_ISDIR:
            lines.append(f"Flags={ev.mask:X}")
        return lines


def _int32(cookie: int) -> int:
    """The cookie as C's ``%d`` prints a ``uint32_t`` stored in an ``int``."""
    return cookie - (1 << 32) if cookie & 0x80000000 else cookie
