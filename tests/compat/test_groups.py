"""The members of a recursive add_watch have no entry in the manager's dict: they
are found in their Group, by wd (groups.py). Every operation must find a wd in
exactly one place (its own Watch in the dict, or LIVE in its Group) and act as
pyinotify does. Real kernel, real trees."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
from compat_helpers import Recorder, drain

from inwatch import pyinotify as ours
from inwatch.pyinotify.watch import GONE, LIVE, OWN, Group

MASK = ours.ALL_EVENTS & ~(ours.IN_OPEN | ours.IN_ACCESS | ours.IN_CLOSE_NOWRITE)


def _tree(root: Path) -> dict[str, Path]:
    dirs = {n: root / n for n in ("a", "a/b", "a/b/c", "a/d", "e", "f")}
    for d in dirs.values():
        d.mkdir()
    return dirs


def _state(wm: Any, wd: int) -> int | None:
    """LIVE / OWN / GONE of *wd* in its Group, or None if in none. Also
    checks that it is in exactly one place."""
    found = wm._groups.locate(wd)
    group_has = found is not None and found[0].state[found[1]] == LIVE
    assert not (group_has and wd in wm._wmd), f"wd {wd} in the dict and its Group"
    return None if found is None else found[0].state[found[1]]


def _consistent(wm: Any) -> None:
    """The Groups' count of LIVE members is theirs, and no wd is in two places."""
    live = [wd for wd, _ in wm._groups.members()]
    assert len(live) == wm._groups.live == len(set(live))
    assert not set(live) & set(wm._wmd)


@pytest.fixture
def setup(tmp_path: Path) -> Any:
    wm = ours.WatchManager()
    rec = Recorder()
    notifier = ours.Notifier(wm, rec)
    yield wm, notifier, rec
    notifier.stop()


def _names(rec: Recorder, root: Path) -> set[tuple[str, str]]:
    return {(e.maskname, e.pathname.replace(str(root), "R")) for e in rec.events}


def test_removed_updated_materialised(tmp_path: Path, setup: Any) -> None:
    wm, notifier, rec = setup
    dirs = _tree(tmp_path)
    ret = wm.add_watch(str(tmp_path), MASK, rec=True)
    wd = {n: ret[str(p)] for n, p in dirs.items()}
    assert all(_state(wm, w) == LIVE for w in wd.values()) and len(wm._wmd) == 1
    # removed: gone from its Group, unknown to every lookup, its events dropped
    assert wm.rm_watch(wd["a/d"]) == {wd["a/d"]: True}
    assert _state(wm, wd["a/d"]) == GONE and wm.get_watch(wd["a/d"]) is None
    assert wm.get_path(wd["a/d"]) is None and wm.get_wd(str(dirs["a/d"])) is None
    # updated: its own Watch now, with the new mask; its neighbours unchanged
    assert wm.update_watch(wd["e"], mask=ours.IN_DELETE) == {wd["e"]: True}
    assert _state(wm, wd["e"]) == OWN and wm._wmd[wd["e"]].mask == ours.IN_DELETE
    # materialised: the same Watch every time, in the dict
    watch = wm.get_watch(wd["a/b"])
    assert _state(wm, wd["a/b"]) == OWN and wm.get_watch(wd["a/b"]) is watch
    assert wm.get_path(wd["f"]) == str(dirs["f"]) and _state(wm, wd["f"]) == LIVE
    _consistent(wm)
    drain(notifier)
    rec.events.clear()
    for n in ("a/d", "e", "a/b", "f", "a/b/c"):
        (dirs[n] / "x").write_text("1")
        os.unlink(dirs[n] / "x")
    deadline = time.monotonic() + 5
    while ("IN_DELETE", "R/a/b/c/x") not in _names(rec, tmp_path):
        assert time.monotonic() < deadline, _names(rec, tmp_path)
        drain(notifier)
    got = _names(rec, tmp_path)
    assert not {p for _, p in got if p.startswith("R/a/d")}
    assert {m for m, p in got if p == "R/e/x"} == {"IN_DELETE"}
    for n in ("a/b", "f", "a/b/c"):
        assert {m for m, p in got if p == f"R/{n}/x"} >= {"IN_CREATE", "IN_DELETE"}
    # the events of the LIVE members made no Watch
    assert _state(wm, wd["f"]) == LIVE and _state(wm, wd["a/b/c"]) == LIVE
    _consistent(wm)


