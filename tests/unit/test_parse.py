"""The wire-format parser, on packed bytes: golden cases and properties."""

from __future__ import annotations

import struct
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inwatch import EventParseError, Mask, RawEvent, parse_events
from inwatch.inotify.wire import HEADER_SIZE, pack_event, parse_records


def header(wd: int, mask: int, cookie: int, length: int) -> bytes:
    return struct.pack("=iIII", wd, mask, cookie, length)


# --- golden cases ----------------------------------------------------------------

# What the kernel sent on x86-64 for: touch f (in a watched dir), mkdir sub, an
# overflow, then rm of the watched dir itself: CREATE "f", CREATE|ISDIR "sub",
# Q_OVERFLOW (wd -1), DELETE_SELF, IGNORED.
GOLDEN = bytes.fromhex(
    "01000000" "00010000" "00000000" "10000000" "66000000000000000000000000000000"
    "01000000" "00010040" "00000000" "10000000" "73756200000000000000000000000000"
    "ffffffff" "00400000" "00000000" "00000000"
    "01000000" "00040000" "00000000" "00000000"
    "01000000" "00800000" "00000000" "00000000"
)  # fmt: skip


def test_golden_buffer_with_several_events() -> None:
    assert parse_events(GOLDEN) == [
        RawEvent(1, Mask.CREATE, 0, b"f"),
        RawEvent(1, Mask.CREATE | Mask.ISDIR, 0, b"sub"),
        RawEvent(-1, Mask.Q_OVERFLOW, 0, b""),
        RawEvent(1, Mask.DELETE_SELF, 0, b""),
        RawEvent(1, Mask.IGNORED, 0, b""),
    ]


def test_events_are_plain_ints_and_bytes() -> None:
    for ev in parse_events(memoryview(GOLDEN)):
        assert type(ev) is RawEvent
        assert type(ev.wd) is int and type(ev.mask) is int and type(ev.cookie) is int
        assert type(ev.name) is bytes
    assert RawEvent._fields == ("wd", "mask", "cookie", "name")


@pytest.mark.parametrize("kind", [bytes, bytearray, memoryview])
def test_accepts_any_bytes_like(kind: type) -> None:
    assert parse_events(kind(GOLDEN)) == parse_events(GOLDEN)


def test_parse_records_is_the_same_parse_as_plain_tuples() -> None:
    records = parse_records(GOLDEN)
    assert records == [tuple(e) for e in parse_events(GOLDEN)]
    assert all(type(r) is tuple for r in records)
    with pytest.raises(EventParseError):
        parse_records(GOLDEN[:-1])


def test_empty_buffer_is_no_events() -> None:
    assert parse_events(b"") == []


def test_rename_pair_keeps_cookie_and_full_uint32_fields() -> None:
    buf = (
        header(7, Mask.MOVED_FROM, 0xFFFFFFFF, 16)
        + b"old\0".ljust(16, b"\0")
        + header(2**31 - 1, Mask.MOVED_TO | Mask.ISDIR, 0xFFFFFFFF, 16)
        + b"new\0".ljust(16, b"\0")
    )
    assert parse_events(buf) == [
        (7, 0x40, 0xFFFFFFFF, b"old"),
        (2**31 - 1, 0x40000080, 0xFFFFFFFF, b"new"),
    ]


@pytest.mark.parametrize(
    ("name", "padded_len"),
    [(b"a", 16), (b"x" * 15, 16), (b"x" * 16, 32), (b"x" * 255, 256)],
)
def test_nul_padding_is_stripped(name: bytes, padded_len: int) -> None:
    packed = pack_event(3, Mask.CREATE, 0, name)
    assert len(packed) == HEADER_SIZE + padded_len
    assert packed[12:16] == struct.pack("=I", padded_len)
    assert parse_events(packed) == [(3, Mask.CREATE, 0, name)]


def test_name_without_padding_is_kept_whole() -> None:
    # The kernel always NUL-terminates; a name that fills its length exactly is
    # still returned as is, not cut.
    assert parse_events(header(1, 1, 0, 3) + b"abc") == [(1, 1, 0, b"abc")]


def test_non_utf8_names_are_returned_as_bytes() -> None:
    buf = pack_event(1, Mask.CREATE, 0, b"caf\xe9") + pack_event(1, Mask.DELETE, 0, b"\xff\xfe")
    assert [e.name for e in parse_events(buf)] == [b"caf\xe9", b"\xff\xfe"]


def test_overflow_event_keeps_wd_minus_one() -> None:
    [ev] = parse_events(pack_event(-1, Mask.Q_OVERFLOW))
    assert ev == (-1, Mask.Q_OVERFLOW, 0, b"")


