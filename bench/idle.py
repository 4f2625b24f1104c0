"""Workload 6, idle: CPU and wake-ups over 10 s with nothing happening.

Every peer watches its own empty directory, all at once (idle processes do not
disturb each other); after they are ready and a 1 s settle, the CPU time and the
context switches (voluntary + involuntary, every thread: each is a wake-up) of
each process are counted over the window.

    python idle.py [--quick]
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from typing import Any

from _common import (
    ALL_PEERS,
    PeerUnavailable,
    Runs,
    Section,
    Worker,
    cpu_ns,
    fmt,
    median,
    notes_block,
    progress,
    scratch,
    table,
    verdict,
    wakeups,
)

PEERS = ALL_PEERS
# watchfiles wakes its Python side every rust_timeout: use its default (5 s).
SPEC = {"tick": 5.0}


def child(adapter: Any, spec: dict[str, Any], chan: Any) -> None:
    def quit_on_command() -> None:
        chan.wait("quit")
        os._exit(0)

    threading.Thread(target=quit_on_command, daemon=True).start()
    adapter.run(lambda mask, path: None, None)


def bench(quick: bool = False) -> Section:
    window, rounds = (1.0, 1) if quick else (10.0, 5)
    only = os.environ.get("BENCH_PEERS")
    peers = [p for p in PEERS if not only or p in only.split(",")]
    runs = Runs(peers, rounds, {p: [] for p in peers})
    for rnd in range(rounds):
        progress(f"  idle round {rnd + 1}/{rounds}: {len(peers)} peers at once, {window:.0f} s")
        with contextlib.ExitStack() as stack:
            workers: dict[str, Worker] = {}
            for peer in peers:
                root = stack.enter_context(scratch(f"idle-{peer}"))
                try:
                    workers[peer] = stack.enter_context(
                        Worker(peer, "idle", {**SPEC, "paths": [root]})
                    )
                except PeerUnavailable as e:
                    runs.notes.setdefault(peer, str(e))
            time.sleep(1.0)
            before = {p: (cpu_ns(w.pids), wakeups(w.pids)) for p, w in workers.items()}
            time.sleep(window)
            for peer in peers:
                if peer not in workers:
                    runs.results[peer].append(None)
                    continue
                c0, w0 = before[peer]
                pids = workers[peer].pids
                runs.results[peer].append(
                    {"cpu_ms": (cpu_ns(pids) - c0) / 1e6, "wakeups": wakeups(pids) - w0}
                )
    wake = {p: [v for v in runs.values(p, "wakeups") if v is not None] for p in runs.peers}
    worst = {p: (max(v) if v else None) for p, v in wake.items()}
    mine = [worst[p] for p in runs.peers if p in ("inwatch", "inwatch-async", "inwatch-thread")]
    known = [w for w in mine if w is not None]
    row = [
        f"idle {window:.0f} s, wake-ups (worst round, Watcher drivers)",
        fmt(max(known) if known else None, ".0f"),
        fmt(worst.get("plain"), ".0f"),
        fmt(worst.get("inotifywait"), ".0f"),
        "0",
        verdict(max(known) == 0 if known else None),
    ]
    return Section("6. Idle", render(runs, window), headline=[row], data=runs.results)


def render(runs: Runs, window: float) -> str:
    rows = []
    for peer in runs.peers:
        wake = [v for v in runs.values(peer, "wakeups") if v is not None]
        rows.append(
            [
                peer,
                fmt(runs.med(peer, "cpu_ms"), ".2f"),
                fmt(median(wake), ".0f"),
                fmt(max(wake) if wake else None, ".0f"),
            ]
        )
    head = ["peer", f"CPU ms / {window:.0f} s", "wake-ups (median)", "wake-ups (worst round)"]
    intro = (
        f"{window:.0f} s with no event, every peer at once in each of {runs.rounds} rounds; "
        "wake-ups = context switches of every thread of the peer's process."
    )
    return intro + "\n\n" + table(head, rows) + notes_block(runs)


if __name__ == "__main__":
    print(bench("--quick" in sys.argv).body)
