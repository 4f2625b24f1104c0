"""Event handlers: :class:`ProcessEvent` and its dispatch to
``process_<MASKNAME>``, then the family method, then ``process_default``;
the ready-made handlers (:class:`PrintAllEvents`, :class:`ChainIfTrue`,
:class:`Stats`) and :class:`ExcludeFilter`."""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, cast

from . import _state
from ._state import PathT
from .codes import _DISPATCH, IN_ISDIR
from .errors import ProcessEventError, shown
from .events import _fields_repr

__all__ = ["ChainIfTrue", "ExcludeFilter", "PrintAllEvents", "ProcessEvent", "Stats"]


class _ProcessEvent:
    """Dispatch: ``process_<MASKNAME>``, then the family method
    (``process_IN_CLOSE`` for IN_CLOSE_WRITE/NOWRITE, ``process_IN_MOVED``
    for IN_MOVED_FROM/TO, ``process_IN_DELETE`` for IN_DELETE_SELF,
    ``process_IN_MOVE`` for IN_MOVE_SELF), then ``process_default``."""

    def __call__(self, event: Any) -> Any:
        mask = event.mask
        names = _DISPATCH.get(mask & ~IN_ISDIR)
        if names is None:
            raise ProcessEventError(f"Unknown mask 0x{mask & ~IN_ISDIR:08x}")
        meth = getattr(self, names[0], None)
        if meth is not None:
            return meth(event)
        meth = getattr(self, names[1], None)
        if meth is not None:
            return meth(event)
        return self.process_default(event)

    def process_default(self, event: Any) -> Any:
        return None

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"


class ProcessEvent(_ProcessEvent):
    """Subclass it and define ``process_IN_CREATE(self, event)`` and friends.

    Do not override ``__init__``: define ``my_init(self, **kargs)``, which gets
    the keyword arguments given to the constructor. ``pevent`` is a callable
    run first on each event; if it returns a true value, this handler is
    skipped (that is how :class:`ChainIfTrue` filters).
    """

    pevent: Callable[[Any], Any] | None = None

    def __init__(self, pevent: Callable[[Any], Any] | None = None, **kargs: Any) -> None:
        self.pevent = pevent
        self.my_init(**kargs)

    def my_init(self, **kargs: Any) -> None:
        """Called from the constructor with its keyword arguments."""

    def __call__(self, event: Any) -> Any:
        if self.pevent is not None and self.pevent(event):
            return None
        return _ProcessEvent.__call__(self, event)

    def nested_pevent(self) -> Callable[[Any], Any] | None:
        return self.pevent

    def process_IN_Q_OVERFLOW(self, event: Any) -> Any:
        """Logs a warning; override it to react (events were lost: rescan)."""
        _state.log().warning("Event queue overflowed.")
        return None

    def process_default(self, event: Any) -> Any:
        """Called for every event no ``process_*`` method took. Does nothing."""
        return None


class PrintAllEvents(ProcessEvent):
    """Writes each event's text form and a newline to ``out`` (stdout)."""

    _out: Any

    def my_init(self, out: Any = None, **kargs: Any) -> None:
        self._out = sys.stdout if out is None else out

    def process_default(self, event: Any) -> Any:
        self._out.write(str(event))
        self._out.write("\n")
        self._out.flush()
        return None


class ChainIfTrue(ProcessEvent):
    """As ``pevent``: lets an event through to the next handler only when
    ``func(event)`` is true."""

    _func: Callable[[Any], Any]

    def my_init(self, func: Callable[[Any], Any] | None = None, **kargs: Any) -> None:
        if func is None:
            raise TypeError("ChainIfTrue needs func=")
        self._func = func

    def process_default(self, event: Any) -> Any:
        return not self._func(event)


