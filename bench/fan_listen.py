"""The inwatch side of the fan benchmarks: watch TOP with the fanotify backend
until the stop marker's event, then write what was seen to OUT (JSON).

    fan_listen.py TOP OUT [--inotify] [--exclude PAT] [--ignore-marks auto|legacy|off]

With ``--inotify`` the same loop runs on inwatch's inotify ``Watcher`` instead
(no actors), for the side-by-side storm. ``--exclude`` and ``--ignore-marks``
are for fan_ignore.py (the records the parser saw are in the output).
"""

from __future__ import annotations

import json
import os
import select
import sys
import time

from fan_common import STOP

from inwatch.fanotify.backend import FanotifyBackend


def inotify_main(top: str, out: str) -> None:
    from inwatch import Watcher

    with Watcher() as w:
        w.add(top, recursive=True)
        print("ready", flush=True)
        cpu0 = time.process_time_ns()
        events = []
        done = False
        while not done:
            for e in w.read(timeout=1.0):
                if e.name == STOP:
                    done = True
                events.append((e.mask, e.pathname, e.origin, None))
        cpu = time.process_time_ns() - cpu0
    with open(out, "w") as f:
        json.dump({"cpu_ns": cpu, "events": events, "pid": os.getpid()}, f)


def main() -> None:
    top, out = sys.argv[1], sys.argv[2]
    if "--inotify" in sys.argv:
        inotify_main(top, out)
        return
    exclude = [sys.argv[i + 1] for i, a in enumerate(sys.argv) if a == "--exclude"]
    marks = "auto"
    if "--ignore-marks" in sys.argv:
        marks = sys.argv[sys.argv.index("--ignore-marks") + 1]
    with FanotifyBackend(ignore_marks=marks) as b:
        b.add(top, recursive=True, exclude=exclude or None)
        print("ready", flush=True)
        cpu0 = time.process_time_ns()
        events = []
        done = False
        while not done:
            select.select([b], [], [], 1.0)
            for e in b.process(b.read_raw()):
                if e.name == STOP:
                    done = True
                a = e.actor
                events.append((e.mask, e.pathname, e.origin, list(a) if a is not None else None))
        cpu = time.process_time_ns() - cpu0
        actors = b.actors
        info = {
            "cpu_ns": cpu,
            "events": events,
            "connector": bool(actors and actors.table),
            "connector_lost": actors.lost if actors else 0,
            "records": b.records,
            "pid": os.getpid(),
        }
    with open(out, "w") as f:
        json.dump(info, f)


if __name__ == "__main__":
    main()
