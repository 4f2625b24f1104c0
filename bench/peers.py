"""One adapter per peer, all with the same small interface.

    a = make("watchdog")
    a.setup(paths, recursive)      # watches in place when it returns (the worker then probes)
    a.run(callback, idle)          # calls callback(mask, path) per event; returns True as soon
                                   # as the callback returned True, False after `idle` seconds
                                   # without an event (idle=None: never)
    a.teardown()

``mask`` is the kernel's bits for the inotify peers; watchdog and watchfiles get
theirs mapped (created -> IN_CREATE, ...; ``kinds`` says which of create,
modify, close-write, delete a peer can report at all). ``path`` is the full
path as the peer gives it. Each adapter does what that library's documentation
shows a user doing, with the library's defaults; nothing is tuned per workload.

The command-line peers (the C reader, inotifywait, ``inwatch watch --json``) are
relayed: the adapter runs the tool, parses its lines and calls the callback;
``pids()`` names the tool's process, so only the tool's CPU and memory are
measured.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import importlib
import json
import os
import select
import shutil
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, ClassVar

from _common import (
    IN_ALL_EVENTS,
    IN_CLOSE_WRITE,
    IN_CREATE,
    IN_DELETE,
    IN_ISDIR,
    IN_MODIFY,
    IN_MOVED_FROM,
    IN_MOVED_TO,
    OUT,
)

Callback = Callable[[int, str], Any]
ALL_KINDS = (IN_CREATE, IN_MODIFY, IN_CLOSE_WRITE, IN_DELETE)
_NEW_DIR = IN_CREATE | IN_MOVED_TO


class Unavailable(Exception):
    """The peer is not installed or cannot run here."""


class Adapter:
    kinds: tuple[int, ...] = ALL_KINDS
    #: the C reader's own timestamp (CLOCK_MONOTONIC ns) of the event being delivered
    stamp: int | None = None
    #: how often a peer that can only poll for idleness wakes up (watchfiles)
    tick: float = 0.1

    def setup(self, paths: list[str], recursive: bool) -> None:
        raise NotImplementedError

    def run(self, callback: Callback, idle: float | None) -> bool:
        raise NotImplementedError

    def teardown(self) -> None:
        pass

    def pids(self) -> list[int]:
        return [os.getpid()]


def walk_dirs(root: str) -> Iterator[str]:
    """*root* and every directory below it (symlinks not followed)."""
    stack = [root]
    while stack:
        path = stack.pop()
        yield path
        with contextlib.suppress(OSError), os.scandir(path) as it:
            stack.extend(e.path for e in it if e.is_dir(follow_symlinks=False))


# --- the Python floor ----------------------------------------------------------------


class Plain(Adapter):
    """The least any user needs: ctypes inotify_init1/add_watch, one os.read, a
    struct.unpack_from loop, the name decoded, the path joined from a wd -> path
    dict, a callback. Recursion is the naive kind (watch new dirs, no scan)."""

    _header = struct.Struct("iIII")

    def setup(self, paths: list[str], recursive: bool) -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        self._add = libc.inotify_add_watch
        self._add.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]
        self.fd = libc.inotify_init1(os.O_CLOEXEC)
        if self.fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1")
        self.paths: dict[int, str] = {}
        self.recursive = recursive
        self.poll = select.poll()
        self.poll.register(self.fd, select.POLLIN)
        for path in paths:
            self._watch(path)

    def _watch(self, top: str) -> None:
        for path in walk_dirs(top) if self.recursive else [top]:
            wd = self._add(self.fd, os.fsencode(path), IN_ALL_EVENTS)
            if wd >= 0:
                self.paths[wd] = path

    def run(self, callback: Callback, idle: float | None) -> bool:
        fd, paths, unpack, poll = self.fd, self.paths, self._header.unpack_from, self.poll.poll
        recursive = self.recursive
        ms = -1 if idle is None else int(idle * 1000)
        while True:
            if not poll(ms):
                return False
            # 64 KiB: ~2,000 events a read; a bigger buffer is malloc'd by mmap (the
            # threshold is 128 KiB) and costs ~14 µs a read, which would flatter the rest.
            buf = os.read(fd, 65536)
            end = len(buf)
            i = 0
            stop = False
            while i < end:
                wd, mask, _cookie, size = unpack(buf, i)
                i += 16
                if size:
                    name = buf[i : i + size].rstrip(b"\0").decode("utf-8", "surrogateescape")
                    i += size
                    path = paths.get(wd, "?") + "/" + name
                    if recursive and mask & IN_ISDIR and mask & _NEW_DIR:
                        self._watch(path)
                else:
                    path = paths.get(wd, "")
                if callback(mask, path):
                    stop = True
            if stop:
                return True

    def teardown(self) -> None:
        os.close(self.fd)


# --- inotify bindings -------------------------------------------------------------------


class InotifySimple(Adapter):
    """inotify_simple's INotify.read(); recursion by hand (it has none)."""

    def setup(self, paths: list[str], recursive: bool) -> None:
        try:
            import inotify_simple
        except ImportError as e:
            raise Unavailable(str(e)) from None
        self.ino = inotify_simple.INotify()
        self.paths: dict[int, str] = {}
        self.recursive = recursive
        for path in paths:
            self._watch(path)

    def _watch(self, top: str) -> None:
        for path in walk_dirs(top) if self.recursive else [top]:
            with contextlib.suppress(OSError):
                self.paths[self.ino.add_watch(path, IN_ALL_EVENTS)] = path

    def run(self, callback: Callback, idle: float | None) -> bool:
        read, paths = self.ino.read, self.paths
        timeout = None if idle is None else int(idle * 1000)
        while True:
            events = read(timeout=timeout)
            if not events:
                return False
            stop = False
            for ev in events:
                path = paths.get(ev.wd, "?") + "/" + ev.name if ev.name else paths.get(ev.wd, "")
                if self.recursive and ev.mask & IN_ISDIR and ev.mask & _NEW_DIR:
                    self._watch(path)
                if callback(ev.mask, path):
                    stop = True
            if stop:
                return True

    def teardown(self) -> None:
        self.ino.close()


