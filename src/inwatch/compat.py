"""The pyinotify-style surface: an adapter over :class:`inwatch.Watcher`.

Programs written for pyinotify 0.9.6 (``WatchManager``, ``Notifier``,
``ProcessEvent`` subclasses with ``process_IN_*`` methods) run on inwatch's core
through this module; ``inwatch.pyinotify`` re-exports it under pyinotify's names.
It is not a second core: the fd, the kernel watches, recursion, ``auto_add``,
move pairing and the rewriting of paths after renames all belong to one
:class:`~inwatch.Watcher`. What lives here is what pyinotify programs see on
top of it, keyed by watch descriptor:

* ``Watch`` objects (``wd, path, mask, proc_fun, auto_add, exclude_filter, dir``),
  made lazily for the directories the Watcher adds on its own (``auto_add``),
  inheriting their parent's attributes, as pyinotify's watches do;
* the event objects pyinotify builds (``Event``, with its ``<Event ... >`` text
  form) and the dispatch to ``process_<MASKNAME>`` / family / ``process_default``;
* return codes (-1 failed, -2 excluded, -3 not a path) and ``WatchManagerError``
  texts ending with the errno name, as programs parse them.

What differs from pyinotify, on purpose (each is a pyinotify bug or hazard):
non-UTF-8 names, ``bytes`` and ``os.PathLike`` paths, ``rm_watch(rec=True)`` and
``rm_watch(d.values())``, ``update_watch`` keeping ``Watch.mask`` in sync, fast
path -> wd lookups (the Watcher's table, not a scan), no log handler installed
at import, the fd closed with the manager or by garbage collection (and
close-on-exec), no per-event debug formatting, ``auto_add`` without lost or
duplicated creates (and the contents of a directory *moved in* reported too),
no events about our own listing of directories, paths that stay right after
renames, directories moved out of a watched tree that stop reporting, the
queue overflow reported and followed by a rescan, and a loop on a closed
manager that ends instead of spinning.

Kept from pyinotify because programs rely on it: the ``-unknown-path`` suffix on
the path of a watched *root* moved elsewhere (nobody can know where it went;
programs test for the suffix or strip it), ``process_IN_DELETE`` receiving
IN_DELETE_SELF, IN_CREATE added to the mask by ``auto_add``, the IN_IGNORED
event delivered before its watch is forgotten (but not after ``rm_watch``).

Two choices of this layer: delivered events are the Watcher's own
:class:`inwatch.Event` objects presented under this module's :class:`Event`
class (no copy: that is what keeps the layer's cost per event within 1.5x of
the native one); they take no new attributes, where pyinotify's did.
``exclude_filter`` excludes directories only, as in pyinotify, but a directory
it excludes takes its subtree with it (pyinotify's ``rec=True`` walk went on
watching below it) and is not reported when created either (pyinotify reports
the IN_CREATE of a directory it then does not watch).
"""

from __future__ import annotations

import contextlib
import errno as _errno
import glob
import logging
import os
import select
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from typing import Any, ClassVar, cast

from .event import Event as _NativeEvent
from .flags import (
    IN_ACCESS,
    IN_ATTRIB,
    IN_CLOSE_NOWRITE,
    IN_CLOSE_WRITE,
    IN_CREATE,
    IN_DELETE,
    IN_DELETE_SELF,
    IN_DONT_FOLLOW,
    IN_EXCL_UNLINK,
    IN_IGNORED,
    IN_ISDIR,
    IN_MASK_ADD,
    IN_MODIFY,
    IN_MOVE_SELF,
    IN_MOVED_FROM,
    IN_MOVED_TO,
    IN_ONESHOT,
    IN_ONLYDIR,
    IN_OPEN,
    IN_Q_OVERFLOW,
    IN_UNMOUNT,
)
from .watcher import Watcher

__all__ = [
    "ALL_EVENTS",
    "AsyncioNotifier",
    "ChainIfTrue",
    "ColoredOutputFormat",
    "Event",
    "EventsCodes",
    "ExcludeFilter",
    "Notifier",
    "NotifierError",
    "PrintAllEvents",
    "ProcINotify",
    "ProcessEvent",
    "ProcessEventError",
    "PyinotifyError",
    "RawOutputFormat",
    "Stats",
    "ThreadedNotifier",
    "Watch",
    "WatchManager",
    "WatchManagerError",
    "compatibility_mode",
    "max_queued_events",
    "max_user_instances",
    "max_user_watches",
]

PathT = Any  # str | bytes (what a watch's path is); kept loose for pyinotify programs

#: The ``pyinotify`` logger. Nothing is installed on it at import (pyinotify
#: added a stderr handler and set INFO, which programs then had to undo).
log = logging.getLogger("pyinotify")


def _log() -> logging.Logger:
    """The logger to write to: ``inwatch.pyinotify.log`` if a program replaced it."""
    mod = sys.modules.get("inwatch.pyinotify")
    found = getattr(mod, "__dict__", {}).get("log") if mod is not None else None
    return found if isinstance(found, logging.Logger) else log


# --------------------------------------------------------------------------- #
# Exceptions (same classes and bases as pyinotify 0.9.6)
# --------------------------------------------------------------------------- #


class PyinotifyError(Exception):
    """Base of the errors raised by the pyinotify-style classes."""


class UnsupportedPythonVersionError(PyinotifyError):
    """Kept for pyinotify's name list; never raised (inwatch needs Python 3.10)."""

    def __init__(self, version: str) -> None:
        super().__init__(f"Python {version} is unsupported, requires at least Python 3.0")


class InotifyBindingNotFoundError(PyinotifyError):
    """Kept for pyinotify's name list; inwatch always finds its binding."""

    def __init__(self) -> None:
        super().__init__("Couldn't find any inotify binding")


class ProcessEventError(PyinotifyError):
    """An event whose mask names no single event (cannot be dispatched)."""

    def __init__(self, err: str) -> None:
        super().__init__(err)


class NotifierError(PyinotifyError):
    """A Notifier could not read, or could not daemonize."""

    def __init__(self, err: object) -> None:
        super().__init__(err)


