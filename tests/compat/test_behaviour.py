"""What inwatch.pyinotify fixes over pyinotify 0.9.6, one test per item, on the
real kernel. Where pyinotify's wrong behaviour is deterministic, the oracle is
run too, to show what is fixed."""

from __future__ import annotations

import fcntl
import gc
import logging
import os
import warnings
from pathlib import Path
from typing import Any

import pytest
from compat_helpers import Recorder, drain

from inwatch import pyinotify as ours

ALL = ours.ALL_EVENTS
QUIET_MASK = ALL & ~(ours.IN_OPEN | ours.IN_ACCESS | ours.IN_CLOSE_NOWRITE)


class Setup:
    def __init__(self, mod: Any = ours) -> None:
        self.mod = mod
        self.wm = mod.WatchManager()
        self.rec = Recorder()
        self.notifier = mod.Notifier(self.wm, self.rec)

    def drain(self) -> list[str]:
        drain(self.notifier)
        out = [f"{e.maskname} {e.pathname}" for e in self.rec.events]
        self.rec.events.clear()
        return out

    def close(self) -> None:
        self.notifier.stop()


@pytest.fixture
def s() -> Any:
    setup = Setup()
    yield setup
    setup.close()


def test_non_utf8_names(tmp_path: Path, s: Setup) -> None:
    s.wm.add_watch(str(tmp_path), ours.IN_CREATE)
    bad = os.fsencode(str(tmp_path)) + b"/caf\xe9"
    open(bad, "w").close()
    drain(s.notifier)
    (ev,) = s.rec.events
    assert ev.name == "caf\udce9"  # surrogateescape: os.fsencode gives the bytes back
    assert os.fsencode(ev.pathname) == bad
    assert "name=caf" in str(ev)


def test_non_utf8_names_crash_pyinotify(tmp_path: Path) -> None:
    pyinotify = pytest.importorskip("pyinotify")
    oracle = Setup(pyinotify)
    try:
        oracle.wm.add_watch(str(tmp_path), pyinotify.IN_CREATE)
        open(os.fsencode(str(tmp_path)) + b"/caf\xe9", "w").close()
        assert oracle.notifier.check_events(1000)
        with pytest.raises(UnicodeDecodeError):
            oracle.notifier.read_events()
    finally:
        oracle.close()


def test_bytes_paths(tmp_path: Path, s: Setup) -> None:
    root = os.fsencode(str(tmp_path))
    assert s.wm.add_watch(root, ours.IN_CREATE) == {root: 1}
    open(root + b"/f\xff", "w").close()
    drain(s.notifier)
    (ev,) = s.rec.events
    assert (ev.path, ev.name, ev.pathname) == (root, b"f\xff", root + b"/f\xff")
    assert s.wm.get_wd(root) == 1 and s.wm.get_path(1) == root
    assert s.wm.watches[1].path == root


def test_pathlike_paths(tmp_path: Path, s: Setup) -> None:
    (tmp_path / "sub").mkdir()
    ret = s.wm.add_watch(tmp_path, ours.IN_CREATE, rec=True)
    assert ret == {str(tmp_path): 1, str(tmp_path / "sub"): 2}
    assert s.wm.get_wd(tmp_path / "sub") == 2
    (tmp_path / "sub" / "f").touch()
    assert s.drain() == [f"IN_CREATE {tmp_path}/sub/f"]


def test_rm_watch_rec_and_values(tmp_path: Path, s: Setup) -> None:
    (tmp_path / "a" / "b" / "c").mkdir(parents=True)
    (tmp_path / "x").mkdir()
    ret = s.wm.add_watch(str(tmp_path), QUIET_MASK, rec=True)
    assert len(ret) == 5
    a = ret[str(tmp_path / "a")]
    removed = s.wm.rm_watch(a, rec=True)
    assert removed == {a: True, a + 1: True, a + 2: True}
    assert sorted(s.wm.watches) == [ret[str(tmp_path)], ret[str(tmp_path / "x")]]
    (tmp_path / "a" / "b" / "f").touch()
    (tmp_path / "x" / "g").touch()
    assert s.drain() == [f"IN_CREATE {tmp_path}/x/g", f"IN_CLOSE_WRITE {tmp_path}/x/g"]
    rest = {p: wd for p, wd in ret.items() if wd in s.wm.watches}
    assert s.wm.rm_watch(rest.values()) == {wd: True for wd in rest.values()}
    assert s.wm.watches == {}