async def _consume_until_idle(
    events: Any, deliver: Callable[[Any], bool], idle: float | None
) -> bool:
    """``async for`` over *events*; True once *deliver* says stop, False after
    *idle* seconds without an event (checked by a timer, not per event)."""
    count = 0

    async def consume() -> bool:
        nonlocal count
        async for ev in events:
            count += 1
            if deliver(ev):
                return True
        return False

    task = asyncio.ensure_future(consume())
    if idle is None:
        return await task
    seen = -1
    while True:
        done, _ = await asyncio.wait([task], timeout=idle)
        if done:
            return task.result()
        if count == seen:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            return False
        seen = count


class AsyncInotify(Adapter):
    """asyncinotify: ``async for event in inotify`` on an asyncio loop."""

    def setup(self, paths: list[str], recursive: bool) -> None:
        try:
            import asyncinotify
        except ImportError as e:
            raise Unavailable(str(e)) from None
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)
        self.mask = asyncinotify.Mask(IN_ALL_EVENTS)
        self.ino = asyncinotify.Inotify()
        self.recursive = recursive
        for path in paths:
            self._watch(path)

    def _watch(self, top: str) -> None:
        for path in walk_dirs(top) if self.recursive else [top]:
            with contextlib.suppress(OSError):
                self.ino.add_watch(path, self.mask)

    def run(self, callback: Callback, idle: float | None) -> bool:
        recursive = self.recursive

        def deliver(ev: Any) -> bool:
            path = str(ev.path) if ev.path is not None else ""
            if recursive and ev.mask & IN_ISDIR and ev.mask & _NEW_DIR:
                self._watch(path)
            return bool(callback(ev.mask, path))

        return self.loop.run_until_complete(_consume_until_idle(self.ino, deliver, idle))

    def teardown(self) -> None:
        self.ino.close()
        self.loop.close()


