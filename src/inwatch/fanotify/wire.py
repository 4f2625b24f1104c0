"""The one parser of fanotify's wire format (pure: bytes in, records out).

``read(2)`` on a fanotify fd returns whole events, each::

    struct fanotify_event_metadata {      // 24 bytes, native endian
        __u32 event_len;                  // this event, info records included
        __u8  vers;                       // FANOTIFY_METADATA_VERSION (3)
        __u8  reserved;
        __u16 metadata_len;               // 24
        __aligned_u64 mask;
        __s32 fd;                         // FAN_NOFD (-1) in FID groups
        __s32 pid;                        // 0 when hidden from the reader
    };

followed (FID groups, 5.1+) by info records, each starting with
``struct fanotify_event_info_header { __u8 info_type; __u8 pad; __u16 len; }``
where ``len`` covers the header and is a multiple of 4:

- FID / DFID / DFID_NAME / OLD_DFID_NAME / NEW_DFID_NAME:
  ``__kernel_fsid_t fsid`` (8 bytes), ``struct file_handle`` (``__u32
  handle_bytes; int handle_type; unsigned char f_handle[handle_bytes]``), and
  for the *_NAME kinds a NUL-terminated name, zero padded to ``len``;
- PIDFD: ``__s32 pidfd`` (an fd installed in the reader, or FAN_NOPIDFD /
  FAN_EPIDFD);
- ERROR: ``__s32 error; __u32 error_count``.

Unknown record types are skipped (a newer kernel may add some). A buffer that
ends inside an event or a record, a length that points outside its event, or a
metadata version other than 3 raise :class:`FanotifyParseError`: the bytes are
not what this parser understands, and guessing would lose or invent events.

A file handle is kept as one ``bytes`` *key*: fsid, handle_bytes, handle_type
and the handle itself, straight from the buffer. Keys compare equal exactly when
the kernel names the same object; :func:`key_handle` splits one for
``open_by_handle_at``.
"""

from __future__ import annotations

import struct
from typing import NamedTuple

from .errors import FanotifyParseError
from .flags import FANOTIFY_METADATA_VERSION

__all__ = ["METADATA", "RawEvent", "key_fsid", "key_handle", "parse", "pidfd_slots"]

METADATA = struct.Struct("=IBBHQii")
_META_LEN = METADATA.size  # 24
_HDR = struct.Struct("=BBH")
_U32 = struct.Struct("=I")
_I32 = struct.Struct("=i")
_ERR = struct.Struct("=iI")

_FID, _DFID_NAME, _DFID, _PIDFD, _ERROR = 1, 2, 3, 4, 5
_OLD_DFID_NAME, _NEW_DFID_NAME = 10, 12


class RawEvent(NamedTuple):
    """One event as the kernel wrote it. Handles are keys (see the module doc);
    names are raw bytes; absent records are ``None``."""

    mask: int
    pid: int
    fd: int
    fid: bytes | None = None
    """FID: the object itself."""
    dir: bytes | None = None
    """DFID or DFID_NAME: the directory."""
    name: bytes | None = None
    """DFID_NAME: the entry in ``dir`` (``b"."`` for the directory itself)."""
    old_dir: bytes | None = None
    old_name: bytes | None = None
    new_dir: bytes | None = None
    new_name: bytes | None = None
    pidfd: int | None = None
    error: tuple[int, int] | None = None
    """ERROR: (errno, how many errors since the last report)."""


def key_fsid(key: bytes) -> bytes:
    """The 8-byte fsid of a handle key."""
    return key[:8]


def key_handle(key: bytes) -> tuple[int, bytes]:
    """(handle_type, handle bytes) of a handle key."""
    (htype,) = _I32.unpack_from(key, 12)
    return htype, key[16:]


def _fid_record(buf: bytes, start: int, end: int, named: bool) -> tuple[bytes, bytes | None]:
    # start: first byte after the info header; end: end of the record.
    if end - start < 16:
        raise FanotifyParseError("file handle record too short for fsid and handle header", start)
    (hbytes,) = _U32.unpack_from(buf, start + 8)
    hend = start + 16 + hbytes
    if hend > end:
        raise FanotifyParseError(f"file handle of {hbytes} bytes overruns its record", start)
    key = bytes(buf[start:hend])
    if not named:
        return key, None
    nul = buf.find(b"\0", hend, end)
    if nul < 0:
        raise FanotifyParseError("entry name not NUL-terminated inside its record", hend)
    return key, bytes(buf[hend:nul])


