"""Setup time on a 50,000-directory tree: inwatch's fanotify backend (one
filesystem mark) against its inotify backend (one watch per directory).
Target: fanotify under 1 % of inotify's time. Median of 3 rounds, interleaved.

    sudo .venv/bin/python bench/fan_setup.py [DIRS]
"""

from __future__ import annotations

import os
import statistics
import sys
import time

from fan_common import SRC, tmpfs

sys.path.insert(0, SRC)

from inwatch import Watcher
from inwatch.fanotify.backend import FanotifyBackend


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 50000
    per = 500
    with tmpfs() as top:
        tree = os.path.join(top, "tree")
        for i in range(n):
            os.makedirs(os.path.join(tree, str(i // per), str(i % per)))
        fan_t: list[float] = []
        fan_actor_t: list[float] = []
        ino_t: list[float] = []
        for _ in range(3):
            with FanotifyBackend(actors=False) as b:
                t0 = time.perf_counter()
                b.add(tree, recursive=True)
                fan_t.append(time.perf_counter() - t0)
            with FanotifyBackend() as b:  # with actors: the exec marks too
                t0 = time.perf_counter()
                b.add(tree, recursive=True)
                fan_actor_t.append(time.perf_counter() - t0)
            with Watcher() as w:
                t0 = time.perf_counter()
                w.add(tree, recursive=True)
                ino_t.append(time.perf_counter() - t0)
    f, fa, i = (statistics.median(x) for x in (fan_t, fan_actor_t, ino_t))
    dirs = n + n // per + 1
    print(f"tree: {dirs} directories on tmpfs; median of 3")
    print(f"inotify add(recursive): {i * 1e3:.1f} ms")
    print(f"fanotify add(recursive): {f * 1e3:.3f} ms ({100 * f / i:.3f} % of inotify)")
    print(f"fanotify add with actors (exec marks): {fa * 1e3:.3f} ms ({100 * fa / i:.3f} %)")


if __name__ == "__main__":
    main()
