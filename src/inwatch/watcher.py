"""`Watcher`: the facade over a backend and the drivers.

The backend (today :class:`~inwatch.inotify.core.InotifyCore`) owns the
kernel fd, the watch table and the dispatcher; the drivers
(:mod:`inwatch.drivers`) decide when it reads and processes. The Watcher adds
the lifecycle and the one failure channel:

- ``read()``/iteration (blocking), ``start()`` (threads) and ``async for`` are
  the three ways to consume events; one at a time: ``read()`` while
  ``start()``'s threads run, or a second concurrent ``async for``, is refused.
- ``stop()`` ends the running consumer (a blocked ``read()`` returns ``[]``,
  iteration and ``async for`` end, the threads finish). Afterwards ``read()``
  and iteration raise :class:`~inwatch.errors.WatcherStoppedError` until
  :meth:`Watcher.resume`; ``start()`` may begin a new run once the previous
  one has ended.
- The threaded driver also ends by itself once no watch remains and
  everything read was delivered (``running`` turns false); after ``add()``,
  ``start()`` begins a new run.
- Whatever the backend, a callback or an ``onerror`` handler raises stops the
  driver and reaches the caller: from ``read()``/iteration, from ``join()``
  and ``drain()``, from the ``async for``. After such a failure the Watcher
  refuses to read (its state can no longer be trusted); close it.
- After ``close()`` every operation but ``close()`` raises
  :class:`~inwatch.errors.WatcherClosedError`.
"""

from __future__ import annotations

import os
import threading
import warnings
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from types import MappingProxyType, TracebackType
from typing import Any

from .backends import FanotifyCore, WatcherBackend, choose
from .drivers import AsyncSession, Blocking, Threaded
from .drivers.aio import AsyncFor
from .errors import WatcherClosedError, WatcherFailedError, WatcherStoppedError
from .event import Event
from .filters import ExcludeSpec
from .flags import Mask
from .inotify.core import InotifyCore
from .inotify.fd import PathArg

__all__ = ["Watcher"]

Callback = Callable[[Event[Any]], object]
BatchCallback = Callable[[list[Event[Any]]], object]


