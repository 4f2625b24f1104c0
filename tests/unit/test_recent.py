"""Held findings and echo windows (pure): inwatch.inotify.recent."""

from __future__ import annotations

from inwatch.inotify.recent import Recent

CREATE, DELETE, MODIFY, MOVED_TO, MOVED_FROM, ISDIR = 0x100, 0x200, 0x2, 0x80, 0x40, 0x40000000


def test_released_only_after_a_read_that_started_later() -> None:
    r = Recent()
    r.hold(1, "f", CREATE, "scan", until=10.0)
    assert r.due(horizon=9.5) == []  # that read may not hold what explains f yet
    [item] = r.due(horizon=10.5)
    assert (item.wd, item.name, item.mask) == (1, "f", CREATE)
    assert not r


def test_the_kernels_create_replaces_the_held_one() -> None:
    r = Recent()
    r.hold(1, "f", CREATE, "scan", until=10.0)
    assert r.settle(1, "f", CREATE) == []  # no duplicate: the kernel's stands
    assert r.due(horizon=11.0) == []


def test_a_departure_releases_the_held_create_first() -> None:
    r = Recent()
    r.hold(1, "f", CREATE, "scan", until=10.0)
    [item] = r.settle(1, "f", DELETE)
    assert item.mask == CREATE  # delivered before the kernel's DELETE


def test_held_rescan_delete_gives_way_to_the_kernels() -> None:
    r = Recent()
    r.hold(1, "g", DELETE, "rescan", until=10.0)
    assert r.settle(1, "g", DELETE) == []
    r.hold(1, "h", DELETE, "rescan", until=10.0)
    [item] = r.settle(1, "h", CREATE)  # deleted while blind, created again since
    assert item.mask == DELETE


def test_an_event_inside_a_held_directory_releases_its_chain_parents_first() -> None:
    r = Recent()
    r.hold(1, "d", CREATE | ISDIR, "scan", until=10.0)
    r.adopt(1, "d", 2)
    r.hold(2, "e", CREATE | ISDIR, "scan", until=10.0)
    r.adopt(2, "e", 3)
    r.hold(1, "other", CREATE, "scan", until=10.0)
    released = r.inside(3)  # e.g. a kernel MODIFY of d/e itself
    assert [(i.wd, i.name) for i in released] == [(1, "d"), (2, "e")]
    assert [(i.wd, i.name) for i in r.due(horizon=11.0)] == [(1, "other")]


def test_echo_windows_end_with_the_same_horizon() -> None:
    r = Recent()
    r.quiet(1, b"d", until=5.0)
    assert r.is_echo(1, b"d") and not r.is_echo(1, b"x")
    r.due(horizon=4.0)
    assert r.is_echo(1, b"d")
    r.due(horizon=6.0)
    assert not r.is_echo(1, b"d") and not r


def test_dropping_a_directory_forgets_what_was_held_in_it() -> None:
    r = Recent()
    r.hold(7, "f", CREATE, "scan", until=1.0)
    r.quiet(7, b"g", until=1.0)
    r.drop_dirs({7})
    assert not r
