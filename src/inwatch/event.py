"""The one neutral event every backend delivers, and who caused it.

:class:`Event` carries what inotify, fanotify and the journal all need. The
fields that only one kernel fills stay, with a neutral value elsewhere: ``wd``
and ``cookie`` are inotify's (fanotify has no watch descriptors: ``wd`` is
-1 there and ``cookie`` 0); ``actor`` is fanotify's (``None`` under inotify,
which cannot say who did it).

``origin`` says where an event came from:

- ``"kernel"``: the kernel reported it;
- ``"scan"``: inwatch found it by listing a directory that appeared (its
  contents were made before the directory could be watched);
- ``"rescan"``: inwatch found it by comparing a tree with what it knew after the
  kernel queue overflowed (events were lost while blind);
- ``"offline"``: a journal found it at start-up: it changed while nothing watched.

``time`` is the wall-clock time (seconds since the epoch) of the read that
brought the event in, stamped once per read: events of one read share it.
"""

from __future__ import annotations

from typing import Any, AnyStr, Generic, Literal, NamedTuple

from .flags import Mask, mask_names

__all__ = ["ORIGINS", "Actor", "ActorStatus", "Event", "Origin"]

Origin = Literal["kernel", "scan", "rescan", "offline"]
ORIGINS: tuple[Origin, ...] = ("kernel", "scan", "rescan", "offline")

ActorStatus = Literal["ok", "exited", "hidden"]

_ISDIR = 0x40000000


class Actor(NamedTuple):
    """The process that caused an event (fanotify only).

    ``status`` is ``"ok"`` when every field was read from the live process (and
    checked to be the one the kernel named), ``"exited"`` when it was gone before
    it could be identified (only what is certain is filled, the rest ``None``),
    ``"hidden"`` when the kernel gave no pid (another pid namespace, or an
    unprivileged listener): then only ``pid`` 0 is known.
    """

    pid: int
    uid: int | None
    gid: int | None
    comm: str | None
    exe: str | None
    status: ActorStatus


def _join(path: Any, name: Any) -> Any:
    # Plain concatenation: names never contain a separator, and os.path.join's
    # generality costs more than the rest of delivering an event.
    if not name:
        return path
    sep = "/" if type(path) is str else b"/"
    return path + name if path.endswith(sep) else path + sep + name


class Event(Generic[AnyStr]):
    """An event as the high-level API delivers it, whatever the backend.

    ``path`` is the watched directory (or file) the event is about and ``name``
    the entry inside it (empty when the event is about ``path`` itself);
    ``pathname`` is both joined. They are ``str`` (non-UTF-8 bytes kept by
    surrogateescape) when the watch was added with a ``str`` path, ``bytes``
    when it was added with ``bytes``. ``src_pathname`` is set on a MOVED_TO
    whose MOVED_FROM was seen (a rename inside the watched set). For
    ``Q_OVERFLOW``, ``wd`` is -1 and ``path`` empty.

    ``mask`` holds the kernel bits of :class:`~inwatch.Mask` (``flags`` gives it
    as one, ``maskname`` in pyinotify's spelling). ``synthetic`` is
    ``origin != "kernel"``.
    """

    __slots__ = (
        "actor",
        "cookie",
        "mask",
        "name",
        "origin",
        "path",
        "pathname",
        "src_pathname",
        "time",
        "wd",
    )

    wd: int
    mask: int
    cookie: int
    name: AnyStr
    path: AnyStr
    pathname: AnyStr
    """``path`` joined with ``name`` (just ``path`` when there is no name)."""
    src_pathname: AnyStr | None
    origin: Origin
    time: float
    actor: Actor | None

    def __init__(
        self,
        wd: int,
        mask: int,
        cookie: int,
        name: AnyStr,
        path: AnyStr,
        src_pathname: AnyStr | None = None,
        origin: Origin = "kernel",
        time: float = 0.0,
        actor: Actor | None = None,
        pathname: AnyStr | None = None,
    ) -> None:
        # The one constructor, the hot path's included: *pathname* may be given
        # when the caller has joined it already (it must equal path/name).
        self.wd = wd
        self.mask = mask
        self.cookie = cookie
        self.name = name
        self.path = path
        self.pathname = _join(path, name) if pathname is None else pathname
        self.src_pathname = src_pathname
        self.origin = origin
        self.time = time
        self.actor = actor

    @property
    def synthetic(self) -> bool:
        """Made up by inwatch from a listing, not reported by the kernel."""
        return self.origin != "kernel"

    @property
    def is_dir(self) -> bool:
        """The subject of the event is a directory (``IN_ISDIR``)."""
        return bool(self.mask & _ISDIR)

    @property
    def flags(self) -> Mask:
        """``mask`` as a :class:`Mask`."""
        return Mask(self.mask)

    @property
    def maskname(self) -> str:
        """pyinotify's spelling: ``"IN_CREATE|IN_ISDIR"``."""
        return "|".join("IN_" + n for n in mask_names(self.mask))

    def __repr__(self) -> str:
        extra = ""
        if self.cookie:
            extra += f" cookie={self.cookie}"
        if self.src_pathname is not None:
            extra += f" src_pathname={self.src_pathname!r}"
        if self.origin != "kernel":
            extra += f" origin={self.origin}"
        if self.actor is not None:
            extra += f" actor={self.actor}"
        return f"<Event {self.maskname} wd={self.wd} pathname={self.pathname!r}{extra}>"

    def __eq__(self, other: object) -> bool:
        # By value, but not by time: the same event read twice is the same event.
        if not isinstance(other, Event):
            return NotImplemented
        return (
            self.wd == other.wd
            and self.mask == other.mask
            and self.cookie == other.cookie
            and self.name == other.name
            and self.path == other.path
            and self.src_pathname == other.src_pathname
            and self.origin == other.origin
            and self.actor == other.actor
        )

    __hash__ = None  # type: ignore[assignment]  # mutable