class Pyinotify(Adapter):
    """pyinotify's WatchManager + Notifier (rec=True, auto_add=True when recursive),
    driven by check_events/read_events/process_events as its docs show."""

    module = "pyinotify"

    def setup(self, paths: list[str], recursive: bool) -> None:
        try:
            mod = importlib.import_module(self.module)
            watch_manager, notifier = mod.WatchManager, mod.Notifier
        except Exception as e:  # any import-time failure means "not available"
            raise Unavailable(f"{self.module}: {type(e).__name__}: {e}") from None
        self.callback: Callback | None = None
        self.stop = False

        def handler(ev: Any) -> None:
            cb = self.callback
            if cb is not None and cb(ev.mask, getattr(ev, "pathname", "")):
                self.stop = True

        self.wm = watch_manager()
        self.notifier = notifier(self.wm, default_proc_fun=handler)
        mask = getattr(mod, "ALL_EVENTS", IN_ALL_EVENTS)
        for path in paths:
            self.wm.add_watch(path, mask, rec=recursive, auto_add=recursive)

    def run(self, callback: Callback, idle: float | None) -> bool:
        self.callback, self.stop = callback, False
        n = self.notifier
        timeout = None if idle is None else idle * 1000
        while True:
            if not n.check_events(timeout=timeout):
                return False
            n.read_events()
            n.process_events()
            if self.stop:
                return True

    def teardown(self) -> None:
        self.notifier.stop()


class InwatchCompat(Pyinotify):
    """inwatch's pyinotify-compatible layer, driven exactly like pyinotify."""

    module = "inwatch.pyinotify"


# --- thread-based peers ---------------------------------------------------------------


class _Threaded(Adapter):
    """A peer that calls back from its own thread: run() waits and watches a counter."""

    def _init_threaded(self) -> None:
        self.callback: Callback | None = None
        self.count = 0
        self.done = threading.Event()

    def _deliver(self, mask: int, path: str) -> None:
        self.count += 1
        cb = self.callback
        if cb is not None and cb(mask, path):
            self.done.set()

    def run(self, callback: Callback, idle: float | None) -> bool:
        self.done.clear()
        self.callback = callback
        if idle is None:
            self.done.wait()
            return True
        while True:
            seen = self.count
            if self.done.wait(idle):
                return True
            if self.count == seen:
                return False


class Watchdog(_Threaded):
    """watchdog's Observer (inotify on Linux) with a FileSystemEventHandler."""

    _kinds: ClassVar[dict[str, int]] = {
        "created": IN_CREATE,
        "modified": IN_MODIFY,
        "closed": IN_CLOSE_WRITE,
        "deleted": IN_DELETE,
        "moved": IN_MOVED_TO,
    }

    def setup(self, paths: list[str], recursive: bool) -> None:
        try:
            from watchdog.events import FileSystemEventHandler
            from watchdog.observers import Observer
        except ImportError as e:
            raise Unavailable(str(e)) from None
        self._init_threaded()
        kinds, deliver = self._kinds, self._deliver

        class Handler(FileSystemEventHandler):  # type: ignore[misc]
            def on_any_event(self, event: Any) -> None:
                mask = kinds.get(event.event_type, 0)
                deliver(mask | IN_ISDIR if event.is_directory else mask, event.src_path)

        self.observer = Observer()
        for path in paths:
            self.observer.schedule(Handler(), path, recursive=recursive)
        self.observer.start()

    def teardown(self) -> None:
        self.observer.stop()
        self.observer.join()