class WatchManagerError(Exception):
    """A watch operation failed with ``quiet=False``.

    ``wmd`` holds the partial result of the call (``{path: wd}`` or
    ``{wd: bool}``). The message ends with ``Errno=<strerror> (<ENAME>)`` when
    the kernel refused, as pyinotify's does; programs parse that name.
    """

    def __init__(self, msg: str, wmd: dict[Any, Any]) -> None:
        self.wmd = wmd
        Exception.__init__(self, msg)


def _str_errno(code: int | None) -> str:
    if code is None:
        return "Errno: no errno support"
    return f"Errno={os.strerror(code)} ({_errno.errorcode.get(code, str(code))})"


def _shown(path: PathT) -> str:
    return os.fsdecode(path) if isinstance(path, bytes) else str(path)


# --------------------------------------------------------------------------- #
# Event codes
# --------------------------------------------------------------------------- #

_OP_FLAGS = {
    "IN_ACCESS": IN_ACCESS,
    "IN_MODIFY": IN_MODIFY,
    "IN_ATTRIB": IN_ATTRIB,
    "IN_CLOSE_WRITE": IN_CLOSE_WRITE,
    "IN_CLOSE_NOWRITE": IN_CLOSE_NOWRITE,
    "IN_OPEN": IN_OPEN,
    "IN_MOVED_FROM": IN_MOVED_FROM,
    "IN_MOVED_TO": IN_MOVED_TO,
    "IN_CREATE": IN_CREATE,
    "IN_DELETE": IN_DELETE,
    "IN_DELETE_SELF": IN_DELETE_SELF,
    "IN_MOVE_SELF": IN_MOVE_SELF,
}
_EVENT_FLAGS = {"IN_UNMOUNT": IN_UNMOUNT, "IN_Q_OVERFLOW": IN_Q_OVERFLOW, "IN_IGNORED": IN_IGNORED}
_SPECIAL_FLAGS = {
    "IN_ONLYDIR": IN_ONLYDIR,
    "IN_DONT_FOLLOW": IN_DONT_FOLLOW,
    "IN_EXCL_UNLINK": IN_EXCL_UNLINK,
    "IN_MASK_ADD": IN_MASK_ADD,
    "IN_ISDIR": IN_ISDIR,
    "IN_ONESHOT": IN_ONESHOT,
}

#: Every event that can be asked for (pyinotify's ``ALL_EVENTS``, 0xfff).
ALL_EVENTS = 0
for _v in _OP_FLAGS.values():
    ALL_EVENTS |= _v


class EventsCodes:
    """pyinotify's table of flags: ``FLAG_COLLECTIONS`` (``OP_FLAGS``,
    ``EVENT_FLAGS``, ``SPECIAL_FLAGS``), ``ALL_FLAGS`` (name -> value, with
    ``ALL_EVENTS``), ``ALL_VALUES`` (value -> name) and :meth:`maskname`."""

    FLAG_COLLECTIONS: ClassVar[dict[str, dict[str, int]]] = {
        "OP_FLAGS": _OP_FLAGS,
        "EVENT_FLAGS": _EVENT_FLAGS,
        "SPECIAL_FLAGS": _SPECIAL_FLAGS,
    }
    OP_FLAGS = _OP_FLAGS
    EVENT_FLAGS = _EVENT_FLAGS
    SPECIAL_FLAGS = _SPECIAL_FLAGS
    ALL_FLAGS: ClassVar[dict[str, int]] = {}
    ALL_VALUES: ClassVar[dict[int, str]] = {}

    @staticmethod
    def maskname(mask: int) -> str:
        """``"IN_CREATE"``, ``"IN_CREATE|IN_ISDIR"``: the one event in *mask*.

        Raises ``KeyError`` when *mask* (without IN_ISDIR) is not one known
        value, as pyinotify does.
        """
        name = _MASKNAMES.get(mask)
        if name is None:
            if mask & IN_ISDIR:
                name = EventsCodes.ALL_VALUES[mask - IN_ISDIR] + "|IN_ISDIR"
            else:
                name = EventsCodes.ALL_VALUES[mask]
        return name


for _coll in EventsCodes.FLAG_COLLECTIONS.values():
    EventsCodes.ALL_FLAGS.update(_coll)
    for _n, _v in _coll.items():
        EventsCodes.ALL_VALUES[_v] = _n
EventsCodes.ALL_FLAGS["ALL_EVENTS"] = ALL_EVENTS
EventsCodes.ALL_VALUES[ALL_EVENTS] = "ALL_EVENTS"

# mask -> maskname for every mask the kernel sends (with and without ISDIR).
_MASKNAMES: dict[int, str] = {}
# mask without ISDIR -> (process_<NAME>, process_<FAMILY>) method names.
_DISPATCH: dict[int, tuple[str, str]] = {}
for _v, _n in EventsCodes.ALL_VALUES.items():
    if _v != IN_ISDIR:  # pyinotify: maskname(IN_ISDIR) is a KeyError (0)
        _MASKNAMES[_v] = _n
        _MASKNAMES[_v | IN_ISDIR] = _n + "|IN_ISDIR"
    _DISPATCH[_v] = ("process_" + _n, "process_IN_" + _n.split("_")[1])

COMPATIBILITY_MODE = False


def compatibility_mode() -> None:
    """Turn on pyinotify 0.7.1 compatibility: ``EventsCodes.IN_*`` and
    ``EventsCodes.ALL_EVENTS`` attributes, ``event.is_dir`` and
    ``event.event_name``. For old programs only."""
    global COMPATIBILITY_MODE
    EventsCodes.ALL_EVENTS = ALL_EVENTS  # type: ignore[attr-defined]
    for name, value in EventsCodes.ALL_FLAGS.items():
        if name.startswith("IN_"):
            setattr(EventsCodes, name, value)
    COMPATIBILITY_MODE = True


# --------------------------------------------------------------------------- #
# /proc/sys/fs/inotify knobs
# --------------------------------------------------------------------------- #


class ProcINotify:
    """One ``/proc/sys/fs/inotify`` knob: ``max_queued_events.value`` reads it,
    assigning ``.value`` writes it (root only; machine-wide)."""

    def __init__(self, attr: str) -> None:
        self._base = "/proc/sys/fs/inotify"
        self._attr = attr

    def get_val(self) -> int:
        with open(os.path.join(self._base, self._attr)) as f:
            return int(f.readline())

    def set_val(self, nval: int) -> None:
        with open(os.path.join(self._base, self._attr), "w") as f:
            f.write(f"{nval}\n")

    value = property(get_val, set_val)

    def __repr__(self) -> str:
        return f"<{self._attr}={self.get_val()}>"


