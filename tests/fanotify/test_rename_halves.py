"""Renames without FAN_RENAME (kernels before 5.17): the FAN_MOVED_FROM and
FAN_MOVED_TO halves paired (inwatch.fanotify.moves), forced on this kernel with
``rename=False``. Each scenario runs on both paths and must give the same
event stream (cookies aside: they are counters of each listener)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from inwatch import Event, Mask
from inwatch.fanotify.backend import FanotifyBackend
from inwatch.fanotify.moves import MovePairer

from .conftest import collect, has

ISDIR = Mask.ISDIR

SCENARIOS = {
    # name: (shell script run in the tmpfs, the path whose event ends it, its mask)
    "file": ("touch w/a && mv w/a w/b && touch w/end", "w/end", Mask.CREATE),
    "dir": ("mkdir -p w/d/s && mv w/d w/e && touch w/e/s/f w/end", "w/end", Mask.CREATE),
    "out": (
        "touch w/o && mkdir -p w/x && mv w/o out-o && mv w/x out-x && touch w/end",
        "w/end",
        Mask.CREATE,
    ),
    "in": (
        "mkdir -p in/d && touch in/f in/d/g && mv in/f w/f && mv in/d w/d && touch w/end",
        "w/end",
        Mask.CREATE,
    ),
    "over": (
        "touch w/a w/b && mkdir w/p w/q && mv w/a w/b && mv w/p w/q && touch w/end",
        "w/end",
        Mask.CREATE,
    ),
    "created_then_moved": ("mkdir w/n && mv w/n w/m && touch w/m/f w/end", "w/end", Mask.CREATE),
}


def _stream(
    top: Path, rename: bool | None, script: str, end: str, mask: int
) -> list[tuple[Any, ...]]:
    w = top / "w"
    w.mkdir()
    with FanotifyBackend(rename=rename) as b:
        assert b.renames == ("FAN_RENAME" if rename is None else "paired halves")
        b.add(str(w), recursive=True)
        subprocess.run(["sh", "-ec", script], cwd=top, check=True, timeout=30)
        got: list[Event[Any]] = collect(b, has(top / end, mask))
        assert not b.stats["unresolved"]
    return [_shape(e, str(top)) for e in got]


def _shape(e: Event[Any], top: str) -> tuple[Any, ...]:
    rel = os.path.relpath(e.pathname, top)
    src = os.path.relpath(e.src_pathname, top) if e.src_pathname else None
    return (Mask(e.mask), rel, src, e.origin, e.cookie != 0)


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_halves_give_the_fan_rename_stream(tmpfs: Path, scenario: str) -> None:
    script, end, mask = SCENARIOS[scenario]
    os.chmod(tmpfs, 0o755)
    with_rename = _stream(tmpfs / "r", None, script, end, mask) if _mk(tmpfs / "r") else []
    halves = _stream(tmpfs / "h", False, script, end, mask) if _mk(tmpfs / "h") else []
    assert halves == with_rename
    moves = [s for s in halves if s[0] & Mask.MOVE]
    assert moves, halves  # every scenario moves something
    pairs = [s for s in moves if s[4]]
    assert all(s[2] for s in pairs if s[0] & Mask.MOVED_TO)  # paired MOVED_TO: src_pathname


def _mk(p: Path) -> bool:
    p.mkdir()
    return True


def test_expected_events_of_the_pairing(tmpfs: Path) -> None:
    """What the halves give, spelled out: inside the tree a MOVED_FROM/MOVED_TO
    pair with one cookie; out of it a MOVED_FROM; into it a MOVED_TO without
    src_pathname, and a moved-in directory's contents as scan CREATEs."""
    w = tmpfs / "w"
    w.mkdir()
    (tmpfs / "in" / "d").mkdir(parents=True)
    (tmpfs / "in" / "d" / "g").write_bytes(b"")
    with FanotifyBackend(rename=False) as b:
        b.add(str(w), recursive=True)
        script = "touch w/a && mv w/a w/b && mv w/b out && mv in/d w/d && touch w/end"
        subprocess.run(["sh", "-ec", script], cwd=tmpfs, check=True, timeout=30)
        got = collect(b, has(w / "end", Mask.CREATE))
    moves = [(Mask(e.mask), e.pathname, e.src_pathname) for e in got if e.mask & Mask.MOVE]
    assert moves == [
        (Mask.MOVED_FROM, str(w / "a"), None),
        (Mask.MOVED_TO, str(w / "b"), str(w / "a")),
        (Mask.MOVED_FROM, str(w / "b"), None),
        (Mask.MOVED_TO | ISDIR, str(w / "d"), None),
    ]
    cookies = [e.cookie for e in got if e.mask & Mask.MOVE]
    assert cookies[0] == cookies[1] != 0 and cookies[2:] == [0, 0]
    assert has(w / "d" / "g", Mask.CREATE, origin="scan")(got)