class Watchfiles(Adapter):
    """watchfiles.watch() with its defaults (debounce 1600 ms, step 50 ms, default
    filter); it reports added/modified/deleted, and one change per path per batch."""

    kinds = (IN_CREATE, IN_MODIFY, IN_DELETE)

    def setup(self, paths: list[str], recursive: bool) -> None:
        try:
            import watchfiles
        except ImportError as e:
            raise Unavailable(str(e)) from None
        change = watchfiles.Change
        self._kinds = {change.added: IN_CREATE, change.modified: IN_MODIFY}
        self._kinds[change.deleted] = IN_DELETE
        self.stop_event = threading.Event()
        # yield_on_timeout lets run() notice idleness; rust_timeout is how often.
        self.gen = watchfiles.watch(
            *paths,
            recursive=recursive,
            yield_on_timeout=True,
            rust_timeout=int(self.tick * 1000),
            stop_event=self.stop_event,
            raise_interrupt=False,
        )

    def run(self, callback: Callback, idle: float | None) -> bool:
        kinds = self._kinds
        last = time.monotonic()
        for changes in self.gen:
            if changes:
                stop = False
                for change, path in changes:
                    if callback(kinds.get(change, 0), path):
                        stop = True
                if stop:
                    return True
                last = time.monotonic()
            elif idle is not None and time.monotonic() - last >= idle:
                return False
        return False

    def teardown(self) -> None:
        self.stop_event.set()
        self.gen.close()


# --- inwatch ----------------------------------------------------------------------------


def _watcher(paths: list[str], recursive: bool, mask: int | None = None) -> Any:
    try:
        from inwatch import Watcher
    except ImportError as e:
        raise Unavailable(f"inwatch.Watcher: {e}") from None
    w = Watcher()
    for path in paths:
        if mask is None:
            w.add(path, recursive=recursive)
        else:
            w.add(path, mask=mask, recursive=recursive)
    return w


class Inwatch(Adapter):
    """inwatch's Watcher, blocking: ``w.read(timeout)`` in the caller's thread."""

    def setup(self, paths: list[str], recursive: bool) -> None:
        self.w = _watcher(paths, recursive)

    def run(self, callback: Callback, idle: float | None) -> bool:
        read = self.w.read
        while True:
            events = read(timeout=idle)
            if not events:
                return False
            stop = False
            for ev in events:
                if callback(ev.mask, ev.pathname):
                    stop = True
            if stop:
                return True

    def teardown(self) -> None:
        self.w.close()


class InwatchMask(Inwatch):
    """``Inwatch`` with the mask a program that wants changes passes (``mask=``:
    create, modify, close-write, delete, the moves): no OPEN, ACCESS or
    CLOSE_NOWRITE, so its root filters events by mask."""

    MASK = IN_CREATE | IN_MODIFY | IN_CLOSE_WRITE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO

    def setup(self, paths: list[str], recursive: bool) -> None:
        self.w = _watcher(paths, recursive, self.MASK)


class InwatchThread(_Threaded):
    """inwatch's Watcher with its threaded driver: ``w.start(callback)``."""

    def setup(self, paths: list[str], recursive: bool) -> None:
        self._init_threaded()
        self.w = _watcher(paths, recursive)
        deliver = self._deliver
        self.w.start(lambda ev: deliver(ev.mask, ev.pathname))

    def teardown(self) -> None:
        self.w.stop()
        self.w.join()
        self.w.close()


