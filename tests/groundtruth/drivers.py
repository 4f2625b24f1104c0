"""Every way of watching a tree, each in a process of its own.

The harness runs the operations in its own process and the watcher in another
one, so that a watcher that hangs (the issue's watch-table cycle spins at 100 %
CPU and ignores SIGTERM) is killed at a deadline and counted, never a hung test.

In-process drivers run in a forked child (cheap: inwatch is already imported);
the child writes what it saw to a file as a pickle and exits. The CLI driver is
``python -m inwatch watch -r --json ROOT`` with its stdout going to a file.

The protocol, one :class:`Session` per sequence: :meth:`Session.start` returns once
the watches are in place; the caller runs its operations, then creates the
sentinel file as the last operation and calls :meth:`Session.finish`, which
returns the events. With ``held`` the watcher does not read until
:meth:`Session.release` (in-process: the driver only starts reading then; the
CLI: SIGSTOP until then): the whole sequence waits in the kernel queue.

Each driver stops once it has seen the sentinel's CREATE (the kernel queues
events in order, so everything before it has been read) and then nothing for
``QUIET`` seconds (events the watcher makes after it: a rescan, a pending move).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import pickle
import resource
import signal
import subprocess
import sys
import threading
import time
import traceback
import warnings
from typing import Any

from .replay import Rec

DRIVERS = ("blocking", "iter", "threaded", "asyncio", "pyinotify", "cli")
SENTINEL = b".gt-sentinel"
QUIET = 0.05
# How long a watcher may take to report the sentinel before it is called hung.
DEADLINE = 20.0
_MEMORY = 1 << 31  # a runaway watcher dies of MemoryError, not the machine


class Outcome:
    """What one driver delivered: events, and how it ended."""

    def __init__(self) -> None:
        self.events: list[Rec] = []
        self.hang = False
        self.crash: str | None = None
        self.warnings: list[str] = []
        self.trace: list[str] = []  # the port's calls and the raw records (GT_TRACE=1)

    def __repr__(self) -> str:
        return f"Outcome({len(self.events)} events, hang={self.hang}, crash={self.crash!r})"


def _rec(ev: Any) -> Rec:
    path = ev.pathname if getattr(ev, "pathname", None) is not None else None
    src = getattr(ev, "src_pathname", None)
    return Rec(
        int(ev.mask),
        None if path is None else os.fsencode(path),
        None if src is None else os.fsencode(src),
        str(getattr(ev, "origin", "?")),
    )


class _Seen:
    """Collects records from any thread; knows when the sentinel came."""

    def __init__(self, sentinel: bytes) -> None:
        self.recs: list[Rec] = []
        self.sentinel = sentinel
        self.done = threading.Event()  # the sentinel was seen
        self.new = threading.Event()
        self.logged: list[str] = []
        self.ended = threading.Event()  # the driver ended by itself

    def add(self, ev: Any) -> None:
        rec = _rec(ev)
        self.recs.append(rec)
        self.new.set()
        if rec.pathname == self.sentinel and rec.mask & 0x100:
            self.done.set()


# --- in-process drivers (run in the forked child) --------------------------------------


def _blocking(root: str, seen: _Seen, go: int | None, ready: int) -> None:
    """``w.read(timeout)`` in a loop: until the sentinel, then until a read is empty."""
    from inwatch import Watcher

    with Watcher() as w:
        w.add(root, recursive=True)
        os.write(ready, b"R")
        if go is not None:
            os.read(go, 1)
        deadline = time.monotonic() + DEADLINE
        while not seen.done.is_set() and time.monotonic() < deadline:
            for ev in w.read(0.1):
                seen.add(ev)
        while seen.done.is_set():
            evs = w.read(QUIET)
            if not evs:
                return
            for ev in evs:
                seen.add(ev)


def _iter(root: str, seen: _Seen, go: int | None, ready: int) -> None:
    """``for ev in w``, ended by ``w.stop()`` from a thread once quiet. (Not by
    ``break``: that drops the rest of the batch the iterator holds.)"""
    from inwatch import Watcher

    with Watcher() as w:
        w.add(root, recursive=True)
        os.write(ready, b"R")
        if go is not None:
            os.read(go, 1)

        def stopper() -> None:
            _quiet(seen)
            w.stop()

        t = threading.Thread(target=stopper, name="gt-stopper", daemon=True)
        t.start()
        try:
            for ev in w:
                seen.add(ev)
        finally:
            seen.ended.set()  # the loop ended on its own: let the stopper go
            t.join(DEADLINE + 5)


def _quiet(seen: _Seen) -> None:
    """Wait for the sentinel, then for QUIET seconds without an event."""
    deadline = time.monotonic() + DEADLINE
    while not seen.done.wait(0.05):
        if seen.ended.is_set() or time.monotonic() > deadline:
            return
    while not seen.ended.is_set():
        seen.new.clear()
        if not seen.new.wait(QUIET):
            return


def _threaded(root: str, seen: _Seen, go: int | None, ready: int) -> None:
    from inwatch import Watcher

    def on_batch(batch: list[Any]) -> None:
        for ev in batch:
            seen.add(ev)

    with Watcher() as w:
        w.add(root, recursive=True)
        os.write(ready, b"R")
        if go is not None:
            os.read(go, 1)
        w.start(on_batch, batch=True)
        try:
            _quiet(seen)
        finally:
            w.stop()
            w.join(5)


def _asyncio(root: str, seen: _Seen, go: int | None, ready: int) -> None:
    from inwatch import Watcher

    async def main() -> None:
        loop = asyncio.get_running_loop()
        async with Watcher() as w:
            w.add(root, recursive=True)
            os.write(ready, b"R")
            if go is not None:
                await loop.run_in_executor(None, os.read, go, 1)
            stopper = loop.call_later(DEADLINE, w.stop)
            async for ev in w:
                seen.add(ev)
                if seen.done.is_set():  # from the sentinel on: stop once quiet
                    stopper.cancel()
                    stopper = loop.call_later(QUIET, w.stop)
            stopper.cancel()

    asyncio.run(main())


def _pyinotify(root: str, seen: _Seen, go: int | None, ready: int) -> None:
    import inwatch.pyinotify as pyinotify

    class Handler(pyinotify.ProcessEvent):
        def process_default(self, event: Any) -> None:
            seen.add(event)

        def process_IN_Q_OVERFLOW(self, event: Any) -> None:  # not passed to process_default
            seen.recs.append(Rec(int(event.mask), None, None, "kernel"))

    class Keep(logging.Handler):  # what the layer logs (it logs, it does not raise)
        def emit(self, record: logging.LogRecord) -> None:
            seen.logged.append(record.getMessage())

    keep = Keep(logging.WARNING)
    pyinotify.log.addHandler(keep)
    wm = pyinotify.WatchManager()
    notifier = pyinotify.Notifier(wm, Handler())
    try:
        result = wm.add_watch(root, pyinotify.ALL_EVENTS, rec=True, auto_add=True)
        if any(wd < 0 for wd in result.values()):
            raise RuntimeError(f"add_watch failed: {result}")
        os.write(ready, b"R")
        if go is not None:
            os.read(go, 1)
        deadline = time.monotonic() + DEADLINE
        while not seen.done.is_set() and time.monotonic() < deadline:
            notifier.process_events()
            if notifier.check_events(timeout=100):
                notifier.read_events()
            notifier.process_events()
        if not seen.done.is_set():
            return
        while True:
            notifier.process_events()
            if not notifier.check_events(timeout=int(QUIET * 1000)):
                break
            notifier.read_events()
        notifier.process_events()
    finally:
        notifier.stop()
        pyinotify.log.removeHandler(keep)


_IN_PROCESS = {
    "blocking": _blocking,
    "iter": _iter,
    "threaded": _threaded,
    "asyncio": _asyncio,
    "pyinotify": _pyinotify,
}


def _trace_port(trace: list[str]) -> None:
    """Record every call the core makes through the kernel port, and every raw
    record read, in order (the forked child only: it patches the class). What a
    divergence's cause is read from: ``GT_TRACE=1``."""
    from inwatch.inotify import port, wire

    kp = port.KernelPort
    add_watch, read, rm_watch, scandir = kp.add_watch, kp.read, kp.rm_watch, kp.scandir
    t0 = time.monotonic()

    def stamp() -> str:
        return f"{1000 * (time.monotonic() - t0):8.2f}"

    def t_add(self: Any, add_watch: Any, path: str, mask: int) -> int:
        try:
            wd = add_watch(path, mask)
        except OSError as exc:
            trace.append(f"{stamp()} add_watch {path!r} {mask:#x} -> {exc.strerror}")
            raise
        trace.append(f"{stamp()} add_watch {path!r} {mask:#x} -> {wd}")
        return wd

    def t_rm(self: Any, wd: int) -> None:
        trace.append(f"{stamp()} rm_watch {wd}")
        rm_watch(self, wd)

    def t_scandir(self: Any, path: str) -> Any:
        try:
            entries = scandir(self, path)
        except OSError as exc:
            trace.append(f"{stamp()} scandir {path!r} -> {exc.strerror}")
            raise
        trace.append(f"{stamp()} scandir {path!r} -> {sorted(e.name for e in entries)!r}")
        return entries

    def t_read(self: Any, read: Any) -> bytes:
        data = read()
        if data:
            from inwatch import mask_names

            for wd, mask, cookie, name in wire.parse_records(data):
                names = "|".join(mask_names(mask))
                trace.append(f"{stamp()} read wd={wd} {names} cookie={cookie} {name!r}")
        return data

    def t_add_watch(self: Any, path: str, mask: int) -> int:
        return t_add(self, lambda p, m: add_watch(self, p, m), path, mask)

    def t_read_m(self: Any) -> bytes:
        return t_read(self, lambda: read(self))

    kp.add_watch, kp.read = t_add_watch, t_read_m  # type: ignore[method-assign]
    kp.rm_watch, kp.scandir = t_rm, t_scandir  # type: ignore[method-assign]