max_queued_events = ProcINotify("max_queued_events")
max_user_instances = ProcINotify("max_user_instances")
max_user_watches = ProcINotify("max_user_watches")


# --------------------------------------------------------------------------- #
# Text forms
# --------------------------------------------------------------------------- #


class RawOutputFormat:
    """How reprs are decorated (nothing, by default)."""

    def __init__(self, format: dict[str, str] | None = None) -> None:
        self.format = format or {}

    def simple(self, s: object, attribute: str) -> str:
        return self.format.get(attribute, "") + str(s) + self.format.get("normal", "")

    def punctuation(self, s: object) -> str:
        return self.simple(s, "normal")

    def field_value(self, s: object) -> str:
        return self.simple(s, "purple")

    def field_name(self, s: object) -> str:
        return self.simple(s, "blue")

    def class_name(self, s: object) -> str:
        return self.format.get("red", "") + self.simple(s, "bold")


class ColoredOutputFormat(RawOutputFormat):
    """ANSI colours, as ``python -m inwatch.pyinotify`` prints without ``-f``."""

    def __init__(self) -> None:
        super().__init__(
            {
                "normal": "\033[0m",
                "black": "\033[30m",
                "red": "\033[31m",
                "green": "\033[32m",
                "yellow": "\033[33m",
                "blue": "\033[34m",
                "purple": "\033[35m",
                "cyan": "\033[36m",
                "bold": "\033[1m",
                "uline": "\033[4m",
                "blink": "\033[5m",
                "invert": "\033[7m",
            }
        )


output_format: RawOutputFormat = RawOutputFormat()


def _output_format() -> RawOutputFormat:
    """``output_format``, or the one a program assigned to inwatch.pyinotify."""
    mod = sys.modules.get("inwatch.pyinotify")
    found = getattr(mod, "__dict__", {}).get("output_format") if mod is not None else None
    return found if isinstance(found, RawOutputFormat) else output_format


def _fields_repr(cls_name: str, items: Iterable[tuple[str, object]]) -> str:
    fmt = _output_format()
    if not fmt.format:
        return "<" + cls_name + "".join(f" {k}={v}" for k, v in items) + " >"
    body = "".join(
        " " + fmt.field_name(k) + fmt.punctuation("=") + fmt.field_value(v) for k, v in items
    )
    return fmt.punctuation("<") + fmt.class_name(cls_name) + body + " " + fmt.punctuation(">")


# --------------------------------------------------------------------------- #
# Events
# --------------------------------------------------------------------------- #


class _Event:
    """An object whose attributes come from a dict; pyinotify's text form."""

    __slots__ = ("__dict__",)

    def __init__(self, dict_: Mapping[str, Any]) -> None:
        for key, value in dict_.items():
            setattr(self, key, value)

    def _items(self) -> list[tuple[str, Any]]:
        return list(self.__dict__.items())

    def __repr__(self) -> str:
        return _fields_repr(type(self).__name__, _repr_items(self._items()))

    def __str__(self) -> str:
        return repr(self)


class _RawEvent(_Event):
    """What the kernel said, nothing inferred (``wd, mask, cookie, name``);
    what :meth:`Notifier.append_event` takes."""

    def __init__(self, wd: int, mask: int, cookie: int, name: Any) -> None:
        self.wd = wd
        self.mask = mask
        self.cookie = cookie
        self.name = name.rstrip("\0" if isinstance(name, str) else b"\0")
        self.path: Any = None
        self.src_pathname: Any = None


_NATIVE_SLOTS = frozenset(("wd", "mask", "name", "path", "origin", "time", "actor"))
# The Watcher event's own slots, under the properties that hide them when unset.
_NATIVE_GET_COOKIE = _NativeEvent.__dict__["cookie"].__get__
_NATIVE_GET_SRC = _NativeEvent.__dict__["src_pathname"].__get__
_NATIVE_GET_PATHNAME = _NativeEvent.__dict__["pathname"].__get__


class Event(_NativeEvent):  # type: ignore[type-arg]
    """One event, as pyinotify programs see it.

    Attributes: ``wd``, ``mask``, ``maskname`` (``"IN_CREATE|IN_ISDIR"``),
    ``path`` (the watched file or directory), ``name`` (``''`` when the event
    is about the watched item itself), ``pathname`` (``path`` joined with
    ``name``), ``dir``; ``cookie`` on IN_MOVED_FROM / IN_MOVED_TO only, and
    ``src_pathname`` on an IN_MOVED_TO paired with its IN_MOVED_FROM. The
    queue-overflow event carries only ``mask`` and ``maskname``.

    ``str(event)`` is pyinotify's text form, attributes sorted by name::

        <Event dir=False mask=0x100 maskname=IN_CREATE name=f path=/w pathname=/w/f wd=1 >

    ``Event(dict)`` builds one from a dict of attributes, as in pyinotify. The
    events a Notifier delivers are the Watcher's own :class:`inwatch.Event`
    objects presented under this class (no copy is made, which is what keeps
    the layer cheap), so they also carry ``synthetic``; unlike pyinotify's
    they take no new attributes (``event.foo = 1`` raises AttributeError).
    """

    __slots__ = ()

    def __new__(cls, raw: Mapping[str, Any]) -> Event:
        return _new_object(_DictEvent)

    def __init__(self, raw: Mapping[str, Any]) -> None:  # pragma: no cover - see _DictEvent
        raise TypeError

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _NATIVE_SLOTS:
            object.__setattr__(self, name, value)
            return
        raise AttributeError(
            f"cannot set {name!r} on an Event delivered by inwatch.pyinotify: these are "
            "the Watcher's own event objects and take no new attributes"
        )

    # Identity semantics, as pyinotify's events (the Watcher's compare by value).
    __eq__ = object.__eq__
    __hash__ = object.__hash__  # type: ignore[assignment]

    @property
    def maskname(self) -> str:
        mask = self.mask
        return _MASKNAMES.get(mask) or EventsCodes.maskname(mask)

    @property
    def dir(self) -> bool:
        return self.mask & IN_ISDIR != 0

    @property
    def pathname(self) -> Any:
        # The Watcher joined it already; its paths are normal, so an absolute
        # one is what pyinotify would give (it gives abspath of the join).
        joined = _NATIVE_GET_PATHNAME(self)
        if joined[:1] == (b"/" if isinstance(joined, bytes) else "/"):
            return joined
        return os.path.abspath(joined)

    @property
    def cookie(self) -> int:  # type: ignore[override]
        if self.mask & _MOVED:
            return _NATIVE_GET_COOKIE(self)  # type: ignore[no-any-return]
        raise AttributeError("cookie")

    @property
    def src_pathname(self) -> Any:  # type: ignore[override]
        src = _NATIVE_GET_SRC(self)
        if src is None:
            raise AttributeError("src_pathname")
        return src

    @property
    def event_name(self) -> str:
        if COMPATIBILITY_MODE:
            return self.maskname
        raise AttributeError("event_name")

    @property
    def is_dir(self) -> bool:
        if COMPATIBILITY_MODE:
            return self.dir
        raise AttributeError("is_dir")

    def _items(self) -> list[tuple[str, Any]]:
        items: list[tuple[str, Any]] = []
        for attr in _EVENT_ATTRS:
            try:
                items.append((attr, getattr(self, attr)))
            except AttributeError:
                pass
        return items

    def __repr__(self) -> str:
        return _fields_repr(type(self).__name__, _repr_items(self._items()))

    __str__ = __repr__


