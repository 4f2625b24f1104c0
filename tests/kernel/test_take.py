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


def _fail_first_slow(core: InotifyCore) -> list[int]:
    """The core's first ``_slow`` call raises (after the records before it were
    dispatched); later ones run as usual. What it counts: the calls."""
    calls: list[int] = []
    slow = core._slow

    def failing(*args: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("injected")
        return slow(*args)

    core._slow = failing  # type: ignore[method-assign]
    return calls


def test_take_failing_in_a_callback_leaves_the_read_as_process_does(tmp_path: Path) -> None:
    # The C take publishes a read's state on the core only when Python first
    # needs it (here: _slow for the new directory, after plain MODIFYs). When
    # that callback raises, the rest of the read must stay buffered, exactly
    # where read_raw() + process() leave it, and come out on the next turns.
    root = str(tmp_path)
    for i in range(3):
        Path(f"{root}/f{i}").write_text("x")
    a, b = _core(root), _core(root)
    calls = [_fail_first_slow(a), _fail_first_slow(b)]
    try:
        for i in range(3):
            with open(f"{root}/f{i}", "a") as f:  # MODIFY, CLOSE_WRITE: the plain path
                f.write("y")
        os.mkdir(f"{root}/new")  # CREATE|ISDIR: _slow, which raises once
        Path(f"{root}/g").write_text("z")  # after it, in the same read
        polls = []
        for core in (a, b):
            polls.append(select.poll())
            polls[-1].register(core.kernel_fd(), select.POLLIN)
        failures = []
        for core, poller, with_take in ((a, polls[0], False), (b, polls[1], True)):
            try:
                _step(core, poller, with_take)
            except RuntimeError as e:
                failures.append(str(e))
        assert failures == ["injected", "injected"]
        # What is left is buffered alike, and drains alike.
        assert b.backlog == a.backlog > 0
        seen = _lockstep(a, b)
    finally:
        a.close()
        b.close()
    assert calls[0] and calls[1]
    names = [k[4] for k in seen]
    # The directory's CREATE went down with the failure; what followed it in
    # the read did not.
    assert f"{root}/g" in names and f"{root}/new" not in names