def parse(buf: bytes) -> list[RawEvent]:
    """Every event of *buf*, in order (an empty buffer gives ``[]``)."""
    out: list[RawEvent] = []
    off = 0
    n = len(buf)
    unpack_meta = METADATA.unpack_from
    while off < n:
        if n - off < _META_LEN:
            raise FanotifyParseError(f"{n - off} bytes left, an event needs {_META_LEN}", off)
        event_len, vers, _res, meta_len, mask, fd, pid = unpack_meta(buf, off)
        if vers != FANOTIFY_METADATA_VERSION:
            raise FanotifyParseError(
                f"metadata version {vers}, this parser reads {FANOTIFY_METADATA_VERSION}", off
            )
        if meta_len < _META_LEN or event_len < meta_len:
            raise FanotifyParseError(
                f"bad lengths: event_len {event_len}, metadata_len {meta_len}", off
            )
        end = off + event_len
        if end > n:
            raise FanotifyParseError(f"event of {event_len} bytes overruns the buffer", off)
        pos = off + meta_len
        if pos == end:
            out.append(RawEvent(mask, pid, fd))
            off = end
            continue
        fid = dir_ = name = old_dir = old_name = new_dir = new_name = None
        pidfd: int | None = None
        error: tuple[int, int] | None = None
        while pos < end:
            if end - pos < 4:
                raise FanotifyParseError("info record header cut short", pos)
            itype, _pad, ilen = _HDR.unpack_from(buf, pos)
            if ilen < 4 or pos + ilen > end:
                raise FanotifyParseError(f"info record length {ilen} outside its event", pos)
            body = pos + 4
            rend = pos + ilen
            if itype == _DFID_NAME:
                dir_, name = _fid_record(buf, body, rend, True)
            elif itype == _FID:
                fid, _ = _fid_record(buf, body, rend, False)
            elif itype == _DFID:
                dir_, _ = _fid_record(buf, body, rend, False)
            elif itype == _PIDFD:
                if ilen < 8:
                    raise FanotifyParseError("pidfd record too short", pos)
                (pidfd,) = _I32.unpack_from(buf, body)
            elif itype == _OLD_DFID_NAME:
                old_dir, old_name = _fid_record(buf, body, rend, True)
            elif itype == _NEW_DFID_NAME:
                new_dir, new_name = _fid_record(buf, body, rend, True)
            elif itype == _ERROR:
                if ilen < 12:
                    raise FanotifyParseError("error record too short", pos)
                error = _ERR.unpack_from(buf, body)
            pos = rend
        out.append(
            RawEvent(
                mask, pid, fd, fid, dir_, name, old_dir, old_name, new_dir, new_name, pidfd, error
            )
        )
        off = end
    return out


def pidfd_slots(buf: bytes | bytearray) -> list[tuple[int, int, int]]:
    """(offset of the pidfd value, pid, pidfd) of every PIDFD record in *buf*.

    A lighter walk than :func:`parse` for the reader, which must turn each pidfd
    into an identity (and close it) right after the read, while the process may
    still be alive; it trusts *buf* to have been parsed-checked by the kernel
    (it comes straight from ``read``) and stops at anything malformed, leaving
    the error to :func:`parse`."""
    out: list[tuple[int, int, int]] = []
    off = 0
    n = len(buf)
    while off + _META_LEN <= n:
        event_len, _v, _r, meta_len, _mask, _fd, pid = METADATA.unpack_from(buf, off)
        end = off + event_len
        if event_len < _META_LEN or end > n or meta_len < _META_LEN:
            break
        pos = off + meta_len
        while pos + 4 <= end:
            itype, _pad, ilen = _HDR.unpack_from(buf, pos)
            if ilen < 4:
                break
            if itype == _PIDFD and ilen >= 8 and pos + 8 <= end:
                out.append((pos + 4, pid, _I32.unpack_from(buf, pos + 4)[0]))
            pos += ilen
        off = end
    return out
