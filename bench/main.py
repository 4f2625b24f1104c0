"""Run the workloads and write the results (``bench/run`` calls this in bench/.venv).

    python main.py [--quick] [WORKLOAD ...]      workloads: burst storm race setup latency idle

Full runs write bench/RESULTS.md; --quick writes bench/out/RESULTS-quick.md and
exits 1 if any way of using inwatch lost an event (timings never fail a run).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import time
from collections.abc import Callable

from _common import BENCH, OUT, Section, machine, progress, table, timed
from peers import PEERS

QUICK_PEERS = (
    "c",
    "plain",
    "inotifywait",
    *(p for p in PEERS if p.startswith("inwatch") and p != "inwatch-baseline"),
)
WORKLOADS = {
    "burst": "burst",
    "storm": "storm",
    "race": "race",
    "setup": "setup_tree",
    "latency": "latency",
    "idle": "idle",
}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench/run", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="reduced run, under a minute")
    parser.add_argument("workloads", nargs="*", metavar="WORKLOAD", help=", ".join(WORKLOADS))
    args = parser.parse_args(argv)
    chosen = args.workloads or list(WORKLOADS)
    unknown = [w for w in chosen if w not in WORKLOADS]
    if unknown:
        parser.error(f"unknown workload(s): {', '.join(unknown)}")
    if args.quick:
        # CI's question is "does inwatch lose anything?": the floors and inwatch only.
        os.environ.setdefault("BENCH_PEERS", ",".join(QUICK_PEERS))

    started = time.time()
    load = os.getloadavg()
    sections: list[Section] = []
    for name in chosen:
        progress(f"{name}:")
        module = importlib.import_module(WORKLOADS[name])
        run: Callable[[], Section] = lambda m=module: m.bench(args.quick)  # noqa: E731
        try:
            sections.append(timed(run))
        except Exception as e:  # a workload that breaks must not hide the others
            sections.append(Section(name, f"failed: {type(e).__name__}: {e}"))
            progress(f"  {name} failed: {type(e).__name__}: {e}")
    elapsed = time.time() - started

    command = "bench/run" + "".join(f" {a}" for a in argv)
    text = render(sections, command, started, elapsed, load)
    path = (
        os.path.join(OUT, "RESULTS-quick.md") if args.quick else os.path.join(BENCH, "RESULTS.md")
    )
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    progress(f"wrote {os.path.relpath(path, os.path.dirname(BENCH))} in {elapsed:.0f} s")

    raw = os.path.join(OUT, "results-quick.json" if args.quick else "results.json")
    with open(raw, "w") as f:
        json.dump({s.title: s.data for s in sections}, f, indent=1, default=str)

    losses = [loss for s in sections for loss in s.losses]
    for loss in losses:
        progress(f"LOST: {loss}")
    return 1 if losses and args.quick else 0


def render(
    sections: list[Section], command: str, started: float, elapsed: float, load: tuple[float, ...]
) -> str:
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(started))
    head = [
        "# inwatch benchmarks",
        "",
        f"- date: {when}; took {elapsed:.0f} s",
        f"- machine: {machine()}; load average at start {load[0]:.2f}",
        f"- command: `{command}`",
        "- every peer runs in its own process; trees on /dev/shm; rounds interleave the peers "
        "(each round every peer once, in a new order; latency: sample by sample) and ratios "
        "compare values measured in the same round. The machine is shared and noisy: read the "
        "ratios, not the absolute times.",
        "- peers: `c` = bench/c/reader.c (the physical floor), `plain` = ctypes + one os.read + "
        "struct.unpack_from (the Python floor), inotifywait (inotify-tools), inwatch as "
        "`Watcher.read()` (`inwatch`), the same with `mask=` create, modify, close-write, "
        "delete and the moves (`inwatch-mask`), `async for` (`inwatch-async`), "
        "`Watcher.start(callback)` "
        "(`inwatch-thread`), the pyinotify-compatible Notifier (`inwatch-compat`), "
        "`inwatch watch --json` (`inwatch-cli`), and the libraries by name.",
        "",
    ]
    rows = [row for s in sections for row in s.headline]
    body = [
        "## Headline: inwatch against its targets (issue 15; default install: C accelerator)",
        "",
        table(["measure", "inwatch", "plain", "inotifywait", "target", "verdict"], rows),
        "",
    ]
    for s in sections:
        body += [f"## {s.title}", "", s.body, "", f"_{s.seconds:.0f} s_", ""]
    losses = [loss for s in sections for loss in s.losses]
    tail = ["## Events inwatch lost", ""]
    tail += [f"- {loss}" for loss in losses] if losses else ["None."]
    return "\n".join([*head, *body, *tail, ""])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
