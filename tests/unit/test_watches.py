"""WatchTable: the wd <-> path table (pure; no kernel)."""

from __future__ import annotations

import random

import pytest

from inwatch.inotify.table import WatchTable, join, parent_of


def tree(*spec: tuple[int, str, int | None]) -> WatchTable:
    t = WatchTable()
    for wd, path, parent in spec:
        t.add(wd, path, parent)
    return t


def check(t: WatchTable) -> None:
    """The invariants every operation keeps."""
    for parent in t.children:
        kids = t.kids(parent)
        assert kids, f"empty children list kept for {parent}"
        assert parent in t.paths
        assert t.wds.get(t.paths[parent]) == parent, "a parent must be found by path"
        for kid in kids:
            assert parent_of(t.paths[kid]) == t.paths[parent]
    for path, wd in t.wds.items():
        assert t.paths[wd] == path
    for wd, path in t.paths.items():
        assert t.wd_of(path) == wd, (wd, path)


def test_join_and_parent_of() -> None:
    assert join("/a", "b") == "/a/b"
    assert join("/", "b") == "/b"
    assert parent_of("/a/b") == "/a"
    assert parent_of("/a") == "/"


def test_add_and_lookup() -> None:
    t = tree((1, "/r", None), (2, "/r/a", 1), (3, "/r/a/b", 2), (4, "/r/c", 1))
    check(t)
    assert len(t) == 4
    assert t.wd_of("/r/a/b") == 3
    assert t.wd_of("/r/nope") is None
    assert t.wd_of("/elsewhere/x") is None
    assert t.subtree(1) == [1, 2, 4, 3]
    assert t.subtree(3) == [3]
    # Leaves cost no path -> wd entry.
    assert "/r/c" not in t.wds and "/r/a/b" not in t.wds


def test_same_wd_twice_keeps_its_first_path() -> None:
    t = tree((1, "/r", None), (2, "/r/a", 1))
    t.add(2, "/r/a", 1)
    t.add(2, "/r/alias", 1)  # the kernel hands back the wd of a watched inode
    assert t.paths[2] == "/r/a"
    check(t)


def test_discard_forgets_one_watch_not_its_children() -> None:
    t = tree((1, "/r", None), (2, "/r/a", 1), (3, "/r/a/b", 2))
    assert t.discard(2) == "/r/a"
    assert t.discard(2) is None
    assert 2 not in t.paths and 1 not in t.children
    assert t.paths[3] == "/r/a/b"  # until its own IGNORED
    assert t.discard(3) == "/r/a/b"
    check(t)
    assert t.paths == {1: "/r"}


def test_move_rewrites_the_subtree_only() -> None:
    t = tree(
        (1, "/r", None),
        (2, "/r/a", 1),
        (3, "/r/a/b", 2),
        (4, "/r/a/b/c", 3),
        (5, "/r/ab", 1),  # shares a prefix with /r/a: must not be rewritten
        (6, "/r/z", 1),
    )
    t.move(2, "/r/z/n", 6)
    check(t)
    assert t.paths == {
        1: "/r",
        2: "/r/z/n",
        3: "/r/z/n/b",
        4: "/r/z/n/b/c",
        5: "/r/ab",
        6: "/r/z",
    }
    assert t.wd_of("/r/a") is None
    assert t.subtree(6) == [6, 2, 3, 4]


def test_move_of_an_unknown_wd_or_to_the_same_path_is_a_no_op() -> None:
    t = tree((1, "/r", None), (2, "/r/a", 1))
    t.move(9, "/r/x", 1)
    t.move(2, "/r/a", 1)
    assert t.paths == {1: "/r", 2: "/r/a"}
    check(t)