class InwatchAsync(Adapter):
    """inwatch's Watcher under asyncio: ``async for ev in w``.

    One ``async for`` for the adapter's life, as a program would run it (its
    worker thread lives as long): a session per run() would end its thread at
    every return, and the CPU of an exited thread is no longer in
    /proc/PID/task, so the measure would miss it (the burst figure of the
    async peer read 0.8x plain that way).

    Per event the loop body does what Inwatch's does per event, and nothing
    more: it calls the callback with the mask and the path. The harness's own
    bookkeeping stays off that path (a counter and a None check per event were
    ~130 instructions, ~3 % of the burst figure, that no user's loop pays):
    ``self.callback`` is always callable (between runs it keeps what comes for
    the next run), and run() tells an idle window from a busy one by a one-shot
    wrapper that the window's first event replaces with the callback itself."""

    def setup(self, paths: list[str], recursive: bool) -> None:
        self.w = _watcher(paths, recursive)
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)
        self.early: list[tuple[int, str]] = []  # delivered while no run() was waiting
        self.callback: Callback = self._hold
        self.stopped: asyncio.Future[bool] | None = None
        self.task: asyncio.Task[None] | None = None

    def _hold(self, mask: int, path: str) -> bool:
        self.early.append((mask, path))
        return False

    async def _consume(self) -> None:
        async for ev in self.w:
            # (An attribute load: a method-style call would look it up uncached.)
            callback = self.callback
            if callback(ev.mask, ev.pathname):
                self.callback = self._hold  # until the next run()
                stopped = self.stopped
                if stopped is not None and not stopped.done():
                    stopped.set_result(True)

    def run(self, callback: Callback, idle: float | None) -> bool:
        async def main() -> bool:
            if self.task is None:
                self.task = asyncio.ensure_future(self._consume())
            early, self.early = self.early, []
            for i, (mask, path) in enumerate(early):
                if callback(mask, path):
                    self.early = early[i + 1 :]
                    return True
            self.stopped = stopped = self.loop.create_future()

            def first(mask: int, path: str) -> bool:
                # The window's first event: from now on the callback itself.
                self.callback = callback
                return callback(mask, path)

            opening = True  # (a quiet first window does not end a run, as before)
            try:
                while True:
                    self.callback = first
                    done, _ = await asyncio.wait([stopped, self.task], timeout=idle)
                    if stopped in done:
                        return True
                    if self.task in done:
                        self.task.result()  # raises what ended the async for
                        return False
                    if self.callback is first and not opening:
                        return False  # no event in a whole window
                    opening = False
            finally:
                self.callback = self._hold

        return self.loop.run_until_complete(main())

    def teardown(self) -> None:
        self.w.close()
        if self.task is not None:
            with contextlib.suppress(BaseException):
                self.loop.run_until_complete(self.task)
        self.loop.close()


# --- command-line tools, relayed ----------------------------------------------------------


