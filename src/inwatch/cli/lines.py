"""Many events to one text: the output modes of ``watch``, a batch at a time.

:mod:`~inwatch.cli.format` says what each line is (one function per mode, one
event at a time); this module writes exactly the same bytes faster, because in a
storm it runs 400,000 times a second. Each renderer is called with a list of
events and the time of the read, and returns the text of all their lines (each
ending as the mode says), built as one list and joined once.

Where the time goes, and what is done about it (measured on 80,000-event storms,
see ``bench/cli_storm.py``):

- Per-event function calls and attribute lookups: one loop per batch with the
  caches bound to locals, one f-string per line.
- What repeats is computed once: everything of a JSON line before the name
  depends only on (wd, mask, path), the event names only on the mask, the time
  stamp only on the read (the events of one read share their time), ``%w`` only
  on the path.
- Escaping: a name needs none in the common case, which a few C-level string
  checks prove (``str.isprintable`` is false for every C0 and C1 control, DEL
  and lone surrogate: the characters :func:`~inwatch.cli.format.printable` and
  the JSON escaper change); only otherwise is the escaping function called.
- Everything unusual (a paired move, an actor, an event found by a scan, a queue
  overflow, bytes) takes the line function of :mod:`~inwatch.cli.format` itself.

The fast paths rely on :class:`~inwatch.Event`'s invariant that ``pathname`` is
``path`` joined with ``name`` (by a ``/`` unless ``path`` ends with one); an
event whose lengths say otherwise takes the line function. ``tests/cli``
compares every renderer with the line functions on the same events.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ..flags import IN_ISDIR, IN_Q_OVERFLOW
from .format import (
    DEFAULT_TIMEFMT,
    _events_json,
    _jstr,
    _padded_names,
    _stamp,
    csv_line,
    format_event,
    human_line,
    inotifywait_names,
    json_line,
    printable,
    strftime,
)

__all__ = ["Renderer", "csv_renderer", "format_renderer", "human_renderer", "json_renderer"]

#: events, the time of their read -> their lines (each with its line end)
Renderer = Callable[[Sequence[Any], float], str]

_CACHE_MAX = 8192  # entries per cache: a storm's paths; cleared when full


def _dir_prefix(path: str) -> str:
    """What comes before a name in the pathname (``Event``'s join)."""
    return path if path.endswith("/") else path + "/"


# --- JSON -----------------------------------------------------------------------


_KERNEL_TAIL = ', "synthetic": false, "origin": "kernel", "actor": null, "time": '


def json_renderer() -> Renderer:
    """``--json``: :func:`~inwatch.cli.format.json_line` of each event, newline-ended."""
    # (wd, mask, path) -> (text through '"name": ', JSON-escaped pathname prefix,
    # its length in the pathname, the whole "pathname" value when name is empty)
    heads: dict[tuple[int, int, str], tuple[str, str, int, str]] = {}
    last: list[Any] = [None, ""]  # the time of the last read, its line tail

    def head(wd: int, mask: int, path: str) -> tuple[str, str, int, str]:
        if len(heads) >= _CACHE_MAX:
            heads.clear()
        events = _events_json(mask)
        prefix = _dir_prefix(path)
        text = (
            f'{{"wd": {wd}, "mask": {mask}, "events": {events}, "cookie": 0, '
            f'"dir": {"true" if mask & IN_ISDIR else "false"}, "path": {_jstr(path)}, "name": '
        )
        entry = (text, _jstr(prefix)[1:-1], len(prefix), _jstr(path))
        heads[(wd, mask, path)] = entry
        return entry

    def render(events: Sequence[Any], now: float) -> str:
        out: list[str] = []
        append = out.append
        get = heads.get
        t_last, tail = last
        for ev in events:
            mask = ev.mask
            path = ev.path
            if (
                ev.cookie
                or mask & IN_Q_OVERFLOW
                or ev.actor is not None
                or ev.origin != "kernel"
                or ev.src_pathname is not None
                or type(path) is not str
            ):
                append(json_line(ev, ev.time or now) + "\n")
                continue
            t = ev.time or now
            if t != t_last:
                t_last = t
                tail = f"{_KERNEL_TAIL}{float(t)!r}}}\n"
            wd = ev.wd
            h = get((wd, mask, path))
            if h is None:
                h = head(wd, mask, path)
            name = ev.name
            if not name:
                if ev.pathname == path:
                    append(f'{h[0]}"", "pathname": {h[3]}{tail}')
                else:
                    append(json_line(ev, t) + "\n")
                continue
            if len(ev.pathname) != h[2] + len(name):
                append(json_line(ev, t) + "\n")
                continue
            if name.isprintable() and '"' not in name and "\\" not in name:
                append(f'{h[0]}"{name}", "pathname": "{h[1]}{name}"{tail}')
            else:
                q = _jstr(name)
                append(f'{h[0]}{q}, "pathname": "{h[1]}{q[1:]}{tail}')
        last[0], last[1] = t_last, tail
        return "".join(out)

    return render


# --- the default human line ---------------------------------------------------------


def human_renderer() -> Renderer:
    """The default line, :func:`~inwatch.cli.format.human_line`, newline-ended.

    With ``-r``, an open/read/close/attrib of a watched subdirectory is reported
    twice, back to back: by the parent's watch (with the name) and by the
    directory's own watch (without). On the human line they would be two
    identical lines: one is shown. (``--json`` keeps both, each with its wd;
    ``--format`` and ``--csv`` print both, as inotifywait does.)
    """
    prev: list[Any] = [None, None, False]  # mask, pathname, named: across batches

    def render(events: Sequence[Any], now: float) -> str:
        out: list[str] = []
        append = out.append
        last_mask, last_path, last_named = prev
        t_last = None
        stamp = ""
        for ev in events:
            mask = ev.mask
            pathname = ev.pathname
            named = bool(ev.name)
            if mask == last_mask and pathname == last_path and named != last_named:
                last_mask = None
                continue
            last_mask, last_path, last_named = mask, pathname, named
            t = ev.time or now
            if (
                mask & IN_Q_OVERFLOW
                or ev.actor is not None
                or ev.origin != "kernel"
                or ev.src_pathname is not None
                or type(pathname) is not str
            ):
                append(human_line(ev, t) + "\n")
                continue
            if t != t_last:
                t_last = t
                stamp = _stamp(t)
            if not pathname.isprintable():
                pathname = printable(pathname)
            append(f"{stamp} {_padded_names(mask)} {pathname}\n")
        prev[:] = [last_mask, last_path, last_named]
        return "".join(out)

    return render


# --- inotifywait --format ------------------------------------------------------------


def _compile_format(fmt: str) -> list[tuple[str, str]]:
    """*fmt* as (kind, text) pieces, as :func:`format_event` reads it: kind ``""``
    for literal text, else the conversion letter (``"e"`` with its separator)."""
    pieces: list[tuple[str, str]] = []
    i, n = 0, len(fmt)
    while i < n:
        c = fmt[i]
        if c != "%" or i + 1 >= n:
            pieces.append(("", c))
            i += 1
            continue
        k = fmt[i + 1]
        if k in "wfeTcpuC":
            pieces.append((k, "," if k == "e" else ""))
        elif k == "0":
            pieces.append(("", "\0"))
        elif k == "n":
            pieces.append(("", "\n"))
        elif k == "%":
            pieces.append(("", "%"))
        elif i + 2 < n and fmt[i + 2] == "e":
            pieces.append(("e", k))
            i += 3
            continue
        else:
            pieces.append(("", "%" + k))
        i += 2
    merged: list[tuple[str, str]] = []
    for kind, text in pieces:
        if kind == "" and merged and merged[-1][0] == "":
            merged[-1] = ("", merged[-1][1] + text)
        else:
            merged.append((kind, text))
    return merged


def format_renderer(
    fmt: str, timefmt: str | None, file_roots: frozenset[str], end: str
) -> Renderer:
    """``--format FMT``: :func:`~inwatch.cli.format.format_event` + *end* per event.

    The format is read once, into a :meth:`str.format` template whose fields are
    numbered: 0 ``%w``, 1 ``%f``, 2 ``%c``, 3 ``%T``, 4 the actor's fields (empty
    on this path: events with an actor take the line function), 5... ``%e`` with
    each separator used. Each line is then one ``format`` call.
    """
    pieces = _compile_format(fmt)
    seps: list[str] = []
    template: list[str] = []
    for kind, text in pieces:
        if kind == "":
            template.append(text.replace("{", "{{").replace("}", "}}"))
        elif kind == "e":
            if text not in seps:
                seps.append(text)
            template.append(f"{{{5 + seps.index(text)}}}")
        else:
            template.append(f"{{{'wfcT'.index(kind) if kind in 'wfcT' else 4}}}")
    fill = ("".join(template) + end.replace("{", "{{").replace("}", "}}")).format
    timed = any(kind == "T" for kind, _ in pieces)
    cookie = any(kind == "c" for kind, _ in pieces)
    tfmt = timefmt or DEFAULT_TIMEFMT
    watched: dict[str, str] = {}
    names: dict[int, tuple[str, ...]] = {}

    def slow(path: str, mask: int) -> tuple[str, tuple[str, ...]]:
        if len(watched) >= _CACHE_MAX:
            watched.clear()
        w = watched[path] = path if path in file_roots or path.endswith("/") else path + "/"
        found = names.get(mask)
        if found is None:
            if len(names) >= _CACHE_MAX:
                names.clear()
            found = names[mask] = tuple(sep.join(inotifywait_names(mask)) for sep in seps)
        return w, found

    def render(events: Sequence[Any], now: float) -> str:
        out: list[str] = []
        append = out.append
        t_last = None
        stamp = ""
        for ev in events:
            t = ev.time or now
            mask = ev.mask
            path = ev.path
            if mask & IN_Q_OVERFLOW or ev.actor is not None or type(path) is not str:
                append(format_event(fmt, ev, t, timefmt, file_roots) + end)
                continue
            if timed and t != t_last:
                t_last = t
                stamp = strftime(t, tfmt)
            w = watched.get(path)
            e = names.get(mask)
            if w is None or e is None:
                w, e = slow(path, mask)
            append(fill(w, ev.name, str(ev.cookie) if cookie else "", stamp, "", *e))
        return "".join(out)

    return render


# --- CSV -------------------------------------------------------------------------------


def _csv_field(text: str) -> str:
    """One field as the csv module quotes it (minimal: a comma, a quote, CR or LF)."""
    if "," in text or '"' in text or "\r" in text or "\n" in text:
        return '"' + text.replace('"', '""') + '"'
    return text


def csv_renderer(timefmt: str | None, file_roots: frozenset[str]) -> Renderer:
    """``--csv``: :func:`~inwatch.cli.format.csv_line` of each event, newline-ended."""
    # (path, mask) -> 'watched,EVENTS,' quoted as needed
    heads: dict[tuple[str, int], str] = {}

    def head(path: str, mask: int) -> str:
        if len(heads) >= _CACHE_MAX:
            heads.clear()
        w = path if path in file_roots or path.endswith("/") else path + "/"
        text = heads[(path, mask)] = (
            f"{_csv_field(w)},{_csv_field(','.join(inotifywait_names(mask)))},"
        )
        return text

    def render(events: Sequence[Any], now: float) -> str:
        out: list[str] = []
        append = out.append
        get = heads.get
        t_last = None
        stamp = ""
        for ev in events:
            mask = ev.mask
            path = ev.path
            if mask & IN_Q_OVERFLOW or type(path) is not str:
                append(csv_line(ev, ev.time or now, timefmt, file_roots) + "\n")
                continue
            h = get((path, mask))
            if h is None:
                h = head(path, mask)
            name = ev.name
            if not (name.isprintable() and "," not in name and '"' not in name):
                name = _csv_field(name)
            if timefmt is None:
                append(f"{h}{name}\n")
                continue
            t = ev.time or now
            if t != t_last:
                t_last = t
                stamp = _csv_field(strftime(t, timefmt)) + ","
            append(f"{stamp}{h}{name}\n")
        return "".join(out)

    return render
