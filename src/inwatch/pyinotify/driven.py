"""The notifiers driven by threads or an event loop: :class:`ThreadedNotifier`
on the Watcher's threaded driver (``Watcher.start``: a reader thread keeps
draining the kernel queue while handlers run), :class:`AsyncioNotifier` with
``async for`` over the Watcher. Both hand each read's events to
:meth:`~.notifiers.Notifier.process_events`, as the blocking Notifier does.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from typing import Any

from .manager import WatchManager
from .notifiers import Notifier

__all__ = ["AsyncioNotifier", "ThreadedNotifier"]


class ThreadedNotifier(threading.Thread, Notifier):
    """A Notifier in its own thread: ``start()``, then ``stop()`` (which
    stops, joins and closes).

    It runs on the Watcher's threaded driver (:meth:`inwatch.Watcher.start`):
    one thread drains the kernel queue while another dispatches, so a slow
    handler does not make the kernel queue overflow. That driver reads all
    the time, so ``threshold`` is not used; ``read_freq`` (s) is a pause after
    each batch, during which events gather into the next one.
    """

    _reads_in_check = False  # the Watcher's threads read

    def __init__(
        self,
        watch_manager: WatchManager,
        default_proc_fun: Any = None,
        read_freq: float = 0,
        threshold: int = 0,
        timeout: int | None = None,
    ) -> None:
        threading.Thread.__init__(self)
        self._stop_event = threading.Event()
        # Set by stop() and by add_watch: the Watcher's driver ends by itself
        # when no watch is left, and is started again when one is added.
        self._wake = threading.Event()
        self._dispatching: int | None = None  # the thread inside _on_batch
        Notifier.__init__(self, watch_manager, default_proc_fun, read_freq, threshold, timeout)
        watch_manager._on_add.append(self._wake.set)

    def _on_batch(self, events: list[Any]) -> None:
        """The Watcher driver's callback (its handler thread), one read's events."""
        self._dispatching = threading.get_ident()
        try:
            if self._stop_event.is_set():
                return
            self._queue_events(events)
            self.process_events()
        finally:
            self._dispatching = None
        if self._read_freq > 0:
            self._stop_event.wait(self._read_freq)

    def stop(self) -> None:
        """Stop the loop, join the thread, close the fd."""
        self._stop_event.set()
        self._wake.set()
        self._watcher.stop()
        inside = self._dispatching == threading.get_ident()  # a handler called stop()
        if self.is_alive() and threading.current_thread() is not self and not inside:
            threading.Thread.join(self)
        with contextlib.suppress(ValueError):
            self._watch_manager._on_add.remove(self._wake.set)
        Notifier.stop(self)

    def loop(self) -> None:  # type: ignore[override]
        """The thread's loop; use ``start()``."""
        watcher = self._watcher
        self._wake.set()  # watches added before start() count
        while True:
            self._wake.wait()
            self._wake.clear()
            if self._stop_event.is_set():
                return
            if watcher.closed or not watcher.watches:
                continue
            watcher.start(self._on_batch, batch=True)
            watcher.join()  # until stop(), or no watch is left

    def run(self) -> None:
        self.loop()


class AsyncioNotifier(Notifier):
    """A Notifier driven by an asyncio event loop: a task on *loop* iterates
    the Watcher (``async for``); the events of each read are dispatched in one
    go, then ``callback(self)`` is called. ``.loop`` is the asyncio loop, as in
    pyinotify. The task starts when the loop runs."""

    _reads_in_check = False  # the task reads

    def __init__(
        self,
        watch_manager: WatchManager,
        loop: Any,
        callback: Callable[[Any], Any] | None = None,
        default_proc_fun: Any = None,
        read_freq: float = 0,
        threshold: int = 0,
        timeout: int | None = None,
    ) -> None:
        self.loop = loop  # type: ignore[method-assign]
        self.handle_read_callback = callback
        Notifier.__init__(self, watch_manager, default_proc_fun, read_freq, threshold, timeout)
        self._flush_due = False
        self._stopping = False
        self._added: asyncio.Event | None = None
        watch_manager._on_add.append(self._watch_added)
        self._task: asyncio.Task[None] | None = loop.create_task(self._consume())

    def _watch_added(self) -> None:
        added = self._added
        if added is not None:
            with contextlib.suppress(RuntimeError):  # the loop is closed
                self.loop.call_soon_threadsafe(added.set)  # type: ignore[attr-defined]

    async def _consume(self) -> None:
        watcher = self._watcher
        self._added = added = asyncio.Event()
        while not self._stopping and not watcher.closed:
            if watcher.watches:
                # The events of one read come without a pass through the loop
                # in between, so _flush, scheduled on the first, sees them all.
                # If this task is cancelled (stop() from a callback), the
                # Watcher's generator is closed here, not later by the collector.
                events = watcher.__aiter__()
                append = self._eventq.append
                try:
                    async for event in events:
                        if self._coalesce:
                            self._queue_events([event])
                        else:
                            append(event)
                        if not self._flush_due:
                            self._flush_due = True
                            self.loop.call_soon(self._flush)  # type: ignore[attr-defined]
                finally:
                    aclose = getattr(events, "aclose", None)
                    if aclose is not None:
                        await aclose()
            # Stopped, or no watch is left: wait for add_watch.
            added.clear()
            if self._stopping or watcher.closed or watcher.watches:
                return
            await added.wait()

    def _flush(self) -> None:
        self._flush_due = False
        if self._fd is None:
            return
        self.process_events()
        if self.handle_read_callback is not None:
            self.handle_read_callback(self)

    def stop(self) -> None:
        self._stopping = True
        self._watcher.stop()
        self._watch_added()  # wake _consume if it waits for a watch
        with contextlib.suppress(ValueError):
            self._watch_manager._on_add.remove(self._watch_added)
        task, self._task = self._task, None
        loop: Any = self.loop
        if task is not None and not task.done():
            if loop.is_running():
                loop.call_soon_threadsafe(task.cancel)  # stop() may come from any thread
            elif not loop.is_closed():
                # Stopped from outside the loop: let the task see the stop and
                # end, so nothing is left pending when the loop is closed.
                with contextlib.suppress(asyncio.CancelledError):
                    loop.run_until_complete(asyncio.wait_for(task, 5))
        Notifier.stop(self)

    def handle_read(self, *args: Any, **kwargs: Any) -> None:
        """Read, process, then call the callback (what the task does by itself)."""
        self.read_events()
        self.process_events()
        if self.handle_read_callback is not None:
            self.handle_read_callback(self)
