"""Workload 1, burst drain: CPU per event to deliver a queued backlog to a callback.

The peer is set up on an empty directory and made ready, then stopped (SIGSTOP:
it reads nothing) while this process makes N files with mknod (exactly one
IN_CREATE each; N stays under max_queued_events). Then it is resumed, and the
CPU its process uses until its callback has seen all N creations is divided by N.

    python burst.py [--quick]
"""

from __future__ import annotations

import signal
import sys
from typing import Any

import _gen
from _common import (
    ALL_PEERS,
    IN_CREATE,
    Result,
    Runs,
    Section,
    Worker,
    fmt,
    inwatch_path,
    notes_block,
    ratio_cells,
    run_rounds,
    scratch,
    table,
    verdict,
    wait_stopped,
)

PEERS = ALL_PEERS
REFS = ("plain", "inotifywait")


def child(adapter: Any, spec: dict[str, Any], chan: Any) -> None:
    n = spec["n"]
    count = 0

    def callback(mask: int, path: str) -> bool:
        nonlocal count
        if mask & IN_CREATE and "/.ready" not in path:
            count += 1
            return count >= n
        return False

    while True:
        finishing = "finish" in chan.poll()
        if adapter.run(callback, 0.5) or finishing:
            break
    chan.emit({"done": {"count": count}})
    chan.wait("quit")


def measure(peer: str, n: int) -> Result:
    with scratch(f"burst-{peer}") as root, Worker(peer, "burst", {"paths": [root], "n": n}) as w:
        w.signal(signal.SIGSTOP)
        wait_stopped(w.pids)
        _gen.burst(root, n)
        w.send("finish")
        c0 = w.cpu()
        w.signal(signal.SIGCONT)
        done = w.recv(120)["done"]
        c1 = w.cpu()
    return {"us": (c1 - c0) / n / 1000, "count": done["count"], "lost": n - done["count"]}


def bench(quick: bool = False) -> Section:
    n = 12_000
    # 8 rounds (5 until 2026-12-01): a slow spell of the machine took 3 of 5
    # rounds of one peer in a run, and its median with them.
    rounds = 1 if quick else 8
    runs = run_rounds("burst", PEERS, rounds, lambda peer, _r: measure(peer, n))
    section = Section("1. Burst drain", render(runs, n), losses(runs, n))
    section.data = runs.results
    us = {p: runs.med(p, "us") for p in ("inwatch", "plain", "inotifywait")}
    ratio = runs.ratio("inwatch", "plain", "us")
    section.headline.append(
        [
            "burst drain, CPU µs/event",
            f"{fmt(us['inwatch'], '.2f')} ({fmt(ratio, '.2f', '×')} plain)",
            fmt(us["plain"], ".2f"),
            fmt(us["inotifywait"], ".2f"),
            "≤ 1.3× plain",
            verdict(None if ratio is None else ratio <= 1.3),
        ]
    )
    # A Watcher whose mask filters (no OPEN, ACCESS, CLOSE_NOWRITE): the same target.
    masked = runs.ratio("inwatch-mask", "plain", "us")
    section.headline.append(
        [
            "burst drain, Watcher(mask=changes), CPU µs/event",
            f"{fmt(runs.med('inwatch-mask', 'us'), '.2f')} ({fmt(masked, '.2f', '×')} plain)",
            "",
            "",
            "≤ 1.3× plain",
            verdict(None if masked is None else masked <= 1.3),
        ]
    )
    # The other ways of using inwatch, against Watcher iteration in the same rounds.
    for peer, what, limit in (
        ("inwatch-thread", "burst, threaded callback", 1.2),
        ("inwatch-async", "burst, async for", 1.2),
        ("inwatch-compat", "burst, pyinotify layer", 1.3),
    ):
        r = runs.ratio(peer, "inwatch", "us")
        section.headline.append(
            [
                f"{what}, CPU µs/event",
                f"{fmt(runs.med(peer, 'us'), '.2f')} ({fmt(r, '.2f', '×')} iteration)",
                "",
                "",
                f"≤ {limit}× iteration",
                verdict(None if r is None else r <= limit),
            ]
        )
    return section


def losses(runs: Runs, n: int) -> list[str]:
    return [
        f"burst: {peer} delivered {n - int(lost)}/{n} in a round"
        for peer in runs.peers
        if peer.startswith("inwatch")
        for lost in runs.values(peer, "lost")
        if lost
    ]


def render(runs: Runs, n: int) -> str:
    rows = []
    for peer in runs.peers:
        delivered = runs.med(peer, "count")
        rows.append(
            [
                peer,
                fmt(runs.med(peer, "us"), ".2f"),
                *ratio_cells(runs, peer, "us", REFS),
                fmt(None if delivered is None else 100 * delivered / n, ".1f", " %"),
            ]
        )
    head = ["peer", "CPU µs/event", "× plain", "× inotifywait", "delivered"]
    intro = (
        f"{n:,} queued IN_CREATE (mknod) drained into a callback; CPU of the peer's process "
        f"from resume to the last delivery, median of {runs.rounds} interleaved rounds; "
        "ratios are medians of same-round ratios."
    )
    paths = "; ".join(
        f"{peer}: {inwatch_path(peer)}" for peer in runs.peers if peer.startswith("inwatch")
    )
    return intro + f"\n\nPaths: {paths}.\n\n" + table(head, rows) + notes_block(runs)


if __name__ == "__main__":
    print(bench("--quick" in sys.argv).body)
