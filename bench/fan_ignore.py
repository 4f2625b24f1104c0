"""What in-kernel ignore marks cut (inwatch.fanotify.ignores): a tree whose
excluded directory is busy. Two inwatch fanotify listeners watch the same
tree in the same run, ``exclude=["build"]``, one with ignore marks
(``ignore_marks="auto"``: FAN_MARK_IGNORE) and one without (``"off"``: the
exclusion applied in user space only, the baseline); a generator then writes
FILES files into ``build/`` (excluded) and FILES/10 into ``src/`` (watched).

Reported per listener, median and range over ROUNDS rounds (both listeners run
concurrently in each round, so they see the same load): the records that
reached user space (parsed), the events delivered (must be equal), and CPU.

    sudo .venv/bin/python bench/fan_ignore.py [FILES] [ROUNDS]
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile

from fan_common import Listener, tmpfs

GEN = """
import os, sys
top, n = sys.argv[1], int(sys.argv[2])
for d, count in (("build", n), ("src", n // 10)):
    for i in range(count):
        fd = os.open(os.path.join(top, d, str(i)), os.O_CREAT | os.O_WRONLY, 0o644)
        os.write(fd, b"x")
        os.close(fd)
"""


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    got: dict[str, list[tuple[int, int, int]]] = {"auto": [], "off": []}
    scratch = tempfile.mkdtemp(prefix="fanbench-out-")
    try:
        for r in range(rounds):
            with tmpfs() as top:
                for d in ("build", "src"):
                    os.mkdir(os.path.join(top, d))
                # Start order alternates: neither always has the head start.
                order = ("auto", "off") if r % 2 == 0 else ("off", "auto")
                listeners = {
                    m: Listener(
                        top,
                        os.path.join(scratch, f"{m}.json"),
                        ("--exclude", "build", "--ignore-marks", m),
                    )
                    for m in order
                }
                subprocess.run([sys.executable, "-c", GEN, top, str(n)], check=True)
                for m in order:
                    res = listeners[m].stop()
                    delivered = sum(1 for e in res["events"] if "/src/" in str(e[1]))
                    leaked = sum(1 for e in res["events"] if "/build/" in str(e[1]))
                    assert not leaked, f"{m}: {leaked} events of the excluded directory"
                    got[m].append((res["records"], delivered, res["cpu_ns"]))
    finally:
        shutil.rmtree(scratch)
    print(
        f"ignore marks: {n} files written in an excluded directory, {n // 10} in a watched one; "
        f"{rounds} rounds, both listeners in each; median [min-max]"
    )
    for m, label in (
        ("auto", "ignore marks (FAN_MARK_IGNORE)"),
        ("off", "no ignore marks (baseline)"),
    ):
        recs = [x[0] for x in got[m]]
        dels = [x[1] for x in got[m]]
        cpus = [x[2] / 1e6 for x in got[m]]
        print(
            f"{label}: records parsed {statistics.median(recs):.0f} [{min(recs)}-{max(recs)}], "
            f"events delivered {statistics.median(dels):.0f} [{min(dels)}-{max(dels)}], "
            f"CPU {statistics.median(cpus):.0f} ms [{min(cpus):.0f}-{max(cpus):.0f}]"
        )


if __name__ == "__main__":
    main()