class Stats(ProcessEvent):
    """Counts events by name; ``repr()`` gives the counts and the elapsed time,
    ``str()`` a bar chart, :meth:`dump` writes it to a new file."""

    _start_time: float
    _stats: dict[str, int]
    _stats_lock: threading.Lock

    def my_init(self, **kargs: Any) -> None:
        self._start_time = time.time()
        self._stats = {}
        self._stats_lock = threading.Lock()

    def process_default(self, event: Any) -> Any:
        with self._stats_lock:
            for name in event.maskname.split("|"):
                self._stats[name] = self._stats.get(name, 0) + 1
        return None

    def _stats_copy(self) -> dict[str, Any]:
        with self._stats_lock:
            return dict(self._stats)

    def __repr__(self) -> str:
        stats: dict[str, Any] = self._stats_copy()
        elapsed = int(time.time() - self._start_time)
        if elapsed < 60:
            shown = f"{elapsed}sec"
        elif elapsed < 3600:
            shown = f"{elapsed // 60}mn{elapsed % 60}sec"
        elif elapsed < 86400:
            shown = f"{elapsed // 3600}h{(elapsed % 3600) // 60}mn"
        else:
            shown = f"{elapsed // 86400}d{(elapsed % 86400) // 3600}h"
        stats["ElapsedTime"] = shown
        return _fields_repr(type(self).__name__, sorted(stats.items()))

    def __str__(self, scale: int = 45) -> str:
        stats = self._stats_copy()
        if not stats:
            return ""
        fmt = _state.output_format()
        unity = scale / max(stats.values())
        width = len(fmt.field_value("@" * scale)) + 1
        lines = []
        for name, count in sorted(stats.items()):
            bar = fmt.field_value("@" * int(count * unity))
            lines.append(f"{fmt.field_name(name):<26}{bar:<{width}}{fmt.simple(count, 'yellow')}")
        return "\n".join(lines)

    def dump(self, filename: str) -> None:
        """Write ``str(self)`` to *filename*, which must not exist."""
        flags = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_EXCL | os.O_CLOEXEC
        fd = os.open(filename, flags, 0o600)
        try:
            os.write(fd, str(self).encode())
        finally:
            os.close(fd)


class ExcludeFilter:
    """``ExcludeFilter(["^/etc/rc.*", "^/etc/hostname"])`` or
    ``ExcludeFilter("/path/to/patterns.lst")`` (one regex per line, ``#``
    comments): called with a path, true if a pattern matches its start
    (``re.match``), i.e. the path is not to be watched."""

    def __init__(self, arg_lst: str | list[str]) -> None:
        import re

        if isinstance(arg_lst, str):
            lst = self._load_patterns_from_file(arg_lst)
        elif isinstance(arg_lst, list):
            lst = arg_lst
        else:
            raise TypeError
        self._lregex = [re.compile(p, re.UNICODE) for p in lst]

    @staticmethod
    def _load_patterns_from_file(filename: str) -> list[str]:
        with open(filename) as f:
            stripped = (line.strip() for line in f)
            return [p for p in stripped if p and not p.startswith("#")]

    def __call__(self, path: PathT) -> bool:
        text = shown(path)
        return any(regex.match(text) is not None for regex in self._lregex)


def dispatch_target(proc: Any, mask: int) -> Callable[[Any], Any]:
    """What calling *proc* with an event of *mask* ends up calling: for a plain
    ProcessEvent (no pevent), its process_* method, found once per batch instead
    of once per event; anything else is called as it is."""
    if type(proc).__call__ is not ProcessEvent.__call__ or proc.pevent is not None:
        return cast("Callable[[Any], Any]", proc)
    names = _DISPATCH.get(mask & ~IN_ISDIR)
    if names is None:
        return cast("Callable[[Any], Any]", proc)  # raises ProcessEventError
    meth = getattr(proc, names[0], None)
    if meth is None:
        meth = getattr(proc, names[1], None)
        if meth is None:
            meth = proc.process_default
    return cast("Callable[[Any], Any]", meth)
