"""The rescan diff: what we knew of a directory against a fresh listing (pure).

After the kernel queue overflowed, events were lost; each watched directory
is listed again and compared with what had been reported about it:

- a file listed but unknown was created while we were blind;
- a known file missing was deleted (or moved away);
- a known file whose mtime or ctime is at or after the last read before the
  overflow (minus a slack, as timestamps are coarse: the kernel's tick) may
  have been modified: a spurious MODIFY is preferred to a miss;
- a directory listed but not watched is new (to be watched and listed), unless
  it was reported already and only its watch is missing (``unwatched``: its
  watch failed, or its IGNORED came before the overflow): then it is watched
  and listed without a second CREATE;
- a watched directory missing was deleted (or moved: if its watch turns up
  again under another name, the caller knows it from the table);
- a reported but unwatched directory missing was deleted.

Files created and deleted while blind left no trace and cannot be reported.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

__all__ = ["MTIME_SLACK", "Diff", "diff_dir"]

MTIME_SLACK = 0.05


@dataclass
class Diff:
    created_files: list[str] = field(default_factory=list)
    created_dirs: list[str] = field(default_factory=list)
    rewatch_dirs: list[str] = field(default_factory=list)
    modified: list[str] = field(default_factory=list)
    deleted_files: list[str] = field(default_factory=list)
    deleted_dirs: list[str] = field(default_factory=list)
    gone_watched: dict[str, int] = field(default_factory=dict)  # name -> wd
    visit: list[int] = field(default_factory=list)  # watched subdirectories still there
    files_now: set[str] = field(default_factory=set)


def diff_dir(
    listing: Iterable[tuple[str, bool]],
    known_files: set[str],
    watched_dirs: Mapping[str, int],
    unwatched_dirs: set[str],
    changed_at: Callable[[str], float | None],
    since: float,
    track_dirs: bool,
) -> Diff:
    """Compare *listing* (``(name, is_dir)`` after exclusion) with what we knew.

    *watched_dirs* maps the names of watched subdirectories to their wds;
    *changed_at(name)* gives a known file's ``max(mtime, ctime)`` (``None`` if
    it cannot be read); *track_dirs* is False for a root that does not watch
    new directories (then directories are not compared at all).
    """
    d = Diff()
    seen_dirs: set[str] = set()
    for name, is_dir in listing:
        if is_dir:
            if not track_dirs:
                continue
            seen_dirs.add(name)
            wd = watched_dirs.get(name)
            if wd is not None:
                d.visit.append(wd)
            elif name in unwatched_dirs:
                d.rewatch_dirs.append(name)
            else:
                d.created_dirs.append(name)
            continue
        d.files_now.add(name)
        if name not in known_files:
            d.created_files.append(name)
            continue
        when = changed_at(name)
        if when is not None and when >= since:
            d.modified.append(name)
    d.deleted_files = sorted(known_files - d.files_now)
    if track_dirs:
        d.gone_watched = {n: wd for n, wd in watched_dirs.items() if n not in seen_dirs}
        d.deleted_dirs = sorted(unwatched_dirs - seen_dirs)
    return d
