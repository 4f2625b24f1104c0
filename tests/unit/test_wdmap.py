"""WdMap (inotify/wdmap.py): wd -> path (or Root) in a list indexed by wd, with a dict
for what does not fit. Checked against a dict doing the same operations, and
for where it puts things (the memory it is there to save)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from inwatch.inotify.wdmap import WdMap


def check(paths: WdMap[str], model: dict[int, str]) -> None:
    assert dict(paths.items()) == model
    assert len(paths) == len(model)
    assert sorted(paths) == sorted(model)
    dense, spill = paths.dense, paths.spill
    assert dense[0] is None
    # The invariant the dispatch loops rely on: one place to look.
    assert not any(0 < wd < len(dense) for wd in spill)
    for wd in [*list(model), -1, 0, len(dense), len(dense) + 5, 10**12]:
        assert paths.get(wd) == model.get(wd)
        assert (wd in paths) == (wd in model)
        # What core.py's loop and the C dispatcher do.
        assert (dense[wd] if 0 < wd < len(dense) else spill.get(wd)) == model.get(wd)


def test_a_walk_is_all_in_the_list() -> None:
    paths = WdMap[str]()
    for wd in range(1, 10_001):
        paths[wd] = f"/t/{wd}"
    assert not paths.spill
    assert len(paths.dense) == 10_001
    assert paths[1] == "/t/1" and paths[10_000] == "/t/10000"


def test_a_hole_is_padded_and_a_far_wd_spills() -> None:
    paths = WdMap[str]()
    model = {}
    for wd in [1, 2, 4, 5]:  # 3: a watch the kernel gave and took back
        paths[wd] = model[wd] = f"/t/{wd}"
    assert not paths.spill and paths.dense[3] is None
    paths[10_000] = model[10_000] = "/far"
    assert paths.spill == {10_000: "/far"}
    check(paths, model)


def test_churn_goes_to_the_dict_not_the_list() -> None:
    """wds only grow: a directory made and deleted over and over must not
    grow the list by a slot each time."""
    paths = WdMap[str]()
    model = {}
    for wd in range(1, 101):
        paths[wd] = model[wd] = f"/t/{wd}"
    for wd in range(101, 100_101):
        paths[wd] = f"/t/tmp{wd}"
        del paths[wd]
    assert len(paths.dense) <= 2 * 101
    check(paths, model)


def test_a_deleted_tree_gives_the_list_back() -> None:
    paths = WdMap[str]()
    model = {}
    for wd in range(1, 50_001):
        paths[wd] = model[wd] = f"/t/{wd}"
    for wd in range(2, 49_000):  # all but the root and the last few
        del paths[wd]
        del model[wd]
    assert len(paths.dense) < 4096  # moved to the dict once a quarter used
    check(paths, model)
    # and new wds still work, wherever they go
    for wd in range(50_001, 50_101):
        paths[wd] = model[wd] = f"/n/{wd}"
    check(paths, model)


def test_a_rename_rewrites_in_place() -> None:
    paths = WdMap[str]()
    paths[1] = "/a"
    paths[5000] = "/far"
    paths[1] = "/b"
    paths[5000] = "/far2"  # in the dict: stays there, counted once
    assert len(paths) == 2 and paths[1] == "/b" and paths[5000] == "/far2"
    del paths[5000]
    assert len(paths) == 1 and 5000 not in paths


def test_the_list_grows_over_a_spilled_wd() -> None:
    paths = WdMap[str]()
    model = {}
    for wd in range(1, 11):
        paths[wd] = model[wd] = f"/t/{wd}"
    paths[30] = model[30] = "/spilled"  # 20 past the end of 11 slots: too sparse for the list
    assert 30 in paths.spill
    for wd in range(11, 41):
        paths[wd] = model[wd] = f"/t/{wd}"
    check(paths, model)
    assert not paths.spill  # taken into the list when it reached it


ops = st.lists(
    st.tuples(st.sampled_from(["set", "set", "set", "del", "far"]), st.integers(1, 300)),
    max_size=400,
)


@settings(max_examples=300, deadline=None)
@given(ops)
def test_same_as_a_dict(script: list[tuple[str, int]]) -> None:
    paths = WdMap[str]()
    model: dict[int, str] = {}
    next_wd = 1
    for op, n in script:
        if op == "set":
            # a new wd as the kernel gives them (counting up, sometimes skipping),
            # or a rename of a live one
            if model and n % 3 == 0:
                wd = sorted(model)[n % len(model)]
            else:
                next_wd += 1 + (n % 7 == 0) * n
                wd = next_wd
            paths[wd] = model[wd] = f"/p/{wd}/{n}"
        elif op == "far":
            next_wd += 5000 + n
            paths[next_wd] = model[next_wd] = f"/f/{next_wd}"
        elif model:
            wd = sorted(model)[n % len(model)]
            del paths[wd]
            del model[wd]
    check(paths, model)


def test_views_are_snapshots_a_concurrent_change_cannot_break() -> None:
    """Watcher.watches is read by callers while the reader thread adds and
    drops watches: a view lists the map as it was, never a KeyError."""
    paths = WdMap[str]()
    for wd in range(1, 4):
        paths[wd] = f"/t/{wd}"
    paths[9000] = "/far"
    items, values = paths.items(), paths.values()
    del paths[2]
    del paths[9000]
    assert dict(items) == {1: "/t/1", 2: "/t/2", 3: "/t/3", 9000: "/far"}
    assert sorted(values) == ["/far", "/t/1", "/t/2", "/t/3"]
    assert dict(paths.items()) == {1: "/t/1", 3: "/t/3"}
