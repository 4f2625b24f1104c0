"""A storm on a filesystem mark: 20,000 files made as fast as one process can
(create, write one byte, close: 80,000 events), watched at the same time by
inwatch's fanotify backend, inwatch's inotify backend and fatrace (``-c``: a
mount mark, which cannot report CREATE, so at most 3 of the 4 kinds reach it).

Reported per listener: delivered % (distinct (file, kind) pairs of CREATE,
OPEN, MODIFY, CLOSE_WRITE it reported, of 80,000; rescan events counted apart)
and CPU µs per delivered pair.

    sudo .venv/bin/python bench/fan_storm.py [FILES]
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile

from fan_common import Fatrace, Listener, parse_fatrace, tmpfs

KINDS = {0x100: "create", 0x20: "open", 0x2: "modify", 0x8: "close"}
GEN = """
import os, sys
d = sys.argv[1]
for i in range(int(sys.argv[2])):
    fd = os.open(os.path.join(d, str(i)), os.O_CREAT | os.O_WRONLY, 0o644)
    os.write(fd, b"x")
    os.close(fd)
"""


def _pairs(events: list[list[object]], storm: str) -> tuple[set[tuple[str, str]], int]:
    got: set[tuple[str, str]] = set()
    rescued = 0
    for mask, path, origin, _actor in events:
        if not isinstance(path, str) or os.path.dirname(path) != storm:
            continue
        if origin != "kernel":
            rescued += 1
            continue
        kind = KINDS.get(int(mask))  # type: ignore[call-overload]
        if kind:
            got.add((path, kind))
    return got, rescued


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    scratch = tempfile.mkdtemp(prefix="fanbench-out-")
    with tmpfs() as top:
        storm = os.path.join(top, "storm")
        os.mkdir(storm)
        fat = Fatrace(top, os.path.join(scratch, "fatrace.txt"))
        fan = Listener(top, os.path.join(scratch, "fan.json"))
        ino = Listener(top, os.path.join(scratch, "ino.json"), ("--inotify",))
        subprocess.run([sys.executable, "-c", GEN, storm, str(n)], check=True)
        res_fan = fan.stop()
        res_ino = ino.stop()
        lines, fat_cpu = fat.stop()
    shutil.rmtree(scratch)
    want = 4 * n
    print(f"storm: {n} files, {want} events (CREATE, OPEN, MODIFY, CLOSE_WRITE each)")
    for name, res in (("inwatch fanotify", res_fan), ("inwatch inotify", res_ino)):
        got, rescued = _pairs(res["events"], storm)
        over = sum(1 for e in res["events"] if e[0] == 0x4000)
        print(
            f"{name}: delivered {len(got)} ({100 * len(got) / want:.2f} %), "
            f"overflows {over}, rescan events {rescued}; "
            f"CPU {res['cpu_ns'] / 1e6:.0f} ms = "
            f"{res['cpu_ns'] / 1e3 / max(len(got), 1):.2f} µs/event"
        )
    fgot: set[tuple[str, str]] = set()
    for line in lines:
        p = parse_fatrace(line)
        if p is None or os.path.dirname(p[3]) != storm:
            continue
        for ch, kind in (("+", "create"), ("O", "open"), ("W", "modify"), ("C", "close")):
            if ch in p[2]:
                fgot.add((p[3], kind))
    print(
        f"fatrace: delivered {len(fgot)} ({100 * len(fgot) / want:.2f} % of all; "
        f"{100 * len(fgot) / (3 * n):.2f} % of the 3 kinds a mount mark can report); "
        f"CPU {fat_cpu / 1e6:.0f} ms = {fat_cpu / 1e3 / max(len(fgot), 1):.2f} µs/event"
    )


if __name__ == "__main__":
    main()
