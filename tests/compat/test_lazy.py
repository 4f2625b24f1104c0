"""The watches of a recursive add_watch are held as one Group until a Watch is
asked for (issue 15: memory per watch): what programs see must not depend on
when that happens. Real kernel, real trees."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest
from compat_helpers import Recorder, drain

from inwatch import pyinotify as ours
from inwatch.pyinotify.watch import Group, Watch
from inwatch.pyinotify.watch import never as ours_never

MASK = ours.ALL_EVENTS & ~(ours.IN_OPEN | ours.IN_ACCESS | ours.IN_CLOSE_NOWRITE)
FIELDS = ("wd", "path", "mask", "proc_fun", "auto_add", "exclude_filter", "dir")


def _tree(root: Path) -> list[Path]:
    dirs = [root / "a", root / "a" / "b", root / "a" / "b" / "c", root / "a" / "d", root / "e"]
    for d in dirs:
        d.mkdir()
    (root / "a" / "f").write_text("x")
    return dirs


def _lazy(wm: Any, wd: int) -> Group | None:
    """The Group standing for *wd*, if the manager holds no entry of its own for it."""
    if wd in wm._wmd:
        return None
    found = wm._groups.find(wd)
    assert found is None or isinstance(found, Group)
    return found


def _fields(watch: Watch) -> tuple[Any, ...]:
    return tuple(getattr(watch, f) for f in FIELDS)


@pytest.fixture
def wm() -> Any:
    manager = ours.WatchManager()
    yield manager
    manager.close()


def test_subdirectories_are_held_lazily(tmp_path: Path, wm: Any) -> None:
    _tree(tmp_path)
    ret = wm.add_watch(str(tmp_path), MASK, rec=True)
    sub_wds = [wd for path, wd in ret.items() if path != str(tmp_path)]
    assert len(sub_wds) == 5
    # Held as one shared Group, not five Watch objects...
    groups = {id(_lazy(wm, wd)) for wd in sub_wds}
    assert len(groups) == 1 and isinstance(_lazy(wm, sub_wds[0]), Group)
    assert set(wm._wmd) == {ret[str(tmp_path)]}  # no entry of their own
    # ...until one is asked for: then it is a Watch, the same one every time.
    watch = wm.get_watch(sub_wds[2])
    assert isinstance(watch, Watch) and wm.get_watch(sub_wds[2]) is watch
    assert isinstance(_lazy(wm, sub_wds[0]), Group) and _lazy(wm, sub_wds[2]) is None
    assert all(isinstance(w, Watch) for w in wm.watches.values())
    assert wm.watches[sub_wds[2]] is watch


@pytest.mark.parametrize("as_bytes", [False, True])
def test_late_watch_same_fields_as_early(tmp_path: Path, as_bytes: bool) -> None:
    """A Watch made long after add_watch (after a rename) reports what one made
    at once reports: same wd, path (following the rename), mask, handler,
    auto_add, exclude_filter, dir."""
    handler = Recorder()
    trees = []
    for name in ("early", "late"):
        root = tmp_path / name
        root.mkdir()
        _tree(root)
        wm = ours.WatchManager()
        top: Any = os.fsencode(str(root)) if as_bytes else str(root)
        ret = wm.add_watch(top, MASK, proc_fun=handler, rec=True, auto_add=True)
        trees.append((root, wm, ret))
    (root_e, wm_e, ret_e), (root_l, wm_l, ret_l) = trees
    top_l = next(iter(ret_l))  # the root, first in pyinotify's return dict
    try:
        early = {wd: w for wd, w in wm_e.watches.items()}  # every Watch made now
        for root, wm in ((root_e, wm_e), (root_l, wm_l)):
            os.rename(root / "a", root / "A")
            rec = Recorder()
            notifier = ours.Notifier(wm, rec)
            drain(notifier)  # the rename reaches the Watcher's table
            assert any(e.mask & ours.IN_MOVED_TO for e in handler.events)
            handler.events.clear()

        def rel(path: Any, root: Path) -> Any:
            sep = os.fsencode(str(root)) if as_bytes else str(root)
            assert path.startswith(sep)
            return path[len(sep) :]

        seen = []
        for (path_e, wd_e), (path_l, wd_l) in zip(ret_e.items(), ret_l.items(), strict=True):
            assert rel(path_e, root_e) == rel(path_l, root_l)
            late = wm_l.get_watch(wd_l)
            assert late is not None
            e_fields, l_fields = _fields(early[wd_e]), _fields(late)
            assert e_fields[2:] == l_fields[2:]
            # What add_watch gave: the root's Watch is made at once, not from a Group.
            assert l_fields[2:6] == _fields(wm_l.get_watch(ret_l[top_l]))[2:6]
            assert l_fields[2:] == (MASK | ours.IN_CREATE, handler, True, ours_never, True)
            assert rel(early[wd_e].path, root_e) == rel(late.path, root_l)
            assert isinstance(late.path, bytes) == as_bytes
            assert wm_l.get_path(wd_l) == late.path
            assert wm_l.get_wd(late.path) == wd_l
            seen.append(rel(late.path, root_l))
        sep = b"/" if as_bytes else "/"
        assert sep + (b"A/b/c" if as_bytes else "A/b/c") in seen  # followed the rename
    finally:
        wm_e.close()
        wm_l.close()


def test_mutations_stick_and_stay_their_own(tmp_path: Path, wm: Any) -> None:
    _tree(tmp_path)
    ret = wm.add_watch(str(tmp_path), MASK, rec=True)
    wd_b, wd_c = ret[str(tmp_path / "a" / "b")], ret[str(tmp_path / "a" / "b" / "c")]
    watch = wm.get_watch(wd_b)
    marker = Recorder()
    watch.mask = ours.IN_CREATE
    watch.proc_fun = marker
    watch.auto_add = True
    watch.path = "/pinned/by/hand"
    again = wm.get_watch(wd_b)
    assert again is watch and wm.watches[wd_b] is watch
    assert (again.mask, again.proc_fun, again.auto_add, again.path) == (
        ours.IN_CREATE,
        marker,
        True,
        "/pinned/by/hand",
    )
    assert wm.get_wd("/pinned/by/hand") == wd_b
    # Its neighbours (the same Group until now) keep the call's settings.
    other = wm.get_watch(wd_c)
    assert (other.mask, other.proc_fun, other.auto_add) == (MASK, None, False)
    assert other.path == str(tmp_path / "a" / "b" / "c")


def test_rm_and_update_never_materialised(tmp_path: Path) -> None:
    """rm_watch, update_watch, get_wd, get_path on wds no Watch was made for."""
    dirs = _tree(tmp_path)
    wm = ours.WatchManager()
    rec = Recorder()
    notifier = ours.Notifier(wm, rec)
    try:
        ret = wm.add_watch(str(tmp_path), MASK, rec=True)
        wd_a, wd_e = ret[str(dirs[0])], ret[str(dirs[4])]
        wd_d = ret[str(dirs[3])]
        assert wm.get_wd(str(dirs[3])) == wd_d and wm.get_path(wd_d) == str(dirs[3])
        assert isinstance(_lazy(wm, wd_a), Group) and isinstance(_lazy(wm, wd_e), Group)
        assert wm.rm_watch([wd_a, wd_e]) == {wd_a: True, wd_e: True}
        assert wm.get_watch(wd_a) is None and wd_e not in wm.watches
        assert wm.rm_watch(wd_a) == {wd_a: False}  # the kernel no longer knows it
        assert wm.update_watch(wd_d, mask=ours.IN_DELETE) == {wd_d: True}
        assert wm.get_watch(wd_d).mask == ours.IN_DELETE
        drain(notifier)
        rec.events.clear()
        (dirs[0] / "new_in_a").write_text("x")  # a: removed
        (dirs[4] / "new_in_e").write_text("x")  # e: removed
        (dirs[3] / "new_in_d").write_text("x")  # d: only IN_DELETE now
        os.unlink(dirs[3] / "new_in_d")
        (dirs[2] / "new_in_c").write_text("x")  # c: untouched, still lazy
        drain(notifier)
        got = {(e.maskname, e.pathname) for e in rec.events if not e.mask & ours.IN_IGNORED}
        deadline = time.monotonic() + 5
        while ("IN_CLOSE_WRITE", str(dirs[2] / "new_in_c")) not in got:
            assert time.monotonic() < deadline, got
            drain(notifier)
            got |= {(e.maskname, e.pathname) for e in rec.events}
        assert not {p for _, p in got if "new_in_a" in p or "new_in_e" in p}
        assert {m for m, p in got if "new_in_d" in p} == {"IN_DELETE"}
        assert ("IN_CREATE", str(dirs[2] / "new_in_c")) in got
    finally:
        notifier.stop()


def test_ignored_read_not_processed_of_a_lazy_watch(tmp_path: Path) -> None:
    """A directory of the tree removed: between the Watcher reading its
    IN_IGNORED and the notifier processing it, the manager still has it, at
    the path the walk found (the Watcher has forgotten it already)."""
    (tmp_path / "sub").mkdir()
    wm = ours.WatchManager()
    rec = Recorder()
    notifier = ours.Notifier(wm, rec)
    try:
        ret = wm.add_watch(str(tmp_path), MASK, rec=True)
        sub = str(tmp_path / "sub")
        wd = ret[sub]
        assert isinstance(_lazy(wm, wd), Group)
        os.rmdir(sub)
        deadline = time.monotonic() + 5
        while not any(e.mask & ours.IN_IGNORED for e in notifier._eventq):
            assert time.monotonic() < deadline
            if notifier.check_events(100):
                notifier.read_events()
        assert wd not in wm._table  # the Watcher forgot it...
        assert wm.get_wd(sub) == wd and wm.get_path(wd) == sub  # ...we have not yet
        notifier.process_events()
        assert wm.get_wd(sub) is None and wd not in wm.watches
        names = [(e.maskname, e.pathname) for e in rec.events]
        assert ("IN_DELETE|IN_ISDIR", sub) in names
        assert ("IN_DELETE_SELF", sub) in names and ("IN_IGNORED", sub) in names
    finally:
        notifier.stop()


def test_a_kept_watches_dict_only_ever_holds_watches(tmp_path: Path, wm: Any) -> None:
    """pyinotify's ``watches`` is the manager's live dict: a program that kept
    it finds a Watch for every wd added later, recursive or not."""
    (tmp_path / "one").mkdir()
    kept = wm.watches
    _tree(tmp_path / "one")
    ret = wm.add_watch(str(tmp_path / "one"), MASK, rec=True)
    assert len(ret) == 6 and set(kept) == set(ret.values())
    for path, wd in ret.items():
        assert isinstance(kept[wd], Watch) and kept[wd].path == path
    assert kept is wm.watches