def test_rm_watch_rec_breaks_pyinotify(tmp_path: Path) -> None:
    pyinotify = pytest.importorskip("pyinotify")
    (tmp_path / "a" / "b").mkdir(parents=True)
    oracle = Setup(pyinotify)
    try:
        oracle.wm.add_watch(str(tmp_path), pyinotify.IN_CREATE, rec=True)
        with pytest.raises(RuntimeError):
            oracle.wm.rm_watch(1, rec=True)
        with pytest.raises(Exception, match="wrong type"):  # ctypes.ArgumentError
            oracle.wm.rm_watch({1: True}.keys())
    finally:
        oracle.close()


def test_rm_watch_one_keeps_the_rest(tmp_path: Path, s: Setup) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    ret = s.wm.add_watch(str(tmp_path), QUIET_MASK, rec=True, auto_add=True)
    assert s.wm.rm_watch(ret[str(tmp_path / "a")]) == {2: True}
    (tmp_path / "a" / "b" / "f").touch()
    (tmp_path / "a" / "g").touch()
    assert s.drain() == [f"IN_CREATE {tmp_path}/a/b/f", f"IN_CLOSE_WRITE {tmp_path}/a/b/f"]


def test_update_watch_keeps_mask_in_sync(tmp_path: Path, s: Setup) -> None:
    (wd,) = s.wm.add_watch(str(tmp_path), ours.IN_CREATE | ours.IN_DELETE).values()
    assert s.wm.update_watch(wd, ours.IN_DELETE) == {wd: True}
    assert s.wm.watches[wd].mask == ours.IN_DELETE
    (tmp_path / "f").touch()
    os.unlink(tmp_path / "f")
    assert s.drain() == [f"IN_DELETE {tmp_path}/f"]
    s.wm.update_watch(wd, ours.IN_CREATE | ours.IN_ATTRIB)
    assert s.wm.get_watch(wd).mask == ours.IN_CREATE | ours.IN_ATTRIB
    (tmp_path / "g").touch()
    assert s.drain() == [f"IN_CREATE {tmp_path}/g"]
    handler = Recorder()
    s.wm.update_watch(wd, proc_fun=handler, auto_add=True)
    assert s.wm.watches[wd].proc_fun is handler and s.wm.watches[wd].auto_add
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "h").touch()
    drain(s.notifier)
    assert [e.pathname for e in handler.events] == [f"{tmp_path}/d", f"{tmp_path}/d/h"]


def test_get_wd_follows_renames(tmp_path: Path, s: Setup) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    s.wm.add_watch(str(tmp_path), QUIET_MASK, rec=True, auto_add=True)
    assert s.wm.get_wd(str(tmp_path / "a" / "b")) == 3
    assert s.wm.get_wd(str(tmp_path / "a" / "b") + "/") == 3
    os.rename(tmp_path / "a", tmp_path / "A")
    s.drain()
    assert s.wm.get_wd(str(tmp_path / "a" / "b")) is None
    assert s.wm.get_wd(str(tmp_path / "A" / "b")) == 3
    assert s.wm.get_path(3) == str(tmp_path / "A" / "b")
    assert s.wm.get_wd(12345) is None  # not a path: None, as for an unknown one