# Everything an event may show, in its text form's (sorted) order.
_EVENT_ATTRS = (
    "cookie",
    "dir",
    "event_name",
    "is_dir",
    "mask",
    "maskname",
    "name",
    "path",
    "pathname",
    "src_pathname",
    "wd",
)


def _repr_items(items: Iterable[tuple[str, Any]]) -> list[tuple[str, object]]:
    out: list[tuple[str, object]] = []
    for attr, value in sorted(items):
        if attr.startswith("_"):
            continue
        if attr == "mask":
            value = hex(value)
        elif isinstance(value, str) and not value:
            value = "''"
        out.append((attr, value))
    return out


class _Plain:
    """A plain attribute of a _DictEvent, stored in its ``__dict__`` (shadowing
    the Watcher event's slot or Event's property of the same name)."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __get__(self, obj: Any, owner: Any = None) -> Any:
        if obj is None:
            return self
        try:
            return obj.__dict__[self.name]
        except KeyError:
            if self.name == "pathname" and "path" in obj.__dict__:
                d = obj.__dict__
                value = d["pathname"] = _pathname(d["path"], d.get("name"))
                return value
            raise AttributeError(self.name) from None

    def __set__(self, obj: Any, value: Any) -> None:
        obj.__dict__[self.name] = value

    def __delete__(self, obj: Any) -> None:
        try:
            del obj.__dict__[self.name]
        except KeyError:
            raise AttributeError(self.name) from None


class _DictEvent(Event):
    """An Event whose attributes are whatever its dict says (``Event(dict)``,
    the overflow event, and events whose attributes need the watch)."""

    def __setattr__(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)

    def __init__(self, raw: Mapping[str, Any]) -> None:
        d = self.__dict__
        d.update(raw)
        d["maskname"] = EventsCodes.maskname(d["mask"])
        if COMPATIBILITY_MODE:
            d["event_name"] = d["maskname"]
        if "path" in d:
            d["pathname"] = _pathname(d["path"], d.get("name"))
        else:
            _log().debug("'Event' object has no attribute 'path'")

    def _items(self) -> list[tuple[str, Any]]:
        getattr(self, "pathname", None)  # computed and stored when there is a path
        return list(self.__dict__.items())


for _name in (*_EVENT_ATTRS, "synthetic", "origin", "time", "actor"):
    setattr(_DictEvent, _name, _Plain(_name))
_DictEvent.__name__ = _DictEvent.__qualname__ = "Event"


def _pathname(path: PathT, name: PathT) -> PathT:
    if name:
        path = os.path.join(path, name)
    if path[:1] == (b"/" if isinstance(path, bytes) else "/") and "/." not in str(path):
        return path  # absolute, and the Watcher's paths are normal
    return os.path.abspath(path)


_new_object = object.__new__


def _make_event(d: dict[str, Any]) -> Event:
    """An Event from a ready dict (``maskname`` included)."""
    ev: Event = _new_object(_DictEvent)
    ev.__dict__.update(d)
    return ev


# --------------------------------------------------------------------------- #
# Event handlers
# --------------------------------------------------------------------------- #


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
        _log().warning("Event queue overflowed.")
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
        fmt = _output_format()
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
        text = _shown(path)
        return any(regex.match(text) is not None for regex in self._lregex)


# --------------------------------------------------------------------------- #
# Watches
# --------------------------------------------------------------------------- #

_UNASKED = IN_UNMOUNT | IN_Q_OVERFLOW | IN_IGNORED


def _identity(path: PathT) -> tuple[bool, tuple[int, int] | None]:
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return False, None
    import stat

    return stat.S_ISDIR(st.st_mode), (st.st_dev, st.st_ino)


class Watch:
    """One watched file or directory: ``wd, path, mask, proc_fun, auto_add,
    exclude_filter, dir``.

    ``path`` follows renames: it is read from the Watcher, which rewrites the
    paths of renamed directories. Assigning ``path`` pins it to the value given.
    """

    __slots__ = (
        "_ident",
        "_path",
        "_table",
        "auto_add",
        "dir",
        "exclude_filter",
        "mask",
        "proc_fun",
        "wd",
    )

    _fields = ("wd", "path", "mask", "proc_fun", "auto_add", "exclude_filter", "dir")

    def __init__(
        self,
        wd: int,
        path: PathT,
        mask: int,
        proc_fun: Any,
        auto_add: bool,
        exclude_filter: Any,
        *,
        table: Mapping[int, str] | None = None,
        is_dir: bool | None = None,
    ) -> None:
        self.wd = wd
        self._path = path
        self._table = table
        self.mask = mask
        self.proc_fun = proc_fun
        self.auto_add = auto_add
        self.exclude_filter = exclude_filter
        self._ident: tuple[int, int] | None = None
        if is_dir is None:
            self.dir, self._ident = _identity(path)
        else:
            self.dir = is_dir

    @property
    def path(self) -> PathT:
        table = self._table
        if table is not None:
            live = table.get(self.wd)
            if live is not None:
                self._path = os.fsencode(live) if isinstance(self._path, bytes) else live
        return self._path

    @path.setter
    def path(self, value: PathT) -> None:
        self._table = None
        self._path = value

    def __repr__(self) -> str:
        return _fields_repr("Watch", [(f, getattr(self, f)) for f in self._fields])


def _never(path: Any) -> bool:
    """The default exclude_filter: exclude nothing (and cost the Watcher nothing)."""
    return False


def _as_list(param: Any) -> list[Any]:
    """pyinotify's "one or a list": also any non-string iterable (dict views, sets)."""
    if isinstance(param, (str, bytes, int, os.PathLike)):
        return [param]
    if isinstance(param, Iterable):
        return list(param)
    return [param]