def test_renamed_then_deleted_while_lazy(tmp_path: Path, setup: Any) -> None:
    wm, notifier, rec = setup
    dirs = _tree(tmp_path)
    ret = wm.add_watch(str(tmp_path), MASK, rec=True)
    wd_b, wd_c = ret[str(dirs["a/b"])], ret[str(dirs["a/b/c"])]
    os.rename(dirs["a/b"], tmp_path / "a" / "B")
    drain(notifier)
    assert _state(wm, wd_b) == LIVE and _state(wm, wd_c) == LIVE  # still lazy (MOVE_SELF too)
    assert wm.get_path(wd_c) == str(tmp_path / "a" / "B" / "c")
    assert wm.get_wd(str(tmp_path / "a" / "B" / "c")) == wd_c
    assert wm.get_wd(str(dirs["a/b/c"])) is None
    rec.events.clear()
    (tmp_path / "a" / "B" / "c" / "x").write_text("1")
    shutil.rmtree(tmp_path / "a" / "B")
    deadline = time.monotonic() + 5
    while _state(wm, wd_b) != GONE:
        assert time.monotonic() < deadline
        drain(notifier)
    got = _names(rec, tmp_path)
    assert ("IN_CREATE", "R/a/B/c/x") in got and ("IN_DELETE_SELF", "R/a/B/c") in got
    assert ("IN_IGNORED", "R/a/B/c") in got and ("IN_DELETE|IN_ISDIR", "R/a/B") in got
    assert _state(wm, wd_c) == GONE and wm.get_watch(wd_c) is None
    assert wd_b not in wm.watches and wd_c not in wm.watches
    _consistent(wm)


def test_moved_out_while_lazy(tmp_path: Path, setup: Any) -> None:
    """A member moved out of every watched tree: the Watcher drops it with no
    IN_IGNORED; the manager forgets it once the events before are processed."""
    wm, notifier, _rec = setup
    (tmp_path / "in").mkdir()
    dirs = _tree(tmp_path / "in")
    ret = wm.add_watch(str(tmp_path / "in"), MASK, rec=True)
    wd_a, wd_c = ret[str(dirs["a"])], ret[str(dirs["a/b/c"])]
    os.rename(dirs["a"], tmp_path / "out")
    drain(notifier)
    assert _state(wm, wd_a) == GONE and _state(wm, wd_c) == GONE
    assert wm.get_watch(wd_c) is None and wm.get_wd(str(tmp_path / "out" / "b" / "c")) is None
    assert _state(wm, ret[str(dirs["e"])]) == LIVE
    _consistent(wm)


def test_auto_add_under_a_lazy_member(tmp_path: Path, setup: Any) -> None:
    """A directory created in a member of an auto_add tree: its own Watch,
    with the tree's settings; the member itself stays lazy."""
    wm, notifier, _rec = setup
    dirs = _tree(tmp_path)
    handler = Recorder()
    ret = wm.add_watch(str(tmp_path), MASK, proc_fun=handler, rec=True, auto_add=True)
    wd_d = ret[str(dirs["a/d"])]
    (dirs["a/d"] / "new").mkdir()
    (dirs["a/d"] / "new" / "x").write_text("1")
    deadline = time.monotonic() + 5
    while not any(e.pathname == str(dirs["a/d"] / "new" / "x") for e in handler.events):
        assert time.monotonic() < deadline
        drain(notifier)
    new_wd = wm.get_wd(str(dirs["a/d"] / "new"))
    assert new_wd is not None and new_wd in wm._wmd and _state(wm, new_wd) is None
    watch = wm._wmd[new_wd]
    assert (watch.mask, watch.proc_fun, watch.auto_add) == (MASK | ours.IN_CREATE, handler, True)
    assert _state(wm, wd_d) == LIVE
    _consistent(wm)


def test_watched_again_and_rm_rec(tmp_path: Path, setup: Any) -> None:
    """add_watch of a member's path gives the kernel's wd again and makes it its
    own Watch (pyinotify's entry is replaced); rm_watch(rec=True) of the root
    removes every member, and the Group with them."""
    wm, _notifier, _rec = setup
    dirs = _tree(tmp_path)
    ret = wm.add_watch(str(tmp_path), MASK, rec=True)
    wd_b = ret[str(dirs["a/b"])]
    again = wm.add_watch(str(dirs["a/b"]), ours.IN_DELETE)
    assert again == {str(dirs["a/b"]): wd_b}
    assert _state(wm, wd_b) == OWN and wm.get_watch(wd_b).mask == ours.IN_DELETE
    _consistent(wm)
    removed = wm.rm_watch(ret[str(tmp_path)], rec=True)
    assert set(removed) == set(ret.values()) and all(removed.values())
    assert not wm._groups and wm._groups.live == 0
    assert wm.watches == {}


