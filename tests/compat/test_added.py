"""add_watch's return value: a dict whose tree entries are filled in when first read
(issue 15, memory per watch). Whatever a program does with it, it must see what
pyinotify 0.9.6 returns. Pure tests on :class:`Added` given by hand, then real
trees against real pyinotify."""

from __future__ import annotations

import copy
import json
import os
import pickle
from pathlib import Path
from typing import Any

import pytest

from inwatch import pyinotify as ours
from inwatch.pyinotify.added import Added

MASK = ours.IN_CREATE | ours.IN_DELETE


def _made() -> Added:
    """{'/r': 1, tree /r/a, /r/b -> 2, 3, '/x': -2}, as _add_one builds it."""
    ret = Added()
    ret.put("/r", 1)
    ret.add_tree(["/r/a", "/r/b"], range(2, 4), False)
    ret.put("/x", -2, default=True)
    return ret


EXPECTED = {"/r": 1, "/r/a": 2, "/r/b": 3, "/x": -2}


@pytest.mark.parametrize(
    "read",
    [
        lambda r: list(r.items()),
        lambda r: list(r),
        lambda r: list(reversed(r)),
        lambda r: list(r.keys()),
        lambda r: list(r.values()),
        lambda r: len(r),
        lambda r: r["/r/b"],
        lambda r: r.get("/r/a"),
        lambda r: "/r/a" in r,
        lambda r: repr(r),
        lambda r: str(r),
        lambda r: json.dumps(r),
        lambda r: list(dict(r).items()),
        lambda r: list({**r}.items()),
        lambda r: list((r | {}).items()),
        lambda r: list(({} | r).items()),
        lambda r: list(r.copy().items()),
        lambda r: list(copy.copy(r).items()),
        lambda r: list(copy.deepcopy(r).items()),
        lambda r: list(pickle.loads(pickle.dumps(r)).items()),
        lambda r: sorted(r, key=r.__getitem__),
    ],
)
def test_every_read_sees_the_whole_dict_in_order(read: Any) -> None:
    assert read(_made()) == read(dict(EXPECTED))


def test_comparisons_and_changes() -> None:
    # (both sides: dict's own == reads the other's storage directly)
    assert EXPECTED == _made()  # noqa: SIM300
    assert _made() == EXPECTED and _made() == _made()
    assert not (_made() != EXPECTED)  # noqa: SIM202  (__ne__ itself)
    assert _made() != {"/r": 1}
    assert type(copy.copy(_made())) is dict and type(pickle.loads(pickle.dumps(_made()))) is dict
    r = _made()
    assert r.pop("/r/a") == 2 and list(r) == ["/r", "/r/b", "/x"]
    r = _made()
    r["/r/a"] = 9  # an entry of a tree changed before any read
    assert list(r.items()) == [("/r", 1), ("/r/a", 9), ("/r/b", 3), ("/x", -2)]
    r = _made()
    assert r.setdefault("/r/b", 7) == 3
    r = _made()
    del r["/r/b"]
    assert r == {"/r": 1, "/r/a": 2, "/x": -2}
    r = _made()
    r.update({"/y": 5})
    assert list(r)[-1] == "/y" and len(r) == 5
    r = _made()
    r |= {"/r": 0}
    assert r["/r"] == 0 and next(iter(r)) == "/r"
    r = _made()
    r.clear()
    assert r == {} and not r
    assert isinstance(_made(), dict)


def test_bytes_trees_and_two_calls() -> None:
    ret = Added()
    ret.put(b"/r", 1)
    ret.add_tree(["/r/\udcff"], range(2, 3), True)  # (a name not in UTF-8)
    ret.put("/s", 5)
    ret.add_tree(["/s/a", "/s/c"], [6, 8], False)  # (wds not one run)
    assert list(ret.items()) == [(b"/r", 1), (b"/r/\xff", 2), ("/s", 5), ("/s/a", 6), ("/s/c", 8)]


def _tree(root: Path) -> None:
    for sub in ("a/b/c", "a/d", "e", "f/g", "skip/h"):
        (root / sub).mkdir(parents=True)


@pytest.mark.parametrize("as_bytes", [False, True])
def test_same_as_pyinotify_on_a_real_tree(tmp_path: Path, as_bytes: bool) -> None:
    """The return dict of a recursive add_watch of two paths (the second
    inside the first's tree; as bytes too), item for item and in order, as pyinotify
    0.9.6's; read after the tree changed (the dict is what the call found)."""
    pyinotify = pytest.importorskip("pyinotify")
    _tree(tmp_path)
    top: Any = os.fsencode(str(tmp_path)) if as_bytes else str(tmp_path)
    second: Any = os.fsencode(str(tmp_path / "a")) if as_bytes else str(tmp_path / "a")
    got = []
    for mod in (pyinotify, ours):
        wm = mod.WatchManager()
        try:
            # (pyinotify 0.9.6 takes no bytes path: -3; ours decoded is its str)
            paths = [top, second] if mod is ours else [str(tmp_path), str(tmp_path / "a")]
            ret = wm.add_watch(paths, MASK, rec=True)
            os.rename(tmp_path / "e", tmp_path / "E")  # (read after a change)
            got.append([(os.fsdecode(p).replace(str(tmp_path), "R"), wd) for p, wd in ret.items()])
            assert all(isinstance(p, bytes) == (as_bytes and mod is ours) for p in ret)
            os.rename(tmp_path / "E", tmp_path / "e")
        finally:
            wm.close() if mod is ours else os.close(wm.get_fd())
    theirs, mine = got
    # wds are the kernel's numbering: the same tree, the same order, the same numbers.
    assert mine == theirs and len(mine) == 10


def test_excluded_and_failed_after_the_tree(tmp_path: Path) -> None:
    """Excluded (-2) and refused (-1) paths come after the tree's entries, as
    they did when the dict was built at once (pyinotify 0.9.6 puts an excluded
    directory where its walk met it, and watches what is below it: a
    difference of inwatch's, see test_behaviour)."""
    _tree(tmp_path)
    wm = ours.WatchManager()
    try:
        ret = wm.add_watch(
            [str(tmp_path), str(tmp_path / "nope")],
            MASK,
            rec=True,
            exclude_filter=lambda p: p.endswith("skip"),
        )
        names = [(p.replace(str(tmp_path), "R"), wd) for p, wd in ret.items()]
        walked = [p for p, _ in names[1:8]]
        assert sorted(walked) == ["R/a", "R/a/b", "R/a/b/c", "R/a/d", "R/e", "R/f", "R/f/g"]
        assert names[0][0] == "R" and names[8:] == [("R/skip", -2), ("R/nope", -1)]
        wds = [wd for _, wd in names[:8]]
        assert wds == sorted(wds) == list(range(wds[0], wds[0] + 8))
    finally:
        wm.close()