def _key(path: PathT) -> str:
    """The Watcher's spelling of a path: str, normalised."""
    return os.path.normpath(os.fsdecode(os.fspath(path)))


def _dir_excluder(
    exclude_filter: Callable[[Any], bool], record: list[Any]
) -> Callable[[str], bool]:
    """pyinotify's exclude_filter says which *directories* not to watch; files in
    watched directories are always reported. The Watcher's exclusion also drops
    entries, so only directories are passed on (the user's filter runs first:
    the stat is paid only for paths it matches)."""

    def excluded(path: str) -> bool:
        if exclude_filter(path) and os.path.isdir(path):
            record.append(path)
            return True
        return False

    return excluded


class WatchManager:
    """Watches, as pyinotify's ``WatchManager``, on one :class:`~inwatch.Watcher`.

    ``exclude_filter(path) -> bool`` is the default for :meth:`add_watch`: a
    directory it returns true for is not watched. :meth:`get_fd` is the
    Watcher's fd (close-on-exec); :meth:`close` closes it, and so does garbage
    collection.
    """

    def __init__(self, exclude_filter: Callable[[Any], bool] = _never) -> None:
        self._ignore_events = False
        self._exclude_filter = exclude_filter
        self._wmd: dict[int, Watch] = {}
        self._watcher = Watcher(onerror=self._runtime_error)
        self._table: Mapping[int, str] = self._watcher.watches
        self._fd: int | None = self._watcher.fileno()

    @staticmethod
    def _runtime_error(err: OSError) -> None:
        """A directory the Watcher could not watch as it appeared (auto_add):
        logged as pyinotify logs a failed add_watch."""
        where = _shown(err.filename) if err.filename is not None else "?"
        _log().error(f"add_watch: cannot watch {where} WD=-1, {_str_errno(err.errno)}")

    # --- the fd ---------------------------------------------------------------

    def get_fd(self) -> int | None:
        """The inotify fd (poll it for reading); None once closed."""
        return self._fd

    def close(self) -> None:
        """Close the fd: every watch goes. The manager cannot be used after."""
        self._fd = None
        self._watcher.close()

    def __del__(self) -> None:
        # pyinotify programs rarely close their manager: do it quietly for them.
        watcher = getattr(self, "_watcher", None)
        if watcher is not None:
            watcher.close()

    # --- the table ------------------------------------------------------------

    @property
    def watches(self) -> dict[int, Watch]:
        """``{wd: Watch}``, the manager's own table, including the directories
        the Watcher added by itself (``auto_add``) and without those it dropped
        (moved out of the watched tree)."""
        self._sync()
        return self._wmd

    def get_watch(self, wd: int) -> Watch | None:
        """The :class:`Watch` for *wd*, or None."""
        watch = self._wmd.get(wd)
        if watch is None:
            return self._adopt(wd)
        if watch._table is not None and wd not in watch._table:
            del self._wmd[wd]  # dropped by the Watcher (moved out of its tree)
            return None
        return watch

    def del_watch(self, wd: int) -> None:
        """Forget *wd* (the kernel watch stays; see :meth:`rm_watch`)."""
        if self._wmd.pop(wd, None) is None:
            _log().error("Cannot delete unknown watch descriptor %s", wd)

    def get_wd(self, path: Any) -> int | None:
        """The wd watching *path* (its current path, after renames), or None. O(1)."""
        try:
            key = _key(path)
        except TypeError:
            return None
        wd = self._watcher.wd_of(key)
        if wd is None:
            for watch in self._wmd.values():  # a path pinned by hand ("-unknown-path")
                if watch._table is None and _key(watch._path) == key:
                    return watch.wd
            return None
        return wd if self.get_watch(wd) is not None else None

    def get_path(self, wd: int) -> PathT | None:
        """The current path of *wd*, or None."""
        watch = self.get_watch(wd)
        return None if watch is None else watch.path

    def _adopt(self, wd: int) -> Watch | None:
        """The Watch of a directory the Watcher added by itself (auto_add): it
        inherits its parent's attributes, as pyinotify's auto-added watches do."""
        path = self._table.get(wd)
        if path is None:
            return None
        parent_wd = self._watcher.wd_of(os.path.dirname(path))
        if parent_wd is None or parent_wd == wd:
            return None
        parent = self._wmd.get(parent_wd)
        if parent is None:
            parent = self._adopt(parent_wd)
            if parent is None:
                return None
        shown: PathT = os.fsencode(path) if isinstance(parent._path, bytes) else path
        watch = self._wmd[wd] = Watch(
            wd,
            shown,
            parent.mask,
            parent.proc_fun,
            parent.auto_add,
            parent.exclude_filter,
            table=self._table,
            is_dir=True,
        )
        return watch

    def _sync(self) -> None:
        table = self._table
        wmd = self._wmd
        for wd in [wd for wd, w in wmd.items() if wd not in table and w._table is not None]:
            del wmd[wd]  # dropped by the Watcher (moved out of its tree)
        if len(table) != len(wmd):
            for wd in list(table):
                if wd not in wmd:
                    self._adopt(wd)

    # --- adding ---------------------------------------------------------------

    def add_watch(
        self,
        path: Any,
        mask: int,
        proc_fun: Any = None,
        rec: bool = False,
        auto_add: bool = False,
        do_glob: bool = False,
        quiet: bool = True,
        exclude_filter: Callable[[Any], bool] | None = None,
    ) -> dict[Any, int]:
        """Watch *path* (or each path of a list) for *mask*; return ``{path: wd}``.

        ``rec`` watches every subdirectory too; ``auto_add`` watches the
        directories created later (and reports what they already hold as
        IN_CREATE, exactly once), and adds IN_CREATE to *mask*. ``do_glob``
        expands patterns. A wd of -1 means the kernel refused (logged, or
        :class:`WatchManagerError` with ``quiet=False``), -2 that
        ``exclude_filter`` excluded the path, -3 that it is not a path.
        ``str``, ``bytes`` and ``os.PathLike`` paths are accepted; events of a
        bytes watch carry bytes paths.
        """
        ret: dict[Any, int] = {}
        if exclude_filter is None:
            exclude_filter = self._exclude_filter
        if auto_add:
            mask |= IN_CREATE
        for npath in _as_list(path):
            if not isinstance(npath, (str, bytes, os.PathLike)):
                ret[npath] = -3
                continue
            npath = os.fspath(npath)
            found: Iterable[Any] = glob.iglob(npath) if do_glob else [npath]
            for apath in found:
                self._add_one(apath, mask, proc_fun, rec, auto_add, quiet, exclude_filter, ret)
        return ret

    def _add_one(
        self,
        apath: PathT,
        mask: int,
        proc_fun: Any,
        rec: bool,
        auto_add: bool,
        quiet: bool,
        exclude_filter: Callable[[Any], bool],
        ret: dict[Any, int],
    ) -> None:
        if exclude_filter(apath):
            ret[apath] = -2
            return
        excluded: list[str] = []
        failed: list[OSError] = []
        is_link = os.path.islink(apath)
        recursive = rec and not is_link and os.path.isdir(apath)
        try:
            wd = self._watcher.add(
                apath,
                mask,
                recursive=recursive,
                exclude=None
                if exclude_filter is _never
                else _dir_excluder(exclude_filter, excluded),
                follow_symlinks=is_link,
                auto_add=auto_add,
                onerror=failed.append,
            )
        except OSError as err:
            ret[apath] = -1
            self._fail(f"add_watch: cannot watch {_shown(apath)} WD=-1", err, quiet, ret)
            return
        as_bytes = isinstance(apath, bytes)
        table = self._table
        ret[apath] = wd
        self._wmd[wd] = Watch(wd, apath, mask, proc_fun, auto_add, exclude_filter, table=table)
        if recursive:
            for sub_wd in self._watcher.subtree(wd)[1:]:
                sub: PathT = table[sub_wd]
                if as_bytes:
                    sub = os.fsencode(sub)
                ret[sub] = sub_wd
                self._wmd[sub_wd] = Watch(
                    sub_wd, sub, mask, proc_fun, auto_add, exclude_filter, table=table, is_dir=True
                )
            for p in excluded:
                ret.setdefault(os.fsencode(p) if as_bytes else p, -2)
            for failure in failed:
                where = failure.filename if failure.filename is not None else apath
                ret[os.fsencode(where) if as_bytes else where] = -1
                self._fail(f"add_watch: cannot watch {_shown(where)} WD=-1", failure, quiet, ret)

    @staticmethod
    def _fail(what: str, err: OSError, quiet: bool, ret: dict[Any, Any]) -> None:
        msg = f"{what}, {_str_errno(err.errno)}"
        if not quiet:
            raise WatchManagerError(msg, ret) from err
        _log().error(msg)

    # --- changing and removing ------------------------------------------------

    def update_watch(
        self,
        wd: Any,
        mask: int | None = None,
        proc_fun: Any = None,
        rec: bool = False,
        auto_add: bool = False,
        quiet: bool = True,
    ) -> dict[int, bool]:
        """Change the mask, handler or ``auto_add`` of *wd* (or each wd of a
        list; with ``rec``, of every watch below too). ``Watch.mask`` follows
        the new mask. Returns ``{wd: bool}``."""
        lwd = _as_list(wd)
        if rec:
            lwd = self._with_subtrees(lwd)
        ret: dict[int, bool] = {}
        for awd in lwd:
            watch = self.get_watch(awd) if isinstance(awd, int) else None
            if watch is None or awd < 0:
                msg = f"update_watch: invalid WD={awd}"
                if not quiet:
                    raise WatchManagerError(msg, ret)
                _log().error(msg)
                continue
            new_mask = None
            if mask:
                new_mask = mask
            if auto_add and not (new_mask or watch.mask) & IN_CREATE:
                new_mask = (new_mask or watch.mask) | IN_CREATE
            if new_mask is not None:
                try:
                    self._watcher.set_mask(awd, new_mask)
                except OSError as err:
                    ret[awd] = False
                    what = f"update_watch: cannot update {_shown(watch.path)} WD=-1"
                    self._fail(what, err, quiet, ret)
                    continue
                watch.mask = new_mask
            if proc_fun:
                watch.proc_fun = proc_fun
            if auto_add:
                watch.auto_add = True
                self._watcher.set_auto_add(awd)
            ret[awd] = True
        return ret

    def _with_subtrees(self, lwd: list[Any]) -> list[Any]:
        out: list[Any] = []
        seen: set[Any] = set()
        for wd in lwd:
            subs = self._watcher.subtree(wd) if isinstance(wd, int) else []
            for sub_wd in subs or [wd]:
                if sub_wd not in seen:
                    seen.add(sub_wd)
                    out.append(sub_wd)
        return out

    def rm_watch(self, wd: Any, rec: bool = False, quiet: bool = True) -> dict[int, bool]:
        """Remove watch *wd* (an int, a list, or any iterable such as
        ``add_watch(...).values()``); with ``rec``, every watch below it too.
        Returns ``{wd: bool}``; a wd the kernel does not know is False (or
        :class:`WatchManagerError` with ``quiet=False``, ending in ``(EINVAL)``)."""
        lwd = _as_list(wd)
        if rec:
            lwd = self._with_subtrees(lwd)
        ret: dict[int, bool] = {}
        for awd in lwd:
            try:
                if not isinstance(awd, int) or awd < 0:
                    raise OSError(_errno.EINVAL, os.strerror(_errno.EINVAL))
                self._watcher.unwatch(awd)
            except OSError as err:
                ret[awd] = False
                self._fail(f"rm_watch: cannot remove WD={awd}", err, quiet, ret)
                continue
            self._wmd.pop(awd, None)
            ret[awd] = True
        return ret

    def watch_transient_file(self, filename: Any, mask: int, proc_class: Any) -> dict[Any, int]:
        """Watch a file that comes and goes (a pid file): its directory is
        watched, and only events named like the file reach ``proc_class``
        (a ProcessEvent subclass, instantiated here)."""
        filename = os.fspath(filename)
        dirname = os.path.dirname(filename)
        if not dirname:
            return {}
        basename = os.path.basename(filename)
        mask |= IN_CREATE | IN_DELETE

        def cmp_name(event: Any) -> bool:
            return bool(getattr(event, "name", None) == basename)

        return self.add_watch(
            dirname,
            mask,
            proc_fun=proc_class(ChainIfTrue(func=cmp_name)),
            rec=False,
            auto_add=False,
            do_glob=False,
            exclude_filter=_never,
        )

    def get_ignore_events(self) -> bool:
        return self._ignore_events

    def set_ignore_events(self, nval: bool) -> None:
        self._ignore_events = nval

    ignore_events = property(
        get_ignore_events, set_ignore_events, doc="Drop events instead of processing them."
    )


