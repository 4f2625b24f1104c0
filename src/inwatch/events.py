"""The one parser of the inotify wire format.

``read(2)`` on an inotify fd returns a packed sequence of records::

    struct inotify_event {
        int      wd;       /* watch descriptor; -1 for IN_Q_OVERFLOW */
        uint32_t mask;
        uint32_t cookie;   /* pairs IN_MOVED_FROM with IN_MOVED_TO; else 0 */
        uint32_t len;      /* bytes of name, NUL padding included; 0 if no name */
        char     name[];   /* NUL-terminated, padded with NULs to an aligned size */
    };

The kernel never splits a record across reads (a buffer too small for the next
record gets EINVAL, or a short read ending before it), so a buffer that ends
inside a record is corrupt, not "to be continued". Names are bytes: Linux file
names are not text, and decoding belongs to whoever needs a ``str``.

The parser knows nothing else: no fd, no paths, no flags objects. It is the hot
path, so it stays on ints and bytes. `Event`, the high-level API's event, lives
here too: it is a plain value with lazily computed fields.
"""

from __future__ import annotations

import os
import struct
from typing import Any, AnyStr, Generic, NamedTuple

from .errors import EventParseError
from .flags import Mask, mask_names

__all__ = ["HEADER_SIZE", "Event", "RawEvent", "pack_event", "parse_events", "parse_records"]

_HEADER = struct.Struct("=iIII")
HEADER_SIZE = _HEADER.size  # 16
_NAME_MAX = 255


class RawEvent(NamedTuple):
    """One ``struct inotify_event``, exactly as the kernel sent it (name unpadded)."""

    wd: int
    mask: int
    cookie: int
    name: bytes


def parse_events(buf: bytes | bytearray | memoryview) -> list[RawEvent]:
    """Split *buf* into events. Raises :class:`EventParseError` if it is truncated.

    Every event is kept, ``wd == -1`` (queue overflow) included.
    """
    return _parse(buf, RawEvent)


def parse_records(buf: bytes | bytearray | memoryview) -> list[tuple[int, int, int, bytes]]:
    """`parse_events` as plain ``(wd, mask, cookie, name)`` tuples: the same parser,
    minus one object per event, for dispatchers that unpack each record at once."""
    return _parse(buf, tuple)


def _parse(buf: bytes | bytearray | memoryview, record: type) -> list[Any]:
    # The loop does per record only what a plain loop must (unpack the header,
    # slice the name, strip its NUL padding) plus building the record. A slice
    # past the end is clamped, and can only happen to the last record (offset
    # then passes end and the loop stops), so truncation is checked once after.
    # The kernel pads names with NULs and names never contain NUL, so rstrip is
    # exact; an empty name slices to b"". ``tuple.__new__(tuple, t)`` hands back
    # ``t`` itself, so with ``record=tuple`` no second object is built per event.
    events: list[Any] = []
    append = events.append
    unpack = _HEADER.unpack_from
    new = tuple.__new__
    if type(buf) is not bytes:
        buf = bytes(buf)
    end = len(buf)
    offset = 0
    length = 0
    try:
        while offset < end:
            wd, mask, cookie, length = unpack(buf, offset)
            offset += 16
            append(new(record, (wd, mask, cookie, buf[offset : offset + length].rstrip(b"\0"))))
            offset += length
    except struct.error:
        raise EventParseError(
            f"truncated inotify event: {end - offset} bytes left at offset {offset}, "
            f"a header needs {HEADER_SIZE}",
            offset,
        ) from None
    if offset > end:
        start = offset - length - 16
        raise EventParseError(
            f"truncated inotify event: name of {length} bytes at offset {start + 16} "
            f"runs past the end of a {end}-byte buffer",
            start,
        )
    return events


def pack_event(wd: int, mask: int, cookie: int = 0, name: bytes = b"", pad_to: int = 16) -> bytes:
    """Build the bytes the kernel would send for one event (for tests and tools).

    The name gets a NUL and is padded with NULs to a multiple of *pad_to*, as the
    kernel does; an empty name has length 0.
    """
    if name:
        if b"\0" in name or len(name) > _NAME_MAX:
            raise ValueError(f"not a valid file name: {name!r}")
        size = len(name) + 1
        size += -size % pad_to
        name = name.ljust(size, b"\0")
    return _HEADER.pack(wd, mask, cookie, len(name)) + name


class Event(Generic[AnyStr]):
    """An event as the high-level API delivers it.

    ``path`` is the watched directory (or file) the event is about and ``name``
    the entry inside it (empty when the event is about ``path`` itself). Both are
    ``str`` (non-UTF-8 bytes kept by surrogateescape) when the watch was added with
    a ``str`` path, ``bytes`` when it was added with ``bytes``. ``pathname``,
    ``is_dir``, ``flags`` and ``maskname`` are computed when asked, so delivering
    an event costs one small object.

    ``src_pathname`` is set on a MOVED_TO whose MOVED_FROM was seen (a rename
    inside the watched set). ``synthetic`` is True for events inwatch made up from
    a scan: the contents of a directory that appeared, or what changed while the
    kernel queue overflowed. For ``Q_OVERFLOW``, ``wd`` is -1 and ``path`` empty.
    """

    __slots__ = ("cookie", "mask", "name", "path", "src_pathname", "synthetic", "wd")

    wd: int
    mask: int
    cookie: int
    name: AnyStr
    path: AnyStr
    src_pathname: AnyStr | None
    synthetic: bool

    def __init__(
        self,
        wd: int,
        mask: int,
        cookie: int,
        name: AnyStr,
        path: AnyStr,
        src_pathname: AnyStr | None = None,
        synthetic: bool = False,
    ) -> None:
        self.wd = wd
        self.mask = mask
        self.cookie = cookie
        self.name = name
        self.path = path
        self.src_pathname = src_pathname
        self.synthetic = synthetic

    @property
    def pathname(self) -> AnyStr:
        """``path`` joined with ``name`` (just ``path`` when there is no name)."""
        name = self.name
        if not name:
            return self.path
        return os.path.join(self.path, name)

    @property
    def is_dir(self) -> bool:
        """The subject of the event is a directory (``IN_ISDIR``)."""
        return bool(self.mask & 0x40000000)

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
        if self.synthetic:
            extra += " synthetic"
        return f"<Event {self.maskname} wd={self.wd} pathname={self.pathname!r}{extra}>"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Event):
            return NotImplemented
        return (
            self.wd == other.wd
            and self.mask == other.mask
            and self.cookie == other.cookie
            and self.name == other.name
            and self.path == other.path
            and self.src_pathname == other.src_pathname
            and self.synthetic == other.synthetic
        )

    __hash__ = None  # type: ignore[assignment]  # mutable
