"""A simulated host for the integration tests: what ``inwatch record ROOT --to URL`` does.

Watches ROOT recursively with a real Watcher, appends every batch of events to a real Journal,
and ships the committed rows with the same Shipper and ``--to`` options as ``record``.
``--generate N --rate R`` also writes N files into ROOT at R files/s (a steady simulated load).
Without ``--to`` it only records (the benchmark's baseline). ``--ready FILE`` is created once
the watches are established. SIGTERM/SIGINT: ship what is committed (up to 15 s), report rows
and CPU seconds on stderr, exit 0. SIGUSR1 prints the CPU seconds so far (``cpu_mark``).
"""

from __future__ import annotations

import argparse
import os
import resource
import signal
import sys
import threading
import time

from inwatch import Mask, Watcher
from inwatch.cli.shipopts import add_ship_arguments, start_shipper
from inwatch.journal import Journal

MASK = Mask.CREATE | Mask.CLOSE_WRITE | Mask.DELETE | Mask.MOVE


def generate(root: str, count: int, rate: float, stop: threading.Event) -> None:
    start = time.monotonic()
    for i in range(count):
        if stop.is_set():
            return
        due = start + i / rate
        if due > time.monotonic():
            time.sleep(due - time.monotonic())
        with open(os.path.join(root, f"g{i:06d}"), "wb") as f:
            f.write(b"x")


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("root")
    p.add_argument("--db", required=True)
    p.add_argument("--host", required=True)
    p.add_argument("--ready", required=True)
    p.add_argument("--generate", type=int, default=0)
    p.add_argument("--rate", type=float, default=100.0)
    add_ship_arguments(p)
    args = p.parse_args()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())

    def mark(*_: object) -> None:  # the benchmark's "from here on" for CPU per event
        use = resource.getrusage(resource.RUSAGE_SELF)
        print(f"cpu_mark {use.ru_utime + use.ru_stime:.3f}", file=sys.stderr, flush=True)

    signal.signal(signal.SIGUSR1, mark)
    journal = Journal(args.db, host=args.host)
    shippers = start_shipper(journal, args, journal.host)
    gen: threading.Thread | None = None
    with Watcher() as w:
        w.add(args.root, mask=MASK, recursive=True)
        use = resource.getrusage(resource.RUSAGE_SELF)
        print(
            f"Watches established. cpu_at_ready {use.ru_utime + use.ru_stime:.3f}",
            file=sys.stderr,
            flush=True,
        )
        open(args.ready, "w").close()
        if args.generate:
            gen = threading.Thread(
                target=generate, args=(args.root, args.generate, args.rate, stop)
            )
            gen.start()
        while not stop.is_set():
            events = w.read(timeout=0.05)
            if events:
                journal.append(events)
                for s in shippers:
                    s.wake()
    if gen is not None:
        gen.join()
    caught_up = all([s.stop(15.0) for s in shippers])
    rows = journal.last_seq()
    journal.close()
    use = resource.getrusage(resource.RUSAGE_SELF)  # every thread: watch, journal, shipper
    print(
        f"agent {args.host}: stopped, caught up: {caught_up}, rows {rows},"
        f" cpu_s {use.ru_utime + use.ru_stime:.3f}",
        file=sys.stderr,
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