# --------------------------------------------------------------------------- #
# Notifiers
# --------------------------------------------------------------------------- #


def _dispatch_target(proc: Any, mask: int) -> Callable[[Any], Any]:
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


_MOVED = IN_MOVED_FROM | IN_MOVED_TO
_SELF = IN_DELETE_SELF | IN_MOVE_SELF
# Events whose attributes need more than the plain case (see _special_event).
_SPECIAL = _MOVED | _SELF | _UNASKED
_UNKNOWN_SUFFIX = "-unknown-path"


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
        self._pipe: tuple[int, int] = (-1, -1)
        self._eventq: deque[Any] = deque()
        self._default_proc_fun = PrintAllEvents() if default_proc_fun is None else default_proc_fun
        self._read_freq = read_freq
        self._threshold = threshold
        self._timeout = timeout
        self._coalesce = False
        self._eventset: set[tuple[int, int, int, Any]] = set()

    def append_event(self, event: Any) -> None:
        """Queue an event (a raw ``wd, mask, cookie, name`` one) for processing."""
        path = getattr(event, "path", None)
        if path is None:
            watch = self._watch_manager.get_watch(event.wd)
            path = "" if watch is None else watch.path
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
        for events; true if there are some to read."""
        if timeout is None:
            timeout = self._timeout
        if self._watch_manager._fd is None:
            return False  # closed under us: nothing will ever come
        ret = self._pollobj.poll(timeout)
        if not ret or ret[0][0] == self._pipe[0]:
            return False
        return bool(ret[0][1] & select.POLLIN)

    def read_events(self) -> None:
        """Take every queued event from the kernel (unless fewer than
        ``threshold`` bytes are queued) into the notifier's queue."""
        if self._threshold:
            from .inotify import _sys

            size = _sys.fionread(self._watcher.fileno())
            if size < self._threshold:
                _log().debug(
                    "(fd: %s) %d bytes available to read but threshold is fixed to %d bytes",
                    self._fd,
                    size,
                    self._threshold,
                )
                return
        try:
            events = self._watcher.read(timeout=0)
        except (OSError, ValueError) as err:
            raise NotifierError(err) from err
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
        """Dispatch every queued event to its handler."""
        wm = self._watch_manager
        wmd = wm._wmd
        queue = self._eventq
        popleft = queue.popleft
        default = self._default_proc_fun
        masknames = _MASKNAMES
        event_cls = Event
        special = _SPECIAL
        # mask -> (handler, the method it dispatches that mask to), for this batch
        targets: dict[int, tuple[Any, Callable[[Any], Any]]] = {}
        while queue:
            ev = popleft()
            if wm._ignore_events:
                continue
            wd = ev.wd
            mask = ev.mask
            watch = wmd.get(wd)
            if watch is None:
                if mask & IN_Q_OVERFLOW:
                    default(_make_event({"mask": mask, "maskname": masknames[mask]}))
                    continue
                watch = wm._adopt(wd)
                if watch is None:
                    if not mask & IN_IGNORED:
                        _log().warning("Unable to retrieve Watch object associated to %r", ev)
                    continue
            if mask & special or not mask & watch.mask or watch._table is None:
                d = self._special_event(ev, watch)
                if d is None:
                    continue
                event: Any = _make_event(d)
            else:
                ev.__class__ = event_cls  # the Watcher's event, presented as ours
                event = ev
            proc = watch.proc_fun or default
            found = targets.get(mask)
            if found is None or found[0] is not proc:
                found = targets[mask] = (proc, _dispatch_target(proc, mask))
            found[1](event)
            if mask & IN_IGNORED:
                wmd.pop(wd, None)
        if self._coalesce:
            self._eventset.clear()

    def _special_event(self, ev: Any, watch: Watch) -> dict[str, Any] | None:
        """The attributes of an event that is not a plain one: moves (cookie,
        src_pathname), events about the watched item itself (its ``dir``),
        masks narrowed by update_watch, paths pinned by hand."""
        mask = ev.mask
        if not mask & (watch.mask | _UNASKED):
            return None  # update_watch narrowed this watch's mask
        path = ev.path if watch._table is not None else watch._path
        d = {
            "wd": ev.wd,
            "mask": mask,
            "maskname": _MASKNAMES.get(mask) or EventsCodes.maskname(mask),
            "path": path,
            "name": ev.name,
            "dir": watch.dir if mask & _SELF else bool(mask & IN_ISDIR),
        }
        if mask & _MOVED:
            d["cookie"] = ev.cookie
            src = ev.src_pathname
            if src is not None:
                d["src_pathname"] = src
        elif mask & IN_MOVE_SELF:
            self._moved_self(watch, d)
        if COMPATIBILITY_MODE:
            d["event_name"] = d["maskname"]
            d["is_dir"] = d["dir"]
        return d

    def _moved_self(self, watch: Watch, d: dict[str, Any]) -> None:
        """A watched item moved. Inside a watched tree the Watcher followed it and
        the path is already right. A watched root moved elsewhere cannot be
        followed (the kernel does not say where): then, as pyinotify does,
        ``-unknown-path`` is appended to the Watch's path, so programs that
        test for (or strip) that suffix keep working."""
        ident = watch._ident
        if ident is None or watch._table is None:
            return  # a subdirectory (followed by the Watcher), or already pinned
        path = watch.path
        if _identity(path)[1] == ident:
            return
        suffix: Any = _UNKNOWN_SUFFIX if isinstance(path, str) else _UNKNOWN_SUFFIX.encode()
        _log().error(
            "The pathname '%s' of this watch %s has probably changed and couldn't be "
            "updated, so it cannot be trusted anymore.",
            path,
            watch,
        )
        watch.path = path = path + suffix
        d["path"] = path

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
            self._daemonize(**args)
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
            _log().debug("Pyinotify stops monitoring.")
        finally:
            self.stop()

    def _daemonize(
        self,
        pid_file: Any = None,
        stdin: str = os.devnull,
        stdout: str = os.devnull,
        stderr: str = os.devnull,
    ) -> None:
        if pid_file is None:
            base = os.path.basename(sys.argv[0]) or "pyinotify"
            pid_file = os.path.join("/var/run/", base + ".pid")
        if pid_file is not False and os.path.lexists(pid_file):
            raise NotifierError(f"Cannot daemonize: pid file {pid_file} already exists.")
        if os.fork():
            os._exit(0)
        os.setsid()
        if os.fork():
            os._exit(0)
        os.chdir("/")
        os.umask(0o022)
        for target, name, flags in (
            (0, stdin, os.O_RDONLY),
            (1, stdout, os.O_WRONLY | os.O_CREAT | os.O_APPEND),
            (2, stderr, os.O_WRONLY | os.O_CREAT | os.O_APPEND),
        ):
            fd = os.open(name, flags, 0o600)
            os.dup2(fd, target)
            os.close(fd)
        if pid_file is not False:
            flags = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_EXCL
            fd = os.open(pid_file, flags, 0o600)
            os.write(fd, f"{os.getpid()}\n".encode())
            os.close(fd)
            import atexit

            atexit.register(os.unlink, pid_file)

    def stop(self) -> None:
        """Close the inotify fd (every watch goes). Idempotent."""
        if self._fd is not None:
            with contextlib.suppress(KeyError):
                self._pollobj.unregister(self._fd)
            self._fd = None
        self._watch_manager.close()