def test_a_lone_departure_is_moved_away_after_a_later_read() -> None:
    """inotify's rule, restated: a departure is gone once a read that started
    after its window was processed; until then it waits."""
    p: MovePairer[str] = MovePairer(window=0.002)
    assert p.depart(b"fid", "x", read_at=10.0) is None
    assert p.deadline() == pytest.approx(10.002)
    assert p.gone(10.001) == []
    assert p.arrive(b"other") is None
    assert p.gone(10.002) == ["x"]
    assert p.deadline() is None
    p.depart((5, False), "y", 1.0)
    assert p.depart((5, False), "z", 1.0) == "y"  # one process, one rename at a time
    assert p.arrive((5, False)) == "z"
    p.depart(b"a", "a", 1.0)
    assert p.flush() == ["a"] and not p


def _refuse(monkeypatch: pytest.MonkeyPatch, flag: int, what: str) -> None:
    """Make fanotify_init/fanotify_mark refuse *flag* with EINVAL, as a kernel
    before 5.17 does (the rest is the real kernel)."""
    import errno

    from inwatch.fanotify import _sys
    from inwatch.fanotify.errors import UnsupportedEventError

    real = getattr(_sys, what)

    def older(fd_or_flags: int, *args: Any, **kw: Any) -> Any:
        if what == "fanotify_init" and fd_or_flags & flag:
            raise UnsupportedEventError(errno.EINVAL, "refused as before 5.17")
        if what == "fanotify_mark" and args[1] & flag:
            raise UnsupportedEventError(errno.EINVAL, "refused as before 5.17")
        return real(fd_or_flags, *args, **kw)

    monkeypatch.setattr(_sys, what, older)


@pytest.mark.parametrize("scenario", ["file", "dir", "out", "in", "created_then_moved"])
def test_kernel_without_fan_rename_falls_back(
    tmpfs: Path, scenario: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """FAN_RENAME refused at the mark (EINVAL), as before 5.17: the backend
    pairs the halves by itself and gives the same stream."""
    from inwatch.fanotify.flags import FanMask

    script, end, mask = SCENARIOS[scenario]
    os.chmod(tmpfs, 0o755)
    with_rename = _stream(tmpfs / "r", None, script, end, mask) if _mk(tmpfs / "r") else []
    _refuse(monkeypatch, FanMask.RENAME, "fanotify_mark")
    w = tmpfs / "h" / "w"
    w.mkdir(parents=True)
    with FanotifyBackend() as b:
        b.add(str(w), recursive=True)
        assert b.renames == "paired halves"
        subprocess.run(["sh", "-ec", script], cwd=tmpfs / "h", check=True, timeout=30)
        got = collect(b, has(tmpfs / "h" / end, mask))
    assert [_shape(e, str(tmpfs / "h")) for e in got] == with_rename


# Not "dir" and "in": without the moved directory's handle, a directory that
# no event named by its handle is placed by the kernel when it is first met
# (open_by_handle_at: where it is *then*), so an event queued before that
# directory was renamed can come out under its later path (handles.py says so;
# 5.17's FAN_REPORT_TARGET_FID is what makes the path exact).
@pytest.mark.parametrize("scenario", ["file", "out", "over", "created_then_moved"])
def test_kernel_without_target_fid_pairs_by_process(
    tmpfs: Path, scenario: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Linux 5.9-5.16: no FAN_REPORT_TARGET_FID either, so no handle of the
    moved object: halves paired by the renaming process, moved directories
    placed by the kernel again. Same stream."""
    from inwatch.fanotify.flags import FanInit

    script, end, mask = SCENARIOS[scenario]
    os.chmod(tmpfs, 0o755)
    with_rename = _stream(tmpfs / "r", None, script, end, mask) if _mk(tmpfs / "r") else []
    _refuse(monkeypatch, FanInit.REPORT_TARGET_FID, "fanotify_init")
    w = tmpfs / "h" / "w"
    w.mkdir(parents=True)
    with FanotifyBackend() as b:
        assert not b._fan.flags & FanInit.REPORT_TARGET_FID
        b.add(str(w), recursive=True)
        assert b.renames == "paired halves"
        subprocess.run(["sh", "-ec", script], cwd=tmpfs / "h", check=True, timeout=30)
        got = collect(b, has(tmpfs / "h" / end, mask))
    assert [_shape(e, str(tmpfs / "h")) for e in got] == with_rename