# --- corrupt buffers -----------------------------------------------------------


def test_truncated_header_raises_with_the_offset() -> None:
    with pytest.raises(EventParseError) as err:
        parse_events(GOLDEN[:5])
    assert err.value.offset == 0
    with pytest.raises(EventParseError) as err:
        parse_events(GOLDEN[: 32 + 10])  # one whole event, then 10 bytes of a header
    assert err.value.offset == 32
    assert "header" in str(err.value) and "32" in str(err.value)


def test_truncated_name_raises_with_the_offset_of_its_event() -> None:
    with pytest.raises(EventParseError) as err:
        parse_events(GOLDEN[: 32 + 16 + 3])  # second event: header, 3 of 16 name bytes
    assert err.value.offset == 32
    assert "16" in str(err.value)


def test_huge_length_field_raises_instead_of_allocating() -> None:
    with pytest.raises(EventParseError) as err:
        parse_events(header(1, 1, 0, 0xFFFFFFFF) + b"abc")
    assert err.value.offset == 0


def test_event_parse_error_is_a_value_error() -> None:
    assert issubclass(EventParseError, ValueError)
    with pytest.raises(ValueError):
        parse_events(b"\0" * 17)


def test_pack_event_refuses_names_the_kernel_cannot_send() -> None:
    with pytest.raises(ValueError):
        pack_event(1, 1, 0, b"a\0b")
    with pytest.raises(ValueError):
        pack_event(1, 1, 0, b"x" * 256)


# --- properties -------------------------------------------------------------------

names = st.lists(st.integers(1, 255).filter(lambda b: b != 0x2F), max_size=255).map(bytes)
events = st.tuples(
    st.integers(-(2**31), 2**31 - 1),
    st.integers(0, 2**32 - 1),
    st.integers(0, 2**32 - 1),
    names,
)


@given(st.lists(events, max_size=40), st.sampled_from([1, 4, 16]))
def test_packed_events_round_trip(evs: list[tuple[int, int, int, bytes]], pad_to: int) -> None:
    buf = b"".join(pack_event(wd, mask, cookie, name, pad_to) for wd, mask, cookie, name in evs)
    assert parse_events(buf) == [RawEvent(*ev) for ev in evs]
    assert parse_events(bytearray(buf)) == [RawEvent(*ev) for ev in evs]
    assert parse_records(buf) == evs


@given(st.lists(events, min_size=1, max_size=10), st.data())
def test_any_cut_inside_a_record_raises_and_a_cut_between_records_parses(
    evs: list[tuple[int, int, int, bytes]], data: st.DataObject
) -> None:
    packed = [pack_event(*ev) for ev in evs]
    buf = b"".join(packed)
    boundaries = {0}
    pos = 0
    for p in packed:
        pos += len(p)
        boundaries.add(pos)
    cut = data.draw(st.integers(0, len(buf)))
    if cut in boundaries:
        count = sorted(boundaries).index(cut)
        assert parse_events(buf[:cut]) == [RawEvent(*ev) for ev in evs[:count]]
    else:
        with pytest.raises(EventParseError) as err:
            parse_events(buf[:cut])
        assert max(b for b in boundaries if b < cut) == err.value.offset


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=8192))
def test_arbitrary_bytes_parse_or_raise_event_parse_error_quickly(buf: bytes) -> None:
    start = time.process_time()
    try:
        result = parse_events(buf)
    except EventParseError as err:
        assert 0 <= err.offset <= len(buf)
    else:
        # Every record takes a header at least; names come from inside the buffer.
        assert len(result) <= len(buf) // HEADER_SIZE
        for ev in result:
            assert type(ev.name) is bytes and len(ev.name) <= len(buf) - HEADER_SIZE
    # At most len/16 records: linear, never a loop that does not advance.
    assert time.process_time() - start < 1.0


@given(st.lists(events, max_size=8), st.binary(max_size=64), st.integers(0, 2**32 - 1))
def test_garbage_after_valid_records_never_escapes_as_another_error(
    evs: list[tuple[int, int, int, bytes]], tail: bytes, length: int
) -> None:
    buf = b"".join(pack_event(*ev) for ev in evs) + header(1, 2, 3, length) + tail
    try:
        result = parse_events(buf)
    except EventParseError as err:
        assert err.offset >= len(buf) - len(tail) - HEADER_SIZE  # past the valid records
    else:
        assert result[: len(evs)] == [RawEvent(*ev) for ev in evs]
        assert result[len(evs)][:3] == (1, 2, 3)