class ThreadedNotifier(threading.Thread, Notifier):
    """A Notifier looping in its own thread: ``start()``, then ``stop()``
    (which wakes, joins, and closes)."""

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
        Notifier.__init__(self, watch_manager, default_proc_fun, read_freq, threshold, timeout)
        self._pipe = os.pipe2(os.O_CLOEXEC)
        self._pollobj.register(self._pipe[0], select.POLLIN)

    def stop(self) -> None:
        """Stop the loop, join the thread, close the fd and the wake-up pipe."""
        self._stop_event.set()
        if self._pipe[1] >= 0:
            os.write(self._pipe[1], b"stop")
        if self.is_alive() and threading.current_thread() is not self:
            threading.Thread.join(self)
        Notifier.stop(self)
        if self._pipe[0] >= 0:
            self._pollobj.unregister(self._pipe[0])
            os.close(self._pipe[0])
            os.close(self._pipe[1])
            self._pipe = (-1, -1)

    def loop(self) -> None:  # type: ignore[override]
        """The thread's loop; use ``start()``."""
        while not self._stop_event.is_set():
            self.process_events()
            ref_time = time.time()
            if self.check_events():
                self._sleep(ref_time)
                self.read_events()

    def run(self) -> None:
        self.loop()


class AsyncioNotifier(Notifier):
    """A Notifier driven by an asyncio event loop (``loop.add_reader``): events
    are read and processed when the fd is readable, then ``callback(self)``.
    ``.loop`` is the asyncio loop, as in pyinotify."""

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
        loop.add_reader(self._fd, self.handle_read)

    def stop(self) -> None:
        if self._fd is not None:
            self.loop.remove_reader(self._fd)  # type: ignore[attr-defined]
        Notifier.stop(self)

    def handle_read(self, *args: Any, **kwargs: Any) -> None:
        self.read_events()
        self.process_events()
        if self.handle_read_callback is not None:
            self.handle_read_callback(self)


