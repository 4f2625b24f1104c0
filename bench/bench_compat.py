"""The pyinotify layer's cost against the native Watcher (and pyinotify 0.9.6).

Three peers do the same work on the same tree, with the same mask (0xfff,
``ALL_EVENTS``), recursively (``auto_add`` on), and the same user work per
event (count it; with ``--read-attrs`` also read ``maskname`` and
``pathname``):

- ``native``: :class:`inwatch.Watcher` (``read()`` + a function per event,
  ``start(callback)``, ``async for``);
- ``compat``: ``inwatch.pyinotify`` (WatchManager + Notifier /
  ThreadedNotifier / AsyncioNotifier, a ProcessEvent subclass with
  ``process_IN_ATTRIB`` and ``process_default``), driven as pyinotify's
  documentation shows;
- ``pyinotify``: pyinotify 0.9.6 itself, driven the same way (``n/a`` if it
  cannot be imported).

Workloads (each in every peer's own way of delivering):

- ``burst``, ``burst-mixed``: a backlog of ``--events`` events queued in the
  kernel while nothing reads (utime of two files in turn; or create, open,
  write, close, delete), then drained and handled: CPU time of the process
  (every thread) per event. ``-threaded`` and ``-async``: the same through
  ``Watcher.start`` / ThreadedNotifier and ``async for`` / AsyncioNotifier.
- ``latency``: a forked writer writes one byte (IN_MODIFY) after a random
  0.5-2 ms pause, noting CLOCK_MONOTONIC just before; the handler notes it when
  it sees the event and sends it back. p50 and p99 in µs (blocking reads;
  ``latency-threaded`` with the threads, ``latency-async`` in asyncio).
- ``setup``: a recursive watch of a tree of ``--dirs`` directories until the
  first event after it is handled: CPU time per directory watched (the events
  of the watch manager's own listing, delivered first, included).

With ``--baseline SRC`` (another checkout's ``src/``, e.g. the previous
release's), that inwatch's Watcher and pyinotify layer run in the same rounds
as ``native-base`` and ``compat-base``: before and after, in one run.

Rounds interleave the peers in a rotating order; medians are reported with
the spread (min-max over rounds); ratios are the medians of the ratios taken
within each round (same machine load), with their spread.
Trees live on /dev/shm. Target: compat <= 1.3x native, and ahead of pyinotify.

    python bench/bench_compat.py [--rounds 9] [--events 12000] [--dirs 5000]
                                 [--samples 300] [--read-attrs] [--only burst,latency]
                                 [--peers native,compat,pyinotify] [--quick]
                                 [--baseline /work/wt-before/src]

A peer that loses an event fails the run (exit status 1); ``--quick`` (one
small round of each workload) is for CI: it runs, nothing is lost.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import importlib.util
import os
import random
import select
import shutil
import statistics
import struct
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

from inwatch import Watcher

# CPU time of this process (every thread): what the event handling costs,
# whatever else the machine runs (wall-clock medians on a shared box are noise).
CLOCK = time.process_time
ALL_EVENTS = 0xFFF
IN_MODIFY = 0x2
READ_ATTRS = False  # --read-attrs: handlers also read maskname and pathname
DIR = "/dev/shm" if os.path.isdir("/dev/shm") else None


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


# A peer that loses an event never reaches its count: it fails (exit status 1)
# after this long without being done, instead of hanging.
TIMEOUT = 60.0


def _lost(seen: list[int], count: int) -> SystemExit:
    return SystemExit(f"lost events: {seen[0]} of {count} delivered in {TIMEOUT:.0f} s")


def _wait_for(seen: list[int], count: int) -> None:
    deadline = time.monotonic() + TIMEOUT
    while seen[0] < count:
        if time.monotonic() > deadline:
            raise _lost(seen, count)
        time.sleep(0.001)


# --baseline SRC: another checkout's inwatch, loaded under this name, runs as
# the peers native-base and compat-base in the same rounds (before/after in
# one run). Its modules import each other relatively, so the copy is whole.
BASE = "inwatch_base"


def _load_baseline(src: str) -> None:
    pkg = os.path.join(os.path.abspath(src), "inwatch")
    spec = importlib.util.spec_from_file_location(
        BASE, os.path.join(pkg, "__init__.py"), submodule_search_locations=[pkg]
    )
    if spec is None or spec.loader is None:
        raise SystemExit(f"--baseline: no inwatch package in {src}")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[BASE] = mod
    spec.loader.exec_module(mod)


def _module(peer: str) -> Any:
    names = {"compat": "inwatch.pyinotify", "compat-base": BASE + ".pyinotify"}
    return importlib.import_module(names.get(peer, "pyinotify"))


def _watcher(peer: str) -> Any:
    """The Watcher of a native peer (native, native-base)."""
    return (importlib.import_module(BASE).Watcher if peer.endswith("-base") else Watcher)()


def _handler(mod: Any, seen: list[int], on_event: Callable[[Any], None] | None = None) -> Any:
    """The same ProcessEvent subclass for both pyinotify peers."""

    class Handler(mod.ProcessEvent):  # type: ignore[misc,name-defined]
        def process_default(self, event: Any) -> None:
            seen[0] += 1
            if READ_ATTRS:
                event.maskname, event.pathname  # noqa: B018
            if on_event is not None:
                on_event(event)

        def process_IN_ATTRIB(self, event: Any) -> None:
            seen[0] += 1
            if READ_ATTRS:
                event.maskname, event.pathname  # noqa: B018

    return Handler()


def _native_handler(seen: list[int], on_event: Callable[[Any], None] | None = None) -> Any:
    def handle(ev: Any) -> None:
        seen[0] += 1
        if READ_ATTRS:
            ev.maskname, ev.pathname  # noqa: B018
        if on_event is not None and not ev.mask & 0x4:  # ATTRIB goes to process_IN_ATTRIB
            on_event(ev)

    return handle


# --- drivers: set up on root, then deliver `count` events to the handler ------------


class Native:
    def __init__(self, peer: str, root: str, seen: list[int], on_event: Any = None) -> None:
        self.w = _watcher(peer)
        self.w.add(root, ALL_EVENTS, recursive=True)
        self.handle = _native_handler(seen, on_event)
        self.seen = seen

    def blocking(self, count: int) -> None:
        w, handle, seen = self.w, self.handle, self.seen
        deadline = time.monotonic() + TIMEOUT
        while seen[0] < count:
            for ev in w.read(timeout=1.0):
                handle(ev)
            if time.monotonic() > deadline:
                raise _lost(seen, count)

    def threaded(self, count: int) -> None:
        self.w.start(self.handle)
        _wait_for(self.seen, count)

    def asyncio(self, count: int) -> None:
        w, handle, seen = self.w, self.handle, self.seen

        async def consume() -> None:
            async for ev in w:
                handle(ev)
                if seen[0] >= count:
                    break

        try:
            asyncio.run(asyncio.wait_for(consume(), TIMEOUT))
        except asyncio.TimeoutError:
            raise _lost(seen, count) from None

    def close(self) -> None:
        self.w.close()


class Pyi:
    """Either pyinotify peer: the same calls on the one or the other module."""

    def __init__(self, mod: Any, root: str, seen: list[int], on_event: Any = None) -> None:
        self.mod = mod
        self.wm = mod.WatchManager()
        self.wm.add_watch(root, ALL_EVENTS, rec=True, auto_add=True)
        self.handler = _handler(mod, seen, on_event)
        self.seen = seen
        self.notifier: Any = None
        self.closed = False

    def blocking(self, count: int) -> None:
        n = self.notifier = self.mod.Notifier(self.wm, self.handler)
        seen = self.seen
        deadline = time.monotonic() + TIMEOUT
        while seen[0] < count:
            if n.check_events(1000):
                n.read_events()
            n.process_events()
            if time.monotonic() > deadline:
                raise _lost(seen, count)

    def threaded(self, count: int) -> None:
        n = self.notifier = self.mod.ThreadedNotifier(self.wm, self.handler)
        n.start()
        _wait_for(self.seen, count)

    def asyncio(self, count: int) -> None:
        loop = asyncio.new_event_loop()
        seen = self.seen

        def done(notifier: Any) -> None:
            if seen[0] >= count:
                loop.stop()

        self.notifier = self.mod.AsyncioNotifier(
            self.wm, loop, callback=done, default_proc_fun=self.handler
        )
        timer = loop.call_later(TIMEOUT, loop.stop)
        try:
            loop.run_forever()
        finally:
            timer.cancel()
            self.notifier.stop()
            self.closed = True
            loop.close()
        if seen[0] < count:
            raise _lost(seen, count)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self.notifier is not None:
            self.notifier.stop()  # closes the watch manager's fd too
        else:
            self.wm.close()


def _driver(peer: str, root: str, seen: list[int], on_event: Any = None) -> Any:
    if peer.startswith("native"):
        return Native(peer, root, seen, on_event)
    return Pyi(_module(peer), root, seen, on_event)


def _fresh_root() -> str:
    root = tempfile.mkdtemp(prefix="bench-compat-", dir=DIR)
    for f in ("a", "b"):
        open(os.path.join(root, f), "w").close()
    return root


# --- workloads: one measure (a list of figures) per call ---------------------------


def burst(peer: str, kind: str, how: str, count: int) -> list[float]:
    """CPU µs per event to drain a backlog of *count* events."""
    root = _fresh_root()
    seen = [0]
    try:
        d = _driver(peer, root, seen)
        try:
            make_backlog(root, kind, count)
            t0 = CLOCK()
            getattr(d, how)(count)
            return [(CLOCK() - t0) / count * 1e6]
        finally:
            d.close()
    finally:
        shutil.rmtree(root)


def latency(peer: str, how: str, samples: int) -> list[float]:
    """Write -> handler latencies, µs (a forked writer; see the module doc)."""
    root = _fresh_root()
    target = os.path.join(root, "lat")
    open(target, "w").close()
    ack_r, ack_w = os.pipe()
    res_r, res_w = os.pipe()
    seen = [0]
    got = [0]

    def on_event(ev: Any) -> None:
        if ev.mask & IN_MODIFY and ev.name == "lat":
            os.write(ack_w, struct.pack("q", time.monotonic_ns()))
            got[0] += 1

    d = _driver(peer, root, seen, on_event)
    d.seen = got  # the loops end on the samples, whatever else the writer causes
    pid = os.fork()
    if pid == 0:  # the writer
        try:
            os.close(ack_w)
            fd = os.open(target, os.O_WRONLY)
            out = []
            for _ in range(samples):
                time.sleep(random.uniform(0.0005, 0.002))
                t0 = time.monotonic_ns()
                os.write(fd, b"x")
                if not select.select([ack_r], [], [], TIMEOUT)[0]:
                    os._exit(1)  # the event was lost: the parent fails on its count
                (t1,) = struct.unpack("q", os.read(ack_r, 8))
                out.append((t1 - t0) / 1000)
            os.write(res_w, struct.pack(f"{samples}d", *out))
        finally:
            os._exit(0)
    try:
        os.close(ack_r)
        getattr(d, how)(samples)
        data = b""
        need = samples * 8
        while len(data) < need:
            chunk = os.read(res_r, need - len(data))
            if not chunk:
                raise SystemExit(f"{peer}: the writer died after {got[0]} samples")
            data += chunk
        return list(struct.unpack(f"{samples}d", data))
    finally:
        os.waitpid(pid, 0)
        for fd in (ack_w, res_r, res_w):
            os.close(fd)
        d.close()
        shutil.rmtree(root)


_TREES: dict[int, str] = {}


def _tree(ndirs: int) -> str:
    """One tree of *ndirs* directories for every setup round (setup does not
    change it), 10 per level."""
    if ndirs not in _TREES:
        root = tempfile.mkdtemp(prefix="bench-compat-tree-", dir=DIR)
        level, made = [root], 0
        while made < ndirs:
            nxt = []
            for parent in level:
                for i in range(10):
                    if made >= ndirs:
                        break
                    p = os.path.join(parent, f"d{i}")
                    os.mkdir(p)
                    nxt.append(p)
                    made += 1
            level = nxt
        _TREES[ndirs] = root
    return _TREES[ndirs]


def setup(peer: str, ndirs: int) -> list[float]:
    """CPU µs per directory for a recursive watch of the tree, until the first
    event after it (a sentinel file) is handled: everything the set-up made the
    peer deliver first (pyinotify's walk reports 3 events a subdirectory, which
    the pyinotify peers hand to their handler) is in the figure, as in
    bench/setup_tree.py. pyinotify 0.9.6 overflows the kernel queue on a large
    tree and may lose the sentinel: a new one is made after every quiet 50 ms."""
    root = _tree(ndirs)
    sentinel = os.path.join(root, ".sentinel")
    got: list[bool] = []
    made = 0

    def poke() -> None:
        nonlocal made
        with open(f"{sentinel}{made}", "w"):
            made += 1

    t0 = CLOCK()
    if peer.startswith("native"):
        w = _watcher(peer)
        w.add(root, ALL_EVENTS, recursive=True)
        poke()
        while not got:
            events = w.read(timeout=0.05)
            if not events:
                poke()
            for ev in events:
                if ev.name.startswith(".sentinel"):
                    got.append(True)
        took = CLOCK() - t0
        watched = len(w.watches)
        w.close()
    else:
        mod = _module(peer)

        def handle(ev: Any) -> None:
            if getattr(ev, "name", "").startswith(".sentinel"):
                got.append(True)

        wm = mod.WatchManager()
        notifier = mod.Notifier(wm, default_proc_fun=handle)
        wds = wm.add_watch(root, ALL_EVENTS, rec=True, auto_add=True)
        poke()
        while not got:
            if notifier.check_events(50):
                notifier.read_events()
                notifier.process_events()
            else:
                poke()
        took = CLOCK() - t0
        watched = sum(1 for v in wds.values() if v >= 0)
        notifier.stop()
    for i in range(made):
        os.unlink(f"{sentinel}{i}")
    if watched != ndirs + 1:
        raise SystemExit(f"{peer}: {watched} directories watched of {ndirs + 1}")
    return [took / watched * 1e6]


def workloads(args: argparse.Namespace) -> dict[str, Callable[[str], list[float]]]:
    n, s = args.events, args.samples
    return {
        "burst": lambda p: burst(p, "attrib", "blocking", n),
        "burst-mixed": lambda p: burst(p, "mixed", "blocking", n),
        "burst-threaded": lambda p: burst(p, "attrib", "threaded", n),
        "burst-async": lambda p: burst(p, "attrib", "asyncio", n),
        "latency": lambda p: latency(p, "blocking", s),
        "latency-threaded": lambda p: latency(p, "threaded", s),
        "latency-async": lambda p: latency(p, "asyncio", s),
        "setup": lambda p: setup(p, args.dirs),
    }


def _available(peer: str) -> bool:
    try:
        _module(peer)
    except Exception as e:  # any import-time failure: the peer is n/a
        print(f"{peer}: n/a ({type(e).__name__}: {e})")
        return False
    return True


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--events", type=int, default=12_000)
    ap.add_argument("--samples", type=int, default=300, help="latency samples per round")
    ap.add_argument("--dirs", type=int, default=5000, help="directories of the setup tree")
    ap.add_argument("--read-attrs", action="store_true", help="handlers read maskname, pathname")
    ap.add_argument("--only", default="", help="comma-separated workloads")
    ap.add_argument("--peers", default="native,compat,pyinotify")
    ap.add_argument(
        "--baseline",
        metavar="SRC",
        help="another checkout's src/ (e.g. of the previous release): its Watcher and "
        "pyinotify layer run too, as native-base and compat-base",
    )
    ap.add_argument(
        "--quick", action="store_true", help="one small round of each: does it run, is nothing lost"
    )
    args = ap.parse_args()
    if args.quick:
        args.rounds, args.events, args.samples, args.dirs = 1, 1200, 20, 200
    global READ_ATTRS
    READ_ATTRS = args.read_attrs
    with open("/proc/sys/fs/inotify/max_queued_events") as f:
        if int(f.read()) <= args.events:
            raise SystemExit("max_queued_events is too small for this backlog")
    peers = args.peers.split(",")
    if args.baseline:
        _load_baseline(args.baseline)
        peers += ["native-base", "compat-base"]
    peers = [p for p in peers if p.startswith("native") or _available(p)]
    table = workloads(args)
    names = [w for w in args.only.split(",") if w] or list(table)
    print(f"rounds {args.rounds}, trees on {DIR}, medians [min-max over rounds]")
    worst = 0.0
    try:
        for name in names:
            per_round: dict[str, list[list[float]]] = {p: [] for p in peers}
            for r in range(args.rounds):
                k = r % len(peers)
                for peer in peers[k:] + peers[:k]:
                    per_round[peer].append(table[name](peer))
            worst = max(worst, report(name, per_round))
    finally:
        for root in _TREES.values():
            shutil.rmtree(root, ignore_errors=True)
    print(f"worst compat/native ratio {worst:.2f}x (target <= 1.3x)")


def _figure(name: str, one_round: list[float]) -> float:
    """A round's figure: its p50 for latency, else its one measure."""
    return statistics.median(one_round) if name.startswith("latency") else one_round[0]


