"""Setting up a recursive watch on the real kernel: the shape of the table it
leaves (wds in os.walk's order; the subdirectories of a directory whose
subdirectories have none are one run of wds from the directory's wd + 1, kept
as its count) and the quiet
walk (our own listings are not reported, every watch has the full mask
afterwards)."""

from __future__ import annotations

import os
import time
from pathlib import Path

from inwatch import Watcher
from inwatch.flags import IN_ACCESS, IN_ALL_EVENTS, IN_CLOSE_NOWRITE, IN_OPEN


def _tree(top: Path, fanout: int, depth: int) -> set[str]:
    made = {str(top)}
    level = [top]
    for _ in range(depth):
        nxt = []
        for parent in level:
            for i in range(fanout):
                d = parent / f"d{i}"
                d.mkdir()
                (parent / f"f{i}").touch()
                made.add(str(d))
                nxt.append(d)
        level = nxt
    return made


def test_set_up_table_is_in_walk_order_with_runs_and_the_walk_is_quiet(tmp_path: Path) -> None:
    top = tmp_path / "t"
    top.mkdir()
    dirs = _tree(top, fanout=4, depth=3)
    walked = [d for d, _, _ in os.walk(top)]  # before the watch: listing is reported
    with Watcher() as w:  # the default mask has OPEN/ACCESS/CLOSE_NOWRITE: quiet walk, then widen
        w.add(top, recursive=True)
        table = w._core.table  # type: ignore[attr-defined]
        assert set(table.paths.values()) == dirs
        parents = {p for p in dirs if any(os.path.dirname(q) == p for q in dirs)}
        assert {table.paths[wd] for wd in table.children} == parents
        assert [table.paths[wd] for wd in sorted(table.paths)] == walked
        # The kernel's wds are one dense run: every path sits in the list
        # indexed by wd (wdmap.py), none in its dict.
        assert table.paths.spill == {}
        assert sum(p is not None for p in table.paths.dense) == len(dirs)
        for wd in table.children:
            kids = [table.paths[k] for k in table.kids(wd)]
            assert sorted(kids) == sorted(p for p in dirs if os.path.dirname(p) == table.paths[wd])
            leaves = all(k not in parents for k in kids)
            assert isinstance(table.children[wd], int) == leaves, table.paths[wd]
            if leaves:  # watched right after their parent's listing: its wd + 1 on
                assert table.children[wd] == len(kids), table.paths[wd]
        assert w.read(timeout=0.2) == [], "our own listing was reported"
        leaf = str(top / "d3" / "d3" / "d3")
        os.listdir(leaf)  # widened: the leaf's own watch reports reading it
        want = {IN_OPEN, IN_ACCESS, IN_CLOSE_NOWRITE}
        got: set[int] = set()
        deadline = time.monotonic() + 5
        while not want <= got and time.monotonic() < deadline:
            for ev in w.read(timeout=0.1):
                if ev.path == leaf and not ev.name:
                    got |= {bit for bit in want if ev.mask & bit}
        assert want <= got, f"missing on the widened leaf watch: {want - got}"


class _CountingPort:
    """The real port, with its add_watch calls counted (the kernel still does them)."""

    def __init__(self, port: object) -> None:
        self._port = port
        self.add_watch_calls = 0

    def add_watch(self, path: str, mask: int) -> int:
        self.add_watch_calls += 1
        return self._port.add_watch(path, mask)  # type: ignore[attr-defined, no-any-return]

    def __getattr__(self, name: str) -> object:
        return getattr(self._port, name)


def test_a_mask_without_the_listing_bits_is_set_up_in_one_pass(tmp_path: Path) -> None:
    """Listing a directory is reported only as OPEN, ACCESS and CLOSE_NOWRITE:
    without those bits the walk watches each directory once, with its final
    mask, and widens nothing; with them, twice (quiet, then widened)."""
    top = tmp_path / "t"
    top.mkdir()
    dirs = _tree(top, fanout=3, depth=3)
    listing = IN_OPEN | IN_ACCESS | IN_CLOSE_NOWRITE
    for mask, calls in ((IN_ALL_EVENTS & ~listing, len(dirs)), (IN_ALL_EVENTS, 2 * len(dirs))):
        with Watcher() as w:
            core = w._core  # type: ignore[attr-defined]
            port = core.port = _CountingPort(core.port)
            w.add(top, mask, recursive=True)
            assert port.add_watch_calls == calls, hex(mask)
            assert set(core.table.paths.values()) == dirs
            assert w.read(timeout=0.1) == [], "our own listing was reported"
            leaf = top / "d2" / "d2" / "d2"
            (leaf / "new").touch()
            deadline = time.monotonic() + 5
            seen = False
            while not seen and time.monotonic() < deadline:
                seen = any(ev.pathname == str(leaf / "new") for ev in w.read(timeout=0.1))
            assert seen, f"the new file was not reported ({mask:#x})"


def test_directories_made_and_deleted_over_and_over_do_not_grow_the_path_list(
    tmp_path: Path,
) -> None:
    """wds only grow (idr_alloc_cyclic): a watcher whose directories come and go
    must not keep a list slot for each one it ever saw."""
    top = tmp_path / "t"
    top.mkdir()
    dirs = _tree(top, fanout=3, depth=2)
    with Watcher() as w:
        w.add(top, recursive=True)
        table = w._core.table  # type: ignore[attr-defined]
        for i in range(300):
            d = top / f"churn{i}"
            d.mkdir()
            deadline = time.monotonic() + 5
            while str(d) not in table.paths.values() and time.monotonic() < deadline:
                w.read(timeout=0.05)
            assert str(d) in table.paths.values(), f"{d} never watched"
            d.rmdir()
            while str(d) in table.paths.values() and time.monotonic() < deadline:
                w.read(timeout=0.05)
            assert str(d) not in table.paths.values(), f"{d} never forgotten"
        assert set(table.paths.values()) == dirs
        assert len(table.paths.dense) <= 2 * (len(dirs) + 1)