class TornadoAsyncNotifier(Notifier):
    """A Notifier driven by a Tornado ``IOLoop`` (``add_handler``). Tornado is
    not imported: any loop object with ``add_handler``/``remove_handler``/``READ``
    works."""

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


def _make_async_notifier() -> type:
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


class INotifyWrapper:
    """pyinotify's raw syscall wrapper (-1 and ``get_errno()`` on failure)."""

    def __init__(self) -> None:
        self._last_errno: int | None = None

    @staticmethod
    def create() -> INotifyWrapper:
        return INotifyWrapper()

    def get_errno(self) -> int | None:
        return self._last_errno

    def str_errno(self) -> str:
        return _str_errno(self._last_errno)

    def _call(self, func: Callable[..., Any], *args: Any) -> int:
        try:
            ret = func(*args)
        except OSError as err:
            self._last_errno = err.errno
            return -1
        return 0 if ret is None else int(ret)

    def inotify_init(self) -> int:
        from .inotify import _sys

        return self._call(_sys.init1, os.O_CLOEXEC)

    def inotify_add_watch(self, fd: int, pathname: Any, mask: int) -> int:
        from .inotify import _sys

        return self._call(_sys.add_watch, fd, os.fsencode(pathname), mask)

    def inotify_rm_watch(self, fd: int, wd: int) -> int:
        from .inotify import _sys

        return self._call(_sys.rm_watch, fd, wd)


def logger_init() -> logging.Logger:
    """pyinotify's logger set-up, for programs that want it: a stderr handler
    and level INFO on the ``pyinotify`` logger. inwatch never calls it itself."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("[%(asctime)s %(name)s %(levelname)s] %(message)s"))
    log.addHandler(handler)
    log.setLevel(20)
    return log
