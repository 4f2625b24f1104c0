"""The fanotify wire parser: golden bytes, corrupt buffers, hypothesis round trip."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from inwatch.fanotify.errors import FanotifyParseError
from inwatch.fanotify.wire import RawEvent, key_fsid, key_handle, parse

from .packer import fid_key, pack, pack_all

# A CREATE|ONDIR of "d" as Linux 6.18 wrote it on x86-64 (tmpfs, FAN_REPORT_DFID_NAME
# with TARGET_FID and PIDFD): metadata, DFID_NAME, FID, PIDFD.
GOLDEN = bytes.fromhex(
    "64000000"
    "03"
    "00"
    "1800"
    "4001004000000000"
    "ffffffff"
    "0b2e0000"  # metadata
    "02002400"
    "fe01a56b40150186"
    "0c000000"
    "01000000"
    "6f193cd40100000000000000"
    "6400"
    "0000"  # DFID_NAME: fsid, handle_bytes 12, type 1, handle, "d" NUL, pad
    "01002000"
    "fe01a56b40150186"
    "0c000000"
    "01000000"
    "bf161a070200000000000000"  # FID
    "04000800"
    "04000000"  # PIDFD 4
)


def test_golden_create_dir() -> None:
    (ev,) = parse(GOLDEN)
    assert ev.mask == 0x40000140
    assert ev.pid == 0x2E0B and ev.fd == -1
    assert ev.name == b"d"
    assert ev.dir is not None and key_fsid(ev.dir) == bytes.fromhex("fe01a56b40150186")
    assert key_handle(ev.dir) == (1, bytes.fromhex("6f193cd40100000000000000"))
    assert ev.fid is not None and key_handle(ev.fid) == (
        1,
        bytes.fromhex("bf161a070200000000000000"),
    )
    assert ev.pidfd == 4
    assert ev.old_dir is None and ev.new_dir is None and ev.error is None


def test_golden_overflow_has_no_records() -> None:
    buf = struct.pack("=IBBHQii", 24, 3, 0, 24, 0x4000, -1, 0)
    assert parse(buf) == [RawEvent(0x4000, 0, -1)]


def test_rename_records() -> None:
    d1 = fid_key(b"A" * 8, 1, b"x" * 8)
    d2 = fid_key(b"A" * 8, 1, b"y" * 12)
    child = fid_key(b"A" * 8, 1, b"z" * 8)
    ev = RawEvent(0x10000000, 7, -1, child, None, None, d1, b"old", d2, b"new", -1)
    assert parse(pack(ev)) == [ev]


def test_unknown_record_type_is_skipped() -> None:
    base = pack(RawEvent(0x2, 5, -1))
    rec = struct.pack("=BBH", 99, 0, 8) + b"abcd"
    buf = struct.pack("=I", len(base) + 8) + base[4:] + rec
    assert parse(buf) == [RawEvent(0x2, 5, -1)]


def test_error_record() -> None:
    ev = RawEvent(0x8000, 0, -1, fid_key(b"B" * 8, 1, b"q" * 8), error=(5, 3))
    assert parse(pack(ev)) == [ev]


@pytest.mark.parametrize("cut", [1, 10, 23, 30, len(GOLDEN) - 1])
def test_truncated_buffer_raises(cut: int) -> None:
    with pytest.raises(FanotifyParseError):
        parse(GOLDEN[:cut])


def test_wrong_version_raises() -> None:
    bad = GOLDEN[:4] + b"\x02" + GOLDEN[5:]
    with pytest.raises(FanotifyParseError, match="version 2"):
        parse(bad)


def test_record_length_outside_event_raises() -> None:
    bad = bytearray(GOLDEN)
    struct.pack_into("=H", bad, 24 + 2, 200)  # DFID_NAME claims 200 bytes
    with pytest.raises(FanotifyParseError, match="outside its event"):
        parse(bytes(bad))


def test_handle_overrunning_record_raises() -> None:
    bad = bytearray(GOLDEN)
    struct.pack_into("=I", bad, 24 + 4 + 8, 64)  # handle_bytes 64 in a 28-byte record
    with pytest.raises(FanotifyParseError, match="overruns"):
        parse(bytes(bad))


def test_name_without_nul_raises() -> None:
    dir_key = fid_key(b"A" * 8, 1, b"x" * 8)
    body = dir_key + b"abcd"  # exactly fills the record: no NUL
    rec = struct.pack("=BBH", 2, 0, len(body) + 4) + body
    meta = struct.pack("=IBBHQii", 24 + len(rec), 3, 0, 24, 0x100, -1, 1)
    with pytest.raises(FanotifyParseError, match="NUL"):
        parse(meta + rec)


def test_event_len_shorter_than_metadata_raises() -> None:
    buf = struct.pack("=IBBHQii", 16, 3, 0, 24, 1, -1, 1)
    with pytest.raises(FanotifyParseError, match="bad lengths"):
        parse(buf)


_keys = st.builds(
    fid_key,
    st.binary(min_size=8, max_size=8),
    st.integers(min_value=-(2**31), max_value=2**31 - 1),
    st.binary(min_size=0, max_size=40),
)
_names = st.binary(min_size=1, max_size=40).filter(lambda b: b"\0" not in b)


@st.composite
def _events(draw: st.DrawFn) -> RawEvent:
    named = draw(st.booleans())
    dir_ = draw(st.none() | _keys)
    name = draw(_names) if dir_ is not None and named else None
    rename = draw(st.booleans())
    return RawEvent(
        mask=draw(st.integers(min_value=0, max_value=2**64 - 1)),
        pid=draw(st.integers(min_value=-(2**31), max_value=2**31 - 1)),
        fd=draw(st.integers(min_value=-(2**31), max_value=2**31 - 1)),
        fid=draw(st.none() | _keys),
        dir=dir_,
        name=name,
        old_dir=draw(_keys) if rename else None,
        old_name=draw(_names) if rename else None,
        new_dir=draw(_keys) if rename else None,
        new_name=draw(_names) if rename else None,
        pidfd=draw(st.none() | st.integers(min_value=-2, max_value=2**31 - 1)),
        error=draw(
            st.none()
            | st.tuples(
                st.integers(min_value=-(2**31), max_value=2**31 - 1),
                st.integers(min_value=0, max_value=2**32 - 1),
            )
        ),
    )


@given(st.lists(_events(), max_size=8))
def test_round_trip(events: list[RawEvent]) -> None:
    assert parse(pack_all(events)) == events


@given(st.lists(_events(), min_size=1, max_size=4), st.data())
def test_any_truncation_raises(events: list[RawEvent], data: st.DataObject) -> None:
    buf = pack_all(events)
    cut = data.draw(st.integers(min_value=1, max_value=len(buf) - 1))
    # A cut on an event boundary is a shorter valid buffer; anywhere else must raise.
    bounds = set()
    pos = 0
    for e in events:
        pos += len(pack(e))
        bounds.add(pos)
    if cut in bounds:
        assert parse(buf[:cut]) == events[: len([b for b in bounds if b <= cut])]
    else:
        with pytest.raises(FanotifyParseError):
            parse(buf[:cut])
