"""One harness over every driver of :class:`inwatch.Watcher`.

The contract suite runs each scenario once per driver and per backend
(``inotify``, ``fanotify``; fanotify on a tmpfs of its own, where its filesystem
mark sees nothing else, with the listener's own changes reported so that the
test may act in-process). What a backend documents it cannot do
(``inwatch.fanotify.backend.CANNOT``) is skipped with that reason
(``@pytest.mark.needs(...)``), or its one assertion left out (:meth:`Harness.lacks`).
The drivers:

- ``blocking``: the test thread itself calls ``w.read(timeout)`` in a loop;
- ``threaded``: ``w.start(callback)``, the callback appends to a shared list;
- ``asyncio``: a thread runs ``asyncio.run`` of a coroutine doing
  ``async for ev in w``.

Tests only talk to :class:`Harness`: :meth:`Harness.collect_until` waits (with a
deadline, never a bare sleep) until a predicate holds over every event seen so
far and returns them; :meth:`Harness.sync` creates a sentinel file and waits for
it, so that "nothing else was reported" can be asserted (the kernel queues
events in order, so whatever happened before the sentinel has been read when
the sentinel's event arrives); :meth:`Harness.blind` runs a function while the
driver cannot read (to provoke a kernel queue overflow).

This module is imported by the test modules and, by path, by child processes
(user namespaces, setuid), so it depends on nothing but inwatch.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import itertools
import os
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from inwatch import Event, Watcher

DRIVERS = ("blocking", "threaded", "asyncio")
BACKENDS = ("inotify", "fanotify")
SENTINEL = ".sentinel-"

Events = list[Event[Any]]
Predicate = Callable[[Events], bool]

_counter = itertools.count()

# Sentinel files blind() makes to fill a threaded reader's buffer (each is at
# least a CREATE): a max_queue below this many events is certain to park it.
_PARK_FILES = 256


def is_sentinel(ev: Event[Any]) -> bool:
    name = os.fsdecode(ev.name)
    return name.startswith(SENTINEL)


def describe(events: Iterable[Event[Any]], limit: int = 60) -> str:
    events = list(events)
    lines = [repr(e) for e in events[:limit]]
    if len(events) > limit:
        lines.append(f"... and {len(events) - limit} more")
    return "\n".join(lines) or "(no events)"


def pathnames(events: Iterable[Event[Any]], mask: int = 0) -> list[str]:
    """The pathnames (as str) of the events having every bit of *mask*."""
    return [os.fsdecode(e.pathname) for e in events if e.mask & mask == mask]


def seen(pathname: str | bytes, mask: int = 0) -> Predicate:
    """Predicate: an event about *pathname* with every bit of *mask* was seen."""
    want = os.fsencode(pathname)

    def pred(events: Events) -> bool:
        return any(e.mask & mask == mask and os.fsencode(e.pathname) == want for e in events)

    return pred


def touch(path: str | bytes) -> None:
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o644))


class Harness:
    """A Watcher and one way of reading it (see the module docstring)."""

    def __init__(self, kind: str, backend: str = "inotify", **watcher_kwargs: Any) -> None:
        if kind not in DRIVERS:
            raise ValueError(kind)
        self.kind = kind
        self.backend = backend
        self.w = Watcher(backend=backend, **watcher_kwargs)
        self._max_queue: int | None = watcher_kwargs.get("max_queue")
        self.events: Events = []
        # Events about sentinel files: kept apart, so that a sentinel's later
        # events (its OPEN, CLOSE_WRITE) never show up among a test's events.
        self.sentinels: Events = []
        self.errors: list[BaseException] = []
        self.started = False
        # Set by the driver threads on each event; the collector clears it before
        # looking, so it evaluates the predicate at most once per wake-up and
        # never holds a lock the drivers need.
        self._new = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._hold: threading.Event | None = None
        self._held = threading.Event()
        self._closed = False

    def lacks(self, capability: str) -> str:
        """Why this backend cannot do *capability* ('' if it can): for an
        assertion of a scenario that only that capability makes true."""
        return cannot(self.backend).get(capability, "")

    # --- driving -------------------------------------------------------------------

    def start(self) -> None:
        """Start the driver (after the watches are added: an empty Watcher's
        threaded and asyncio drivers end at once)."""
        if self.started:
            return
        self.started = True
        if self.kind == "threaded":
            self.w.start(self._on_event)
        elif self.kind == "asyncio":
            ready = threading.Event()
            self._thread = threading.Thread(
                target=self._run_loop, args=(ready,), name="contract-asyncio", daemon=True
            )
            self._thread.start()
            if not ready.wait(10):
                raise AssertionError("the asyncio driver thread did not start")

    def _take(self, ev: Event[Any]) -> None:
        (self.sentinels if is_sentinel(ev) else self.events).append(ev)

    def _on_event(self, ev: Event[Any]) -> None:
        self._take(ev)
        self._new.set()
        hold = self._hold
        if hold is not None and not hold.is_set():
            self._held.set()
            hold.wait(60)

    def _run_loop(self, ready: threading.Event) -> None:
        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            ready.set()
            async for ev in self.w:
                self._take(ev)
                self._new.set()

        try:
            asyncio.run(main())
        except BaseException as exc:  # reported by close()
            self.errors.append(exc)
        finally:
            ready.set()
            self._new.set()

    def collect_until(self, predicate: Predicate, timeout: float = 10.0) -> Events:
        """Every event seen so far, once *predicate* holds over them; fails the
        test (listing what was seen) if it does not within *timeout* seconds."""
        self.start()
        deadline = time.monotonic() + timeout
        if self.kind == "blocking":
            while not predicate(self.events + self.sentinels):
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                for ev in self.w.read(min(left, 0.5)):
                    self._take(ev)
            else:
                return list(self.events)
        else:
            while True:
                self._new.clear()
                if self.errors:
                    raise AssertionError(f"[{self.kind}] driver failed: {self.errors!r}")
                if predicate(self.events + self.sentinels):
                    return list(self.events)
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._new.wait(min(left, 0.5))
        raise AssertionError(
            f"[{self.kind}] condition not met within {timeout} s; events seen:\n"
            + describe(self.events)
        )

    def sync(self, directory: str | bytes, timeout: float = 10.0) -> Events:
        """Create a sentinel file in *directory* (watched) and wait for its
        event, twice; return every non-sentinel event seen so far.

        Twice, because what a listing found is delivered once a read that
        started after the listing has been processed: at the end of the batch
        holding the first sentinel at the latest, which the callback and async
        drivers may still be delivering when it is seen; the second sentinel's
        event comes after that whole batch.
        """
        for _ in range(2):
            name = f"{SENTINEL}{os.getpid()}-{next(_counter)}"
            path = os.path.join(os.fsencode(directory), os.fsencode(name))
            touch(path)
            events = self.collect_until(seen(path), timeout)
        return [e for e in events if not is_sentinel(e)]

    def settle(self, directory: str | bytes, timeout: float = 10.0) -> Events:
        """:meth:`sync`, then forget the events seen so far (such as the directory
        reads of ``add()``'s own scan, which the kernel reports too); return them."""
        self.sync(directory, timeout)
        n = len(self.events)
        gone = self.events[:n]
        del self.events[:n]
        return [e for e in gone if not is_sentinel(e)]

    def blind(self, fn: Callable[[], object], poke_dir: str | bytes) -> None:
        """Run *fn* while the driver cannot read the kernel queue.

        blocking: the test thread is not reading anyway. threaded: a file is
        created in *poke_dir* and the callback blocks on its event; with a small
        ``max_queue`` the reader thread is then made to stop too (see
        :meth:`_park_reader`). asyncio: *fn* runs in the loop's thread, so the
        reader callback cannot run.
        """
        if self.kind == "blocking":
            fn()
            return
        self.start()
        if self.kind == "threaded":
            self._hold = threading.Event()
            self._held.clear()
            touch(os.path.join(os.fsencode(poke_dir), os.fsencode(f"{SENTINEL}poke")))
            if not self._held.wait(10):
                raise AssertionError("the threaded driver's callback was never called")
            if self._max_queue is not None and self._max_queue < _PARK_FILES:
                self._park_reader(poke_dir)
            try:
                fn()
            finally:
                self._hold.set()
            return
        assert self._loop is not None
        done: concurrent.futures.Future[object] = concurrent.futures.Future()

        def run() -> None:
            try:
                done.set_result(fn())
            except BaseException as exc:
                done.set_exception(exc)

        self._loop.call_soon_threadsafe(run)
        done.result(60)

    def _park_reader(self, poke_dir: str | bytes) -> None:
        """With the callback held: fill the reader thread's buffer (sentinel
        files) and wait until back-pressure has parked it. The reader looks at
        ``max_queue`` only between reads, and a read takes all the kernel has
        queued (fanotify's, up to 16 MiB): a reader still reading could keep
        pace with *fn* and take all of it, and the kernel queue would never
        overflow (it happened under load)."""
        threaded = self.w._threaded
        assert threaded is not None
        base = os.fsencode(poke_dir)
        for i in range(_PARK_FILES):
            touch(os.path.join(base, os.fsencode(f"{SENTINEL}park{i}")))
        deadline = time.monotonic() + 10
        while not threaded.reader_waiting:
            if time.monotonic() > deadline:
                raise AssertionError("the threaded driver's reader never stopped")
            time.sleep(0.005)

    def wait_ended(self, timeout: float = 10.0) -> bool:
        """Did the driver end by itself (no watch left), without stop()?"""
        if self.kind == "blocking":
            if self.w.watches:
                return False
            return list(self.w) == []
        if self.kind == "threaded":
            deadline = time.monotonic() + timeout
            for t in threading.enumerate():
                if t.name.startswith("inwatch-"):
                    t.join(max(0.0, deadline - time.monotonic()))
            return not any(t.name.startswith("inwatch-") for t in threading.enumerate())
        assert self._thread is not None
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def close(self) -> None:
        """Stop the driver, join its threads and close the Watcher."""
        if self._closed:
            return
        self._closed = True
        if self._hold is not None:
            self._hold.set()
        self.w.stop()
        if self.kind == "threaded":
            self.w.join(10)
        elif self._thread is not None:
            self._thread.join(10)
            if self._thread.is_alive():
                self.errors.append(AssertionError("the asyncio driver did not stop"))
        self.w.close()
        if self.errors:
            raise AssertionError(f"[{self.kind}] driver errors: {self.errors!r}")


def cannot(backend: str) -> dict[str, str]:
    """What *backend* documents it cannot do: capability -> reason."""
    if backend == "fanotify":
        from inwatch.fanotify.backend import CANNOT

        return CANNOT
    return {}


class HarnessFactory:
    """``harness(**watcher_kwargs)`` -> a :class:`Harness` of this test's driver
    and backend."""

    def __init__(self, driver: str, backend: str = "inotify") -> None:
        self.driver = driver
        self.backend = backend
        self.made: list[Harness] = []

    def lacks(self, capability: str) -> str:
        return cannot(self.backend).get(capability, "")

    def __call__(self, **kwargs: Any) -> Harness:
        h = Harness(self.driver, self.backend, **kwargs)
        self.made.append(h)
        return h
