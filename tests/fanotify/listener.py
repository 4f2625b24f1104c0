"""A fanotify listener run in another namespace by the tests.

    python listener.py DIR [--spawn]

Watches DIR recursively, prints ``ready <pidfd>``, then (with --spawn) runs
``touch DIR/spawned`` itself; it prints one JSON line per event until it sees
the file ``DIR/stop`` (or 20 s pass) and exits 0.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time

from inwatch.fanotify.backend import FanotifyBackend


def main() -> int:
    top = sys.argv[1]
    with FanotifyBackend() as b:
        b.add(top, recursive=True)
        print("ready", b.pidfd, flush=True)
        if "--spawn" in sys.argv:
            subprocess.run(["touch", os.path.join(top, "spawned")], check=True)
            subprocess.run(["touch", os.path.join(top, "stop")], check=True)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            select.select([b], [], [], 0.2)
            for e in b.process(b.read_raw()):
                a = e.actor
                print(
                    json.dumps(
                        {
                            "pathname": e.pathname,
                            "mask": e.mask,
                            "actor": list(a) if a is not None else None,
                        }
                    ),
                    flush=True,
                )
                if e.name == "stop":
                    return 0
    return 1


if __name__ == "__main__":
    sys.exit(main())
