"""The child process a peer runs in: ``python worker.py PEER WORKLOAD SPEC_JSON``.

1. make the adapter, ``setup(spec["paths"], spec["recursive"])``;
2. probe: create ``.ready<N>`` files in the first path until the peer reports one
   (watchdog and watchfiles see nothing for a moment after they start);
3. print ``{"ready": {...}}`` (the pids to measure, seconds to set up and to be
   ready, RSS before setup), then hand over to the workload's ``child()``.

Messages go to stdout as JSON lines; commands ("finish", "quit") come on stdin.
Anything that goes wrong before "ready" is reported as ``{"error": ...}``, and
the parent prints n/a for this peer.
"""

from __future__ import annotations

import importlib
import json
import os
import select
import sys
import threading
import time
import traceback
from typing import Any

import peers
from _common import vm_bytes


class Channel:
    """The worker's side of the pipe to the parent."""

    def __init__(self) -> None:
        self.commands: list[str] = []
        self._tail = b""

    def emit(self, message: dict[str, Any]) -> None:
        os.write(1, json.dumps(message).encode() + b"\n")

    def poll(self) -> list[str]:
        """Commands received so far (non-blocking)."""
        while select.select([0], [], [], 0)[0]:
            chunk = os.read(0, 4096)
            if not chunk:
                self.commands.append("quit")
                break
            *lines, self._tail = (self._tail + chunk).split(b"\n")
            self.commands += [ln.decode().strip() for ln in lines]
        return self.commands

    def wait(self, command: str, timeout: float | None = None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        while command not in self.poll() and "quit" not in self.commands:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return False
            select.select([0], [], [], left)
        return command in self.commands


def probe(adapter: peers.Adapter, root: str, timeout: float = 300.0) -> None:
    """Until the peer reports one, create a sentinel file every 50 ms from a
    thread, while the peer runs (watchfiles sets its watches up inside its first
    iteration, so a file made before run() would never be seen)."""
    seen = threading.Event()

    def poke() -> None:
        i = 0
        while not seen.is_set():
            with open(os.path.join(root, f".ready{i}"), "w"):
                pass
            i += 1
            seen.wait(0.05)

    def callback(mask: int, path: str) -> bool:
        if "/.ready" in path:
            seen.set()
        return seen.is_set()

    poker = threading.Thread(target=poke, daemon=True)
    poker.start()
    deadline = time.monotonic() + timeout
    try:
        while not seen.is_set():
            if time.monotonic() > deadline:
                raise TimeoutError(f"no event for the sentinel files after {timeout:.0f} s")
            adapter.run(callback, 0.3)
    finally:
        seen.set()
        poker.join()


def main() -> int:
    peer, workload, spec_json = sys.argv[1:4]
    spec = json.loads(spec_json)
    if peer == "inwatch-baseline":
        # Before anything imports inwatch: the other checkout's package wins.
        sys.path.insert(0, os.environ["INWATCH_BASELINE"])
    chan = Channel()
    try:
        adapter = peers.make(peer)
        adapter.tick = spec.get("tick", adapter.tick)
        module = importlib.import_module(workload)
        rss_before = vm_bytes(os.getpid(), "VmRSS")
        t0 = time.perf_counter()
        adapter.setup(spec["paths"], spec.get("recursive", False))
        t1 = time.perf_counter()
        probe(adapter, spec["paths"][0])
        t2 = time.perf_counter()
    except Exception as e:
        traceback.print_exc()
        reason = str(e).splitlines()[0] if str(e) else ""
        chan.emit({"error": f"{type(e).__name__}: {reason}"[:200]})
        return 3
    chan.emit(
        {
            "ready": {
                "pids": adapter.pids(),
                "setup_s": t1 - t0,
                "ready_s": t2 - t0,
                "rss_before": rss_before,
            }
        }
    )
    try:
        module.child(adapter, spec, chan)
    finally:
        adapter.teardown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
