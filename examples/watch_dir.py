"""Watch a directory with the low-level binding and print every event.

python examples/watch_dir.py DIR [SECONDS]
"""

from __future__ import annotations

import sys
import time

from inwatch import Inotify, Mask, mask_names


def main(argv: list[str]) -> int:
    path = argv[1] if len(argv) > 1 else "."
    seconds = float(argv[2]) if len(argv) > 2 else None
    deadline = None if seconds is None else time.monotonic() + seconds
    with Inotify() as ino:
        ino.add_watch(path, Mask.ALL_EVENTS)
        print(f"Watching {path}", file=sys.stderr, flush=True)
        while deadline is None or time.monotonic() < deadline:
            wait = None if deadline is None else max(0.0, deadline - time.monotonic())
            for ev in ino.read(timeout=wait):
                name = ev.name.decode(errors="surrogateescape")
                print(f"{'|'.join(mask_names(ev.mask)):<22} wd={ev.wd} {name}", flush=True)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except KeyboardInterrupt:
        sys.exit(0)
