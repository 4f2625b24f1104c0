"""Where the library's microseconds go: the three hot paths, in one process.

    python bench/profile_core.py [--rounds 7] [--src DIR,DIR...] [--only burst,read,setup]
                                 [--profile burst|read|setup]

Unlike ``bench/run`` (a worker process per peer, CPU from /proc), this times
the paths in-process, with ``time.process_time`` (user + system: the kernel's
copy-out counts), so that a change can be measured in seconds and the pieces
compared:

- ``burst``: 12,000 IN_CREATE (mknod) queued, then drained by ``Watcher.read``
  (a loop touching ``mask`` and ``pathname``) against the plain reader of
  bench/peers.py (os.read of 64 KiB, ``struct.unpack_from`` per header, the
  name decoded, the path joined). Also with the cyclic GC disabled: the
  difference is what the collections cost (every Event is an object they
  track and traverse).
- ``read``: one MODIFY queued, then one ``read()``: the fixed cost of a
  wake-up (the latency path), against the plain reader's poll + read + parse.
- ``cold``: the same with the CPU caches swept before each read, wall time:
  the latency workload's case (the reader sleeps between events), measured
  steadily (``--only cold``; not in the default set).
- ``setup``: ``Watcher.add(recursive=True)`` of a 50,000-directory tree
  (fan-out 10, on /dev/shm, made once), µs per watch.
- ``drivers``: the burst drained by each driver, the CPU of the whole process
  (every thread): iteration (``read()``), the threaded driver's callback
  (``start()``), ``async for`` (each started once the burst is queued: the
  start of its threads, ~0.01 µs an event, is counted).

Where the µs of a single-event ``Watcher.read(5)`` go, between the wake-up and
the caller getting the list (warm, one MODIFY, medians of perf_counter per
call, Python 3.11, 30 Nov 2026, branch lat; main fb2d624 in brackets):

==========================================  =======  =========
poll(2) over 3 fds + read(2) (the kernel)      1.95   (1.95)
parse_flat (wire.py)                           0.65   (0.65)
the rest of _dispatch: setup, one Event,       2.15   (2.15)
the end-of-read checks
core.take(): both locks, the chunk, port.read  0.62   (read_raw + process: 0.97)
Watcher.read + Blocking.read + core.quiet      0.70   (1.22)
total                                          6.07   (6.94)
plain reader (poll, read, unpack, join)        2.53   (2.52)
==========================================  =======  =========

``--src`` runs the same measures with other checkouts' ``src`` (each in its own
subprocess, interleaved with this one): ``--src /work/wt-before/src`` gives the
previous release side by side. ``--profile`` prints cProfile's top entries for
one path instead (calls and their share; the profiler's own cost inflates
small functions, so use it to count calls, the timings to compare).
Rounds interleave (A B A B ...); medians and the spread are printed.
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import json
import os
import select
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

N_BURST = 12_000
N_READS = 3_000
TREE = "/dev/shm/inwatch-profile-tree"
IN_ALL_EVENTS = 0xFFF
IN_CREATE = 0x100
IN_MODIFY = 0x2


def _plain_fd(root: str) -> tuple[int, dict[int, str]]:
    libc = ctypes.CDLL(None, use_errno=True)
    add = libc.inotify_add_watch
    add.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]
    fd = libc.inotify_init1(os.O_CLOEXEC)
    return fd, {add(fd, root.encode(), IN_ALL_EVENTS): root}


def _plain_drain(fd: int, paths: dict[int, str], want: int, mask_bit: int) -> int:
    unpack = struct.Struct("iIII").unpack_from
    poll = select.poll()
    poll.register(fd, select.POLLIN)
    count = 0
    while count < want:
        if not poll.poll(5000):
            break
        buf = os.read(fd, 65536)
        end, i = len(buf), 0
        while i < end:
            wd, mask, _cookie, size = unpack(buf, i)
            i += 16
            if size:
                name = buf[i : i + size].rstrip(b"\0").decode("utf-8", "surrogateescape")
                i += size
                path = paths.get(wd, "?") + "/" + name
            else:
                path = paths.get(wd, "")
            if mask & mask_bit and path:
                count += 1
    return count


def burst(impl: str, nogc: bool) -> float:
    """CPU µs per event to drain N_BURST queued CREATEs."""
    from inwatch import Watcher

    root = tempfile.mkdtemp(dir="/dev/shm")
    try:
        if nogc:
            gc.disable()
        if impl == "plain":
            fd, paths = _plain_fd(root)
            for i in range(N_BURST):
                os.mknod(f"{root}/f{i:06d}")
            t0 = time.process_time()
            got = _plain_drain(fd, paths, N_BURST, IN_CREATE)
            t = time.process_time() - t0
            os.close(fd)
        else:
            with Watcher() as w:
                w.add(root, recursive=True)
                for i in range(N_BURST):
                    os.mknod(f"{root}/f{i:06d}")
                got = 0
                t0 = time.process_time()
                while got < N_BURST:
                    events = w.read(5)
                    if not events:
                        break
                    for ev in events:
                        if ev.mask & IN_CREATE and ev.pathname:
                            got += 1
                t = time.process_time() - t0
        if got != N_BURST:
            raise SystemExit(f"{impl}: {got} of {N_BURST} events")
        return t / N_BURST * 1e6
    finally:
        gc.enable()
        shutil.rmtree(root)


def read_cost(impl: str) -> float:
    """Median CPU µs of one wake-up with one MODIFY queued (write not counted)."""
    from inwatch import Watcher

    root = tempfile.mkdtemp(dir="/dev/shm")
    writer = os.open(f"{root}/lat", os.O_WRONLY | os.O_CREAT, 0o644)
    times: list[float] = []
    clock = time.process_time
    try:
        if impl == "plain":
            fd, paths = _plain_fd(root)
            for _ in range(N_READS):
                os.write(writer, b"x")
                t0 = clock()
                _plain_drain(fd, paths, 1, IN_MODIFY)
                times.append(clock() - t0)
            os.close(fd)
        else:
            with Watcher() as w:
                w.add(root, recursive=True)
                for _ in range(N_READS):
                    os.write(writer, b"x")
                    t0 = clock()
                    for ev in w.read(5):
                        if ev.mask & IN_MODIFY:
                            ev.pathname.endswith("/lat")
                    times.append(clock() - t0)
        # process_time ticks coarsely on some kernels: the mean, not the median
        return statistics.fmean(times) * 1e6
    finally:
        os.close(writer)
        shutil.rmtree(root)


def drivers_burst(kind: str) -> float:
    """CPU µs per event (process-wide) to drain N_BURST queued CREATEs with one driver."""
    import asyncio
    import threading

    from inwatch import Watcher

    root = tempfile.mkdtemp(dir="/dev/shm")
    got = 0
    done = threading.Event()

    def count(ev: Any) -> None:
        nonlocal got
        if ev.mask & IN_CREATE and ev.pathname:
            got += 1
            if got >= N_BURST:
                done.set()

    try:
        with Watcher() as w:
            w.add(root, recursive=True)
            for i in range(N_BURST):
                os.mknod(f"{root}/f{i:06d}")
            if kind == "iteration":
                t0 = time.process_time()
                while got < N_BURST:
                    events = w.read(5)
                    if not events:
                        break
                    for ev in events:
                        count(ev)
                t = time.process_time() - t0
            elif kind == "thread":
                t0 = time.process_time()
                w.start(count)
                done.wait(30)
                t = time.process_time() - t0
                w.stop()
                w.join()
            else:
                loop = asyncio.new_event_loop()

                async def consume() -> None:
                    async for ev in w:
                        count(ev)
                        if got >= N_BURST:
                            break

                t0 = time.process_time()
                loop.run_until_complete(consume())
                t = time.process_time() - t0
                loop.close()
        if got != N_BURST:
            raise SystemExit(f"{kind}: {got} of {N_BURST} events")
        return t / N_BURST * 1e6
    finally:
        shutil.rmtree(root)


def cold_read(impl: str) -> float:
    """Median wall µs of one wake-up with one MODIFY queued, the CPU caches
    swept (8 MiB written) before each: what the latency workload sees, where
    the reader sleeps 0.5-2 ms between events and other processes run; far
    steadier than that workload on a shared machine."""
    from inwatch import Watcher

    root = tempfile.mkdtemp(dir="/dev/shm")
    writer = os.open(f"{root}/lat", os.O_WRONLY | os.O_CREAT, 0o644)
    junk = bytearray(8 << 20)
    ones = b"\1" * (len(junk) // 64)
    times: list[int] = []
    clock = time.perf_counter_ns
    try:
        if impl == "plain":
            fd, paths = _plain_fd(root)
            for _ in range(N_READS // 3):
                junk[::64] = ones
                os.write(writer, b"x")
                t0 = clock()
                _plain_drain(fd, paths, 1, IN_MODIFY)
                times.append(clock() - t0)
            os.close(fd)
        else:
            with Watcher() as w:
                w.add(root, recursive=True)
                for _ in range(N_READS // 3):
                    junk[::64] = ones
                    os.write(writer, b"x")
                    t0 = clock()
                    for ev in w.read(5):
                        if ev.mask & IN_MODIFY:
                            ev.pathname.endswith("/lat")
                    times.append(clock() - t0)
        return statistics.median(times) / 1000
    finally:
        os.close(writer)
        shutil.rmtree(root)


def make_tree() -> None:
    if os.path.isdir(TREE):
        return
    for i in range(50):
        for j in range(100):
            for k in range(10):
                os.makedirs(f"{TREE}/d{i}/e{j}/f{k}", exist_ok=True)


def setup(impl: str) -> float:
    from inwatch import Watcher

    with Watcher() as w:
        t0 = time.process_time()
        w.add(TREE, recursive=True)
        t = time.process_time() - t0
        return t / len(w.watches) * 1e6


def measure(what: str) -> dict[str, float]:
    if what == "burst":
        return {
            "plain": burst("plain", False),
            "inwatch": burst("inwatch", False),
            "inwatch, GC off": burst("inwatch", True),
        }
    if what == "read":
        return {"plain": read_cost("plain"), "inwatch": read_cost("inwatch")}
    if what == "cold":
        return {"plain": cold_read("plain"), "inwatch": cold_read("inwatch")}
    if what == "drivers":
        return {k: drivers_burst(k) for k in ("iteration", "thread", "async")}
    return {"inwatch": setup("inwatch")}


def child(src: str, what: str) -> dict[str, float]:
    """One round of *what* with the inwatch under *src*, in a fresh process."""
    out = subprocess.run(
        [sys.executable, __file__, "--child", what],
        env={**os.environ, "PYTHONPATH": src},
        capture_output=True,
        text=True,
        check=True,
    )
    return dict(json.loads(out.stdout))


def profile(what: str) -> None:
    import cProfile
    import pstats

    prof = cProfile.Profile()
    fn: Callable[[], Any] = {
        "burst": lambda: burst("inwatch", False),
        "read": lambda: read_cost("inwatch"),
        "setup": lambda: setup("inwatch"),
        "drivers": lambda: drivers_burst("async"),
        "cold": lambda: cold_read("inwatch"),
    }[what]
    prof.runcall(fn)
    pstats.Stats(prof).sort_stats("tottime").print_stats(25)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--src", default="", help="other checkouts' src dirs, comma-separated")
    ap.add_argument("--only", default="burst,read,setup", help="which paths, comma-separated")
    ap.add_argument("--profile", choices=("burst", "read", "setup", "drivers", "cold"))
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(measure(args.child)))
        return
    make_tree()
    if args.profile:
        profile(args.profile)
        return
    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")
    srcs = [os.path.realpath(here), *(os.path.realpath(s) for s in args.src.split(",") if s)]
    units = {
        "burst": "CPU µs/event",
        "read": "CPU µs/read",
        "cold": "wall µs/read, caches swept",
        "setup": "µs/watch",
        "drivers": "CPU µs/event, all threads",
    }
    for what in args.only.split(","):
        unit = units[what]
        runs: dict[str, list[float]] = {}
        for _ in range(args.rounds):
            for src in srcs:
                tag = "" if src == srcs[0] else f" [{src}]"
                for name, value in child(src, what).items():
                    if name == "plain" and tag:
                        continue  # the plain reader is the same code whatever src says
                    runs.setdefault(name + tag, []).append(value)
        print(f"{what} ({unit}, {args.rounds} interleaved rounds: median, min-max)")
        for name, values in runs.items():
            med = statistics.median(values)
            print(f"  {name:60s} {med:7.2f}  ({min(values):.2f}-{max(values):.2f})")


if __name__ == "__main__":
    main()
