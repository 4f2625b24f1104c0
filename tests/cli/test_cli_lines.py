"""The batch renderers (cli/lines.py) against the line functions (cli/format.py).

The renderers exist for speed only: for any events, split into batches anywhere,
their text must be byte for byte the line functions' output, newline-ended. The
events here come from the real kernel (a tree with awkward names, renamed and
written) and from the Event constructor (what a kernel rarely sends: a queue
overflow, an actor, a scan's finding, bytes).
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from inwatch import Event, Watcher
from inwatch.cli.format import csv_line, format_event, human_line, json_line
from inwatch.cli.lines import csv_renderer, format_renderer, human_renderer, json_renderer
from inwatch.event import Actor
from inwatch.flags import Mask

NAMES = [
    "plain",
    'quo"te',
    "back\\slash",
    "tab\tnl\n",
    "cr\rlf",
    "com,ma",
    "\x7fdel",
    "\x9bcsi",
    "\x1b]0;title\x07",
    "caf\u00e9 \u00a0nbsp",
    "\u2028sep",
    "{brace}",
    "%w%e",
    os.fsdecode(b"bad\xff\xfe"),
]
NOW = 1_764_000_000.25
FORMATS = ["%w%f %e", "%T %w%f %:e %c%%", "{%w}{%f}%0%n%x%", "%p%u%C|%Xe|%e", "%"]
FILE_ROOTS = frozenset({"/w/file"})


def _reference_human(events: Sequence[Any], now: float) -> str:
    """What watch wrote before the batch renderer: human_line per event, one of
    a parent's and a directory's own identical report dropped."""
    out: list[str] = []
    last = None
    for ev in events:
        key = (ev.mask, ev.pathname, bool(ev.name))
        if last is not None and key[:2] == last[:2] and key[2] != last[2]:
            last = None
            continue
        last = key
        out.append(human_line(ev, ev.time or now) + "\n")
    return "".join(out)


def _modes() -> list[tuple[str, Callable[[], Any], Callable[[Sequence[Any], float], str]]]:
    modes: list[tuple[str, Callable[[], Any], Callable[[Sequence[Any], float], str]]] = [
        (
            "json",
            json_renderer,
            lambda evs, now: "".join(json_line(e, e.time or now) + "\n" for e in evs),
        ),
        ("human", human_renderer, _reference_human),
    ]
    for timefmt in (None, "%H:%M,%S", ""):
        modes.append(
            (
                f"csv {timefmt!r}",
                lambda tf=timefmt: csv_renderer(tf, FILE_ROOTS),
                lambda evs, now, tf=timefmt: "".join(
                    csv_line(e, e.time or now, tf, FILE_ROOTS) + "\n" for e in evs
                ),
            )
        )
    for fmt in FORMATS:
        for end in ("\n", ""):
            modes.append(
                (
                    f"format {fmt!r}{end!r}",
                    lambda f=fmt, e=end: format_renderer(f, "%M:%S %f", FILE_ROOTS, e),
                    lambda evs, now, f=fmt, e=end: "".join(
                        format_event(f, ev, ev.time or now, "%M:%S %f", FILE_ROOTS) + e
                        for ev in evs
                    ),
                )
            )
    return modes


def _check_all(events: list[Any], seed: int) -> None:
    rng = random.Random(seed)
    for label, make, reference in _modes():
        want = reference(events, NOW)
        assert want, label
        render = make()
        got: list[str] = []
        i = 0
        while i < len(events):  # batches of random sizes, one renderer throughout
            n = rng.choice([1, 2, 3, 7, 64, 500])
            got.append(render(events[i : i + n], NOW))
            i += n
        assert "".join(got) == want, label
        assert make()(events, NOW) == want, label  # one batch


def _constructed() -> list[Any]:
    """Events the kernel rarely or never sends, mixed with plain ones."""
    who = Actor(4242, 0, 0, "touch", "/usr/bin/touch", "ok")
    create, isdir = int(Mask.CREATE), int(Mask.ISDIR)
    evs: list[Any] = []
    for i, name in enumerate(NAMES):
        t = 1_700_000_000.0 + i // 3  # runs of events sharing their time
        for path in ("/w", "/w/", "/", 'd"ir\x01', "/w/file"):
            evs.append(Event(1, create, 0, name, path, time=t))
            evs.append(Event(2, int(Mask.CLOSE_WRITE), 0, name, path, time=t))
            evs.append(Event(3, create | isdir, 0, name, path, origin="scan", time=t))
        evs.append(Event(4, int(Mask.OPEN | Mask.ISDIR), 0, name, "/w", time=t))
        evs.append(Event(5, int(Mask.OPEN | Mask.ISDIR), 0, "", f"/w/{name}", time=t))
        evs.append(Event(6, int(Mask.MOVED_FROM), 9, name, "/w", time=t))
        evs.append(Event(6, int(Mask.MOVED_TO), 9, name, "/x", src_pathname=f"/w/{name}"))
        evs.append(Event(7, int(Mask.MODIFY), 0, name, "/w", actor=who, time=t))
        evs.append(Event(8, int(Mask.ATTRIB), 0, name, "/w", time=0.0))  # no time: now
        evs.append(Event(9, create, 0, os.fsencode(name), b"/w", time=t))
    evs.append(Event(-1, int(Mask.Q_OVERFLOW), 0, "", ""))
    evs.append(Event(1, create | 0x40000000 | 0x8000000, 0, "odd-bits", "/w"))
    return evs


def test_renderers_equal_line_functions_on_constructed_events() -> None:
    _check_all(_constructed(), seed=1)


def _kernel_events(root: Path) -> list[Any]:
    """A real tree's events: awkward names created, written, renamed, deleted,
    a subdirectory's own reports (the human line's duplicates)."""
    (root / "sub").mkdir()
    with Watcher() as w:
        w.add(str(root), recursive=True)
        for i, name in enumerate(NAMES):
            f = root / "sub" / name if i % 2 else root / name
            f.write_bytes(b"x")
            os.listdir(root / "sub")  # OPEN/CLOSE_NOWRITE, reported by two watches
            f.rename(f.with_name(name + ".new"))
            f.with_name(name + ".new").unlink()
        (root / "sub" / "d").mkdir()
        (root / "sub" / "d").rmdir()
        events: list[Any] = []
        while True:
            got = w.read(timeout=1.0)  # ends after a quiet second (the kernel is done)
            if not got:
                break
            events.extend(got)
    return events


def test_renderers_equal_line_functions_on_kernel_events(tmp_path: Path) -> None:
    events = _kernel_events(tmp_path)
    masks = {ev.mask for ev in events}
    for bit in (Mask.CREATE, Mask.CLOSE_WRITE, Mask.MOVED_TO, Mask.DELETE):
        assert any(m & bit for m in masks), bit
    assert any(ev.src_pathname is not None for ev in events)  # a paired move
    assert len(events) > 8 * len(NAMES)
    _check_all(events, seed=2)


@pytest.mark.parametrize("seed", range(3))
def test_renderers_on_shuffled_mixtures(tmp_path: Path, seed: int) -> None:
    events = _constructed()
    random.Random(seed).shuffle(events)
    _check_all(events, seed=seed)
