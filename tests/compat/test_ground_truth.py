"""Ground truth for the pyinotify layer: seeded random operations on a real tree
watched through ``inwatch.pyinotify`` (``rec=True, auto_add=True``); the events
the handler got, replayed over the starting tree, must give the real final
tree, with nothing created twice and nothing reported under a directory that
did not exist (tests/unit/replay.py). In the suite, the blocking Notifier is
kept away while every operation runs (the widest window), or reads after each
one.

By hand, at any size, also with a ThreadedNotifier (or the native Watcher's
threaded driver, for comparison) reading while the operations run back to
back; it prints the divergences per thousand sequences::

    python tests/compat/test_ground_truth.py [--mode blind|paced|threaded|native] [--seeds N]
"""

from __future__ import annotations

import os
import random
import shutil
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from compat_helpers import drain

from inwatch import Watcher
from inwatch import pyinotify as ours

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from unit.replay import real_tree, replay

MASK = ours.IN_CREATE | ours.IN_DELETE | ours.IN_MOVED_FROM | ours.IN_MOVED_TO
SENTINEL = ".sentinel"


def _dirs(root: Path) -> list[Path]:
    return [root, *sorted(Path(d) for d, _, _ in os.walk(root) if Path(d) != root)]


def _entries(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if SENTINEL not in p.name)


def _operate(rng: random.Random, root: Path, outside: Path, steps: range) -> None:
    """Random operations inside *root* (and across its border with *outside*),
    one per step; the step numbers make the names new."""
    for i in steps:
        dirs = _dirs(root)
        here = rng.choice(dirs)
        name = f"n{i}{rng.choice('abc')}"
        op = rng.randrange(8)
        entries = _entries(root)
        if op == 0:
            (here / name).mkdir()
        elif op == 1:
            os.makedirs(here / name / "x" / "y")
            (here / name / "x" / "f").write_text("1")
        elif op == 2:
            (here / name).write_text("data")
        elif op in (3, 4) and entries:
            src = rng.choice(entries)
            dest = rng.choice(dirs) / name
            if src.is_dir() and (dest == src or src in dest.parents):
                continue  # cannot move a directory into itself
            os.rename(src, dest)
        elif op == 5 and entries:
            victim = rng.choice(entries)
            if victim.is_dir():
                shutil.rmtree(victim)
            else:
                victim.unlink()
        elif op == 6 and entries:  # out of the watched tree
            os.rename(rng.choice(entries), outside / f"out{i}")
        elif op == 7:  # into it, with contents
            made = outside / f"in{i}"
            os.makedirs(made / "sub")
            (made / "sub" / "g").write_text("2")
            os.rename(made, here / name)


def _check(root: Path, start: set[str], events: list[Any]) -> None:
    events = [e for e in events if SENTINEL not in os.fsdecode(getattr(e, "name", ""))]
    tree, complaints = replay(str(root), start, events)
    real = {p for p in real_tree(str(root)) if SENTINEL not in p}
    shown = "\n".join(str(e) for e in events)
    assert not complaints, "\n".join(complaints) + "\n" + shown
    assert tree == real, f"{sorted(tree ^ real)}\n{shown}"


def _setup(tmp_path: Path, seed: int) -> tuple[Path, Path, set[str]]:
    root, outside = tmp_path / f"w{seed}", tmp_path / f"o{seed}"
    (root / "a" / "b").mkdir(parents=True)
    (root / "a" / "f").write_text("0")
    outside.mkdir()
    return root, outside, real_tree(str(root))


@pytest.mark.parametrize("paced", [False, True], ids=["blind", "paced"])
def test_notifier_events_replay_to_the_real_tree(tmp_path: Path, paced: bool) -> None:
    found = {}
    for seed in range(12 if paced else 25):  # paced: each drain waits 20 ms of quiet
        divergence = _one_notifier(tmp_path, seed, paced)
        if divergence is not None:
            found[seed] = divergence
    assert found == {}


def _divergence(root: Path, start: set[str], events: list[Any]) -> str | None:
    try:
        _check(root, start, events)
    except AssertionError as err:
        return str(err).splitlines()[0]
    return None


def _quiet(events: list[Any], ms: int = 100) -> None:
    """Wait until no event came for *ms*: what a listing found is reported after
    the read that follows it, so it may come after the sentinel."""
    seen = -1
    while seen != len(events):
        seen = len(events)
        time.sleep(ms / 1000)


def _one_threaded(tmp_path: Path, seed: int, native: bool) -> str | None:
    """One sequence read while it runs; the divergence, or None."""
    root, outside, start = _setup(tmp_path, seed)
    events: list[Any] = []
    done = threading.Event()

    def handle(event: Any) -> None:
        events.append(event)
        if event.name == SENTINEL:
            done.set()

    if native:
        with Watcher() as w:
            w.add(root, MASK, recursive=True)
            w.start(handle)
            _operate(random.Random(seed), root, outside, range(12))
            (root / SENTINEL).touch()  # everything before it is delivered before it
            if not done.wait(10):
                return "the sentinel never came"
            _quiet(events)
    else:
        wm = ours.WatchManager()
        notifier = ours.ThreadedNotifier(wm, handle)
        notifier.start()
        try:
            wm.add_watch(str(root), MASK, rec=True, auto_add=True)
            _operate(random.Random(seed), root, outside, range(12))
            (root / SENTINEL).touch()
            if not done.wait(10):
                return "the sentinel never came"
            _quiet(events)
        finally:
            notifier.stop()
    return _divergence(root, start, events)


def _one_notifier(tmp_path: Path, seed: int, paced: bool) -> str | None:
    root, outside, start = _setup(tmp_path, seed)
    wm = ours.WatchManager()
    events: list[Any] = []
    notifier = ours.Notifier(wm, events.append)
    try:
        wm.add_watch(str(root), MASK, rec=True, auto_add=True)
        rng = random.Random(seed)
        for step in range(12):
            _operate(rng, root, outside, range(step, step + 1))
            if paced:
                drain(notifier, quiet_ms=20)
        drain(notifier, quiet_ms=50)
    finally:
        notifier.stop()
    return _divergence(root, start, events)


def main() -> None:
    import argparse
    import tempfile

    ap = argparse.ArgumentParser(description="pyinotify layer ground truth, by hand")
    ap.add_argument("--mode", choices=["blind", "paced", "threaded", "native"], default="threaded")
    ap.add_argument("--seeds", type=int, default=1000)
    args = ap.parse_args()
    bad = 0
    for seed in range(args.seeds):
        with tempfile.TemporaryDirectory() as tmp:
            if args.mode in ("threaded", "native"):
                found = _one_threaded(Path(tmp), seed, native=args.mode == "native")
            else:
                found = _one_notifier(Path(tmp), seed, paced=args.mode == "paced")
        if found is not None:
            bad += 1
            print(f"seed {seed}: {found}")
    print(f"{args.mode}: {bad} divergent of {args.seeds} ({1000 * bad / args.seeds:.1f} per 1000)")


if __name__ == "__main__":
    main()
