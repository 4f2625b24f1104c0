"""The fanotify backend with the read buffer inside: the drivers' contract."""

from __future__ import annotations

import collections
import threading
from typing import TYPE_CHECKING, Any

from ..event import Event

if TYPE_CHECKING:
    from .backend import FanotifyBackend

__all__ = ["Buffered"]


class Buffered:
    """The backend with the read buffer inside, for drivers that call
    ``read_raw() -> int`` (bytes taken) and ``process() -> events`` (everything
    taken so far, in read order), and watch ``backlog`` (bytes taken and not yet
    processed) for back-pressure: the protocol of ``inwatch.drivers``.

    ``read_raw`` may run on a reader thread while ``process`` runs on another:
    the lock guards only the buffer, never the processing."""

    def __init__(self, backend: FanotifyBackend) -> None:
        self.backend = backend
        self._chunks: collections.deque[bytes] = collections.deque()
        self._backlog = 0
        self._lock = threading.Lock()

    def fileno(self) -> int:
        return self.backend.fileno()

    def read_raw(self) -> int:
        with self._lock:
            if self.backend.closed:
                return 0
            data = self.backend.read_raw()
            if data:
                self._chunks.append(data)
                self._backlog += len(data)
            return len(data)

    def process(self) -> list[Event[Any]]:
        backend = self.backend
        with self._lock:
            chunks, self._chunks = self._chunks, collections.deque()
            self._backlog = 0
        out: list[Event[Any]] = []
        for data in chunks:
            out.extend(backend.process(data))
        if backend.deadline() is not None:
            # A MOVED_FROM waits for its MOVED_TO: one more read (under the
            # lock, so no reader thread takes bytes between) pairs or settles it.
            with self._lock:
                data = b"" if self._chunks or backend.closed else backend.read_raw()
            out.extend(backend.process(data))
        return out

    def deadline(self) -> float | None:
        return self.backend.deadline()

    @property
    def backlog(self) -> int:
        return self._backlog

    @property
    def alive(self) -> bool:
        return self.backend.alive

    @property
    def closed(self) -> bool:
        return self.backend.closed
