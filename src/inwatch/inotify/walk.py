"""Walking a directory tree to watch it: watch first, then list, then report.

The order is what makes recursive watching lossless. A directory's watch is
added *before* it is listed, so an entry created while we work is either in the
listing or reported by the kernel (or both: the watcher de-duplicates). Listing
first and watching second would lose whatever appears in between.

Everything with side effects comes in as callables (``watch``, ``on_entry``,
``onerror``), so the walk itself is plain Python over ``os.scandir``.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable

from ..filters import Excluder
from .port import DirEntryLike

__all__ = ["count_dirs", "scan_tree"]


# A directory vanishing or turning into something else while we walk is a race,
# not an error: the kernel reports what happened to it.
_GONE = frozenset({errno.ENOENT, errno.ENOTDIR, errno.ELOOP})


def scan_tree(
    top: str,
    top_rel: str,
    top_parent: int | None = None,
    *,
    watch: Callable[[str, int | None, bool], int],
    excluded: Excluder | None,
    follow_symlinks: bool,
    on_entry: Callable[[int, str, str, bool, DirEntryLike], None] | None,
    onerror: Callable[[OSError], None],
    visited: set[tuple[int, int]] | None = None,
    listdir: Callable[[str], list[DirEntryLike]] | None = None,
    on_gone: Callable[[str, int | None, int | None], None] | None = None,
    files_only: bool = False,
    childless: Callable[[int], bool] | None = None,
    listed: Callable[[int, str], None] | None = None,
) -> None:
    """Watch *top* (a directory) and every directory below it.

    *top_rel* is *top*'s path relative to the watched root (``""`` for the root)
    and *top_parent* the wd of its parent (``None`` for a root); ``watch(path,
    parent_wd, fresh)`` adds one watch and returns its wd, or -1 to leave that
    directory out (it is known already: not listed again). Directories are
    watched in os.walk's order (top-down, in listing order), so their wds
    are in that order: the pyinotify layer shows them as pyinotify did.
    For every entry of every watched directory, after that directory's watch is
    in place, ``on_entry(parent_wd, parent_path, name, is_dir, entry)`` is called,
    parents before their contents. Errors on subdirectories (no permission...)
    go to *onerror*; ``WatchLimitError`` and errors on *top* propagate.
    With *follow_symlinks*, directories reached twice (a symlink loop) are
    skipped by device and inode. *listdir* lists a directory (default
    ``os.scandir``); *on_gone(path, parent_wd, wd)* hears of a subdirectory that
    vanished before it could be watched (*wd* ``None``) or listed (*wd* its
    watch: a race, renamed or deleted meanwhile), so the caller can look again
    once the queue has told why. *childless(wd)* is asked once per directory,
    after its watch and before its listing: has it no watched subdirectory
    yet? Its subdirectories are then watched with *fresh* true: all the
    watched children it will have come from this listing, each under its own
    name (see WatchTable.add).
    With *files_only*, *on_entry* is not called for directories.
    *listed(wd, path)* is called once a directory's listing is done, before
    any of its subdirectories is watched or listed.
    """
    if listdir is None:
        listdir = _scandir
    # Directories found, not watched yet: one frame a listing, with what its
    # subdirectories share (the listed directory's wd, its path relative to the
    # root, and whether it had no watched subdirectory when its listing began)
    # and their paths, last first (popped in listing order). A pending
    # directory costs one list slot (8 bytes) and its path, which its watch
    # keeps anyway; a tuple a directory (80 bytes more) was the set-up's peak
    # memory in a flat directory of many subdirectories. The top's frame has
    # no relative path of its parent (None): its own is *top_rel*.
    frames: list[tuple[int | None, str | None, bool, list[str]]] = [
        (top_parent, None, False, [top])
    ]
    sep = os.sep
    while frames:
        parent, parent_rel, fresh, pending = frames[-1]
        if not pending:
            frames.pop()
            continue
        path = pending.pop()
        if excluded is None:
            rel = ""  # only exclusion patterns look at it
        elif parent_rel is None:
            rel = top_rel
        else:
            name = path[path.rfind(sep) + 1 :]
            rel = f"{parent_rel}/{name}" if parent_rel else name
        wd: int | None = None
        try:
            wd = watch(path, parent, fresh)
            if wd < 0:
                continue  # the caller knows this directory already: not walked again
            entries = listdir(path)
        except OSError as exc:
            if path is top or exc.errno == errno.ENOSPC:
                raise
            if exc.errno not in _GONE:
                onerror(exc)
            elif on_gone is not None:
                on_gone(path, parent, wd)  # wd: watched, then gone before its listing
            continue
        if listed is not None:
            listed(wd, path)
        kids_fresh = childless is not None and childless(wd)
        subdirs: list[str] = []
        for entry in entries:
            name = entry.name
            full = entry.path
            if excluded is not None:
                sub_rel = f"{rel}/{name}" if rel else name
                if excluded(sub_rel, name, full):
                    continue
            try:
                is_dir = entry.is_dir(follow_symlinks=follow_symlinks)
            except OSError:
                is_dir = False
            if is_dir and follow_symlinks and visited is not None:
                try:
                    st = entry.stat()
                except OSError:
                    continue
                key = (st.st_dev, st.st_ino)
                if key in visited:
                    continue  # a loop, or the same directory reached twice
                visited.add(key)
            if on_entry is not None and not (files_only and is_dir):
                on_entry(wd, path, name, is_dir, entry)
            if is_dir:
                subdirs.append(full)
        del entries  # the listing's entries, before the next listing is made
        if subdirs:
            subdirs.reverse()
            frames.append((wd, rel, kids_fresh, subdirs))


def _scandir(path: str) -> list[DirEntryLike]:
    with os.scandir(path) as it:
        return list(it)


def count_dirs(top: str, excluded: Excluder | None, follow_symlinks: bool) -> int:
    """How many directories a recursive watch of *top* needs (best effort)."""
    count = 0
    stack = [(top, "")]
    seen: set[tuple[int, int]] = set()
    if follow_symlinks:
        try:
            st = os.stat(top)
            seen.add((st.st_dev, st.st_ino))  # a link back to the top is a loop too
        except OSError:
            pass
    while stack:
        path, rel = stack.pop()
        count += 1
        try:
            entries = list(os.scandir(path))
        except OSError:
            continue
        for entry in entries:
            sub_rel = f"{rel}/{entry.name}" if rel else entry.name
            if excluded is not None and excluded(sub_rel, entry.name, entry.path):
                continue
            try:
                if not entry.is_dir(follow_symlinks=follow_symlinks):
                    continue
                if follow_symlinks:
                    st = entry.stat()
                    if (st.st_dev, st.st_ino) in seen:
                        continue
                    seen.add((st.st_dev, st.st_ino))
            except OSError:
                continue
            stack.append((entry.path, sub_rel))
    return count
