"""The inverse of inwatch.fanotify.wire.parse, for tests: RawEvent -> bytes as the
kernel writes them (native endian, records padded to 4 bytes)."""

from __future__ import annotations

import struct

from inwatch.fanotify.wire import METADATA, RawEvent


def fid_key(fsid: bytes, htype: int, handle: bytes) -> bytes:
    assert len(fsid) == 8
    return fsid + struct.pack("=Ii", len(handle), htype) + handle


def _record(itype: int, body: bytes) -> bytes:
    body += b"\0" * (-(len(body) + 4) % 4)
    return struct.pack("=BBH", itype, 0, len(body) + 4) + body


def pack(ev: RawEvent, version: int = 3) -> bytes:
    recs = b""
    if ev.old_dir is not None:
        recs += _record(10, ev.old_dir + (ev.old_name or b"") + b"\0")
    if ev.new_dir is not None:
        recs += _record(12, ev.new_dir + (ev.new_name or b"") + b"\0")
    if ev.dir is not None:
        if ev.name is None:
            recs += _record(3, ev.dir)
        else:
            recs += _record(2, ev.dir + ev.name + b"\0")
    if ev.fid is not None:
        recs += _record(1, ev.fid)
    if ev.pidfd is not None:
        recs += _record(4, struct.pack("=i", ev.pidfd))
    if ev.error is not None:
        recs += _record(5, struct.pack("=iI", *ev.error))
    size = METADATA.size + len(recs)
    return METADATA.pack(size, version, 0, METADATA.size, ev.mask, ev.fd, ev.pid) + recs


def pack_all(events: list[RawEvent]) -> bytes:
    return b"".join(pack(e) for e in events)
