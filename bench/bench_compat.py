"""Cost per event of the pyinotify-compat layer against the native Watcher.

A backlog of 12,000 events is queued in the kernel (nothing reads meanwhile),
then drained and handled: natively (``Watcher.read`` + a callback per event) or
through ``inwatch.pyinotify`` (``Notifier.read_events`` + ``process_events`` to a
``ProcessEvent`` subclass's ``process_IN_*`` method). Runs are interleaved and
the medians of the CPU time spent compared; the target is compat <= 1.5x native.
With ``--threaded`` both sides run on the Watcher's threaded driver
(``Watcher.start`` against ``ThreadedNotifier``), the CPU time of every thread
counted.

    python bench/bench_compat.py [--rounds 15] [--events 12000] [--dir /dev/shm] [--read-attrs]
                                 [--threaded]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from typing import Any

from inwatch import Watcher
from inwatch import pyinotify as pyi

# CPU time of this process: what the event handling costs, whatever else the
# machine is running (wall-clock medians on a shared 2-core box are mostly noise).
CLOCK = time.process_time


def make_backlog(root: str, kind: str, count: int) -> None:
    if kind == "attrib":  # alternate two files so the kernel cannot merge events
        a, b = os.path.join(root, "a"), os.path.join(root, "b")
        for _ in range(count // 2):
            os.utime(a)
            os.utime(b)
    else:  # create, open, write, close, delete: five events per file
        for i in range(count // 5):
            p = os.path.join(root, f"f{i}")
            fd = os.open(p, os.O_WRONLY | os.O_CREAT, 0o644)
            os.write(fd, b"x")
            os.close(fd)
            os.unlink(p)


READ_ATTRS = False  # --read-attrs: handlers also read maskname and pathname


def native(root: str, kind: str, count: int) -> float:
    seen = [0]

    def handle(ev: Any) -> None:
        seen[0] += 1
        if READ_ATTRS:
            ev.maskname, ev.pathname  # noqa: B018

    with Watcher() as w:
        w.add(root, recursive=True)
        make_backlog(root, kind, count)
        t0 = CLOCK()
        while seen[0] < count:
            for ev in w.read(timeout=1.0):
                handle(ev)
        return CLOCK() - t0


def _wait_for(seen: list[int], count: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while seen[0] < count:
        if time.monotonic() > deadline:
            raise SystemExit(f"lost events: {seen[0]} of {count} delivered")
        time.sleep(0.001)


def native_threaded(root: str, kind: str, count: int) -> float:
    seen = [0]

    def handle(ev: Any) -> None:
        seen[0] += 1
        if READ_ATTRS:
            ev.maskname, ev.pathname  # noqa: B018

    with Watcher() as w:
        w.add(root, recursive=True)
        make_backlog(root, kind, count)
        t0 = CLOCK()
        w.start(handle)
        _wait_for(seen, count)
        return CLOCK() - t0


def _handler(seen: list[int]) -> Any:
    class Handler(pyi.ProcessEvent):
        def process_default(self, event: Any) -> None:
            seen[0] += 1
            if READ_ATTRS:
                event.maskname, event.pathname  # noqa: B018

        def process_IN_ATTRIB(self, event: Any) -> None:
            seen[0] += 1
            if READ_ATTRS:
                event.maskname, event.pathname  # noqa: B018

    return Handler()


def compat_threaded(root: str, kind: str, count: int) -> float:
    seen = [0]
    wm = pyi.WatchManager()
    notifier = pyi.ThreadedNotifier(wm, _handler(seen))
    try:
        wm.add_watch(root, pyi.ALL_EVENTS, rec=True, auto_add=True)
        make_backlog(root, kind, count)
        t0 = CLOCK()
        notifier.start()
        _wait_for(seen, count)
        return CLOCK() - t0
    finally:
        notifier.stop()


def compat(root: str, kind: str, count: int) -> float:
    seen = [0]
    wm = pyi.WatchManager()
    notifier = pyi.Notifier(wm, _handler(seen))
    try:
        wm.add_watch(root, pyi.ALL_EVENTS, rec=True, auto_add=True)
        make_backlog(root, kind, count)
        t0 = CLOCK()
        while seen[0] < count:
            if notifier.check_events(1000):
                notifier.read_events()
            notifier.process_events()
        return CLOCK() - t0
    finally:
        notifier.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--events", type=int, default=12_000)
    ap.add_argument("--dir", default="/dev/shm" if os.path.isdir("/dev/shm") else None)
    ap.add_argument("--read-attrs", action="store_true", help="handlers read maskname, pathname")
    ap.add_argument("--threaded", action="store_true", help="Watcher.start vs ThreadedNotifier")
    args = ap.parse_args()
    global READ_ATTRS
    READ_ATTRS = args.read_attrs
    with open("/proc/sys/fs/inotify/max_queued_events") as f:
        if int(f.read()) <= args.events:
            raise SystemExit("max_queued_events is too small for this backlog")
    runners: dict[str, Callable[[str, str, int], float]] = {"native": native, "compat": compat}
    if args.threaded:
        runners = {"native": native_threaded, "compat": compat_threaded}
    worst = 0.0
    for kind in ("attrib", "mixed"):
        times: dict[str, list[float]] = {"native": [], "compat": []}
        for r in range(args.rounds):
            order = ["native", "compat"] if r % 2 == 0 else ["compat", "native"]
            for name in order:
                root = tempfile.mkdtemp(prefix="bench-compat-", dir=args.dir)
                try:
                    for f in ("a", "b"):
                        open(os.path.join(root, f), "w").close()
                    times[name].append(runners[name](root, kind, args.events))
                finally:
                    shutil.rmtree(root)
        med = {k: statistics.median(v) for k, v in times.items()}
        ratio = med["compat"] / med["native"]
        worst = max(worst, ratio)
        per = {k: v / args.events * 1e6 for k, v in med.items()}
        print(
            f"{kind:7} {args.events} events: native {per['native']:6.2f} us/event"
            f"  compat {per['compat']:6.2f} us/event  ratio {ratio:.2f}x"
        )
    print(f"worst ratio {worst:.2f}x (target <= 1.5x)")


if __name__ == "__main__":
    main()