class Watcher:
    """Watch files and directory trees; read :class:`~inwatch.Event` objects.

    ``max_queue`` bounds the events held in user space by the threaded and
    asyncio drivers when the consumer is slower than the producer; when it is
    full they stop reading, the kernel queue fills, and its overflow is
    reported and recovered like any other (never a silent drop). With
    ``read_ahead``, the blocking ``read()`` gets the same protection: a thread
    takes the kernel's bytes as they come, and ``read()`` processes them (wait
    on :meth:`wait_fd`, not :meth:`fileno`, in a select loop).
    ``onerror`` receives errors met while watching new directories at run time
    (no permission, the watch limit); by default they are issued as
    ``RuntimeWarning`` and kept in :attr:`errors`. If ``onerror`` raises, the
    driver stops and the error reaches the caller.
    """

    def __init__(
        self,
        *,
        max_queue: int = 1_000_000,
        onerror: Callable[[OSError], object] | None = None,
        backend: str = "inotify",
        read_ahead: bool = False,
    ) -> None:
        chosen, why = choose(backend)
        self._core: WatcherBackend = (
            InotifyCore(onerror=onerror) if chosen == "inotify" else FanotifyCore(onerror)
        )
        #: the backend that runs: "inotify" or "fanotify" (see inwatch.backends)
        self.backend = chosen
        #: why that one ("auto" says why fanotify could not be had)
        self.backend_reason = why
        self._stop_fd = os.eventfd(0, os.EFD_CLOEXEC | os.EFD_NONBLOCK)
        self._blocking = Blocking(self._core, self._stop_fd)
        self._threaded: Threaded | None = None
        self._session: AsyncSession | None = None
        self._failure: BaseException | None = None
        self._read_lock = threading.Lock()
        self.max_queue = max_queue
        self._read_ahead = read_ahead

    # --- the fd and lifetime ----------------------------------------------------

    @property
    def onerror(self) -> Callable[[OSError], object] | None:
        return self._core.onerror

    @onerror.setter
    def onerror(self, func: Callable[[OSError], object] | None) -> None:
        self._core.onerror = func

    @property
    def errors(self) -> list[OSError]:
        """Run-time errors issued as warnings (when no ``onerror`` was given)."""
        return self._core.errors

    def _check_open(self) -> None:
        if self._core.closed:
            raise WatcherClosedError("this Watcher is closed")

    def fileno(self) -> int:
        """The inotify fd: readable when events are queued (for select/poll)."""
        self._check_open()
        return self._core.kernel_fd()

    def wait_fd(self) -> int:
        """The fd to wait on (select/poll) before :meth:`read`: the kernel's, or
        with ``read_ahead`` the read-ahead thread's eventfd (the kernel's fd is
        drained by that thread as it fills). Starts the read-ahead thread."""
        self._check_open()
        if not self._read_ahead:
            return self._core.kernel_fd()
        return self._blocking.read_ahead(self.max_queue).ready_fd

    def pending(self) -> int:
        """Bytes of events not processed yet: queued in the kernel, or taken into
        user space by a reader thread (0 once nothing is left for read())."""
        self._check_open()
        return self._core.port_pending()

    @property
    def closed(self) -> bool:
        return self._core.closed

    @property
    def backlog(self) -> int:
        """Bytes read from the kernel and not yet returned as events: a burst is
        handed out in batches of a few hundred events, and the next
        ``read()`` returns the following one at once, without reading the
        kernel (0 when nothing is left)."""
        return self._core.backlog

    @property
    def watches(self) -> Mapping[int, str]:
        """wd -> path of every watch, read-only and live."""
        self._check_open()
        return MappingProxyType(self._core.watch_map())

    @property
    def _stopped(self) -> bool:
        # One flag, kept where the blocking read() checks it on every wake-up.
        return self._blocking.stopped

    def stop(self) -> None:
        """End the running consumer (see the module docstring); safe from any
        thread or a signal handler."""
        self._blocking.stopped = True
        try:
            os.eventfd_write(self._stop_fd, 1)
        except OSError:
            pass  # closed
        threaded = self._threaded
        if threaded is not None:
            threaded.stop()
        session = self._session
        if session is not None:
            try:
                session.loop.call_soon_threadsafe(session.end)
            except RuntimeError:
                session.end()  # loop closed

    def resume(self) -> None:
        """Allow ``read()``/iteration/``async for`` again after :meth:`stop`."""
        self._check_open()
        self._blocking.stopped = False
        try:
            os.eventfd_read(self._stop_fd)
        except BlockingIOError:
            pass

    def close(self) -> None:
        """Stop, join the driver threads, drop every watch and close the fds."""
        if self._core.closed:
            return
        self.stop()
        if self._threaded is not None:
            self._threaded.join(None)
        if self._session is not None:
            self._session.close()
            self._session = None
        self._blocking.close()
        self._core.close()
        os.close(self._stop_fd)

    @property
    def running(self) -> bool:
        """True while the threads of :meth:`start` run; false once they ended
        (stop, failure, or no watch left)."""
        return self._threaded is not None and self._threaded.running

    def drain(self, timeout: float) -> bool:
        """With :meth:`start`: wait up to *timeout* seconds until everything the
        kernel had queued has been handed to the callback. True if it was;
        raises what stopped the driver if it failed."""
        self._check_open()
        threaded = self._threaded
        if threaded is None:
            raise RuntimeError("drain() needs the threaded driver: call start() first")
        return threaded.drain(timeout, self._core.port_pending)

    def join(self, timeout: float | None = None) -> None:
        """Wait for the threads started by :meth:`start` to end; raise what
        stopped them if it was an error."""
        threaded = self._threaded
        if threaded is None:
            return
        threaded.join(timeout)
        if threaded.failure is not None:
            raise threaded.failure

    def __enter__(self) -> Watcher:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    async def __aenter__(self) -> Watcher:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __del__(self) -> None:
        core = getattr(self, "_core", None)
        if core is not None and not core.closed:
            warnings.warn(f"unclosed {self!r}", ResourceWarning, source=self, stacklevel=2)
            core.close()
            os.close(self._stop_fd)

    def __repr__(self) -> str:
        state = "closed" if self._core.closed else f"{len(self._core.watch_map())} watches"
        return f"<Watcher {self.backend} {state}>"

    # --- adding and removing -----------------------------------------------------

    def add(
        self,
        path: PathArg,
        mask: int = Mask.ALL_EVENTS,
        *,
        recursive: bool = False,
        exclude: ExcludeSpec = None,
        follow_symlinks: bool = False,
        auto_add: bool | None = None,
        onerror: Callable[[OSError], object] | None = None,
    ) -> int:
        """Watch *path* (a file or directory); return its wd.

        With *recursive*, every directory below is watched too, and (unless
        *auto_add* is False) directories that appear later are watched as they
        appear, their contents reported as synthetic CREATE events. *exclude*
        is a list of globs matched against each entry's name and its path
        relative to *path*, or a callable taking the full path; excluded entries
        cost no watch and produce no event. Symbolic links to directories are
        followed only with *follow_symlinks* (loops are detected).

        Errors: ``FileNotFoundError``/``PermissionError``/... for *path*;
        ``WatchLimitError`` saying how many watches the tree needs, with every
        watch this call added removed again. A subdirectory that cannot be
        watched raises too, unless *onerror* is given: then it is passed the
        error and the walk goes on.
        """
        self._check_open()
        raw = os.fspath(path)
        if raw in ("", b""):
            raise FileNotFoundError(2, "No such file or directory", raw)
        return self._core.add_root(
            os.fsdecode(raw),
            int(mask),
            recursive=recursive,
            exclude=exclude,
            follow_symlinks=follow_symlinks,
            auto_add=auto_add,
            onerror=onerror,
            as_bytes=isinstance(raw, bytes),
        )

    def remove(self, path_or_wd: PathArg | int) -> None:
        """Stop watching a path (or wd) and every watch below it."""
        self._check_open()
        if isinstance(path_or_wd, int):
            self._core.remove_path(path_or_wd)
        else:
            self._core.remove_path(os.fsdecode(os.fspath(path_or_wd)))

    # --- single watches (what the pyinotify-style API needs) -----------------------

    def wd_of(self, path: PathArg) -> int | None:
        """The wd watching *path* (as this Watcher knows it), or ``None``."""
        self._check_open()
        return self._core.wd_of(os.path.normpath(os.fsdecode(os.fspath(path))))

    def subtree(self, wd: int) -> list[int]:
        """*wd* and every watch below it, parents first (``[]`` if unknown)."""
        self._check_open()
        return self._core.subtree(wd)

    def unwatch(self, wd: int) -> None:
        """Remove the one watch *wd*; watched subdirectories stay watched, each
        becoming a root with the same options. ``OSError(EINVAL)`` if unknown."""
        self._check_open()
        self._core.unwatch(wd)

    def set_mask(self, wd: int, mask: int) -> None:
        """Give the one watch *wd* the events of *mask* (plus what the Watcher
        needs for its bookkeeping) and let them through its tree's filter."""
        self._check_open()
        self._core.set_mask(wd, mask)

    def set_auto_add(self, wd: int) -> None:
        """Watch directories that appear below *wd* from now on (its tree's option)."""
        self._check_open()
        self._core.set_auto_add(wd)

    # --- blocking driver ----------------------------------------------------------

    def _check_readable(self, how: str) -> None:
        self._check_open()
        failure = self._failure
        if failure is None and self._threaded is not None:
            failure = self._threaded.failure
        if failure is not None:
            raise WatcherFailedError(
                f"this Watcher stopped after an error ({failure!r}); close it"
            ) from failure
        if self._threaded is not None and self._threaded.running:
            raise RuntimeError(f"{how} while start()'s threads deliver the events: use one")
        if self._stopped:
            raise WatcherStoppedError(f"{how} after stop(): call resume() first")

    def read(self, timeout: float | None = None) -> list[Event[Any]]:
        """Wait up to *timeout* seconds (``None`` or ``inf``: until :meth:`stop`)
        and return the events of everything the kernel has queued, a big burst
        in batches of a few hundred (see :attr:`backlog`); ``[]`` on
        timeout, on stop, or when no watch remains."""
        # One test for the common case (close() stops first, so a closed
        # Watcher is a stopped one and _check_readable says which).
        if self._failure is not None or self._threaded is not None or self._blocking.stopped:
            self._check_readable("read()")
        if self._read_ahead and self._blocking.ahead is None:
            self._blocking.read_ahead(self.max_queue)
        lock = self._read_lock
        if not lock.acquire(False):  # (positional: the cheaper call)
            raise RuntimeError("read() from two threads at once")
        try:
            return self._blocking.read(timeout)
        except BaseException as exc:
            if not isinstance(exc, (KeyboardInterrupt, ValueError)):
                self._failure = exc
            raise
        finally:
            lock.release()

    def __iter__(self) -> Iterator[Event[Any]]:
        """Events as they come; ends on :meth:`stop`/:meth:`close` or when no
        watch remains."""
        self._check_readable("iteration")
        while self._core.alive and not self._stopped and not self._core.closed:
            yield from self.read()

    # --- threaded driver ----------------------------------------------------------

    def start(self, callback: Callback | BatchCallback, *, batch: bool = False) -> None:
        """Deliver events to *callback* from background threads until :meth:`stop`.

        A handler thread waits on the kernel, processes and calls *callback*
        with each event (or, with *batch*, with each list of events); while it
        works, a reader thread drains the kernel queue into a user-space
        buffer (bounded by ``max_queue``), so a slow callback does not make the
        kernel queue overflow. If *callback* raises, delivery
        stops and the exception is raised from :meth:`join` and :meth:`drain`.
        """
        self._check_readable("start()") if self._threaded is None else self._check_open()
        if self._threaded is not None and self._threaded.failure is not None:
            raise WatcherFailedError("this Watcher stopped after an error; close it")
        if self._failure is not None:
            raise WatcherFailedError("this Watcher stopped after an error; close it")
        if self._threaded is not None and any(t.is_alive() for t in self._threaded.threads):
            raise RuntimeError("this Watcher is already started")
        if self._threaded is not None:
            self._threaded.join(None)
        self.resume()
        if batch:
            deliver: Callable[[list[Event[Any]]], None] = callback  # type: ignore[assignment]
        else:
            one: Callable[[Event[Any]], object] = callback  # type: ignore[assignment]

            def deliver(events: list[Event[Any]]) -> None:
                for event in events:
                    one(event)

        self._threaded = Threaded(self._core, deliver, self.max_queue)
        self._threaded.start()

    # --- asyncio driver -----------------------------------------------------------

    def __aiter__(self) -> AsyncIterator[Event[Any]]:
        """``async for ev in watcher``: processed on the loop when that stays in
        memory, in a worker thread when it may list directories (see
        :mod:`inwatch.drivers.aio`)."""
        it: AsyncIterator[Event[Any]] = AsyncFor(self).__aiter__()
        return it
