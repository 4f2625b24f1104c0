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

This module knows nothing else: no fd, no paths, no flags objects. It is the hot
path, so it stays on ints and bytes.
"""

from __future__ import annotations

import struct
from typing import NamedTuple

from .errors import EventParseError

__all__ = ["HEADER_SIZE", "RawEvent", "pack_event", "parse_events"]

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
    events: list[RawEvent] = []
    append = events.append
    unpack = _HEADER.unpack_from
    new = tuple.__new__
    cls = RawEvent
    end = len(buf)
    offset = 0
    if type(buf) is not bytes:
        buf = bytes(buf)
    try:
        while offset < end:
            wd, mask, cookie, length = unpack(buf, offset)
            offset += 16
            if length:
                stop = offset + length
                if stop > end:
                    raise EventParseError(
                        f"truncated inotify event: name of {length} bytes at offset "
                        f"{offset} runs past the end of a {end}-byte buffer",
                        offset - 16,
                    )
                name = buf[offset:stop]
                offset = stop
                # The kernel pads with at least one NUL; names never contain NUL.
                if name[-1] == 0:
                    name = name.rstrip(b"\0")
                append(new(cls, (wd, mask, cookie, name)))
            else:
                append(new(cls, (wd, mask, cookie, b"")))
    except struct.error:
        raise EventParseError(
            f"truncated inotify event: {end - offset} bytes left at offset {offset}, "
            f"a header needs {HEADER_SIZE}",
            offset,
        ) from None
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
