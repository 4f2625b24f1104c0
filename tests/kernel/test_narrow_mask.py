"""A root whose mask is its only filter (Root.narrow) on the real kernel: its
events take the dispatcher's hot path, filtered by one AND, and must be the
very events the one-at-a-time path (_slow, emit_one, Root.passes) delivers.
Two Watchers on one tree, one of them with that shortcut turned off, see the
same stream; both accelerator modes run this (INWATCH_ACCEL, .ci/run)."""

from __future__ import annotations

import os
import time
from pathlib import Path

from inwatch import Event, Watcher
from inwatch.flags import (
    IN_ATTRIB,
    IN_CLOSE_WRITE,
    IN_CREATE,
    IN_DELETE,
    IN_ISDIR,
    IN_MODIFY,
    IN_MOVED_TO,
)

MASK = IN_CREATE | IN_CLOSE_WRITE | IN_MOVED_TO  # no DELETE, MODIFY, ATTRIB
END = "zz-end"


def _drain(w: Watcher, until: str, timeout: float = 10.0) -> list[Event[str]]:
    got: list[Event[str]] = []
    deadline = time.monotonic() + timeout
    while not any(ev.name == until for ev in got):
        left = deadline - time.monotonic()
        assert left > 0, f"no {until} within {timeout} s: {[(e.maskname, e.pathname) for e in got]}"
        got.extend(w.read(timeout=left))
    return got


def _work(top: Path) -> None:
    for d in (top, top / "sub"):
        for i in range(40):
            f = d / f"f{i}"
            f.write_text("x")  # CREATE, MODIFY, CLOSE_WRITE
            os.chmod(f, 0o600)  # ATTRIB
            if i % 3 == 0:
                os.rename(f, d / f"r{i}")  # MOVED_FROM, MOVED_TO
            elif i % 3 == 1:
                f.unlink()  # DELETE
    (top / "sub" / "deeper").mkdir()
    (top / "sub" / "deeper" / "g").write_text("y")
    (top / END).touch()


def _seen(events: list[Event[str]]) -> list[tuple[int, str, str | None, str]]:
    return [(ev.mask, ev.pathname, ev.src_pathname, ev.origin) for ev in events]


def test_a_mask_only_root_delivers_what_the_one_at_a_time_path_delivers(tmp_path: Path) -> None:
    top = tmp_path / "t"
    top.mkdir()
    with Watcher() as hot, Watcher() as reference:
        hot.add(top, mask=MASK, recursive=True)
        ref_wd = reference.add(top, mask=MASK, recursive=True)
        root = reference._core.roots[ref_wd]  # type: ignore[attr-defined]
        assert hot._core.roots[hot.wd_of(str(top))].narrow  # type: ignore[attr-defined]
        root.narrow = 0  # every event of this root through emit_one
        # sub is watched once its CREATE is read: what is made in it from
        # then on is reported by the kernel, not found by a listing.
        (top / "sub").mkdir()
        got = _drain(hot, "sub")
        want = _drain(reference, "sub")
        _work(top)
        got += _drain(hot, END)
        want += _drain(reference, END)
    assert _seen(got) == _seen(want)
    masks = {ev.mask & ~IN_ISDIR for ev in got}
    assert masks <= {IN_CREATE, IN_CLOSE_WRITE, IN_MOVED_TO}
    assert not any(ev.mask & (IN_DELETE | IN_MODIFY | IN_ATTRIB) for ev in got)
    paths = {(ev.mask, ev.pathname) for ev in got}
    for d in (top, top / "sub"):
        for i in range(40):
            assert (IN_CREATE, str(d / f"f{i}")) in paths
            assert (IN_CLOSE_WRITE, str(d / f"f{i}")) in paths
            if i % 3 == 0:
                assert (IN_MOVED_TO, str(d / f"r{i}")) in paths
    # The baseline is kept while DELETE is not asked for: the tree's new
    # directory and its file are reported (created after its watch, or listed).
    assert str(top / "sub" / "deeper" / "g") in {ev.pathname for ev in got}
