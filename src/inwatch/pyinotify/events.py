"""Events as pyinotify programs see them, and their text forms.

:class:`Event` is the class of every delivered event. A plain event is the
Watcher's own :class:`inwatch.Event` object with its class switched to
:class:`Event` (no copy: a copy would cost as much as the rest of the
layer; switching the class costs ~30 ns); events that need attributes of
their own (moves, events about a watched item itself, ``Event(dict)``) are
``_DictEvent`` objects, whose attributes live in a dict as pyinotify's did.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

from ..event import Event as _NativeEvent
from . import _state
from ._state import PathT
from .codes import _MASKNAMES, IN_ISDIR, MOVED, EventsCodes

__all__ = ["ColoredOutputFormat", "Event", "RawOutputFormat"]


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


def _fields_repr(cls_name: str, items: Iterable[tuple[str, object]]) -> str:
    fmt = _state.output_format()
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

    # pathname is the Watcher event's own slot (handlers read it on most
    # events: a property here cost ~140 ns a read): the Watcher joined it, and
    # its paths are normal, so under a root added with an absolute path it is
    # what pyinotify gives (abspath of the join). Under a relative root the
    # events are _RelativeEvent objects, which make it absolute.

    @property
    def cookie(self) -> int:  # type: ignore[override]
        if self.mask & MOVED:
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
        if _state.compat_mode():
            return self.maskname
        raise AttributeError("event_name")

    @property
    def is_dir(self) -> bool:
        if _state.compat_mode():
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


class _RelativeEvent(Event):
    """An Event under a root added with a relative path: pyinotify's pathname
    is absolute (abspath of the join, against the current directory)."""

    __slots__ = ()

    @property
    def pathname(self) -> Any:
        joined = _NATIVE_GET_PATHNAME(self)
        if joined[:1] == (b"/" if isinstance(joined, bytes) else "/"):
            return joined
        return os.path.abspath(joined)


_RelativeEvent.__name__ = _RelativeEvent.__qualname__ = "Event"


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
        if _state.compat_mode():
            d["event_name"] = d["maskname"]
        if "path" in d:
            d["pathname"] = _pathname(d["path"], d.get("name"))
        else:
            _state.log().debug("'Event' object has no attribute 'path'")

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


def make_event(d: dict[str, Any]) -> Event:
    """An Event from a ready dict (``maskname`` included)."""
    ev: Event = _new_object(_DictEvent)
    ev.__dict__.update(d)
    return ev
