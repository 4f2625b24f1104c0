"""The pyinotify layer's own memory per watch on a recursively watched tree
(issue 15): what a WatchManager.add_watch holds and peaks at beyond the
Watcher's own add of the same tree, measured with tracemalloc in this process.

The bound is the one that matters: a structure with an entry per wd (a dict
slot and, past 256, an int object of its own) costs far more than it, which
the test measures too (so the bound is known to catch one). What the layer
may keep per watch is its Group's (a reference to the walk's path, a state
byte); at the peak, nothing else (the return dict's tree entries are made when
it is read)."""

from __future__ import annotations

import gc
import os
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from inwatch import Watcher
from inwatch import pyinotify as ours

N = 3000  # directories below the root
BOUND = 25  # bytes a watch, the layer's own (kept, and at the call's peak)
MASK = ours.ALL_EVENTS & ~(ours.IN_OPEN | ours.IN_ACCESS | ours.IN_CLOSE_NOWRITE)


def _make(root: Path) -> None:
    # 10 + 100 + 1000 + ... : a balanced tree of fan-out 10, N directories.
    level = [root]
    made = 0
    while made < N:
        below = []
        for parent in level:
            for i in range(10):
                if made == N:
                    break
                d = parent / f"d{i}"
                os.mkdir(d)
                below.append(d)
                made += 1
        level = below


def _traced(build: Callable[[], Any]) -> tuple[Any, int, int]:
    """*build()*'s result, and the bytes it left allocated and at its peak."""
    gc.collect()
    tracemalloc.start()
    try:
        start = tracemalloc.get_traced_memory()[0]
        made = build()
        kept, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return made, kept - start, peak - start


@pytest.mark.parametrize("auto_add", [False, True])
def test_layer_keeps_no_entry_per_watch(tmp_path: Path, auto_add: bool) -> None:
    _make(tmp_path)
    n = N + 1

    def native() -> Watcher:
        w = Watcher(backend="inotify")
        w.add(str(tmp_path), MASK | (ours.IN_CREATE if auto_add else 0), recursive=True)
        return w

    def layer() -> Any:
        wm = ours.WatchManager()
        wm.add_watch(str(tmp_path), MASK, rec=True, auto_add=auto_add)  # (its dict dropped)
        return wm

    def per_wd(wds: range) -> Callable[[], Any]:
        return lambda: {wd: None for wd in wds}

    watcher, w_kept, w_peak = _traced(native)
    watcher.close()
    wm, kept, peak = _traced(layer)
    try:
        table = wm._watcher.watches
        assert len(table) == n  # (the same tree, watched the same)
        wds = range(max(table) + 1000, max(table) + 1000 + n)  # (ints of their own)
        entries, entry_kept, _ = _traced(per_wd(wds))
        assert len(entries) == n
        per_entry = entry_kept / n
        extra_kept, extra_peak = (kept - w_kept) / n, (peak - w_peak) / n
        report = f"layer: {extra_kept:.1f} B/watch kept, {extra_peak:.1f} at the peak; "
        report += f"one dict entry per wd: {per_entry:.1f}"
        assert per_entry > 2 * BOUND, report  # the bound catches an entry per wd
        assert extra_kept <= BOUND, report
        assert extra_peak <= BOUND, report
        # and nothing was skipped to get there: every directory is held
        assert len(wm._wmd) + wm._groups.live == n and len(wm._wmd) == 1
    finally:
        wm.close()