@pytest.mark.parametrize("others", [0, 10])
def test_recursive_over_watches_of_its_own(tmp_path: Path, setup: Any, others: int) -> None:
    """A recursive add_watch over directories watched before (each its own
    Watch): the kernel gives the same wds, and their entries become this
    call's Watches, as in pyinotify; the others are its Group's. (*others*:
    more watches elsewhere than the tree has directories, so that the
    manager looks them up the other way round.)"""
    wm, notifier, rec = setup
    (tmp_path / "t").mkdir()
    for i in range(others):
        (tmp_path / f"o{i}").mkdir()
        wm.add_watch(str(tmp_path / f"o{i}"), ours.IN_DELETE)
    tmp_path = tmp_path / "t"
    dirs = _tree(tmp_path)
    handler = Recorder()
    top = wm.add_watch(str(tmp_path), ours.IN_DELETE)[str(tmp_path)]
    wd_a = wm.add_watch(str(dirs["a"]), ours.IN_DELETE)[str(dirs["a"])]
    ret = wm.add_watch(str(tmp_path), MASK, proc_fun=handler, rec=True)
    assert ret[str(tmp_path)] == top and ret[str(dirs["a"])] == wd_a
    assert _state(wm, wd_a) == OWN  # (or no Group at all, if the wds were not ascending)
    for wd in ret.values():
        watch = wm.get_watch(wd)
        assert (watch.mask, watch.proc_fun) == (MASK, handler), watch
    _consistent(wm)
    # (IN_DELETE: the Watcher keeps an inner root's own mask on its directory,
    # see tests/contract/test_edges.py's nested roots; the Watch is the call's)
    (dirs["a"] / "x").write_text("1")
    os.unlink(dirs["a"] / "x")
    deadline = time.monotonic() + 5
    while ("IN_DELETE", "R/a/x") not in _names(handler, tmp_path):
        assert time.monotonic() < deadline
        drain(notifier)
    assert not rec.events  # (every event went to the call's handler)


def test_watches_in_pyinotify_order(tmp_path: Path) -> None:
    """The watches dict, made while some members have their Watch already and
    one is gone, lists the wds as pyinotify's does: in insertion order."""
    pyinotify = pytest.importorskip("pyinotify")
    _tree(tmp_path)
    (tmp_path / "z").mkdir()
    orders = []
    for mod in (pyinotify, ours):
        wm = mod.WatchManager()
        try:
            ret = wm.add_watch(str(tmp_path / "a"), MASK, rec=True)
            ret.update(wm.add_watch(str(tmp_path / "z"), MASK))
            ret.update(wm.add_watch(str(tmp_path / "e"), MASK, rec=True))
            wm.get_watch(ret[str(tmp_path / "a" / "b" / "c")])  # (ours: made now)
            wm.rm_watch(ret[str(tmp_path / "a" / "d")])
            orders.append([w.path.replace(str(tmp_path), "R") for w in wm.watches.values()])
        finally:
            wm.close() if mod is ours else os.close(wm.get_fd())
    assert orders[1] == orders[0]
    assert orders[0] == ["R/a", "R/a/b", "R/a/b/c", "R/z", "R/e"]


def test_handler_changes_a_member_mid_batch(tmp_path: Path, setup: Any) -> None:
    """Events of one member queued together: a handler that gives it a handler
    of its own, then one that removes it, are obeyed by the very next events
    (the notifier's near-Group check reads the member's state as it is now)."""
    wm, notifier, _rec = setup
    dirs = _tree(tmp_path)
    ret = wm.add_watch(str(tmp_path), MASK, rec=True)
    wd_f = ret[str(dirs["f"])]
    drain(notifier)
    seen: list[tuple[str, str, str]] = []

    def a(event: Any) -> None:
        seen.append(("A", event.maskname, event.name))
        if event.name == "1" and event.mask & ours.IN_CREATE:
            wm.get_watch(wd_f).proc_fun = b

    def b(event: Any) -> None:
        seen.append(("B", event.maskname, event.name))
        if event.name == "2" and event.mask & ours.IN_CREATE:
            wm.rm_watch(wd_f)

    notifier._default_proc_fun = a
    for name in ("1", "2", "3"):
        (dirs["f"] / name).write_text("x")
    deadline = time.monotonic() + 5
    while sum(e.wd == wd_f for e in notifier._eventq) < 9:
        assert time.monotonic() < deadline
        if notifier.check_events(100):
            notifier.read_events()
    notifier.process_events()
    assert seen == [
        ("A", "IN_CREATE", "1"),
        ("B", "IN_MODIFY", "1"),
        ("B", "IN_CLOSE_WRITE", "1"),
        ("B", "IN_CREATE", "2"),
    ]
    assert _state(wm, wd_f) == OWN and wm.get_watch(wd_f) is None
    _consistent(wm)


