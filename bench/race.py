"""Workload 3, race: new directories with files already inside.

A second process makes 200 nested directories in a tight loop, each with a file
created in it at once (``d0/f0``, ``d0/d1/f1``, ...), under a recursive watch.
A peer that watches a new directory and then forgets to scan it misses the files
made before its watch landed; one that scans without care reports some twice.
Reported: files reported (IN_CREATE) exactly once, twice or more, never.

    python race.py [--quick]
"""

from __future__ import annotations

import sys
from collections import Counter
from typing import Any

from _common import (
    ALL_PEERS,
    IN_CREATE,
    IN_ISDIR,
    Result,
    Runs,
    Section,
    Worker,
    fmt,
    notes_block,
    run_rounds,
    scratch,
    spawn_generator,
    table,
    verdict,
)

PEERS = ALL_PEERS
DEPTH = 200
IDLE = 0.25


def expected_files(root: str, depth: int) -> list[str]:
    out, path = [], root
    for i in range(depth):
        path = f"{path}/d{i}"
        out.append(f"{path}/f{i}")
    return out


def child(adapter: Any, spec: dict[str, Any], chan: Any) -> None:
    counts: Counter[str] = Counter()

    def callback(mask: int, path: str) -> None:
        if mask & IN_CREATE and not mask & IN_ISDIR:
            counts[path] += 1

    while adapter.run(callback, IDLE) or "finish" not in chan.poll():
        pass
    seen = [counts.get(p, 0) for p in expected_files(spec["paths"][0], spec["depth"])]
    chan.emit(
        {
            "done": {
                "once": sum(1 for n in seen if n == 1),
                "dup": sum(1 for n in seen if n > 1),
                "missed": sum(1 for n in seen if n == 0),
            }
        }
    )
    chan.wait("quit")


def measure(peer: str, depth: int) -> Result:
    spec = {"recursive": True, "depth": depth}
    with scratch(f"race-{peer}") as root, Worker(peer, "race", {**spec, "paths": [root]}) as w:
        spawn_generator("race", root, depth).wait()
        w.send("finish")
        done = w.recv(120)["done"]
    return {
        "once": 100 * done["once"] / depth,
        "dup": done["dup"],
        "missed": done["missed"],
    }


def bench(quick: bool = False, peers: list[str] | None = None) -> Section:
    rounds = 1 if quick else 5
    runs = run_rounds("race", peers or PEERS, rounds, lambda peer, _r: measure(peer, DEPTH))
    lost = [
        f"race: {peer} missed {int(n)} of {DEPTH} files"
        for peer in runs.peers
        if peer.startswith("inwatch")
        for n in runs.values(peer, "missed")
        if n
    ]
    once = {p: runs.med(p, "once") for p in ("inwatch", "plain", "inotifywait")}
    worst = [v for v in runs.values("inwatch", "once") if v is not None]
    row = [
        "race, files reported exactly once",
        fmt(min(worst) if worst else None, ".1f", " % (worst round)"),
        fmt(once["plain"], ".1f", " %"),
        fmt(once["inotifywait"], ".1f", " %"),
        "100 %",
        verdict(min(worst) >= 100.0 if worst else None),
    ]
    return Section("3. Race", render(runs), lost, headline=[row], data=runs.results)


def render(runs: Runs) -> str:
    rows = []
    for peer in runs.peers:
        once = [v for v in runs.values(peer, "once") if v is not None]
        rows.append(
            [
                peer,
                fmt(runs.med(peer, "once"), ".1f", " %"),
                fmt(min(once) if once else None, ".1f", " %"),
                fmt(runs.med(peer, "dup"), ".0f"),
                fmt(runs.med(peer, "missed"), ".0f"),
            ]
        )
    head = ["peer", "exactly once", "worst round", "reported twice+", "missed"]
    intro = (
        f"{DEPTH} nested directories, a file made in each at once, recursive watch; "
        f"medians of {runs.rounds} interleaved rounds (counts are files of {DEPTH})."
    )
    return intro + "\n\n" + table(head, rows) + notes_block(runs)


if __name__ == "__main__":
    print(bench("--quick" in sys.argv).body)
