"""Choosing a backend, and giving fanotify the shape the Watcher drives.

``Watcher(backend=...)``:

- ``"inotify"`` (the default): works for any user on any file system, one
  watch per directory, no "who".
- ``"fanotify"``: one filesystem mark for a whole tree (no watch limit, no
  new-directory race) and the actor of every event; needs CAP_SYS_ADMIN for a
  filesystem mark (Linux >= 6.16 allows one unprivileged inside a user
  namespace that owns the file system) and FAN_REPORT_DFID_NAME (Linux 5.9;
  renames come from FAN_RENAME on 5.17+, else from the paired halves). If it
  cannot be had, an error says what is missing and that inotify works.
- ``"auto"``: fanotify where it can be had, else inotify; the Watcher's
  ``backend_reason`` says which and why.

The inotify core has per-watch operations (``wd_of``, ``unwatch``,
``set_mask``) that a filesystem mark has no equivalent of: with fanotify
they raise ``NotImplementedError`` saying so.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from .drivers import Backend
from .event import Event
from .filters import ExcludeSpec

__all__ = ["FanotifyCore", "WatcherBackend", "choose"]


class WatcherBackend(Backend, Protocol):
    """What the Watcher calls on a backend, besides the drivers' contract."""

    onerror: Callable[[OSError], object] | None
    errors: list[OSError]

    def close(self) -> None: ...
    def kernel_fd(self) -> int: ...
    def port_pending(self) -> int: ...
    def watch_map(self) -> Mapping[int, Any]: ...
    def add_root(
        self,
        path: str,
        mask: int,
        *,
        recursive: bool,
        exclude: ExcludeSpec,
        follow_symlinks: bool,
        auto_add: bool | None,
        onerror: Callable[[OSError], object] | None,
        as_bytes: bool,
    ) -> int: ...
    def remove_path(self, path_or_id: str | int) -> None: ...
    def unwatch(self, wd: int) -> None: ...
    def set_mask(self, wd: int, mask: int) -> None: ...
    def set_auto_add(self, wd: int) -> None: ...
    def wd_of(self, path: str) -> int | None: ...
    def subtree(self, wd: int) -> list[int]: ...


def choose(name: str) -> tuple[str, str]:
    """``(backend, why)`` for ``Watcher(backend=name)``; raises if fanotify was
    asked for and cannot be had."""
    if name == "inotify":
        return "inotify", "asked for"
    if name not in ("fanotify", "auto"):
        raise ValueError(f"unknown backend {name!r}: 'inotify', 'fanotify' or 'auto'")
    from .fanotify.backend import availability

    ok, why = availability("/")  # may this process mark a file system at all?
    if ok:
        return "fanotify", why
    if name == "auto":
        return "inotify", f"{why}; using inotify"
    raise PermissionError(
        f"{why} (a fanotify filesystem mark needs CAP_SYS_ADMIN): "
        "backend='inotify' works without it"
    )


class FanotifyCore:
    """:class:`~inwatch.fanotify.backend.FanotifyBackend`, buffered for the
    drivers, with the methods the Watcher calls on a backend."""

    def __init__(self, onerror: Callable[[OSError], object] | None) -> None:
        from .fanotify.backend import Buffered, FanotifyBackend, env_options

        self.backend = FanotifyBackend(**env_options())
        self.buffered = Buffered(self.backend)
        self.onerror = onerror
        self.errors: list[OSError] = []

    # --- what the drivers use ----------------------------------------------------

    def fileno(self) -> int:
        return self.buffered.fileno()

    def read_raw(self) -> int:
        return self.buffered.read_raw()

    def process(self) -> list[Event[Any]]:
        return self.buffered.process()

    def deadline(self) -> float | None:
        return self.buffered.deadline()

    @property
    def backlog(self) -> int:
        return self.buffered.backlog

    @property
    def alive(self) -> bool:
        return self.buffered.alive

    @property
    def closed(self) -> bool:
        return self.backend.closed

    def close(self) -> None:
        self.backend.close()

    # --- what the Watcher uses ---------------------------------------------------

    def kernel_fd(self) -> int:
        return self.backend._fan.fileno()

    def port_pending(self) -> int:
        """Bytes queued in the kernel or read and not processed (under the
        buffer's lock, so a read in flight is never missed)."""
        from .inotify._sys import fionread  # FIONREAD works on a fanotify fd too

        with self.buffered._lock:
            if self.backend.closed:
                return 0
            return fionread(self.kernel_fd()) + self.buffered.backlog

    def watch_map(self) -> Mapping[int, Any]:
        return self.backend.watches

    def add_root(
        self,
        path: str,
        mask: int,
        *,
        recursive: bool,
        exclude: ExcludeSpec,
        follow_symlinks: bool,
        auto_add: bool | None,
        onerror: Callable[[OSError], object] | None,
        as_bytes: bool,
    ) -> int:
        return self.backend.add(
            os.fsencode(path) if as_bytes else path,
            mask,
            recursive=recursive,
            exclude=exclude,
            follow_symlinks=follow_symlinks,
            auto_add=auto_add,
            onerror=onerror,
        )

    def remove_path(self, path_or_id: str | int) -> None:
        self.backend.remove(path_or_id)

    def _no(self, what: str) -> NotImplementedError:
        return NotImplementedError(
            f"{what} needs per-directory watches: the fanotify backend has one mark per "
            "file system (use backend='inotify')"
        )

    def unwatch(self, wd: int) -> None:
        raise self._no("unwatch()")

    def set_mask(self, wd: int, mask: int) -> None:
        raise self._no("set_mask()")

    def set_auto_add(self, wd: int) -> None:
        raise self._no("set_auto_add()")

    def wd_of(self, path: str) -> int | None:
        for rid, shown in self.backend.watches.items():
            if os.path.normpath(os.fsdecode(shown)) == path:
                return rid
        return None

    def subtree(self, wd: int) -> list[int]:
        return [wd] if wd in self.backend.watches else []
