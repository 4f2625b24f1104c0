"""Root options and the one predicate (pure): inwatch.filters."""

from __future__ import annotations

from inwatch.filters import ALL_EVENTS, UNASKED, Root, make_excluder

CREATE, MODIFY, IGNORED = 0x100, 0x2, 0x8000


def test_globs_match_the_name_or_the_path_relative_to_the_root() -> None:
    ex = make_excluder(["*.tmp", "build/cache"])
    assert ex is not None
    assert ex("a/b.tmp", "b.tmp", "/r/a/b.tmp")
    assert ex("build/cache", "cache", "/r/build/cache")
    assert not ex("src/cache", "cache", "/r/src/cache")
    assert make_excluder([]) is None and make_excluder(None) is None


def test_a_root_delivers_its_mask_and_the_kernels_own_news() -> None:
    root = Root("/r", CREATE, True, make_excluder(["*.o"]), False, False)
    assert root.passes(CREATE, "a.c", "/r/a.c")
    assert not root.passes(CREATE, "a.o", "/r/a.o")
    assert not root.passes(MODIFY, "a.c", "/r/a.c")
    assert root.passes(IGNORED, "", "/r")  # always delivered
    assert root.filters and not root.is_default


def test_the_default_root_needs_no_filtering() -> None:
    root = Root("/r", ALL_EVENTS, True, None, False, False)
    assert root.is_default and not root.filters
    assert root.rel("/r/a/b") == "a/b" and root.rel("/r") == ""
    assert Root("/", ALL_EVENTS, True, None, False, False).rel("/etc") == "etc"


def test_a_root_filtered_by_its_mask_alone_is_narrow() -> None:
    # narrow: the bits the dispatchers' hot path ANDs an event's mask with.
    root = Root("/r", CREATE, True, None, False, False)
    assert root.filters and root.narrow == root.deliver == CREATE | UNASKED
    # Anything else needs Root.passes and Event's own constructor: 0.
    assert Root("/r", CREATE, True, make_excluder(["*.o"]), False, False).narrow == 0
    assert Root("/r", CREATE, True, None, False, True).narrow == 0  # bytes paths
    assert Root("/", CREATE, True, None, False, False).narrow == 0  # "/" + name


def test_widening_a_root_widens_what_its_hot_path_lets_through() -> None:
    root = Root("/r", CREATE, True, None, False, False)
    root.widen(MODIFY)
    assert root.mask == CREATE | MODIFY
    assert root.narrow == root.deliver == CREATE | MODIFY | UNASKED
    excluding = Root("/r", CREATE, True, make_excluder(["*.o"]), False, False)
    excluding.widen(MODIFY)
    assert excluding.deliver & MODIFY and excluding.narrow == 0