def _child(driver: str, root: bytes, go: int | None, ready: int, result: str) -> None:
    """The forked child: watch, report, exit (never returns)."""
    status = 0
    out = Outcome()
    if os.environ.get("GT_TRACE"):
        _trace_port(out.trace)
    try:
        resource.setrlimit(resource.RLIMIT_AS, (_MEMORY, _MEMORY))
        seen = _Seen(os.path.join(root, SENTINEL))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                _IN_PROCESS[driver](os.fsdecode(root), seen, go, ready)
            finally:
                out.events = list(seen.recs)
                out.hang = not seen.done.is_set()
                out.warnings = [str(w.message) for w in caught] + seen.logged
    except BaseException:
        out.crash = traceback.format_exc(limit=8).strip().splitlines()[-1]
        status = 3
    try:
        with open(result, "wb") as f:
            pickle.dump(out, f)
    finally:
        os._exit(status)


class Session:
    """One driver watching *root* for one sequence (see the module docstring)."""

    def __init__(self, driver: str, root: bytes, scratch: bytes, held: bool) -> None:
        if driver not in DRIVERS:
            raise ValueError(driver)
        self.driver = driver
        self.root = root
        self.held = held
        self.result = os.path.join(scratch, b"outcome-" + driver.encode())
        self.pid = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self._go = -1

    # --- start -------------------------------------------------------------------

    def start(self) -> None:
        if self.driver == "cli":
            self._start_cli()
            return
        ready_r, ready_w = os.pipe()
        go_r, go_w = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child
            os.close(ready_r)
            os.close(go_w)
            _child(
                self.driver,
                self.root,
                go_r if self.held else None,
                ready_w,
                os.fsdecode(self.result),
            )
        self.pid = pid
        os.close(ready_w)
        os.close(go_r)
        self._go = go_w
        try:
            got = _read_with_deadline(ready_r, 30.0)
        finally:
            os.close(ready_r)
        if got != b"R":  # the child died while adding its watches
            self._go_close()
            self._reap(5.0)
            raise RuntimeError(f"{self.driver}: the watcher did not start: {self._load().crash}")

    def _start_cli(self) -> None:
        self.out_path = self.result + b".jsonl"
        self.err_path = self.result + b".err"
        with open(self.out_path, "wb") as out, open(self.err_path, "wb") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "inwatch", "watch", "-r", "--json", self.root],
                stdout=out,
                stderr=err,
                stdin=subprocess.DEVNULL,
            )
        deadline = time.monotonic() + 30.0
        while b"Watches established." not in _slurp(self.err_path):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.proc.kill()
                self.proc.wait()
                raise RuntimeError(f"cli: did not start: {_slurp(self.err_path)!r}")
            time.sleep(0.005)  # poll loop with a deadline
        if self.held:
            os.kill(self.proc.pid, signal.SIGSTOP)

    def release(self) -> None:
        """Let a held watcher read (after the operations and the sentinel)."""
        if self.driver == "cli":
            if self.held and self.proc is not None:
                os.kill(self.proc.pid, signal.SIGCONT)
        elif self._go >= 0:
            os.write(self._go, b"G")
            self._go_close()

    def _go_close(self) -> None:
        if self._go >= 0:
            os.close(self._go)
            self._go = -1

    # --- finish ------------------------------------------------------------------

    def finish(self) -> Outcome:
        self.release()
        if self.driver == "cli":
            return self._finish_cli()
        self._reap(DEADLINE + 10.0)
        return self._load()

    def _reap(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            pid, _ = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                return
            if time.monotonic() > deadline:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
                return
            time.sleep(0.005)  # poll loop with a deadline

    def _load(self) -> Outcome:
        try:
            with open(self.result, "rb") as f:
                out = pickle.load(f)
        except FileNotFoundError:
            out = Outcome()
            out.hang = True
            out.crash = "killed at the deadline (no result written)"
        assert isinstance(out, Outcome)
        return out

    def _finish_cli(self) -> Outcome:
        assert self.proc is not None
        out = Outcome()
        sentinel = os.path.join(self.root, SENTINEL)
        deadline = time.monotonic() + DEADLINE
        size = -1
        quiet_since = 0.0
        seen = False
        while time.monotonic() < deadline:
            data = _slurp(self.out_path)
            if not seen:
                seen = any(r.pathname == sentinel and r.mask & 0x100 for r in _parse_json(data))
            if seen:
                if len(data) != size:
                    size, quiet_since = len(data), time.monotonic()
                elif time.monotonic() - quiet_since >= 2 * QUIET:
                    break
            if self.proc.poll() is not None:
                break
            time.sleep(0.005)  # poll loop with a deadline
        out.hang = not seen
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5.0)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                out.crash = "ignored SIGTERM for 5 s (killed)"
        out.events = _parse_json(_slurp(self.out_path))
        err = _slurp(self.err_path).decode(errors="replace")
        rest = [
            line
            for line in err.splitlines()
            if line.strip() and line not in ("Setting up watches.", "Watches established.")
        ]
        out.warnings = rest
        if out.crash is None and self.proc.returncode != 0:
            out.crash = f"exit status {self.proc.returncode}: {' | '.join(rest[-3:])}"
        return out


def _parse_json(data: bytes) -> list[Rec]:
    lines = data.split(b"\n")[:-1]  # the last: empty, or a line still being written
    recs = []
    for line in lines:
        if not line.strip():
            continue
        obj = json.loads(line)
        path = obj.get("pathname")
        src = obj.get("src_pathname")
        recs.append(
            Rec(
                int(obj["mask"]),
                None if path is None else os.fsencode(path),
                None if src is None else os.fsencode(src),
                str(obj.get("origin", "?")),
            )
        )
    return recs


def _slurp(path: bytes) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        return b""


def _read_with_deadline(fd: int, timeout: float) -> bytes:
    import select

    r, _, _ = select.select([fd], [], [], timeout)
    return os.read(fd, 1) if r else b""
