"""The :class:`Notifier`: it reads a :class:`~.manager.WatchManager`'s events
and dispatches them to handlers, as pyinotify's does.

Every notifier reads through the Watcher's public API: :class:`Notifier` with
the blocking ``Watcher.read`` (its ``check_events`` waits in that read and
keeps what it read for ``read_events``); the notifiers driven by threads or an
event loop (:mod:`.driven`: ``ThreadedNotifier``, ``AsyncioNotifier``) with the
Watcher's threaded driver and ``async for``. Only the notifiers whose API is
the fd itself register it with their loop (:mod:`.fd_notifiers`:
``TornadoAsyncNotifier`` and ``AsyncNotifier``). All dispatch through
:meth:`Notifier.process_events`.
"""

from __future__ import annotations

import array
import contextlib
import fcntl
import select
import termios
import threading
import time
from collections import deque
from collections.abc import Callable
from itertools import islice
from typing import Any

from ..event import Event as _NativeEvent
from . import _state, daemon
from .codes import (
    _MASKNAMES,
    ANNOUNCING,
    IN_IGNORED,
    IN_ISDIR,
    IN_MOVE_SELF,
    IN_MOVED_FROM,
    IN_Q_OVERFLOW,
    MOVED,
    SELF,
    SPECIAL,
    UNASKED,
    EventsCodes,
)
from .errors import NotifierError
from .events import Event, _RelativeEvent, make_event
from .handlers import PrintAllEvents, ProcessEvent, dispatch_target
from .manager import WatchManager
from .watch import Group, Watch

__all__ = ["Notifier"]

_UNKNOWN_SUFFIX = "-unknown-path"

# The timeout of the Watcher reads behind read_events: no wait (poll(0)), but
# not 0 itself, with which Watcher.read hands out every buffered batch of a
# burst at once (for callers that wait on the fd before each read); we take
# them one at a time instead (see Notifier._next_batch).
_NO_WAIT = 1e-9

# Events taken at a time from the manager's feeds (the listing events of a
# walk, see listing.py): the Watcher's batch size (inwatch.inotify.core.BATCH).
_FEED_BATCH = 256


def _pending_bytes(fd: int) -> int:
    """FIONREAD: how many bytes of events the kernel holds for *fd*."""
    buf = array.array("i", [0])
    fcntl.ioctl(fd, termios.FIONREAD, buf, True)
    return buf[0]


