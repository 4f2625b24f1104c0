"""MovePairer: MOVED_FROM / MOVED_TO pairing by cookie, settled by read start times."""

from __future__ import annotations

from inwatch.inotify.moves import MovePairer


def test_arrival_pairs_with_its_departure_once() -> None:
    m: MovePairer[str] = MovePairer(window=0.002)
    m.depart(7, "/r/a", read_at=100.0)
    assert len(m) == 1
    assert m.arrive(7) == "/r/a"
    assert m.arrive(7) is None  # consumed
    assert len(m) == 0
    assert m.deadline() is None


def test_arrival_from_outside_has_no_departure() -> None:
    m: MovePairer[str] = MovePairer()
    m.depart(1, "x", read_at=1.0)
    assert m.arrive(2) is None
    assert len(m) == 1


def test_a_departure_is_gone_only_after_a_later_read_past_the_window() -> None:
    m: MovePairer[str] = MovePairer(window=0.002)
    m.depart(1, "first", read_at=100.0)
    m.depart(2, "second", read_at=100.001)
    assert m.deadline() == 100.002
    # A read that started before the window passed may have missed the MOVED_TO.
    assert m.gone(horizon=100.0015) == []
    assert m.gone(horizon=100.002) == ["first"]
    assert len(m) == 1
    assert m.gone(horizon=200.0) == ["second"]
    assert m.gone(horizon=300.0) == []


def test_the_arrival_in_the_next_read_wins_over_the_deadline() -> None:
    m: MovePairer[tuple[str, int]] = MovePairer(window=0.002)
    m.depart(9, ("/r/d", 4), read_at=10.0)
    # The next read (started 0.5 ms later) brings the MOVED_TO.
    assert m.arrive(9) == ("/r/d", 4)
    assert m.gone(horizon=11.0) == []
