"""The C parser against the pure one: same input, same output, same error.

Random valid streams (records from ``pack_event``, any padding), random
truncations, garbage bytes anywhere, and every bytes-like kind the parser takes.
Skipped only where the accelerator was not built and not required
(``INWATCH_ACCEL=1`` makes a missing accelerator a failure).
"""

from __future__ import annotations

import struct
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inwatch import EventParseError
from inwatch.inotify.wire import pack_event, parse_flat_py

from .accel_bound import bound_accelerator

_native = bound_accelerator


@pytest.fixture(scope="module")
def c_parse() -> Any:
    return _native().parse_flat


def outcome(parse: Any, data: Any) -> tuple[str, Any]:
    try:
        flat = parse(data)
    except EventParseError as e:
        return ("error", (str(e), e.offset, e.args))
    except Exception as e:  # the same other error, if any (bytes() of a bad input)
        return ("other", (type(e), str(e)))
    return ("ok", (flat, [type(x) for x in flat]))


def same(c_parse: Any, data: Any) -> tuple[str, Any]:
    pure = outcome(parse_flat_py, data)
    fast = outcome(c_parse, data)
    assert fast == pure, data
    return pure


names = st.binary(min_size=1, max_size=255).filter(lambda n: b"\0" not in n)
records = st.tuples(
    st.integers(-(2**31), 2**31 - 1),
    st.integers(0, 2**32 - 1),
    st.integers(0, 2**32 - 1),
    st.one_of(st.just(b""), names),
    st.sampled_from([1, 4, 16, 32]),
)
streams = st.lists(records, max_size=40).map(
    lambda rs: b"".join(pack_event(wd, m, c, n, pad_to=p) for wd, m, c, n, p in rs)
)
kinds = st.sampled_from([bytes, bytearray, memoryview])


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(streams, kinds)
def test_valid_streams_parse_the_same(c_parse: Any, data: bytes, kind: Any) -> None:
    kind_, result = same(c_parse, kind(data))
    assert kind_ == "ok"
    assert len(result[0]) % 4 == 0


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(streams, st.data(), kinds)
def test_truncated_streams_fail_the_same(
    c_parse: Any, data: bytes, draw: st.DataObject, kind: Any
) -> None:
    cut = draw.draw(st.integers(0, len(data)))
    same(c_parse, kind(data[:cut]))


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(streams, st.data(), st.binary(min_size=1, max_size=64), kinds)
def test_garbage_anywhere_gives_the_same_answer(
    c_parse: Any, data: bytes, draw: st.DataObject, junk: bytes, kind: Any
) -> None:
    at = draw.draw(st.integers(0, len(data)))
    same(c_parse, kind(data[:at] + junk + data[at:]))


@settings(max_examples=300)
@given(st.binary(max_size=512), kinds)
def test_random_bytes_give_the_same_answer(c_parse: Any, data: bytes, kind: Any) -> None:
    same(c_parse, kind(data))


def test_both_truncation_errors_with_their_offsets(c_parse: Any) -> None:
    one = pack_event(1, 0x100, 0, b"name")  # 16 + 16 bytes
    assert same(c_parse, one + one[:10]) == (
        "error",
        (
            f"truncated inotify event: 10 bytes left at offset {len(one)}, a header needs 16",
            len(one),
            (f"truncated inotify event: 10 bytes left at offset {len(one)}, a header needs 16",),
        ),
    )
    kind_, (message, offset, _args) = same(c_parse, one + one[:-1])
    assert kind_ == "error" and offset == len(one)
    assert message == (
        f"truncated inotify event: name of 16 bytes at offset {len(one) + 16} "
        f"runs past the end of a {2 * len(one) - 1}-byte buffer"
    )


def test_a_huge_name_length_is_a_truncation_not_a_crash(c_parse: Any) -> None:
    head = struct.pack("=iIII", 1, 0x100, 0, 2**32 - 1)
    kind_, (_message, offset, _args) = same(c_parse, head + b"x" * 8)
    assert kind_ == "error" and offset == 0


def test_other_inputs_behave_as_bytes_of_them(c_parse: Any) -> None:
    # parse_flat_py takes bytes(buf) of whatever it is given: so does the C one.
    assert same(c_parse, 16)[0] == "ok"  # bytes(16): one empty-named record of zeros
    assert same(c_parse, [1, 0, 0, 0] + [0] * 12)[0] == "ok"
    assert same(c_parse, "text")[0] == "other"  # TypeError, both
    assert same(c_parse, memoryview(b"\0" * 64)[::2])[0] == "ok"  # not contiguous


def test_non_ascii_and_padding_names_round_trip(c_parse: Any) -> None:
    data = pack_event(3, 0x2, 7, "é\udcff".encode("utf-8", "surrogateescape"), pad_to=32)
    assert same(c_parse, data) == (
        "ok",
        ([3, 0x2, 7, "é\udcff".encode("utf-8", "surrogateescape")], [int, int, int, bytes]),
    )
