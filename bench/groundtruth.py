#!/usr/bin/env python3
"""The ground-truth test at scale: divergences per thousand sequences.

For every driver (blocking ``read(timeout)``, ``for ev in w``, threaded,
asyncio, the pyinotify layer, the CLI) and pacing (back to back, 5 ms apart,
watcher not reading while the operations run), run RUNS seeded random
operation sequences on a real tree (see ``tests/groundtruth``), replay the
events over the starting tree and compare with the real final tree. Prints,
per driver and pacing, the diverging sequences per thousand and the count of
each divergence class; then, for each class, the first example found, shrunk
to the fewest operations that still show it (with the events delivered).

    .venv/bin/python bench/groundtruth.py --runs 1000
    .venv/bin/python bench/groundtruth.py --runs 50 --drivers blocking,cli --pacings b2b
    .venv/bin/python bench/groundtruth.py --seed 17 --drivers blocking --pacings b2b --runs 1

``--storm K``: every K-th sequence of the "held" pacing also creates and
deletes 4500 files, overflowing the kernel queue (default 10; 0: never).
``--trace FILE``: the watcher records every call through its kernel port and
every raw record it reads (in-process drivers); each diverging sequence is
written to FILE whole: operations, divergences, events delivered, that trace.
``--repeat K`` runs each seed K times (a race shows in some runs only).
Exits 1 when any sequence diverged.
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))

from groundtruth.drivers import DRIVERS
from groundtruth.harness import PACINGS, Result, run, shrink
from groundtruth.replay import CLASSES

STORM_FILES = 4500


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=1000, help="sequences per driver and pacing")
    ap.add_argument("--drivers", default=",".join(DRIVERS))
    ap.add_argument("--pacings", default=",".join(PACINGS))
    ap.add_argument("--ops", type=int, default=30, help="operations per sequence")
    ap.add_argument("--seed", type=int, default=0, help="the first seed")
    ap.add_argument("--storm", type=int, default=10, help="every K-th held sequence overflows")
    ap.add_argument("--no-shrink", action="store_true")
    ap.add_argument("--shrink-budget", type=int, default=150, help="runs per shrink")
    ap.add_argument("--trace", metavar="FILE", help="write each divergence whole, with its trace")
    ap.add_argument("--repeat", type=int, default=1, help="runs of each seed")
    args = ap.parse_args()
    if args.trace:
        os.environ["GT_TRACE"] = "1"  # read by the forked watcher (tests/groundtruth/drivers.py)
    traced = open(args.trace or os.devnull, "w", encoding="utf-8")  # noqa: SIM115 (closed at exit)
    drivers = args.drivers.split(",")
    pacings = args.pacings.split(",")
    for d in drivers:
        if d not in DRIVERS:
            ap.error(f"unknown driver {d!r} (one of {', '.join(DRIVERS)})")
    for p in pacings:
        if p not in PACINGS:
            ap.error(f"unknown pacing {p!r} (one of {', '.join(PACINGS)})")

    first: dict[str, Result] = {}  # per class, the first example
    table: list[tuple[str, str, int, int, collections.Counter[str], int, float]] = []
    any_bad = False
    for driver in drivers:
        for pacing in pacings:
            started = time.monotonic()
            counts: collections.Counter[str] = collections.Counter()
            bad = overflowed = tree_bad = 0
            total = args.runs * args.repeat
            for i in range(total):
                seed = args.seed + i // args.repeat
                storm = (
                    STORM_FILES
                    if pacing == "held" and args.storm and (i // args.repeat) % args.storm == 0
                    else 0
                )
                r = run(seed, driver, pacing, n_ops=args.ops, storm=storm)
                if args.trace and r.divergences:
                    print(r.report(limit=50), file=traced)
                    print("  events:\n" + r.show_events(limit=10**6), file=traced)
                    print("  trace:\n    " + "\n    ".join(r.trace) + "\n", file=traced)
                    traced.flush()
                overflowed += r.overflows > 0
                if r.divergences:
                    bad += 1
                    tree_bad += any(c != "own-read" for c in r.classes)
                    counts.update(r.classes)
                    for c in r.classes:
                        first.setdefault(c, r)
            took = time.monotonic() - started
            any_bad = any_bad or bad > 0
            table.append((driver, pacing, bad, total, counts, overflowed, took))
            print(
                f"{driver:9} {pacing:4}: {1000 * bad / total:6.1f} per 1000 "
                f"({bad}/{total}; {tree_bad} other than own-read; {overflowed} overflowed) "
                f"{dict(sorted(counts.items()))} [{took:.0f} s]",
                flush=True,
            )

    print("\n## Diverging sequences per 1000, per driver and pacing\n")
    print("| driver | " + " | ".join(pacings) + " |")
    print("|---|" + "---|" * len(pacings))
    for driver in drivers:
        cells = []
        for _, p, bad, runs, _, _, _ in (row for row in table if row[0] == driver):
            cells.append(f"{1000 * bad / runs:.0f} ({bad}/{runs})")
            del p
        print(f"| {driver} | " + " | ".join(cells) + " |")
    print("\n## Sequences showing each class, per driver and pacing\n")
    shown = [c for c in CLASSES if any(row[4][c] for row in table)]
    if shown:
        print("| driver | pacing | " + " | ".join(shown) + " |")
        print("|---|---|" + "---|" * len(shown))
        for driver, pacing, _, _, counts, _, _ in table:
            print(f"| {driver} | {pacing} | " + " | ".join(str(counts[c]) for c in shown) + " |")

    if not args.no_shrink and first:
        print("\n## Shrunk examples, one per class\n")
        for cls in CLASSES:
            if cls not in first:
                continue
            r = first[cls]
            started = time.monotonic()
            s = shrink(r, cls, budget=args.shrink_budget)
            print(
                f"### {cls} (from {len(r.ops)} to {len(s.ops)} operations, "
                f"{time.monotonic() - started:.0f} s)\n"
            )
            print("```")
            print(s.report(limit=8))
            print("  events:")
            print(s.show_events(limit=30))
            print("```\n", flush=True)
    return 1 if any_bad else 0


if __name__ == "__main__":
    sys.exit(main())