def test_move_over_a_replaced_directory_keeps_it_until_its_ignored() -> None:
    """rename(src, dst) over an empty watched dst: dst's DELETE_SELF and IGNORED
    follow and must still find its path; it is out of the tree meanwhile."""
    t = tree(
        (1, "/r", None), (2, "/r/p", 1), (3, "/r/p/dst", 2), (4, "/r/src", 1), (5, "/r/src/i", 4)
    )
    t.move(4, "/r/p/dst", 2)
    assert t.paths[3] == "/r/p/dst"  # the replaced one, until its IGNORED
    assert t.wd_of("/r/p/dst") == 4
    assert 3 not in t.subtree(1)
    t.move(2, "/r/q", 1)  # a later rename of the parent does not trip on it
    assert t.paths[5] == "/r/q/dst/i"
    assert t.discard(3) == "/r/p/dst"
    check(t)
    assert sorted(t.paths.values()) == ["/r", "/r/q", "/r/q/dst", "/r/q/dst/i"]


def test_a_stale_path_is_replaced_by_a_new_watch() -> None:
    """rmdir a; mkdir a: the new a's watch may be added before the old one's
    IGNORED is read."""
    t = tree((1, "/r", None), (2, "/r/a", 1))
    t.add(7, "/r/a", 1)
    assert t.wd_of("/r/a") == 7 and 2 not in t.paths
    check(t)


def test_nested_root_links_under_the_enclosing_tree() -> None:
    t = tree((1, "/r", None), (2, "/r/a", 1))
    t.add(3, "/r/a/sub", None)  # a second add() of a directory inside the tree
    assert 3 in t.roots
    assert t.subtree(1) == [1, 2, 3]
    check(t)


@pytest.mark.parametrize("seed", range(20))
def test_random_operations_keep_the_invariants(seed: int) -> None:
    """Random adds, renames (with subtree rewrite) and discards against a model
    that recomputes every path from scratch."""
    rng = random.Random(seed)
    t = WatchTable()
    t.add(1, "/r", None)
    model = {1: "/r"}
    next_wd = 2
    for _ in range(300):
        op = rng.random()
        wds = sorted(model)
        if op < 0.5 or len(model) < 3:
            parent = rng.choice(wds)
            path = join(model[parent], f"d{next_wd}")
            t.add(next_wd, path, parent)
            model[next_wd] = path
            next_wd += 1
        elif op < 0.8:
            wd = rng.choice([w for w in wds if w != 1])
            old = model[wd]
            targets = [w for w in wds if not (model[w] + "/").startswith(old + "/")]
            parent = rng.choice(targets)
            new = join(model[parent], f"m{next_wd}")
            next_wd += 1
            t.move(wd, new, parent)
            for w, p in list(model.items()):
                if p == old or p.startswith(old + "/"):
                    model[w] = new + p[len(old) :]
        else:
            # rmdir of a leaf directory: its IGNORED forgets it.
            leaves = [w for w in wds if w != 1 and not t.children.get(w)]
            if not leaves:
                continue
            wd = rng.choice(leaves)
            t.discard(wd)
            del model[wd]
        assert t.paths == model
        check(t)


def test_a_run_of_child_wds_is_kept_as_one_int() -> None:
    """A walk watches a directory's subdirectories one after the other, and the
    kernel hands out increasing wds: a run costs one int, not a list."""
    t = tree((1, "/r", None), (2, "/r/a", 1), (3, "/r/b", 1), (4, "/r/c", 1), (5, "/r/c/x", 4))
    assert t.kids(1) == range(2, 5) and t.kids(4) == range(5, 6)
    # A run that starts at its parent's wd + 1 (a walk's) is its count alone: a
    # small int CPython caches, no object per directory.
    assert t.children[1] == 3 and t.children[4] == 1
    check(t)
    t.discard(2)  # the first of a run: still a run, its start stored
    assert t.kids(1) == range(3, 5)
    assert t.children[1] == 3 << 24 | 2
    t.add(9, "/r/d", 1)  # not the next wd: the run is broken, an array from now on
    assert list(t.kids(1)) == [3, 4, 9]
    t.add(10, "/r/e", 1)
    assert list(t.kids(1)) == [3, 4, 9, 10]
    check(t)


