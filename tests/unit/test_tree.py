"""tree: exclusion rules and the watch-then-list walk, on real temp dirs with
fake watch callables (no inotify)."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from inwatch.filters import make_excluder
from inwatch.inotify.walk import count_dirs, scan_tree

j = os.path.join


# --- make_excluder ------------------------------------------------------------------


def test_no_exclusion() -> None:
    assert make_excluder(None) is None
    assert make_excluder([]) is None


def test_globs_match_the_name_or_the_relative_path() -> None:
    ex = make_excluder(["*.tmp", ".git", "build/cache", "logs/"])
    assert ex is not None
    assert ex("a/b/x.tmp", "x.tmp", "/r/a/b/x.tmp")
    assert ex(".git", ".git", "/r/.git")
    assert ex("sub/.git", ".git", "/r/sub/.git")  # by name, at any depth
    assert ex("build/cache", "cache", "/r/build/cache")  # by relative path
    assert not ex("other/cache", "cache", "/r/other/cache")
    assert ex("logs", "logs", "/r/logs")  # a trailing slash is ignored
    assert not ex("x.tmpl", "x.tmpl", "/r/x.tmpl")  # anchored at both ends
    assert not ex("gitx", "gitx", "/r/gitx")


def test_a_single_string_is_one_pattern() -> None:
    ex = make_excluder("*.o")
    assert ex is not None
    assert ex("a.o", "a.o", "/r/a.o")
    assert not ex("a.c", "a.c", "/r/a.c")  # not the characters of "*.o"
    assert not ex("o", "o", "/r/o")


def test_glob_metacharacters() -> None:
    ex = make_excluder(["cache-[0-9]", "tmp?"])
    assert ex is not None
    assert ex("cache-3", "cache-3", "/r/cache-3")
    assert not ex("cache-x", "cache-x", "/r/cache-x")
    assert ex("tmp1", "tmp1", "/r/tmp1")
    assert not ex("tmp", "tmp", "/r/tmp")


def test_non_utf8_names_are_matched_not_rejected() -> None:
    name = os.fsdecode(b"caf\xe9.tmp")
    ex = make_excluder(["*.tmp"])
    assert ex is not None
    assert ex(name, name, "/r/" + name)


def test_a_callable_gets_the_full_path() -> None:
    seen: list[str] = []

    def skip(path: str) -> bool:
        seen.append(path)
        return path.endswith("/skip")

    ex = make_excluder(skip)
    assert ex is not None
    assert ex("a/skip", "skip", "/r/a/skip") is True
    assert ex("a/keep", "keep", "/r/a/keep") is False
    assert seen == ["/r/a/skip", "/r/a/keep"]


# --- scan_tree ----------------------------------------------------------------------


class Recorder:
    """Fake watch/on_entry/onerror callables that log what the walk does."""

    def __init__(self) -> None:
        self.log: list[tuple[str, ...]] = []
        self.wds: dict[str, int] = {}
        self.parents: dict[str, int | None] = {}
        self.errors: list[OSError] = []

    def watch(self, path: str, parent: int | None, fresh: bool = False) -> int:
        wd = len(self.wds) + 1
        self.wds[path] = wd
        self.parents[path] = parent
        self.log.append(("watch", path))
        return wd

    def on_entry(
        self, wd: int, parent: str, name: str, is_dir: bool, entry: os.DirEntry[str]
    ) -> None:
        assert self.wds[parent] == wd
        assert entry.name == name and entry.path == j(parent, name)
        self.log.append(("entry", j(parent, name), "dir" if is_dir else "file"))

    def scan(self, top: str, **kwargs: object) -> None:
        options: dict[str, object] = {
            "watch": self.watch,
            "excluded": None,
            "follow_symlinks": False,
            "on_entry": self.on_entry,
            "onerror": self.errors.append,
        }
        options.update(kwargs)
        scan_tree(top, "", **options)  # type: ignore[arg-type]

    def entries(self) -> list[str]:
        return [e[1] for e in self.log if e[0] == "entry"]


def make(root: Path, *paths: str) -> str:
    for p in paths:
        full = root / p
        if p.endswith("/"):
            full.mkdir(parents=True, exist_ok=True)
        else:
            full.parent.mkdir(parents=True, exist_ok=True)
            full.touch()
    return str(root)


def test_every_directory_is_watched_before_it_is_listed(tmp_path: Path) -> None:
    top = make(tmp_path, "a/b/c/", "a/f", "a/b/g", "h", "e/")
    r = Recorder()
    r.scan(top)
    assert set(r.wds) == {top, j(top, "a"), j(top, "a", "b"), j(top, "a", "b", "c"), j(top, "e")}
    for i, item in enumerate(r.log):
        if item[0] == "entry":
            parent = os.path.dirname(item[1])
            assert ("watch", parent) in r.log[:i], f"{item} reported before its parent's watch"
        else:
            parent = os.path.dirname(item[1])
            if item[1] != top:  # a directory is watched after it was reported
                assert ("entry", item[1], "dir") in r.log[:i]
    assert sorted(r.entries()) == sorted(
        j(top, p) for p in ("a", "a/b", "a/b/c", "a/f", "a/b/g", "h", "e")
    )
    assert r.parents[top] is None
    assert r.parents[j(top, "a", "b")] == r.wds[j(top, "a")]
    assert not r.errors


def test_symlinks_are_entries_not_followed_by_default(tmp_path: Path) -> None:
    top = make(tmp_path, "real/x")
    os.symlink("real", j(top, "link"))
    os.symlink(".", j(top, "real", "self"))
    r = Recorder()
    r.scan(top)
    assert set(r.wds) == {top, j(top, "real")}
    assert ("entry", j(top, "link"), "file") in r.log
    assert ("entry", j(top, "real", "self"), "file") in r.log


def test_symlink_loops_are_followed_once_with_visited(tmp_path: Path) -> None:
    top = make(tmp_path, "a/b/")
    os.symlink("../..", j(top, "a", "b", "up"))
    os.symlink(".", j(top, "a", "self"))
    os.symlink("nowhere", j(top, "dangling"))
    os.symlink("l2", j(top, "l1"))
    os.symlink("l1", j(top, "l2"))
    st = os.stat(top)
    r = Recorder()
    r.scan(top, follow_symlinks=True, visited={(st.st_dev, st.st_ino)})
    assert set(r.wds) == {top, j(top, "a"), j(top, "a", "b")}
    assert not r.errors
    # Dangling links and link loops are reported as plain entries.
    for name in ("dangling", "l1", "l2"):
        assert ("entry", j(top, name), "file") in r.log


def test_excluded_entries_are_neither_reported_nor_walked(tmp_path: Path) -> None:
    top = make(tmp_path, "keep/x.tmp", "keep/y", "skip/deep/z", "a/build/w", "a/src/")
    r = Recorder()
    r.scan(top, excluded=make_excluder(["*.tmp", "skip", "a/build"]))
    assert set(r.wds) == {top, j(top, "keep"), j(top, "a"), j(top, "a", "src")}
    assert sorted(r.entries()) == sorted(j(top, p) for p in ("keep", "keep/y", "a", "a/src"))


def test_the_relative_path_starts_from_top_rel(tmp_path: Path) -> None:
    """A directory appearing inside a tree is walked with its path relative to
    the watched root, so path globs keep matching."""
    top = make(tmp_path, "new/build/x", "new/src/")
    r = Recorder()
    scan_tree(
        j(top, "new"),
        "sub/new",
        5,
        watch=r.watch,
        excluded=make_excluder(["sub/new/build"]),
        follow_symlinks=False,
        on_entry=r.on_entry,
        onerror=r.errors.append,
    )
    assert set(r.wds) == {j(top, "new"), j(top, "new", "src")}
    assert r.parents[j(top, "new")] == 5


def test_a_directory_vanishing_during_the_walk_is_not_an_error(tmp_path: Path) -> None:
    top = make(tmp_path, "a/", "b/")

    def watch(path: str, parent: int | None, fresh: bool = False) -> int:
        if path.endswith("/a"):
            raise FileNotFoundError(errno.ENOENT, "gone", path)
        return r.watch(path, parent)

    r = Recorder()
    r.scan(top, watch=watch)
    assert set(r.wds) == {top, j(top, "b")}
    assert not r.errors


def test_other_errors_on_subdirectories_go_to_onerror(tmp_path: Path) -> None:
    top = make(tmp_path, "a/x/", "b/")

    def watch(path: str, parent: int | None, fresh: bool = False) -> int:
        if path.endswith("/a"):
            raise PermissionError(errno.EACCES, "no", path)
        return r.watch(path, parent)

    r = Recorder()
    r.scan(top, watch=watch)
    assert set(r.wds) == {top, j(top, "b")}  # a's subtree skipped, the walk goes on
    assert [(e.errno, e.filename) for e in r.errors] == [(errno.EACCES, j(top, "a"))]


def test_errors_on_top_and_the_watch_limit_propagate(tmp_path: Path) -> None:
    top = make(tmp_path, "a/")

    def refuse_top(path: str, parent: int | None, fresh: bool = False) -> int:
        raise PermissionError(errno.EACCES, "no", path)

    with pytest.raises(PermissionError):
        Recorder().scan(top, watch=refuse_top)

    def limit(path: str, parent: int | None, fresh: bool = False) -> int:
        if path != top:
            raise OSError(errno.ENOSPC, "limit", path)
        return r.watch(path, parent)

    r = Recorder()
    with pytest.raises(OSError) as info:
        r.scan(top, watch=limit)
    assert info.value.errno == errno.ENOSPC
    assert not r.errors


def test_non_utf8_names_walk(tmp_path: Path) -> None:
    top = str(tmp_path)
    bad = os.fsdecode(b"d\xff")
    os.makedirs(j(top, bad, "x"))
    r = Recorder()
    r.scan(top)
    assert j(top, bad, "x") in r.wds
    assert os.fsencode(j(top, bad)) == os.fsencode(top) + b"/d\xff"


# --- count_dirs ---------------------------------------------------------------------


def test_count_dirs(tmp_path: Path) -> None:
    top = make(tmp_path, "a/b/c/", "a/f", "d/", "skip/x/", "d/g.tmp/")
    os.symlink("a", j(top, "link"))
    os.symlink(".", j(top, "a", "self"))
    assert count_dirs(top, None, False) == 8
    assert count_dirs(top, make_excluder(["skip", "*.tmp"]), False) == 5
    # Following links: each real directory once (link -> a, a/self -> a).
    assert count_dirs(top, None, True) == 8


def test_count_dirs_counts_top_once_when_a_link_leads_back_to_it(tmp_path: Path) -> None:
    top = make(tmp_path, "a/b/")
    os.symlink("../..", j(top, "a", "b", "up"))  # -> top
    assert count_dirs(top, None, True) == 3


def test_watched_in_os_walk_order_and_told_which_parents_were_childless(tmp_path: Path) -> None:
    """Top-down in listing order, as os.walk yields directories (the kernel's
    wds follow: the pyinotify layer shows them as pyinotify did); each
    directory's subdirectories are watched with *fresh* = what childless()
    said of it, asked after its watch and before its listing."""
    top = make(tmp_path, "a/x/", "a/y/", "b/", "c/z/", "f")
    r = Recorder()
    asked: list[str] = []
    fresh_of: dict[str, bool] = {}
    by_wd: dict[int, str] = {}

    def watch(path: str, parent: int | None, fresh: bool) -> int:
        wd = r.watch(path, parent)
        by_wd[wd] = path
        fresh_of[path] = fresh
        return wd

    def childless(wd: int) -> bool:
        path = by_wd[wd]
        assert not any(e[0] == "entry" and os.path.dirname(e[1]) == path for e in r.log)
        asked.append(path)
        return path != j(top, "c")  # say c had a watched subdirectory already

    r.scan(top, watch=watch, childless=childless)
    walked = [d for d, _, _ in os.walk(top, topdown=True)]
    watched = [e[1] for e in r.log if e[0] == "watch"]
    assert watched == walked  # both in the file system's listing order
    assert asked == walked
    assert fresh_of[top] is False  # the top's parent was not listed by this walk
    assert fresh_of[j(top, "a", "x")] and fresh_of[j(top, "b")]
    assert fresh_of[j(top, "c", "z")] is False


def test_relative_paths_several_levels_down(tmp_path: Path) -> None:
    """Each directory's path relative to the root is its parent's plus its
    name, however deep, from the top's own (the walk keeps one per listing,
    not one per directory found)."""
    top = make(tmp_path, "t/a/b/c/d/", "t/a/b/k/", "t/a/x/c/", "t/e/")
    r = Recorder()
    seen: list[str] = []

    def excluded(rel: str, name: str, full: str) -> bool:
        assert full == j(top, "t", *rel.split("/")[1:]) and name == rel.rsplit("/", 1)[1]
        seen.append(rel)
        return rel == "top/a/b/c"

    scan_tree(
        j(top, "t"),
        "top",
        None,
        watch=r.watch,
        excluded=excluded,
        follow_symlinks=False,
        on_entry=r.on_entry,
        onerror=r.errors.append,
    )
    assert sorted(seen) == sorted(
        ["top/a", "top/e", "top/a/b", "top/a/x", "top/a/b/c", "top/a/b/k", "top/a/x/c"]
    )
    t = j(top, "t")
    assert set(r.wds) == {t, j(t, "a"), j(t, "e"), j(t, "a", "b"), j(t, "a", "x")} | {
        j(t, "a", "b", "k"),
        j(t, "a", "x", "c"),
    }
