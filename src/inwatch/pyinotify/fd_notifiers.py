"""The notifiers whose API is the fd itself: :class:`TornadoAsyncNotifier`
(``IOLoop.add_handler``) and ``AsyncNotifier`` (an ``asyncore`` dispatcher,
built on first use). When the fd is readable they read and dispatch through
:class:`~.notifiers.Notifier`'s ``read_events`` / ``process_events``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .manager import WatchManager
from .notifiers import Notifier

__all__ = ["TornadoAsyncNotifier", "make_async_notifier"]


class TornadoAsyncNotifier(Notifier):
    """A Notifier driven by a Tornado ``IOLoop`` (``add_handler``). Tornado is
    not imported: any loop object with ``add_handler``/``remove_handler``/``READ``
    works."""

    _reads_in_check = False  # the loop waits on the fd: the events stay behind it

    def __init__(
        self,
        watch_manager: WatchManager,
        ioloop: Any,
        callback: Callable[[Any], Any] | None = None,
        default_proc_fun: Any = None,
        read_freq: float = 0,
        threshold: int = 0,
        timeout: int | None = None,
        channel_map: Any = None,
    ) -> None:
        self.io_loop = ioloop
        self.handle_read_callback = callback
        Notifier.__init__(self, watch_manager, default_proc_fun, read_freq, threshold, timeout)
        ioloop.add_handler(self._fd, self.handle_read, ioloop.READ)

    def stop(self) -> None:
        if self._fd is not None:
            self.io_loop.remove_handler(self._fd)
        Notifier.stop(self)

    def handle_read(self, *args: Any, **kwargs: Any) -> None:
        self.read_events()
        self.process_events()
        if self.handle_read_callback is not None:
            self.handle_read_callback(self)


_async_notifier: type | None = None


def make_async_notifier() -> type:
    """pyinotify's ``AsyncNotifier``, built on first use: it needs ``asyncore``
    (removed from Python 3.12; the ``pyasyncore`` package brings it back)."""
    global _async_notifier
    if _async_notifier is not None:
        return _async_notifier
    try:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            import asyncore
    except ImportError:
        raise ImportError(
            "AsyncNotifier needs the asyncore module, which Python 3.12 removed: "
            "install pyasyncore (pip install pyasyncore), or use AsyncioNotifier"
        ) from None

    class AsyncNotifier(asyncore.file_dispatcher, Notifier):
        """A Notifier driven by the asyncore loop."""

        _reads_in_check = False  # the loop waits on the fd: the events stay behind it

        def __init__(
            self,
            watch_manager: WatchManager,
            default_proc_fun: Any = None,
            read_freq: float = 0,
            threshold: int = 0,
            timeout: int | None = None,
            channel_map: Any = None,
        ) -> None:
            Notifier.__init__(self, watch_manager, default_proc_fun, read_freq, threshold, timeout)
            asyncore.file_dispatcher.__init__(self, watch_manager._watcher.fileno(), channel_map)

        def handle_read(self) -> None:
            self.read_events()
            self.process_events()

    AsyncNotifier.__module__ = "inwatch.pyinotify"
    _async_notifier = AsyncNotifier
    return AsyncNotifier