def test_paths_right_after_renames_without_move_bits(tmp_path: Path) -> None:
    """The mask has no IN_MOVED_*: pyinotify never learns of the rename and keeps
    reporting the old path; inwatch's Watcher follows it anyway."""
    pyinotify = pytest.importorskip("pyinotify")
    results = []
    for mod in (pyinotify, ours):
        root = tmp_path / mod.__name__
        (root / "a" / "b").mkdir(parents=True)
        setup = Setup(mod)
        try:
            setup.wm.add_watch(str(root), mod.IN_CREATE, rec=True, auto_add=True)
            os.rename(root / "a", root / "A")
            setup.drain()
            (root / "A" / "b" / "f").touch()
            results.append([line.replace(str(root), "ROOT") for line in setup.drain()])
        finally:
            setup.close()
    assert results[0] == ["IN_CREATE ROOT/a/b/f"]  # pyinotify: wrong
    assert results[1] == ["IN_CREATE ROOT/A/b/f"]


def test_moved_out_directories_stop_reporting(tmp_path: Path, s: Setup) -> None:
    root = tmp_path / "w"
    (root / "d" / "e").mkdir(parents=True)
    outside = tmp_path / "outside"
    s.wm.add_watch(str(root), QUIET_MASK, rec=True, auto_add=True)
    os.rename(root / "d", outside)
    assert s.drain() == [f"IN_MOVED_FROM|IN_ISDIR {root}/d"]
    (outside / "e" / "f").touch()
    (outside / "g").touch()
    assert s.drain() == []
    assert [w.path for w in s.wm.watches.values()] == [str(root)]
    assert s.wm.get_wd(str(root / "d")) is None


def _moved_root(mod: Any, base: Path, new: Path) -> tuple[list[str], Any]:
    (base / "root").mkdir(parents=True)
    new.parent.mkdir(parents=True, exist_ok=True)
    setup = Setup(mod)
    try:
        (wd,) = setup.wm.add_watch(str(base / "root"), QUIET_MASK).values()
        os.rename(base / "root", new)
        (new / "f").touch()
        lines = setup.drain()
        return [ln.replace(str(base), "B") for ln in lines], setup.wm.get_path(wd)
    finally:
        setup.close()


def test_root_moved_elsewhere_gets_unknown_path_suffix(tmp_path: Path) -> None:
    """A watched root moved to another directory cannot be found: as pyinotify
    does, its path gets "-unknown-path", which programs test for and strip."""
    pyinotify = pytest.importorskip("pyinotify")
    results = []
    for mod in (pyinotify, ours):
        base = tmp_path / mod.__name__
        lines, path = _moved_root(mod, base, base / "elsewhere" / "moved")
        results.append((lines, path == f"{base}/root-unknown-path"))
    assert results[1] == results[0]
    assert results[1] == (
        [
            "IN_MOVE_SELF B/root-unknown-path",
            "IN_CREATE B/root-unknown-path/f",
            "IN_CLOSE_WRITE B/root-unknown-path/f",
        ],
        True,
    )


def test_root_renamed_in_its_directory_is_followed(tmp_path: Path) -> None:
    """Renamed within its parent directory, a root is found again by the
    Watcher: its events carry the new path (pyinotify gave "-unknown-path")."""
    lines, path = _moved_root(ours, tmp_path, tmp_path / "moved")
    assert lines == ["IN_MOVE_SELF B/moved", "IN_CREATE B/moved/f", "IN_CLOSE_WRITE B/moved/f"]
    assert path == str(tmp_path / "moved")


def test_renamed_root_under_watched_parent_is_followed(tmp_path: Path, s: Setup) -> None:
    (tmp_path / "sub").mkdir()
    s.wm.add_watch([str(tmp_path), str(tmp_path / "sub")], ours.IN_MOVE_SELF | ours.IN_CREATE)
    os.rename(tmp_path / "sub", tmp_path / "sub2")
    assert s.drain() == [f"IN_MOVE_SELF {tmp_path}/sub2"]
    (tmp_path / "sub2" / "f").touch()
    assert s.drain() == [f"IN_CREATE {tmp_path}/sub2/f"]