class Notifier:
    """Reads a WatchManager's events and hands them to handlers, as pyinotify's
    ``Notifier``.

    ``check_events(timeout_ms)`` waits for events, ``read_events()`` takes them
    from the kernel, ``process_events()`` dispatches them: to the watch's
    ``proc_fun`` if it has one, else to ``default_proc_fun`` (a
    :class:`PrintAllEvents` if None). :meth:`loop` does the three until a
    callback returns ``True``, ``KeyboardInterrupt`` or :meth:`stop`.
    ``timeout`` (ms) bounds each wait of the loop; ``read_freq`` (s) and
    ``threshold`` (bytes) batch reads.
    """

    def __init__(
        self,
        watch_manager: WatchManager,
        default_proc_fun: Any = None,
        read_freq: float = 0,
        threshold: int = 0,
        timeout: int | None = None,
    ) -> None:
        self._watch_manager = watch_manager
        self._watcher = watch_manager._watcher
        self._fd: int | None = watch_manager.get_fd()
        self._pollobj = select.poll()
        if self._fd is not None:
            self._pollobj.register(self._fd, select.POLLIN)
        self._eventq: deque[Any] = deque()
        self._default_proc_fun = PrintAllEvents() if default_proc_fun is None else default_proc_fun
        self._read_freq = read_freq
        self._threshold = threshold
        self._timeout = timeout
        self._coalesce = False
        self._eventset: set[tuple[int, int, int, Any]] = set()
        # read_events took a burst the Watcher hands out in batches: process_events
        # queues the batches after the first (see _next_batch).
        self._batches = False
        # What check_events read, for read_events (see check_events).
        self._ready: list[Any] = []
        # process_events' targets by mask (see _dispatch). For a ProcessEvent
        # they are its process_* methods, looked up once per call (pyinotify
        # looked them up per event), so the dict lives one call; any other
        # handler (a function, a callable) is the target whatever the mask, so
        # the dict is kept: the latency path, one event per call, then takes
        # the short way from its first event on.
        self._plain: dict[int, Callable[[Any], Any]] | None = (
            None if type(self._default_proc_fun).__call__ is ProcessEvent.__call__ else {}
        )
        # check_events' timeout in ms, and as Watcher.read's seconds: the same
        # float each time (Watcher.read converts a timeout it has not seen).
        self._wait_ms: int | None = None
        self._wait_seconds: float | None = None
        watch_manager._attach(self._reads_in_check and not threshold)

    # check_events waits in Watcher.read itself (see there); not for the
    # notifiers driven otherwise (threads, an event loop on the fd).
    _reads_in_check = True

    def append_event(self, event: Any) -> None:
        """Queue an event (a raw ``wd, mask, cookie, name`` one) for processing."""
        path = getattr(event, "path", None)
        if path is None:
            path = self._watch_manager.get_path(event.wd)
            if path is None:
                path = ""
        src = getattr(event, "src_pathname", None)
        cookie = getattr(event, "cookie", 0)
        self._eventq.append(_NativeEvent(event.wd, event.mask, cookie, event.name, path, src))

    def proc_fun(self) -> Any:
        return self._default_proc_fun

    def coalesce_events(self, coalesce: bool = True) -> None:
        """Drop events identical (wd, mask, cookie, name) to one already queued
        in the same batch."""
        self._coalesce = coalesce
        if not coalesce:
            self._eventset.clear()

    def check_events(self, timeout: int | None = None) -> bool:
        """Wait up to *timeout* ms (default: the constructor's; None: forever)
        for events; true if there are some to read.

        The wait is the Watcher's own read, whose events are kept for
        read_events: pyinotify polled the fd, then read it; a poll of ours
        followed by the Watcher's read (which polls again) cost a wake-up
        ~5 µs more than the Watcher alone. So True means events a handler
        will see (the kernel's fd may also wake for the Watcher's own
        bookkeeping). With ``threshold`` or ``read_freq`` (which leave events
        in the kernel until read_events), or no watch to wait on, it polls the
        fd as pyinotify did.
        """
        if timeout is None:
            timeout = self._timeout
        wm = self._watch_manager
        wm._reader = threading.get_ident()
        if wm._fd is None:
            return False  # closed under us: nothing will ever come
        if self._ready or self._watcher.backlog or wm._feeds:
            return True  # read (or made) but not handed out yet: the fd says nothing of it
        if self._reads_in_check and len(wm._table) and not self._threshold and not self._read_freq:
            return self._wait_and_read(timeout)
        ret = self._pollobj.poll(timeout)
        if not ret:
            return False
        return bool(ret[0][1] & select.POLLIN)

    def _wait_and_read(self, timeout: int | None) -> bool:
        # poll's milliseconds (negative: forever) as Watcher.read's seconds;
        # 0 as _NO_WAIT, so that a burst comes in batches (see there).
        if timeout is None or timeout < 0:
            seconds: float | None = None
        elif timeout == self._wait_ms:
            seconds = self._wait_seconds
        else:
            seconds = timeout / 1000 if timeout else _NO_WAIT
            self._wait_ms, self._wait_seconds = timeout, seconds
        try:
            events = self._watcher.read(timeout=seconds)
        except (OSError, ValueError) as err:
            raise NotifierError(err) from err
        if not events:
            return False  # timed out, stopped, closed, or no watch is left
        self._ready = events
        return True

    def read_events(self) -> None:
        """Take every queued event from the kernel (unless fewer than
        ``threshold`` bytes are queued) into the notifier's queue."""
        self._watch_manager._reader = threading.get_ident()
        ready = self._ready
        if ready:  # check_events read them
            self._ready = []
            self._batches = True
            feeds = self._watch_manager._feeds
            if feeds:  # read before the walk that made the feeds: ahead of them
                feeds.appendleft(iter(ready))
            else:  # (_queue_events' other case: feeds were just asked)
                self._enqueue(ready)
            return
        if self._threshold:
            size = _pending_bytes(self._watcher.fileno())
            if size < self._threshold:
                _state.log().debug(
                    "(fd: %s) %d bytes available to read but threshold is fixed to %d bytes",
                    self._fd,
                    size,
                    self._threshold,
                )
                return
        try:
            events = self._watcher.read(timeout=_NO_WAIT)
        except (OSError, ValueError) as err:
            raise NotifierError(err) from err
        self._batches = True
        self._queue_events(events)

    def _next_batch(self) -> bool:
        """Queue the Watcher's next batch of what read_events took; False if none.

        The Watcher takes everything the kernel has queued at once but hands a
        big burst out in batches of a few hundred events (its buffer, not
        the kernel: this ends, storm or not). read_events queues the first;
        process_events the others as it gets to them, so that a burst is never
        held all at once as objects (what the cyclic GC would traverse again
        and again: see inwatch.inotify.core.BATCH). Handlers see every event
        read_events took, in order, as pyinotify's do."""
        feeds = self._watch_manager._feeds
        while feeds:  # ahead of anything the Watcher hands out from now on
            chunk = list(islice(feeds[0], _FEED_BATCH))
            if chunk:
                self._enqueue(chunk)
                return True
            feeds.popleft()
        watcher = self._watcher
        if not self._batches:
            return False  # the events came from a driver (threads, asyncio)
        if not watcher.backlog or watcher.closed:
            self._batches = False
            return False
        try:
            events = watcher.read(timeout=_NO_WAIT)
        except (OSError, ValueError) as err:
            raise NotifierError(err) from err
        self._queue_events(events)
        return True

    def _queue_events(self, events: list[Any]) -> None:
        feeds = self._watch_manager._feeds
        if feeds:  # read after a walk whose listing events wait: behind them
            if events:
                feeds.append(iter(events))
            return
        self._enqueue(events)

    def _enqueue(self, events: list[Any]) -> None:
        if self._coalesce:
            seen = self._eventset
            for ev in events:
                key = (ev.wd, ev.mask, ev.cookie, ev.name)
                if key not in seen:
                    seen.add(key)
                    self._eventq.append(ev)
        else:
            self._eventq.extend(events)

    def process_events(self) -> None:
        """Dispatch every queued event to its handler, in order.

        The manager's table changes here, in event order (see
        :class:`~.manager.WatchManager`): a directory created under an
        ``auto_add`` watch joins it when its IN_CREATE is processed, a watch
        leaves it when its IN_IGNORED is processed, so every event read before
        that IGNORED still finds its Watch. If a handler raises, the events
        after its own stay queued, in order, as in pyinotify.
        """
        queue = self._eventq
        # mask -> what a plain event of that mask goes to (see _dispatch): for
        # a ProcessEvent, its methods, looked up once per mask per call (not
        # once per event as pyinotify did); see __init__.
        plain = self._plain if self._plain is not None else {}
        wm = self._watch_manager
        with wm._lock:  # (add_watch in another thread: its watches are all in)
            while queue or self._next_batch():
                batch = list(queue)
                queue.clear()
                self._dispatch(batch, plain)
            if self._coalesce:
                self._eventset.clear()
            if wm._maybe_dropped or len(wm._wmd) + wm._groups.live > len(wm._table):
                wm._sync_dropped()

    def _dispatch(self, batch: list[Any], plain: dict[int, Callable[[Any], Any]]) -> None:
        """Dispatch *batch*, in order; on an exception, what is left of it goes
        back to the head of the queue.

        The loop is the layer's cost per event, so it does the least it can
        for the common event: one on a watch whose handler is the default one,
        with a mask in *plain* (filled by :meth:`_process_one` with the masks
        that need nothing else: not a move, not about the watched item itself,
        not IGNORED/overflow/unmount, not a new directory). That event is the
        Watcher's own object, presented under our class (no copy). Anything
        else goes through :meth:`_process_one`, which does it all.
        A wd not in the manager's dict may be a member of a
        :class:`~.watch.Group` (the settings it shares with its tree): the
        short path reads the Group as a Watch. The Group of the last such wd
        is kept at hand with its range and its members' states: the events
        of a tree are found by one range check and one byte, not a search.
        """
        wm = self._watch_manager
        get_watch = wm._wmd.get
        find = wm._groups.find
        near: Group | None = None
        lo = hi = 0
        state = bytearray()
        event_cls = _RelativeEvent if wm._relative else Event
        slow = self._process_one
        target_of = plain.get
        it = iter(batch)
        try:
            for ev in it:
                mask = ev.mask
                watch: Watch | Group | None = get_watch(ev.wd)
                if watch is None:
                    # (state is read now, as the Group changes it: a member
                    # given its Watch, or removed, is no longer LIVE)
                    wd = ev.wd
                    if lo <= wd < hi and not state[wd - lo]:
                        watch = near
                    else:
                        watch = find(wd)
                        if watch is not None and watch.wds is None:
                            near, lo, hi, state = watch, watch.lo, watch.hi, watch.state
                target = target_of(mask)
                if (
                    target is not None
                    and watch is not None
                    and watch.proc_fun is None
                    and mask & watch.mask
                    and watch._table is not None
                    and not wm._ignore_events
                ):
                    ev.__class__ = event_cls  # the Watcher's event, presented as ours
                    target(ev)
                else:
                    slow(ev, watch, plain)
        except BaseException:
            self._eventq.extendleft(reversed(list(it)))
            raise

    def _process_one(self, ev: Any, watch: Watch | Group | None, plain: dict[int, Any]) -> None:
        """Dispatch one event, whatever it is (see :meth:`_dispatch`)."""
        wm = self._watch_manager
        if wm._ignore_events:
            return
        wd = ev.wd
        mask = ev.mask
        if watch is None:
            # Given its Watch by another thread between our two looks? (See
            # _dispatch: the dict first, then the Group.)
            watch = wm._lookup(wd)
        default = self._default_proc_fun
        if watch is None:
            if mask & IN_Q_OVERFLOW:
                wm._maybe_dropped = True  # the rescan may forget directories
                default(make_event({"mask": mask, "maskname": _MASKNAMES[mask]}))
                return
            watch = wm._unknown(wd, ev.path)
            if watch is None:
                if not mask & IN_IGNORED and wd not in wm._removed:
                    _state.log().warning("Unable to retrieve Watch object associated to %r", ev)
                return
        announcing = mask & IN_ISDIR and mask & ANNOUNCING
        if announcing:
            if mask & IN_MOVED_FROM:
                wm._maybe_dropped = True  # moved out: the Watcher dropped it
            elif watch.auto_add:
                wm._announced(watch, ev.pathname)
        if mask & SPECIAL or not mask & watch.mask or watch._table is None:
            d = self._special_event(ev, watch)
            if d is None:
                return
            event: Any = make_event(d)
        else:
            # the Watcher's event, presented as ours
            ev.__class__ = _RelativeEvent if wm._relative else Event
            event = ev
        proc = watch.proc_fun or default
        target = dispatch_target(proc, mask)
        if proc is default and not announcing and not mask & SPECIAL:
            plain[mask] = target  # the next events of this mask take the short way
        target(event)
        if mask & IN_IGNORED:
            wm._forget(wd)

    def _special_event(self, ev: Any, watch: Watch | Group) -> dict[str, Any] | None:
        """The attributes of an event that is not a plain one: moves (cookie,
        src_pathname), events about the watched item itself (its ``dir``),
        masks narrowed by update_watch, paths pinned by hand."""
        mask = ev.mask
        if not mask & (watch.mask | UNASKED):
            return None  # update_watch narrowed this watch's mask
        path = ev.path if watch._table is not None else watch._path  # type: ignore[union-attr]
        d = {
            "wd": ev.wd,
            "mask": mask,
            "maskname": _MASKNAMES.get(mask) or EventsCodes.maskname(mask),
            "path": path,
            "name": ev.name,
            "dir": watch.dir if mask & SELF else bool(mask & IN_ISDIR),
        }
        if mask & MOVED:
            d["cookie"] = ev.cookie
            src = ev.src_pathname
            if src is not None:
                d["src_pathname"] = src
        elif mask & IN_MOVE_SELF:
            self._moved_self(watch, d)
        if _state.compat_mode():
            d["event_name"] = d["maskname"]
            d["is_dir"] = d["dir"]
        return d

    def _moved_self(self, watch: Watch | Group, d: dict[str, Any]) -> None:
        """A watched item moved; the event carries its path *now*, as pyinotify's
        does. The Watcher follows a directory renamed inside a watched tree, and
        a watched root renamed within its parent directory (pyinotify could
        not: it appended ``-unknown-path``). A root moved anywhere else cannot
        be found (the kernel does not say where): the Watcher then names it
        ``PATH-unknown-path``, as pyinotify did, so programs that test for (or
        strip) that suffix keep working, and it is logged as pyinotify logs it."""
        if watch._table is None:
            return  # pinned by hand
        wd = d["wd"]
        path = watch.path_of(wd) if isinstance(watch, Group) else watch.path
        d["path"] = path
        suffix: Any = _UNKNOWN_SUFFIX if isinstance(path, str) else _UNKNOWN_SUFFIX.encode()
        if path.endswith(suffix):
            _state.log().error(
                "The pathname '%s' of this watch %s has probably changed and couldn't be "
                "updated, so it cannot be trusted anymore.",
                path[: -len(suffix)],
                self._watch_manager.get_watch(wd) if isinstance(watch, Group) else watch,
            )

    # --- looping --------------------------------------------------------------

    def _sleep(self, ref_time: float) -> None:
        if self._read_freq > 0:
            delay = self._read_freq - (time.time() - ref_time)
            if delay > 0:
                time.sleep(delay)

    def loop(
        self, callback: Callable[[Any], Any] | None = None, daemonize: bool = False, **args: Any
    ) -> None:
        """Process, wait, read, until *callback(notifier)* returns ``True`` (only
        ``True``), ``KeyboardInterrupt``, or :meth:`stop`; then :meth:`stop`.
        ``daemonize=True`` forks into the background first (``pid_file``,
        ``stdin``, ``stdout``, ``stderr`` as in pyinotify)."""
        if daemonize:
            daemon.daemonize(**args)
        try:
            while self._fd is not None and self._watch_manager._fd is not None:
                self.process_events()
                if callback is not None and callback(self) is True:
                    break
                ref_time = time.time()
                if self.check_events():
                    self._sleep(ref_time)
                    self.read_events()
        except KeyboardInterrupt:
            _state.log().debug("Pyinotify stops monitoring.")
        finally:
            self.stop()

    def stop(self) -> None:
        """Close the inotify fd (every watch goes). Idempotent."""
        self._ready = []
        if self._fd is not None:
            with contextlib.suppress(KeyError):
                self._pollobj.unregister(self._fd)
            self._fd = None
        self._watch_manager.close()