class Relay(Adapter):
    """Runs a tool that prints one line per event; parses the lines."""

    ready_marker: bytes | None = None

    def command(self, paths: list[str], recursive: bool) -> list[str]:
        raise NotImplementedError

    def parse(self, line: bytes) -> tuple[int, str] | None:
        raise NotImplementedError

    def setup(self, paths: list[str], recursive: bool) -> None:
        cmd = self.command(paths, recursive)
        try:
            self.proc = subprocess.Popen(
                cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL
            )
        except OSError as e:
            raise Unavailable(f"{cmd[0]}: {e}") from None
        self.ready = threading.Event()
        self.stderr: list[bytes] = []
        threading.Thread(target=self._drain_stderr, daemon=True).start()
        if self.ready_marker is not None:
            deadline = time.monotonic() + 300
            while not self.ready.wait(0.05):
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise Unavailable(f"{cmd[0]} never ready: {b''.join(self.stderr)[-300:]!r}")
        assert self.proc.stdout is not None
        self.fd = self.proc.stdout.fileno()
        self.tail = b""

    def _drain_stderr(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.stderr.append(line)
            sys.stderr.buffer.write(line)
            if self.ready_marker is not None and self.ready_marker in line:
                self.ready.set()

    def run(self, callback: Callback, idle: float | None) -> bool:
        fd, parse = self.fd, self.parse
        while True:
            if not select.select([fd], [], [], idle)[0]:
                return False
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                raise RuntimeError(f"{self.proc.args[0]} exited ({self.proc.poll()})")
            *lines, self.tail = (self.tail + chunk).split(b"\n")
            stop = False
            for line in lines:
                event = parse(line)
                if event is not None and callback(*event):
                    stop = True
            if stop:
                return True

    def teardown(self) -> None:
        self.proc.terminate()
        self.proc.wait()

    def pids(self) -> list[int]:
        return [self.proc.pid]


class CReader(Relay):
    """bench/c/reader.c, compiled by bench/run: the physical floor."""

    ready_marker = b"ready"

    def command(self, paths: list[str], recursive: bool) -> list[str]:
        exe = os.path.join(OUT, "reader")
        if not os.access(exe, os.X_OK):
            raise Unavailable("bench/out/reader not built (no gcc?)")
        return [exe, *(["-r"] if recursive else []), *paths]

    def parse(self, line: bytes) -> tuple[int, str] | None:
        stamp, mask, path = line.split(b" ", 2)
        self.stamp = int(stamp)
        return int(mask, 16), path.decode("utf-8", "surrogateescape")


_INOTIFYWAIT_NAMES = {
    b"ACCESS": 0x1,
    b"MODIFY": 0x2,
    b"ATTRIB": 0x4,
    b"CLOSE_WRITE": 0x8,
    b"CLOSE_NOWRITE": 0x10,
    b"OPEN": 0x20,
    b"MOVED_FROM": 0x40,
    b"MOVED_TO": 0x80,
    b"CREATE": 0x100,
    b"DELETE": 0x200,
    b"DELETE_SELF": 0x400,
    b"MOVE_SELF": 0x800,
    b"UNMOUNT": 0x2000,
    b"Q_OVERFLOW": 0x4000,
    b"IGNORED": 0x8000,
    b"ISDIR": 0x40000000,
}


class Inotifywait(Relay):
    """inotifywait -m (Debian's inotify-tools); -r when recursive."""

    ready_marker = b"Watches established"

    def command(self, paths: list[str], recursive: bool) -> list[str]:
        exe = shutil.which("inotifywait")
        if exe is None:
            raise Unavailable("inotifywait not installed")
        return [exe, "-m", *(["-r"] if recursive else []), "--format", "%e %w%f", *paths]

    def parse(self, line: bytes) -> tuple[int, str] | None:
        events, _, path = line.partition(b" ")
        names = _INOTIFYWAIT_NAMES
        mask = 0
        for name in events.split(b","):
            mask |= names.get(name, 0)
        return mask, path.decode("utf-8", "surrogateescape")


def _mask_of(value: Any) -> int:
    """A mask from whatever a JSON line carries: an int, or names like
    "IN_CREATE|IN_ISDIR", "CREATE,ISDIR" or ["CREATE", "ISDIR"]."""
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        value = value.replace(",", "|").split("|")
    mask = 0
    for name in value or ():
        key = str(name).strip().upper().removeprefix("IN_").encode()
        mask |= _INOTIFYWAIT_NAMES.get(key, 0)
    return mask


class InwatchCli(Relay):
    """``inwatch watch [-r] --json PATH``: one JSON object per line."""

    def command(self, paths: list[str], recursive: bool) -> list[str]:
        exe = os.path.join(os.path.dirname(sys.executable), "inwatch")
        if not os.access(exe, os.X_OK):
            exe = shutil.which("inwatch") or ""
        if not exe:
            raise Unavailable("no inwatch command")
        return [exe, "watch", *(["-r"] if recursive else []), "--json", *paths]

    def parse(self, line: bytes) -> tuple[int, str] | None:
        try:
            obj = json.loads(line)
        except ValueError:
            return None
        if not isinstance(obj, dict):
            return None
        path = obj.get("pathname") or obj.get("path") or ""
        for key in ("mask", "maskname", "events", "event", "flags"):
            if key in obj:
                return _mask_of(obj[key]), str(path)
        return 0, str(path)


PEERS: dict[str, type[Adapter]] = {
    "c": CReader,
    "plain": Plain,
    "inotifywait": Inotifywait,
    "inwatch": Inwatch,
    "inwatch-baseline": Inwatch,  # another checkout's (INWATCH_BASELINE, see worker.py)
    "inwatch-mask": InwatchMask,
    "inwatch-thread": InwatchThread,
    "inwatch-async": InwatchAsync,
    "inwatch-compat": InwatchCompat,
    "inwatch-cli": InwatchCli,
    "inotify_simple": InotifySimple,
    "asyncinotify": AsyncInotify,
    "pyinotify": Pyinotify,
    "watchdog": Watchdog,
    "watchfiles": Watchfiles,
}
INWATCH = tuple(p for p in PEERS if p.startswith("inwatch") and p != "inwatch-baseline")


def make(peer: str) -> Adapter:
    try:
        return PEERS[peer]()
    except KeyError:
        raise Unavailable(f"unknown peer {peer!r}") from None


__all__ = ["INWATCH", "PEERS", "Adapter", "Unavailable", "make"]
