"""What changed while the queue overflowed: a tree listed against what we knew.

After FAN_Q_OVERFLOW the kernel has dropped events; nothing says which. A tree is
then walked again, and every entry is compared:

- with a *snapshot* (``add(..., snapshot=True)``: the tree's names, listed once
  at add time and kept current by the events since), names that appeared are
  CREATE, names that vanished DELETE, and files whose ctime is not older than
  the moment we went blind MODIFY;
- without one (the default: adding a tree then costs one mark, not a walk),
  every entry whose ctime is not older than that moment is MODIFY (``ISDIR`` for
  a directory: an entry inside it was made, removed or renamed, or it changed
  itself). Deletions show only as their directory's MODIFY.

ctime moves on every create, write, attribute change and rename of an entry,
and a directory's on every change of its entries, so nothing changed while
blind goes unreported; some entries that changed just before may be reported
too (``since`` has slack for coarse timestamps). The diff is pure: it takes two
snapshots and a stat function.
"""

from __future__ import annotations

import os
import stat as stat_mod
from collections.abc import Callable

__all__ = ["Snapshot", "diff", "walk"]

_MODIFY, _CREATE, _DELETE, _ISDIR = 0x2, 0x100, 0x200, 0x40000000

Change = tuple[int, bytes, bytes]  # (inwatch mask, directory path, name)
Excluded = Callable[[bytes, bytes], bool]  # (directory path, name) -> excluded


class Snapshot:
    """A tree's names: directory path -> {entry name: is a directory}."""

    __slots__ = ("dirs",)

    def __init__(self) -> None:
        self.dirs: dict[bytes, dict[bytes, bool]] = {}

    def created(self, parent: bytes, name: bytes, is_dir: bool) -> None:
        entries = self.dirs.get(parent)
        if entries is not None:
            entries[name] = is_dir
            if is_dir:
                self.dirs.setdefault(_join(parent, name), {})

    def deleted(self, parent: bytes, name: bytes) -> None:
        entries = self.dirs.get(parent)
        if entries is not None and entries.pop(name, False):
            self._drop(_join(parent, name))

    def moved(self, src: tuple[bytes, bytes], dst: tuple[bytes, bytes], is_dir: bool) -> None:
        old = _join(*src)
        self.dirs.get(src[0], {}).pop(src[1], None)
        moved = {}
        if is_dir:
            prefix = old + b"/"
            for path in [p for p in self.dirs if p == old or p.startswith(prefix)]:
                moved[path[len(old) :]] = self.dirs.pop(path)
        entries = self.dirs.get(dst[0])
        if entries is not None:
            entries[dst[1]] = is_dir
            new = _join(*dst)
            for rest, names in moved.items():
                self.dirs[new + rest] = names
            if is_dir:
                self.dirs.setdefault(new, {})

    def rebase(self, src: bytes, dst: bytes) -> None:
        """The tree itself (or a directory above it) moved from *src* to *dst*."""
        prefix = src + b"/"
        self.dirs = {
            (dst + p[len(src) :] if p == src or p.startswith(prefix) else p): names
            for p, names in self.dirs.items()
        }

    def _drop(self, path: bytes) -> None:
        prefix = path + b"/"
        for p in [p for p in self.dirs if p == path or p.startswith(prefix)]:
            del self.dirs[p]


def walk(
    top: bytes,
    excluded: Excluded | None,
    recursive: bool = True,
    on_error: Callable[[OSError], object] | None = None,
) -> tuple[Snapshot, dict[bytes, int]]:
    """List *top* (recursively): its snapshot and every entry's ctime (ns)."""
    snap = Snapshot()
    ctimes: dict[bytes, int] = {}
    todo = [top]
    while todo:
        d = todo.pop()
        names: dict[bytes, bool] = {}
        snap.dirs[d] = names
        try:
            it = os.scandir(d)
        except OSError as e:
            if on_error is not None:
                on_error(e)
            continue
        with it:
            for entry in it:
                name = entry.name
                if excluded is not None and excluded(d, name):
                    continue
                try:
                    st = entry.stat(follow_symlinks=False)
                except OSError:
                    continue  # gone since listed: its parent's ctime says so
                is_dir = stat_mod.S_ISDIR(st.st_mode)
                names[name] = is_dir
                full = _join(d, name)
                ctimes[full] = st.st_ctime_ns
                if is_dir and recursive:
                    todo.append(full)
    return snap, ctimes


def diff(
    old: Snapshot | None, new: Snapshot, ctimes: dict[bytes, int], since_ns: int
) -> list[Change]:
    """The changes between *old* (``None``: unknown) and *new*, parents first."""
    out: list[Change] = []
    for d in sorted(new.dirs):
        names = new.dirs[d]
        before = old.dirs.get(d) if old is not None else None
        for name in sorted(names):
            is_dir = names[name]
            isdir_bit = _ISDIR if is_dir else 0
            changed = ctimes.get(_join(d, name), 0) >= since_ns
            if old is not None and (before is None or name not in before):
                out.append((_CREATE | isdir_bit, d, name))
            elif changed and (old is None or not is_dir):
                out.append((_MODIFY | isdir_bit, d, name))
        if before is not None:
            for name in sorted(set(before) - set(names)):
                out.append((_DELETE | (_ISDIR if before[name] else 0), d, name))
    return out


def _join(parent: bytes, name: bytes) -> bytes:
    return parent + name if parent.endswith(b"/") else parent + b"/" + name
