"""What only the fanotify Watcher has, through every driver (issue 12).

Every other scenario of the contract runs on fanotify too (the ``backend``
parameter of conftest.py). Here: the listener's own activity left out (the
actions come from other processes), who did it, renames as inotify's pair,
the per-watch operations refused, ``auto``'s reason, the missing capability
said in one line, and the list of what fanotify cannot do (CANNOT) kept
honest against the suite."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from contract_harness import HarnessFactory as MakeHarness
from contract_harness import describe, pathnames

from inwatch import Mask, Watcher

CREATE, DELETE, MOVED_TO = int(Mask.CREATE), int(Mask.DELETE), int(Mask.MOVED_TO)
MOVED_FROM = int(Mask.MOVED_FROM)
j = os.path.join


@pytest.fixture
def backend() -> str:
    """This module is about fanotify alone (and acts from other processes: the
    listener's own activity is not reported)."""
    return "fanotify"


@pytest.fixture
def fan_root(tmpfs: Path) -> str:
    try:
        with Watcher(backend="fanotify"):
            pass
    except PermissionError as exc:
        pytest.skip(str(exc))
    return str(tmpfs)


def test_tree_events_with_actors(harness: MakeHarness, fan_root: str) -> None:
    """Everything is done by other processes: the listener's own activity is
    never reported (so the harness's in-process sentinels cannot be used)."""
    h = harness()
    assert h.w.backend == "fanotify"
    os.makedirs(j(fan_root, "a", "b"))
    h.w.add(fan_root, recursive=True)
    h.start()
    f, g = j(fan_root, "new", "deep", "f"), j(fan_root, "a", "b", "g")
    script = f"mkdir -p {fan_root}/new/deep; touch {f}; mv {f} {g}; rm {g}"
    subprocess.run(["sh", "-ec", script], check=True)
    events = h.collect_until(lambda evs: g in pathnames(evs, DELETE))
    assert f in pathnames(events, CREATE), describe(events)
    moved = [e for e in events if e.mask & MOVED_TO]
    assert [os.fsdecode(e.src_pathname) for e in moved] == [f], describe(events)
    (left,) = [e for e in events if e.mask & MOVED_FROM]
    assert left.pathname == f and left.cookie == moved[0].cookie != 0, describe(events)
    touched = next(e for e in events if os.fsdecode(e.pathname) == f)
    assert touched.actor is not None and touched.actor.uid == 0, touched
    assert touched.actor.exe is not None and touched.actor.exe.endswith("touch"), touched


def test_per_watch_operations_say_they_are_inotifys(fan_root: str) -> None:
    with Watcher(backend="fanotify") as w:
        rid = w.add(fan_root, recursive=True)
        assert w.watches == {rid: fan_root}
        with pytest.raises(NotImplementedError, match="inotify"):
            w.unwatch(rid)
        w.remove(rid)
        assert not w.watches


def test_auto_says_which_backend_and_why() -> None:
    with Watcher(backend="auto") as w:
        assert w.backend in ("inotify", "fanotify")
        assert w.backend_reason
    with pytest.raises(ValueError, match="unknown backend"):
        Watcher(backend="kqueue")


def test_fanotify_without_the_capability_says_inotify_works(tmp_path: Path) -> None:
    script = (
        "import inwatch\n"
        "try:\n"
        "    inwatch.Watcher(backend='fanotify')\n"
        "except PermissionError as e:\n"
        "    print('refused:', e)\n"
        "w = inwatch.Watcher(backend='auto')\n"
        "print('auto:', w.backend, w.backend_reason)\n"
        "w.close()\n"
    )
    out = subprocess.run(
        # As root without CAP_SYS_ADMIN: a filesystem mark needs it.
        [
            "setpriv",
            "--inh-caps=-sys_admin",
            "--bounding-set=-sys_admin",
            sys.executable,
            "-c",
            script,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")},
    )
    assert "refused:" in out.stdout and "inotify" in out.stdout, out
    assert "auto: inotify" in out.stdout, out


def test_every_documented_limit_is_what_some_contract_test_skips() -> None:
    """CANNOT lists only what the contract really asks: each name is used by
    a ``needs`` marker, the NEEDS table or a ``lacks()`` guard of the suite."""
    from inwatch.fanotify.backend import CANNOT

    here = Path(__file__).parent
    text = "".join(p.read_text() for p in here.glob("*.py") if p.name != Path(__file__).name)
    unused = [c for c in CANNOT if f'"{c}"' not in text]
    assert not unused, unused


def test_overflow_then_what_changed_while_blind(
    harness: MakeHarness, scratch: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fanotify form of the contract's overflow scenario (CANNOT's
    ``overflow_names``): Q_OVERFLOW (wd -1) through every driver, then every
    entry made or changed while blind is reported after it (``rescan``: MODIFY,
    by ctime), and a deleted entry as its directory's MODIFY; nothing synthetic
    before the overflow; later events arrive as before."""
    from contract_harness import touch

    monkeypatch.setenv("INWATCH_FANOTIFY", "report-own")  # we act in-process
    with open("/proc/sys/fs/fanotify/max_queued_events") as f:
        max_queued = int(f.read())
    root = j(scratch, "root")
    os.makedirs(j(root, "bulk"))
    os.makedirs(j(root, "sub"))
    gone = [j(root, "sub", f"g{i}") for i in range(5)]
    for p in gone:
        touch(p)
    changed = j(root, "changed")
    touch(changed)
    # Twice the queue: the threaded driver's reader may take one large read
    # after its handler is held, and the kernel merges each file's records
    # while they wait, so only one record per file is certain to queue.
    new = [j(root, "bulk", f"n{i}") for i in range(2 * max_queued)]

    def changes() -> None:
        for p in new:
            touch(p)  # one record each (CREATE|OPEN|CLOSE_WRITE merged)
        for p in gone:
            os.unlink(p)
        with open(changed, "a") as f:
            f.write("changed while blind")

    h = harness(max_queue=64) if harness.driver == "threaded" else harness()
    h.w.add(root, recursive=True)
    h.start()
    h.blind(changes, poke_dir=root)
    want = {*new, changed, j(root, "sub")}

    def rescanned(evs: list) -> bool:
        return want <= {os.fsdecode(e.pathname) for e in evs if e.origin == "rescan"}

    h.collect_until(rescanned, timeout=60)
    events = h.sync(root)
    overflows = [i for i, e in enumerate(events) if e.mask & Mask.Q_OVERFLOW]
    assert overflows and events[overflows[0]].wd == -1, describe(events)
    assert not [e for e in events[: overflows[0]] if e.synthetic], describe(events)
    sub = [e for e in events if e.origin == "rescan" and e.pathname == j(root, "sub")]
    assert sub and all(e.mask == Mask.MODIFY | Mask.ISDIR for e in sub), describe(sub)
    touch(j(root, "sub", "after"))
    later = h.sync(root)
    assert j(root, "sub", "after") in pathnames(later, CREATE), describe(later[-10:])
