"""The replay checker on hand-written event streams (pure: no kernel).

Each divergence class is shown to be caught, and the legitimate streams the
kernel and the Watcher produce (renames over an existing name, moves in and out,
an overflow followed by a rescan) are shown to replay exactly.
"""

from __future__ import annotations

from .replay import (
    IN_CREATE,
    IN_DELETE,
    IN_ISDIR,
    IN_MODIFY,
    IN_MOVED_FROM,
    IN_MOVED_TO,
    IN_OPEN,
    IN_Q_OVERFLOW,
    Rec,
    replay,
)

R = b"/w/root"


def p(rel: bytes) -> bytes:
    return R + b"/" + rel


def classes(initial: dict[bytes, str], events: list[Rec], final: dict[bytes, str]) -> list[str]:
    ever = set(initial) | set(final) | {b"gone", b"d", b"d/f", b"n", b"m", b"m/f"}
    divergences, _ = replay(R, initial, events, final, ever)
    return sorted({d.kind for d in divergences})


def test_an_exact_stream_replays_to_the_final_tree() -> None:
    events = [
        Rec(IN_CREATE | IN_ISDIR, p(b"d")),
        Rec(IN_CREATE, p(b"d/f")),
        Rec(IN_MODIFY, p(b"d/f")),
        Rec(IN_MOVED_FROM | IN_ISDIR, p(b"d")),
        Rec(IN_MOVED_TO | IN_ISDIR, p(b"m"), p(b"d")),
        Rec(IN_MOVED_FROM, p(b"a")),  # moved out: never paired
        Rec(IN_MOVED_TO, p(b"b"), None),  # moved in, over the existing b
    ]
    assert classes({b"a": "f", b"b": "f"}, events, {b"m": "d", b"m/f": "f", b"b": "f"}) == []


def test_missing_extra_and_kind() -> None:
    assert classes({}, [], {b"a": "f"}) == ["missing"]
    assert classes({b"a": "f"}, [], {}) == ["extra"]
    assert classes({b"a": "f"}, [], {b"a": "d"}) == ["kind"]


def test_duplicate_create() -> None:
    events = [Rec(IN_CREATE, p(b"a")), Rec(IN_CREATE, p(b"a"), origin="scan")]
    assert classes({}, events, {b"a": "f"}) == ["dup-create"]


def test_an_entry_reported_ahead_of_its_directory_is_an_orphan() -> None:
    # The issue's late adoption: the listing reports m/f before the rename that made m.
    events = [
        Rec(IN_CREATE, p(b"m/f"), origin="scan"),
        Rec(IN_MOVED_FROM | IN_ISDIR, p(b"n")),
        Rec(IN_MOVED_TO | IN_ISDIR, p(b"m"), p(b"n")),
    ]
    assert "orphan" in classes({b"n": "d"}, events, {b"m": "d", b"m/f": "f"})


def test_unknown_sources() -> None:
    assert classes({}, [Rec(IN_DELETE, p(b"gone"))], {}) == ["unknown-source"]
    moved = [Rec(IN_MOVED_TO, p(b"a"), p(b"gone"))]
    assert classes({}, moved, {b"a": "f"}) == ["unknown-source"]


def test_stale_never_was_and_outside() -> None:
    assert classes({}, [Rec(IN_MODIFY, p(b"gone"))], {}) == ["stale"]
    # Issue 10 item 7: n/f reported, though f only ever existed as m/f.
    assert classes({b"m": "d"}, [Rec(IN_CREATE, p(b"zz/f"))], {b"m": "d"}) == [
        "extra",
        "never-was",
        "orphan",
    ]
    assert "outside" in classes({}, [Rec(IN_CREATE, b"/w/out/x")], {})
    assert "outside" in classes({}, [Rec(IN_MOVED_TO, p(b"a"), b"/w/out/a")], {b"a": "f"})


def test_a_directory_read_after_the_last_operation_is_our_own() -> None:
    events = [
        Rec(IN_CREATE | IN_ISDIR, p(b"d")),
        Rec(IN_OPEN | IN_ISDIR, p(b"d")),  # before the sentinel: an operation may have read it
        Rec(IN_CREATE, p(b"s")),
        Rec(IN_OPEN | IN_ISDIR, p(b"d")),
    ]
    final = {b"d": "d", b"s": "f"}
    divergences, _ = replay(R, {}, events, final, {b"d", b"s"}, sentinel=b"s")
    assert [(d.kind, d.path) for d in divergences] == [("own-read", b"d")]


def test_an_overflow_then_a_rescan_converges() -> None:
    events = [
        Rec(IN_CREATE, p(b"a")),
        Rec(IN_Q_OVERFLOW, None),
        Rec(IN_DELETE, p(b"a"), origin="rescan"),
        Rec(IN_CREATE | IN_ISDIR, p(b"d"), origin="rescan"),
        Rec(IN_CREATE, p(b"d/f"), origin="rescan"),
    ]
    divergences, overflows = replay(R, {}, events, {b"d": "d", b"d/f": "f"}, {b"a", b"d", b"d/f"})
    assert (divergences, overflows) == ([], 1)