def test_auto_add_reports_each_new_entry_exactly_once(tmp_path: Path, s: Setup) -> None:
    root = tmp_path / "w"
    root.mkdir()
    s.wm.add_watch(str(root), ours.IN_CREATE, rec=True, auto_add=True)
    expected = []
    for i in range(20):
        top = root / f"t{i}"
        deep = top / "a" / "b"
        deep.mkdir(parents=True)
        for n in range(5):
            (deep / f"f{n}").touch()
            (top / f"g{n}").touch()
        expected += [str(top), str(top / "a"), str(deep)]
        expected += [str(deep / f"f{n}") for n in range(5)] + [str(top / f"g{n}") for n in range(5)]
    drain(s.notifier)
    got = [e.pathname for e in s.rec.events]
    assert sorted(got) == sorted(expected)  # nothing lost, nothing twice
    assert len(s.wm.watches) == 1 + 3 * 20
    assert all(w.mask & ours.IN_CREATE and w.auto_add for w in s.wm.watches.values())


def test_auto_add_mask_gets_in_create(tmp_path: Path, s: Setup) -> None:
    ret = s.wm.add_watch(str(tmp_path), ours.IN_DELETE, auto_add=True)
    assert s.wm.watches[ret[str(tmp_path)]].mask == ours.IN_DELETE | ours.IN_CREATE
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "f").touch()
    assert s.drain() == [f"IN_CREATE|IN_ISDIR {tmp_path}/d", f"IN_CREATE {tmp_path}/d/f"]
    os.unlink(tmp_path / "d" / "f")
    assert s.drain() == [f"IN_DELETE {tmp_path}/d/f"]
    (wd,) = (wd for wd, w in s.wm.watches.items() if w.path == str(tmp_path / "d"))
    child = s.wm.watches[wd]
    assert (child.mask, child.auto_add, child.dir) == (ours.IN_DELETE | ours.IN_CREATE, True, True)


def test_proc_fun_per_watch_is_inherited(tmp_path: Path, s: Setup) -> None:
    mine = Recorder()
    s.wm.add_watch(str(tmp_path), ours.IN_CREATE, proc_fun=mine, auto_add=True)
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "f").touch()
    drain(s.notifier)
    assert [e.pathname for e in mine.events] == [f"{tmp_path}/d", f"{tmp_path}/d/f"]
    assert s.rec.events == []


def test_exclude_filter_on_directories_only(tmp_path: Path, s: Setup) -> None:
    (tmp_path / "build" / "deep").mkdir(parents=True)
    (tmp_path / "src").mkdir()
    excl = ours.ExcludeFilter([f"^{tmp_path}/build"])
    ret = s.wm.add_watch(
        str(tmp_path), ours.IN_CREATE, rec=True, auto_add=True, exclude_filter=excl
    )
    assert ret == {str(tmp_path): 1, str(tmp_path / "src"): 2, str(tmp_path / "build"): -2}
    (tmp_path / "build" / "deep" / "x").touch()
    (tmp_path / "build.log").touch()  # a file matching the pattern is still reported
    (tmp_path / "src" / "y").touch()
    assert s.drain() == [f"IN_CREATE {tmp_path}/build.log", f"IN_CREATE {tmp_path}/src/y"]
    wm2 = ours.WatchManager(exclude_filter=lambda p: p.endswith("src"))
    try:
        assert wm2.add_watch(str(tmp_path), ours.IN_CREATE, rec=True)[str(tmp_path / "src")] == -2
    finally:
        wm2.close()


def test_fd_closed_on_close_and_on_collection(tmp_path: Path) -> None:
    wm = ours.WatchManager()
    fd = wm.get_fd()
    assert fd is not None
    assert fcntl.fcntl(fd, fcntl.F_GETFD) & fcntl.FD_CLOEXEC
    wm.add_watch(str(tmp_path), ALL)
    wm.close()
    assert wm.get_fd() is None
    assert not os.path.exists(f"/proc/self/fd/{fd}")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        wm = ours.WatchManager()
        notifier = ours.Notifier(wm)
        fd = wm.get_fd()
        assert notifier._fd == fd and notifier._watch_manager is wm
        del wm, notifier
        gc.collect()
    assert not os.path.exists(f"/proc/self/fd/{fd}")