def test_a_run_not_next_to_its_parent_stores_its_start() -> None:
    t = tree((1, "/r", None), (5, "/r/a", 1), (6, "/r/b", 1), (7, "/s", None), (8, "/s/a", 7))
    assert t.kids(1) == range(5, 7) and t.children[1] == 5 << 24 | 2
    assert t.kids(7) == range(8, 9) and t.children[7] == 1
    t.discard(6)  # the end of a run
    assert t.kids(1) == range(5, 6)
    t.discard(8)
    assert 7 not in t.children
    t.add(8, "/s/b", 7)  # wd + 1 again: relative again
    assert t.children[7] == 1 and t.kids(7) == range(8, 9)
    check(t)


@pytest.mark.parametrize("which", [0, 1, 2])
def test_leaving_a_run_from_its_start_middle_or_end(which: int) -> None:
    t = tree((1, "/r", None), (2, "/r/a", 1), (3, "/r/b", 1), (4, "/r/c", 1), (5, "/z", None))
    gone = 2 + which
    t.move(gone, f"/z/m{gone}", 5)  # renamed out of /r
    assert list(t.kids(1)) == [w for w in (2, 3, 4) if w != gone]
    assert t.subtree(5) == [5, gone]
    check(t)
    for wd in (2, 3, 4):
        t.discard(wd)
    assert 1 not in t.children and "/r" in t.wds  # a root stays found by path
    check(t)


def test_fresh_children_skip_only_the_sibling_scan() -> None:
    """fresh: the parent's children are all from one listing, each under its
    own name; a root at the same path (found by path, not by scan) is still
    replaced."""
    t = tree((1, "/r", None), (2, "/r/a", None))
    t.add(3, "/r/a", 1, fresh=True)  # the old /r/a (a root) was replaced
    assert 2 not in t.paths and t.wd_of("/r/a") == 3
    t.add(4, "/r/b", 1, fresh=True)
    assert t.kids(1) == range(3, 5)
    check(t)


@pytest.mark.parametrize("seed", range(20))
def test_runs_of_wds_under_random_operations(seed: int) -> None:
    """As above, with the children of a directory added in runs of consecutive
    wds (what a walk does), so ranges are split, broken and emptied."""
    rng = random.Random(seed)
    t = WatchTable()
    t.add(1, "/r", None)
    model = {1: "/r"}
    next_wd = 2
    for _ in range(200):
        op = rng.random()
        wds = sorted(model)
        if op < 0.4 or len(model) < 3:
            parent = rng.choice(wds)
            fresh = not t.children.get(parent)
            for _ in range(rng.randint(1, 6)):  # one listing's subdirectories
                path = join(model[parent], f"d{next_wd}")
                t.add(next_wd, path, parent, fresh)
                model[next_wd] = path
                next_wd += 1
            next_wd += rng.choice((0, 0, 3))  # wds taken by files watched elsewhere
        elif op < 0.7:
            wd = rng.choice([w for w in wds if w != 1])
            old = model[wd]
            targets = [w for w in wds if not (model[w] + "/").startswith(old + "/")]
            parent = rng.choice(targets)
            new = join(model[parent], f"m{next_wd}")
            next_wd += 1
            t.move(wd, new, parent)
            for w, p in list(model.items()):
                if p == old or p.startswith(old + "/"):
                    model[w] = new + p[len(old) :]
        else:
            leaves = [w for w in wds if w != 1 and not t.children.get(w)]
            if not leaves:
                continue
            wd = rng.choice(leaves)
            t.discard(wd)
            del model[wd]
        assert t.paths == model
        check(t)
        assert sorted(t.subtree(1)) == sorted(model)


def test_a_run_too_long_for_its_count_becomes_a_list(monkeypatch: pytest.MonkeyPatch) -> None:
    from inwatch.inotify import table as table_module

    monkeypatch.setattr(table_module, "_MOST", 3)  # 2**24 - 1 for real
    t = tree((1, "/r", None), (2, "/r/a", 1), (3, "/r/b", 1), (4, "/r/c", 1))
    assert isinstance(t.children[1], int)
    t.add(5, "/r/d", 1)
    assert list(t.children[1]) == [2, 3, 4, 5]
    check(t)
