"""``InotifyCore.take()`` (the blocking driver's latency path) gives what
``read_raw()`` then ``process()`` give, on the real kernel.

Two cores watch the same tree; the operations are all done before either
reads, so both find the same queue, and their processing (listings of the
new directories included) sees the same tree. One drains with the two calls,
the other with ``take()``, turn by turn: each turn must hand out the same
events and leave the same state (what is buffered, whether something is due).
"""

from __future__ import annotations

import os
import select
import time
from pathlib import Path
from typing import Any

from inwatch import Event, Mask
from inwatch.inotify.core import InotifyCore

# Not OPEN, ACCESS, CLOSE_NOWRITE: each core's listings would be events of the other.
_MASK = Mask.ALL_EVENTS & ~(Mask.OPEN | Mask.ACCESS | Mask.CLOSE_NOWRITE)


def _core(root: str) -> InotifyCore:
    core = InotifyCore()
    core.add_root(
        root,
        int(_MASK),
        recursive=True,
        exclude=None,
        follow_symlinks=False,
        auto_add=None,
        onerror=None,
        as_bytes=False,
    )
    return core


def _key(ev: Event[Any]) -> tuple[Any, ...]:
    return (ev.mask, ev.cookie, ev.name, ev.path, ev.pathname, ev.src_pathname, ev.origin)


def _step(core: InotifyCore, poller: select.poll, with_take: bool) -> list[tuple[Any, ...]]:
    """One turn of a poll-based driver: what it hands out."""
    if core.backlog or core.deadline() is not None:
        out = core.process()
    elif not poller.poll(200):
        return []
    elif with_take:
        out = core.take()
    else:
        core.read_raw()
        out = core.process()
    return [_key(ev) for ev in out]


def _lockstep(a: InotifyCore, b: InotifyCore) -> list[tuple[Any, ...]]:
    """Drain *a* with read_raw() + process() and *b* with take(), turn by turn:
    each turn must hand out the same events and leave the same state."""
    polls = []
    for core in (a, b):
        polls.append(select.poll())
        polls[-1].register(core.kernel_fd(), select.POLLIN)
    seen: list[tuple[Any, ...]] = []
    end = time.monotonic() + 10
    while time.monotonic() < end:
        plain = _step(a, polls[0], with_take=False)
        taken = _step(b, polls[1], with_take=True)
        assert taken == plain
        assert (b.backlog, b.deadline() is None) == (a.backlog, a.deadline() is None)
        assert a.quiet == (not a.backlog and a.deadline() is None)
        if not plain and not a.backlog and a.deadline() is None:
            return seen
        seen += plain
    raise AssertionError("the queue never went quiet")


def test_take_gives_what_read_raw_then_process_give(tmp_path: Path) -> None:
    root = str(tmp_path)
    os.mkdir(f"{root}/old")
    a, b = _core(root), _core(root)
    try:
        for i in range(5):
            Path(f"{root}/f{i}").write_text("x")  # CREATE, MODIFY, CLOSE_WRITE
        os.mkdir(f"{root}/new")
        Path(f"{root}/new/inside").write_text("y")  # before any listing: found by it
        os.rename(f"{root}/old", f"{root}/moved")  # a watched directory's rename
        os.rename(f"{root}/f0", f"{root}/new/f0")  # a file into the new directory
        os.unlink(f"{root}/f1")
        seen = _lockstep(a, b)
    finally:
        a.close()
        b.close()
    names = {k[4] for k in seen}
    # The test saw the kinds of event it is about: kernel ones, a rename pair,
    # and what the listing of the new directory found.
    assert f"{root}/moved" in names and f"{root}/new/inside" in names
    assert any(k[6] == "scan" for k in seen)


def test_take_on_a_closed_core_returns_nothing(tmp_path: Path) -> None:
    core = _core(str(tmp_path))
    Path(tmp_path, "f").touch()
    core.close()
    assert core.take() == []