def test_no_per_event_logging(tmp_path: Path, s: Setup, caplog: pytest.LogCaptureFixture) -> None:
    s.wm.add_watch(str(tmp_path), ALL)
    with caplog.at_level(logging.DEBUG, logger="pyinotify"):
        for i in range(50):
            (tmp_path / str(i)).touch()
        drain(s.notifier)
    assert len(s.rec.events) > 100
    assert caplog.records == []


def test_overflow_is_reported_and_recovered(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with open("/proc/sys/fs/inotify/max_queued_events") as f:
        limit = int(f.read())
    if limit > 200_000:
        pytest.skip("max_queued_events too large to overflow quickly")
    wm = ours.WatchManager()
    seen: list[str] = []

    class Handler(ours.ProcessEvent):
        def process_IN_Q_OVERFLOW(self, event: Any) -> None:
            seen.append(str(event))

        def process_IN_CREATE(self, event: Any) -> None:
            seen.append(event.name)

    notifier = ours.Notifier(wm, Handler())
    try:
        (tmp_path / "a").touch()
        (tmp_path / "b").touch()
        wm.add_watch(str(tmp_path), ours.IN_ATTRIB | ours.IN_CREATE)
        for _ in range(limit // 2 + 10):  # alternate, so the kernel cannot merge them
            os.utime(tmp_path / "a")
            os.utime(tmp_path / "b")
        (tmp_path / "late").touch()  # lost in the overflow, found by the rescan
        drain(notifier)
    finally:
        notifier.stop()
    assert seen == ["<Event mask=0x4000 maskname=IN_Q_OVERFLOW >", "late"]
    with caplog.at_level(logging.WARNING, logger="pyinotify"):
        ours.ProcessEvent()(ours.Event({"mask": ours.IN_Q_OVERFLOW}))
    assert "overflowed" in caplog.text


def test_ignored_delivered_then_watch_dropped(tmp_path: Path, s: Setup) -> None:
    (tmp_path / "f").touch()
    (wd,) = s.wm.add_watch(str(tmp_path / "f"), ours.IN_DELETE_SELF).values()
    os.unlink(tmp_path / "f")
    assert s.drain() == [f"IN_DELETE_SELF {tmp_path}/f", f"IN_IGNORED {tmp_path}/f"]
    assert s.wm.watches == {} and s.wm.get_watch(wd) is None


def test_ignore_events_flag(tmp_path: Path, s: Setup) -> None:
    s.wm.add_watch(str(tmp_path), ours.IN_CREATE)
    s.wm.ignore_events = True
    (tmp_path / "f").touch()
    assert s.drain() == []
    s.wm.ignore_events = False
    (tmp_path / "g").touch()
    assert s.drain() == [f"IN_CREATE {tmp_path}/g"]


def test_delivered_events_take_no_new_attributes(tmp_path: Path, s: Setup) -> None:
    s.wm.add_watch(str(tmp_path), ours.IN_CREATE)
    (tmp_path / "f").touch()
    drain(s.notifier)
    (ev,) = s.rec.events
    assert isinstance(ev, ours.Event) and ev.synthetic is False
    with pytest.raises(AttributeError, match="take no new attributes"):
        ev.seen = True
    assert not hasattr(ev, "cookie") and not hasattr(ev, "src_pathname")
    assert ev == ev and ev != ours.Event({"mask": 0x100}) and {ev: 1}[ev] == 1
    built = ours.Event({"mask": 0x100, "path": "/w", "name": "n", "extra": 1})
    built.seen = True  # Event(dict) objects are plain, as in pyinotify
    assert (built.extra, built.seen, built.pathname) == (1, True, "/w/n")


def test_moved_in_directory_is_watched_and_its_contents_reported(tmp_path: Path, s: Setup) -> None:
    """pyinotify watches a directory moved in (auto_add) but says nothing of what
    it holds; inwatch reports its contents as IN_CREATE, as both already do for
    a directory created with contents (``mkdir -p``)."""
    root = tmp_path / "w"
    root.mkdir()
    (tmp_path / "out" / "x").mkdir(parents=True)
    (tmp_path / "out" / "x" / "f").touch()
    s.wm.add_watch(str(root), ours.IN_CREATE | ours.IN_MOVED_TO, rec=True, auto_add=True)
    os.rename(tmp_path / "out", root / "in")
    assert s.drain() == [
        f"IN_MOVED_TO|IN_ISDIR {root}/in",
        f"IN_CREATE|IN_ISDIR {root}/in/x",
        f"IN_CREATE {root}/in/x/f",
    ]
    (root / "in" / "x" / "g").touch()
    assert s.drain() == [f"IN_CREATE {root}/in/x/g"]


def test_excluded_new_directory_is_not_watched(tmp_path: Path, s: Setup) -> None:
    """auto_add skips a new directory the filter excludes. (pyinotify still
    reports that directory's IN_CREATE; inwatch drops it with the rest of it.)"""
    excl = ours.ExcludeFilter([f"^{tmp_path}/tmp"])
    s.wm.add_watch(str(tmp_path), ours.IN_CREATE, rec=True, auto_add=True, exclude_filter=excl)
    (tmp_path / "tmp").mkdir()
    (tmp_path / "tmp" / "x").touch()
    (tmp_path / "kept").mkdir()
    (tmp_path / "kept" / "y").touch()
    assert s.drain() == [f"IN_CREATE|IN_ISDIR {tmp_path}/kept", f"IN_CREATE {tmp_path}/kept/y"]
    assert sorted(w.path for w in s.wm.watches.values()) == [str(tmp_path), str(tmp_path / "kept")]


LIMITED = """
import logging, os, sys
logging.basicConfig(level=logging.ERROR, format="%(message)s", stream=sys.stdout)
import inwatch.pyinotify as p
with open("/proc/sys/user/max_inotify_watches", "w") as f:
    f.write("2\\n")
d = sys.argv[1]
wm = p.WatchManager()
wm.add_watch(d, p.IN_CREATE, auto_add=True)
n = p.Notifier(wm, lambda e: print("event", e.name))
for name in ("a", "b"):
    os.mkdir(os.path.join(d, name))
    while n.check_events(200):
        n.read_events()
        n.process_events()
print(sorted(os.path.basename(w.path) for w in wm.watches.values()))
try:
    wm.add_watch(os.path.join(d, "b"), p.IN_CREATE, quiet=False)
except p.WatchManagerError as e:
    print(e, e.wmd)
n.stop()
"""


def test_watch_limit_at_run_time_and_at_add(tmp_path: Path) -> None:
    """In a user namespace whose watch limit is 2: the second new directory
    cannot be watched (logged as pyinotify logs it, its event still delivered),
    and add_watch(quiet=False) raises a WatchManagerError ending in (ENOSPC)."""
    import shutil
    import subprocess
    import sys

    if shutil.which("unshare") is None:
        pytest.skip("no unshare(1)")
    out = subprocess.run(
        ["unshare", "-U", "-r", sys.executable, "-c", LIMITED, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if out.returncode != 0 and "unshare" in out.stderr:
        pytest.skip(f"no user namespace: {out.stderr.strip()}")
    d = str(tmp_path)
    assert out.stdout.splitlines() == [
        "event a",
        f"add_watch: cannot watch {d}/b WD=-1, Errno=No space left on device (ENOSPC)",
        "event b",
        str(sorted([os.path.basename(d), "a"])),
        f"add_watch: cannot watch {d}/b WD=-1, Errno=No space left on device (ENOSPC) "
        f"{{'{d}/b': -1}}",
    ], out.stderr