def test_threads_ask_for_the_same_member(tmp_path: Path) -> None:
    """A ThreadedNotifier dispatching a member's events while the program asks
    for its Watch: one Watch, every event delivered."""
    dirs = _tree(tmp_path)
    wm = ours.WatchManager()
    got: list[str] = []
    notifier = ours.ThreadedNotifier(wm, lambda e: got.append(e.name))
    notifier.start()
    try:
        ret = wm.add_watch(str(tmp_path), MASK, rec=True)
        wd_c = ret[str(dirs["a/b/c"])]
        watches = []
        for i in range(200):
            (dirs["a/b/c"] / f"f{i}").write_text("x")
            if i % 50 == 0:
                watches.append(wm.get_watch(wd_c))
        deadline = time.monotonic() + 10
        while sum(n.startswith("f") for n in got) < 400:  # CREATE, MODIFY, CLOSE_WRITE
            assert time.monotonic() < deadline, len(got)
            time.sleep(0.01)
        assert all(w is watches[0] for w in watches) and isinstance(watches[0], ours.Watch)
        assert not isinstance(watches[0], Group)
        _consistent(wm)
    finally:
        notifier.stop()


def test_a_removed_members_wd_given_out_again(tmp_path: Path, setup: Any) -> None:
    """The kernel gives a removed member's wd out again (after its counter
    wrapped: not to be made to happen here, so the Watcher's adoption is
    called as it would be): the wd is the new Watch's, and its Group's no more."""
    wm, _notifier, _rec = setup
    dirs = _tree(tmp_path)
    ret = wm.add_watch(str(tmp_path), MASK, rec=True)
    wd_d = ret[str(dirs["a/d"])]
    group = wm._groups.find(wd_d)
    assert wm.rm_watch(wd_d) == {wd_d: True} and _state(wm, wd_d) == GONE
    adopted = wm._adopt(wd_d, str(tmp_path / "new"), group)
    assert _state(wm, wd_d) == OWN and wm.get_watch(wd_d) is adopted
    assert adopted.path == str(tmp_path / "new") and adopted.mask == MASK
    _consistent(wm)


def test_groups_by_range_pure() -> None:
    """groups.Groups on hand-made Groups: disjoint ranges, one bisection,
    counts, a Group dropped when it stands for nothing."""
    from array import array

    from inwatch.pyinotify.groups import Groups

    def group(wds: list[int]) -> Group:
        paths = [f"/t/{wd}" for wd in wds]
        return Group(array("i", wds), paths, 1, None, False, None, table={}, as_bytes=False)

    groups = Groups()
    run, sparse = group([10, 11, 12, 13]), group([20, 22, 25])
    assert groups.add(run) and groups.add(sparse) and groups.live == 7
    assert run.wds is None and sparse.wds is not None  # (a run needs no wd list)
    assert not groups.add(group([12, 14]))  # overlaps run
    assert not groups.add(group([5, 21]))  # spans both
    assert groups.add(group([14, 15])) and groups.live == 9
    assert groups.find(9) is None and groups.find(10) is run and groups.find(13) is run
    assert groups.find(21) is None and groups.find(22) is sparse and groups.find(26) is None
    assert groups.locate(21) is None and groups.locate(25) == (sparse, 2)
    assert list(sparse.members()) == [(0, 20), (1, 22), (2, 25)]
    assert groups.leave(22, OWN) and not groups.leave(22, GONE) and groups.live == 8
    assert groups.find(22) is None and sparse.state[1] == GONE
    assert sparse.path_of(22) == "/t/22"  # (the walk's: the table has nothing)
    for wd in (20, 25):
        groups.leave(wd, GONE)
    assert groups.locate(20) is None and groups.live == 6  # dropped
    assert [wd for wd, _ in groups.members()] == [10, 11, 12, 13, 14, 15]
