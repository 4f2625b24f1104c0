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
path, so it stays on ints and bytes.
"""

from __future__ import annotations

import functools
import struct
from collections.abc import Callable
from typing import Any, NamedTuple

from ..accel import native
from ..errors import EventParseError

__all__ = [
    "HEADER_SIZE",
    "RawEvent",
    "pack_event",
    "parse_events",
    "parse_flat",
    "parse_flat_py",
    "parse_records",
]

_HEADER = struct.Struct("=iIII")
HEADER_SIZE = _HEADER.size  # 16
_NAME_MAX = 255


class RawEvent(NamedTuple):
    """One ``struct inotify_event``, exactly as the kernel sent it (name unpadded)."""

    wd: int
    mask: int
    cookie: int
    name: bytes


# RawEvent from a (wd, mask, cookie, name) tuple, all in C (no Python-level call).
_new_raw = functools.partial(tuple.__new__, RawEvent)


def parse_events(buf: bytes | bytearray | memoryview) -> list[RawEvent]:
    """Split *buf* into events. Raises :class:`EventParseError` if it is truncated.

    Every event is kept, ``wd == -1`` (queue overflow) included.
    """
    it = iter(parse_flat(buf))
    return list(map(_new_raw, zip(it, it, it, it, strict=True)))


def parse_records(buf: bytes | bytearray | memoryview) -> list[tuple[int, int, int, bytes]]:
    """`parse_events` as plain ``(wd, mask, cookie, name)`` tuples."""
    it = iter(parse_flat(buf))
    return list(zip(it, it, it, it, strict=True))


def parse_flat_py(buf: bytes | bytearray | memoryview) -> list[Any]:
    """The parser itself (in pure Python; :data:`parse_flat` is the C twin when the
    accelerator is in use, see :mod:`inwatch.accel`): the records of *buf* as one flat list
    ``[wd, mask, cookie, name, wd, mask, cookie, name, ...]``.

    Why flat: ints and bytes are not tracked by the cyclic garbage collector, a
    tuple per record is. A burst of 12,000 records read at once made 12,000
    tracked tuples that all survived to the end of the read, and the
    collections they triggered cost as much as the parse (measured: ~0.2 µs an
    event, bench/profile_core.py). Walk it with ``it = iter(flat)`` and
    ``zip(it, it, it, it, strict=True)``: zip reuses its result tuple when the loop unpacks
    it, so no object is made per record.
    """
    # The loop does per record only what a plain loop must (unpack the header,
    # slice the name, strip its NUL padding). A slice past the end is clamped,
    # and can only happen to the last record (offset then passes end and the
    # loop stops), so truncation is checked once after. The kernel pads names
    # with NULs and names never contain NUL, so rstrip is exact; an empty name
    # slices to b"". (The tuple added is freed at once: never collected.)
    flat: list[Any] = []
    unpack = _HEADER.unpack_from
    if type(buf) is not bytes:
        buf = bytes(buf)
    end = len(buf)
    offset = 0
    length = 0
    try:
        while offset < end:
            wd, mask, cookie, length = unpack(buf, offset)
            offset += 16
            flat += (wd, mask, cookie, buf[offset : offset + length].rstrip(b"\0"))
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
    return flat


# The parser in use: the accelerator's (inotify/_accel.c, parse_flat: the same
# list, the same EventParseError; tests/unit/test_accel_parse.py fuzzes the two
# against each other) or the pure one.
parse_flat: Callable[[bytes | bytearray | memoryview], list[Any]] = (
    parse_flat_py if native is None else native.parse_flat
)


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