def _ratio(name: str, per_round: dict[str, list[list[float]]], a: str, b: str) -> str:
    """a/b as the median of the ratios taken within each round (the rounds run
    the peers back to back, so a round's ratio sees the same machine load),
    with their spread."""
    ratios = _ratios(name, per_round, a, b)
    return f"{a}/{b} {statistics.median(ratios):.2f}x [{min(ratios):.2f}-{max(ratios):.2f}]"


def _ratios(name: str, per_round: dict[str, list[list[float]]], a: str, b: str) -> list[float]:
    pairs = zip(per_round[a], per_round[b], strict=True)
    return [_figure(name, x) / _figure(name, y) for x, y in pairs]


def report(name: str, per_round: dict[str, list[list[float]]]) -> float:
    """Print one line; return compat's ratio to native (the worst figure)."""
    cells = []
    for peer, rounds in per_round.items():
        figures = [_figure(name, r) for r in rounds]
        mid = statistics.median(figures)
        if name.startswith("latency"):
            p99 = statistics.median(sorted(r)[int(len(r) * 0.99) - 1] for r in rounds)
            cells.append(
                f"{peer} p50 {mid:.0f} [{min(figures):.0f}-{max(figures):.0f}] p99 {p99:.0f} µs"
            )
        else:
            cells.append(f"{peer} {mid:.2f} [{min(figures):.2f}-{max(figures):.2f}]")
    ratio = 0.0
    if "compat" in per_round and "native" in per_round:
        cells.append(_ratio(name, per_round, "compat", "native"))
        ratio = statistics.median(_ratios(name, per_round, "compat", "native"))
    if "compat-base" in per_round and "native-base" in per_round:
        cells.append(_ratio(name, per_round, "compat-base", "native-base"))
    if "compat" in per_round and "pyinotify" in per_round:
        cells.append(_ratio(name, per_round, "pyinotify", "compat"))
    unit = "" if name.startswith("latency") else (" µs/dir" if name == "setup" else " µs/event")
    print(f"{name:16}{unit}: " + "  ".join(cells), flush=True)
    return ratio


if __name__ == "__main__":
    main()
