"""MovePairer: MOVED_FROM / MOVED_TO pairing by cookie, on an injected clock."""

from __future__ import annotations

from inwatch.inotify.moves import MovePairer


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_arrival_pairs_with_its_departure_once() -> None:
    clock = Clock()
    m: MovePairer[str] = MovePairer(clock, window=1.0)
    m.depart(7, "/r/a")
    assert len(m) == 1 and m
    assert m.arrive(7) == "/r/a"
    assert m.arrive(7) is None  # consumed
    assert len(m) == 0 and not m


def test_arrival_from_outside_has_no_departure() -> None:
    m: MovePairer[str] = MovePairer(Clock())
    m.depart(1, "x")
    assert m.arrive(2) is None
    assert len(m) == 1


def test_departures_expire_after_the_window_oldest_first() -> None:
    clock = Clock()
    m: MovePairer[str] = MovePairer(clock, window=1.0)
    m.depart(1, "first")
    clock.now += 0.5
    m.depart(2, "second")
    assert m.expired() == []
    clock.now += 0.5  # first's deadline reached exactly
    assert m.expired() == ["first"]
    assert m.arrive(1) is None
    clock.now += 10
    assert m.expired() == ["second"]
    assert m.expired() == [] and len(m) == 0


def test_an_arrival_within_the_window_is_still_paired() -> None:
    clock = Clock()
    m: MovePairer[tuple[str, int | None]] = MovePairer(clock, window=0.25)
    m.depart(5, ("/r/d", 3))
    clock.now += 0.2
    assert m.expired() == []
    assert m.arrive(5) == ("/r/d", 3)


def test_a_reused_cookie_replaces_the_older_departure() -> None:
    clock = Clock()
    m: MovePairer[str] = MovePairer(clock, window=1.0)
    m.depart(9, "old")
    m.depart(9, "new")
    assert len(m) == 1
    assert m.arrive(9) == "new"


def test_many_departures_interleaved() -> None:
    clock = Clock()
    m: MovePairer[int] = MovePairer(clock, window=1.0)
    for cookie in range(1000):
        m.depart(cookie, cookie * 10)
    for cookie in range(0, 1000, 2):
        assert m.arrive(cookie) == cookie * 10
    clock.now += 2
    assert sorted(m.expired()) == [c * 10 for c in range(1, 1000, 2)]
