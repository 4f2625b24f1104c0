"""The inotify core: bytes of ``read(2)`` -> :class:`~inwatch.Event` objects.

It implements :class:`~inwatch.drivers.Backend` for the shared drivers.
Reading (:meth:`InotifyCore.read_raw`) only takes bytes off the kernel queue
into a buffer, stamped with the time the read *started*; processing
(:meth:`InotifyCore.process`) parses them and keeps the table in step, in read
order. The start stamps are what the exactly-once rules count on: every event
queued before a moment has been read by the first read that started after it.

What the kernel does, and what we rely on (inotify(7)):

- A watch covers one directory (or file) and its direct entries, never deeper.
  A new subdirectory needs its own watch, and whatever is created in it before
  that watch exists is never reported by the kernel. So on ``CREATE|ISDIR`` we
  add the watch *first*, then list the directory; what the listing finds is
  held (:mod:`~inwatch.inotify.recent`) until the events queued before the
  listing are processed, then reported as synthetic CREATEs at the path the
  directory has by then; a kernel event about the same entry settles it first.
- A rename inside the watched set queues MOVED_FROM then MOVED_TO with one
  cookie (:mod:`~inwatch.inotify.moves`). A directory's watch follows its inode,
  so a renamed directory keeps its wd and we rewrite the paths of its subtree;
  one moved out is unwatched; one moved in is watched and listed.
- ``add_watch`` of a path returns the wd of the inode the path names *now*. If
  that is a wd we hold under another name, the directory got there by a rename
  whose events are still queued: they will move it; it is not walked twice.
  Where the listing saw it (a *sighting*) is newer than every queued event: if
  its rename's MOVED_TO never comes (it went into a directory not watched yet),
  it is followed there.
- A watch can exist on a directory we could not list (renamed or deleted
  between ``add_watch`` and ``scandir``): it is listed once its rename has been
  processed (:mod:`~inwatch.inotify.recover`). Events about an entry never
  reported in a directory (there when the watch was added, gone before the
  listing) name a path a reader never heard of: like that entry's DELETE, they
  are not news.
- When the queue holds ``max_queued_events``, further events are dropped and
  one ``Q_OVERFLOW`` (wd -1) is queued. We deliver it, then rescan every tree
  against what was reported (:mod:`~inwatch.inotify.recover`).
- ``IGNORED`` ends a watch (rm_watch, deletion, unmount); the wd may later be
  reused, so we forget it when the IGNORED is processed.
- A watched root that is renamed reports ``MOVE_SELF``; an ``O_PATH``
  descriptor kept on each root tells where it went (``/proc/self/fd``), and
  its tree's paths follow it.
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Mapping
from itertools import islice
from operator import length_hint
from typing import Any

from ..accel import native
from ..event import Event
from ..flags import (
    IN_CREATE,
    IN_DELETE,
    IN_IGNORED,
    IN_ISDIR,
    IN_MOVE_SELF,
    IN_MOVED_FROM,
    IN_MOVED_TO,
    IN_Q_OVERFLOW,
    IN_UNMOUNT,
)
from . import light
from .fd import READ_SIZE, more
from .port import _NEARLY_FULL, KERNEL_READ, KernelPort, Port
from .slow import SlowPath
from .state import Emit
from .wire import parse_flat

__all__ = ["InotifyCore"]


# Events that touch the table, the file baseline or the move pairer.
_SLOW = (
    IN_CREATE
    | IN_DELETE
    | IN_MOVED_FROM
    | IN_MOVED_TO
    | IN_IGNORED
    | IN_Q_OVERFLOW
    | IN_MOVE_SELF
    | IN_UNMOUNT
)
# A plain file's CREATE or DELETE: any other bit sends it down the slow path.
_NOT_PLAIN_FILE = ~(IN_CREATE | IN_DELETE)

# Events handed out per process() call, at most (a soft bound: a slow-path event
# may add its held findings); the rest of the read waits in the buffer
# (``backlog`` stays non-zero, so the drivers call again at once). Why bound it:
# every Event is an object the cyclic garbage collector tracks, and a
# generation-0 collection runs once allocations outnumber deallocations by 700
# (CPython's default threshold), traversing every young object still alive.
# A 12,000-event burst handed out at once triggered ~17 of them, then gen-1 and
# full ones over the whole heap: ~0.2 µs an event (bench/profile_core.py, GC on
# against off). A caller holds at most two batches at once (the one it is
# iterating and the one being built for its next read), so with 256 the count
# stays below 700 and a burst drains without a single collection; the cost of
# a batch (one read() call, ~5 µs) is 0.02 µs an event.
BATCH = 256


class InotifyCore(SlowPath):
    """The inotify backend: one fd, its watch table, and the dispatcher."""

    def __init__(
        self,
        port: Port | None = None,
        onerror: Any = None,
    ) -> None:
        super().__init__(port if port is not None else KernelPort(), onerror)
        self._read_lock = threading.Lock()
        # Reads not dispatched yet: (bytes, when the read started). Bytes taken
        # and bytes dispatched are counted apart (each has one writer: the
        # reader, under _read_lock, and the dispatcher), so no lock is needed
        # to keep their difference, the backlog, exact.
        self._chunks: collections.deque[tuple[bytes, float]] = collections.deque()
        self._taken = 0
        self._done = 0
        # The read being dispatched, when a batch ended inside it: its records
        # (see wire.parse_flat) and the iterator under them (what is left), its
        # size and start stamp.
        self._records: Any = None
        self._flat: list[Any] = []
        self._it: Any = iter(())
        self._size = 0
        self._started = 0.0
        self._moved_to: set[int] | None = None  # cookies of its MOVED_TOs (when asked)
        self._unmounts: dict[int, str] = {}  # wd -> path, of UNMOUNTs in this read
        self._mounted: set[str] = set()  # new mount points, not yet looked at
        self._mounts_asked = 0.0
        self._closed = False
        # Per read, for _leaves_later: the last record index of each directory's
        # departure (DELETE or MOVED_FROM, ISDIR) by (wd, name); built on first
        # need, dropped when the next read begins.
        self._departures: dict[tuple[int, bytes], int] | None = None
        self.last_read = time.time()
        if native is not None and type(self.port) is KernelPort and KernelPort.read is KERNEL_READ:
            # take() in C (inotify/_accel_take.c): the same steps, with the
            # containers above (never rebound: it keeps them). Over the real
            # kernel only, whose read() it does itself: a fake, subclassed or
            # patched port (the tests' tracing) goes through Python.
            recent = self.recent
            try:
                self.take = native.Taker(  # type: ignore[method-assign]
                    self, self.port, self.lock, self._read_lock, self._chunks,
                    self._wd_paths, self._wd_special, self.files, recent._items, recent._echo,
                    self.relisted, self.moves._pending, self.pending, self.unlisted,
                    self._mounted, more, BATCH, _NEARLY_FULL, READ_SIZE,
                )  # fmt: skip
            except BaseException:
                self.close()  # the port's fds, opened above
                raise

    # --- Source ------------------------------------------------------------------------

    def fileno(self) -> int:
        """What the drivers wait on (the inotify fd and the mount table)."""
        return self.port.fileno()

    def wait_fds(self) -> list[tuple[int, int]]:
        """For poll-based drivers: the inotify fd, then the mount table's (so
        they need not go through the epoll fd of :meth:`fileno`)."""
        return self.port.wait_fds()

    def note_side(self) -> None:
        """The mount table's fd woke the driver: ask it at the next read."""
        self._mounts_asked = float("-inf")

    def kernel_fd(self) -> int:
        """The inotify fd itself."""
        return self.port.inotify_fd()

    @property
    def alive(self) -> bool:
        return bool(self.table.paths)

    def watch_map(self) -> Mapping[int, str]:
        return self.table.paths

    def wd_of(self, path: str) -> int | None:
        return self.table.wd_of(path)

    def subtree(self, wd: int) -> list[int]:
        return self.table.subtree(wd) if wd in self.table.paths else []

    def port_pending(self) -> int:
        """Bytes not yet processed: still queued in the kernel (FIONREAD) or read
        into the buffer. Taken under the read lock, so a read in flight (bytes
        out of the kernel, not yet in the buffer) is never missed."""
        with self._read_lock:
            if self.port.closed:
                return 0
            from . import _sys

            return _sys.fionread(self.port.inotify_fd()) + self._taken - self._done

    @property
    def backlog(self) -> int:
        """Bytes read from the kernel and not processed yet (1 for news of mounts)."""
        return self._taken - self._done or len(self._mounted)

    def read_raw(self) -> int:
        """Take everything the kernel has queued into the buffer (and note a
        change of the mount table); what was taken (0: nothing)."""
        lock = self._read_lock
        lock.acquire()  # (not `with`: half the cost on the latency path)
        try:
            return self._take_bytes()
        finally:
            lock.release()

    def _take_bytes(self) -> int:
        """read_raw's body, with ``_read_lock`` held."""
        started = self.port.clock()
        data = self.port.read()
        if data:
            self._chunks.append((data, started))
            self._taken += len(data)
        # The mount table's news costs a syscall: asked when the wake-up
        # brought no event (then it came from the mount table) and at most
        # every 50 ms otherwise, not on every read of a busy queue.
        if not data or started - self._mounts_asked >= 0.05:
            self._mounts_asked = started
            added = self.port.new_mounts()
            if added:
                self._mounted.update(added)
                return len(data) + 1
        return len(data)

    def take(self) -> list[Event[Any]]:
        """``read_raw()`` then ``process()``, in one call: the latency path of
        a poll-based driver, when the kernel's fd alone woke it and nothing
        taken before waits to be processed. Same result as the two calls; each
        lock is taken once (the read lock inside the core lock, as process()
        does)."""
        out: list[Event[Any]] = []
        lock = self.lock
        lock.acquire()
        try:
            if self._closed:
                return out
            # read_raw() without the mount table's news: the caller's poll says
            # the kernel's fd alone was ready, so the table did not change
            # before it (news after it wakes the next poll).
            read_lock = self._read_lock
            read_lock.acquire()
            try:
                started = self.port.clock()
                data = self.port.read()
                if data:
                    self._chunks.append((data, started))
                    self._taken += len(data)
            finally:
                read_lock.release()
            self._dispatch(out)
            if self._records is None:
                recent = self.recent
                if self._mounted or recent._items or recent._echo or self.moves._pending:
                    self._process(out)  # the rest of process(): mounts, held findings
        finally:
            lock.release()
        return out

    @property
    def quiet(self) -> bool:
        """``not backlog and deadline() is None``, in one look: nothing taken
        and not processed, nothing due (asked before every wait)."""
        recent = self.recent
        return (
            self._taken == self._done
            and not self._mounted
            and not self.moves._pending
            and not recent._items
            and not recent._echo
        )

    def deadline(self) -> float | None:
        recent = self.recent
        if not self.moves._pending and not recent._items and not recent._echo:
            return None  # the common case, asked on every wait: no call
        due = self.moves.deadline()
        if recent:
            now = self.port.clock()
            return now if due is None else min(due, now)
        return due

    def process(self) -> list[Event[Any]]:
        """Process what was read, in order, up to about :data:`BATCH` events (the
        rest stays in ``backlog``); settle held findings by reading once more."""
        out: list[Event[Any]] = []
        lock = self.lock
        lock.acquire()
        try:
            if not self._closed:
                self._process(out)
        finally:
            lock.release()
        return out

    def _process(self, out: list[Event[Any]]) -> None:
        """process()'s body, with ``self.lock`` held."""
        if self._records is not None or self._chunks:
            self._dispatch(out)
            if self._records is not None:
                return  # a batch ended inside a read: the rest comes next call
        if self._mounted:
            self._cover()
        recent = self.recent
        if recent._items or recent._echo or self.moves._pending:
            # Findings wait for a read that started after them: do it now.
            with self._read_lock:
                if not self._chunks:
                    started = self.port.clock()
                    data = self.port.read()
                    if data:
                        self._chunks.append((data, started))
                        self._taken += len(data)
                    else:
                        self._settle(started, out.append)
            if self._chunks:
                self._dispatch(out)

    def _settle(self, horizon: float, emit: Emit) -> None:
        """Every read that started before *horizon* has been processed."""
        if self.relisted:
            for wd in [w for w, at in self.relisted.items() if at < horizon]:
                del self.relisted[wd]
        recent = self.recent
        if recent._items or recent._echo:
            released = recent.due(horizon)
            if released:
                self.emit_held(emit, released)
        if self.moves._pending:
            for _full, child in self.moves.gone(horizon):
                if child is not None:
                    self._moved_out(child)
        if self.pending or self.unlisted:
            self.settle_pending()

    # --- the dispatcher ---------------------------------------------------------------

    def _dispatch(self, out: list[Event[Any]]) -> None:
        """Turn the reads' records into events, keeping the table in step, until
        *out* holds a batch: first the rest of a read a batch ended in, then the
        reads taken since, in order. The end of each read settles what waited
        for it.

        The loop is the hot path: an event that needs no bookkeeping costs a
        table lookup (a list index, wdmap.py), a decode and one `Event`; a
        file created or deleted in a plain tree adds a set update; a root
        filtered by its mask alone (``Root.narrow``) adds one lookup and one
        AND. Everything else goes to
        `_slow` (or, for a root with more filters, to `emit_one`). When
        events come one at a time (the latency path), the fixed cost of a read
        counts as much: it is kept to this one call and the parser's.

        Here alone, `Event(...)` is inlined as slot stores: the call of its
        ``__init__`` costs 10-15 % of delivering an event (measured against
        the previous release, tests/unit/test_event.py checks that the inlined
        stores set every slot, so the two cannot drift apart).

        With the accelerator (:mod:`inwatch.accel`) the per-record loop runs in
        C (``inotify/_accel.c``, ``dispatch``): the same branches and callbacks,
        the slots stored at the offsets of Event's member descriptors (checked
        when it loads). Everything before and after the loop stays here.
        """
        emit = out.append
        chunks = self._chunks
        new = Event
        alloc = object.__new__
        slow, not_plain_file, create, isdir = _SLOW, _NOT_PLAIN_FILE, IN_CREATE, IN_ISDIR
        while True:
            records = self._records
            if records is None:
                if not chunks or len(out) >= BATCH:
                    return
                # No lock to pop: read_raw only appends, and only we (under
                # self.lock) pop.
                data, self._started = chunks.popleft()
                self._size = len(data)
                try:
                    flat = self._flat = parse_flat(data)
                except BaseException:
                    self._done += len(data)  # not to be dispatched: out of the backlog
                    raise
                it = self._it = iter(flat)
                # zip reuses its result tuple when the loop unpacks it: nothing
                # is allocated per record (see wire.parse_flat).
                records = self._records = zip(it, it, it, it, strict=True)
                self._moved_to = None
                self._departures = None
                self.now = time.time()  # one timestamp per read, over all its batches
            else:
                it = self._it
            now = self.now
            started = self._started
            dense = self.table.paths.dense
            spill = self.table.paths.spill
            # self.special's list and dict: "any special root" is
            # len(sdense) > 1 or sspill, and its get is inlined (wdmap.py).
            sdense = self.special.dense
            sspill = self.special.spill
            files = self.files
            held_items = self.recent._items
            relisted = self.relisted
            echo = self.recent._echo
            quota = BATCH - len(out)
            if native is not None:
                # The loop below, in C (inotify/_accel.c, dispatch): the same
                # branches in the same order, the same callbacks; it walks the
                # same iterator, so the look-ahead (news.py) sees where it is.
                native.dispatch(
                    self, emit, out, it, quota, self._wd_paths, self._wd_special, files,
                    held_items, echo, relisted, started, now,
                )  # fmt: skip
            else:
                # Its C twin (_accel.c, dispatch) quotes each line in "[core: ...]"
                # comments: a change here is made there too.
                for wd, mask, cookie, name in islice(records, quota):
                    # paths.get(wd), inlined (wdmap.py: wd -1 is an overflow's)
                    path = dense[wd] if 0 < wd < len(dense) else spill.get(wd)
                    if path is None:
                        if mask & IN_Q_OVERFLOW:
                            self._overflow(emit)
                        continue  # a watch we already dropped
                    if (held_items or echo or relisted) and self._settles(
                        wd, mask, name, emit, started
                    ):
                        continue  # our own listing's echo
                    # The root's filter: 0 for a default root; a root whose mask
                    # is its only filter takes the same path and one AND (its
                    # Root.narrow); -1 for any other: every event to emit_one.
                    narrow = 0
                    if len(sdense) > 1 or sspill:
                        root = sdense[wd] if 0 < wd < len(sdense) else sspill.get(wd)
                        if root is not None:
                            narrow = root.narrow or -1
                    if mask & slow:
                        if mask & not_plain_file or narrow < 0:
                            self._slow(wd, mask, cookie, name, path, emit)
                            continue
                        # A file created or deleted in a plain tree: keep the
                        # baseline (what _slow's _arrival and DELETE do for it).
                        sname = name.decode("utf-8", "surrogateescape")
                        names = files.get(wd)
                        if mask & create:
                            if names is None:
                                files[wd] = {sname}
                            else:
                                names.add(sname)
                        elif names is not None and sname in names:
                            names.discard(sname)
                        else:
                            continue  # never reported: there before our watch, gone before listing
                        if narrow and not mask & narrow:
                            continue  # kept in the baseline, not asked for
                        # Event(...) inlined (see _dispatch's docstring): every slot, in order.
                        ev = alloc(new)
                        ev.wd = wd
                        ev.mask = mask
                        ev.cookie = cookie
                        ev.name = sname
                        ev.path = path
                        ev.pathname = path + "/" + sname
                        ev.src_pathname = None
                        ev.origin = "kernel"
                        ev.time = now
                        ev.actor = None
                        emit(ev)
                        continue
                    sname = name.decode("utf-8", "surrogateescape")
                    if sname:
                        if mask & isdir:
                            if not self._known_dir(wd, sname, path):
                                continue  # a directory never reported here (renamed away, gone)
                        else:
                            names = files.get(wd)
                            if (names is None or sname not in names) and not self._known_file(
                                wd, sname, path
                            ):
                                continue  # a file never reported here (see _known_file)
                    if narrow:
                        if narrow < 0:
                            self.emit_one(emit, wd, mask, cookie, sname, path)
                            continue
                        if not mask & narrow:
                            continue  # not asked for
                    ev = alloc(new)  # Event(...) inlined, as above
                    ev.wd = wd
                    ev.mask = mask
                    ev.cookie = cookie
                    ev.name = sname
                    ev.path = path
                    ev.pathname = path + "/" + sname if sname else path
                    ev.src_pathname = None
                    ev.origin = "kernel"
                    ev.time = now
                    ev.actor = None
                    emit(ev)
            if length_hint(it):  # records left (counted by the iterator itself)
                return  # the batch is full
            # The end of a read.
            self._records = None
            self._done += self._size
            self.last_read = now
            if self._unmounts:
                self._uncover()
            recent = self.recent
            if (
                recent._items
                or recent._echo
                or self.moves._pending
                or self.pending
                or self.unlisted
                or self.relisted
            ):
                self._settle(self._started, emit)

    def io_free(self) -> bool:
        """Does the next :meth:`process` stay in memory (no listing, no
        rescan)? Optional for a backend: the asyncio driver then processes on
        the event loop (see :mod:`.light`). Only while nothing else processes."""
        return light.io_free(self, BATCH)

    # --- lifetime -------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        with self._read_lock:
            if not self.port.closed:
                self.port.close()
            self._closed = True
        # The C take() holds the core: the cycle goes with the close (or with
        # the collector, for a core never closed).
        self.__dict__.pop("take", None)
