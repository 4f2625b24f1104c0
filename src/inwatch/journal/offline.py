"""What changed while nothing watched: a root's tree now against the journal's state.

The first time a root is recorded its current tree is stored as the *baseline*
(``files`` rows, no events: what already existed is not a change). At every later
start the tree is listed again and compared with the journal's state; what
differs becomes ``origin = "offline"`` events, written before any live event:

- in the journal but not on disk: ``DELETE`` (deepest first);
- on disk but not in the journal: ``CREATE`` (shallowest first), unless an entry
  that vanished had the same inode and type (and, for a file, mtime: inode
  numbers are reused): then it was renamed
  (``MOVED_FROM`` + ``MOVED_TO`` with the source; a renamed directory takes its
  known subtree along, and only what differs inside it is reported);
- on both: ``MODIFY`` when size, mtime, inode or (with ``--hash``) the digest
  changed, ``ATTRIB`` when only mode, owner or ctime did. ctime cannot be set by
  a user, so an unchanged ctime means unchanged content and metadata: files whose
  ctime, size and mtime match are never read, even with ``--hash``.

Directories' own size and mtime change with their entries; those entries are
reported themselves, so a directory gets only ``ATTRIB`` (mode or owner).

:func:`diff` is pure (dicts in, changes out) and shared with ``inwatch check``.
"""

from __future__ import annotations

import os
import stat as stat_mod
import time
from collections.abc import Callable, Iterable, Iterator
from typing import NamedTuple

from .query import FileState, present_under
from .schema import ORIGIN_CODES
from .store import Prepared, StatTuple, file_digest, stat_tuple

__all__ = ["Change", "diff", "offline_changes", "scan", "to_prepared"]

_MODIFY, _ATTRIB, _MOVED_FROM, _MOVED_TO = 0x2, 0x4, 0x40, 0x80
_CREATE, _DELETE, _ISDIR = 0x100, 0x200, 0x40000000
_OFFLINE = ORIGIN_CODES["offline"]


class Change(NamedTuple):
    """One difference: ``kind`` is ``created``, ``deleted``, ``modified``,
    ``attrib`` or ``renamed`` (then ``src`` is the old path); ``fields`` names
    what differs (``size``, ``mtime``, ``inode``, ``digest``, ``mode``, ``owner``,
    ``ctime``)."""

    kind: str
    path: bytes
    src: bytes | None
    is_dir: bool
    st: StatTuple | None
    fields: tuple[str, ...]
    digest: bytes | None = None


def scan(
    root: bytes,
    recursive: bool = True,
    exclude: Callable[[str], bool] | None = None,
    onerror: Callable[[OSError], object] | None = None,
) -> dict[bytes, StatTuple]:
    """lstat of *root* and everything under it (only its entries unless
    *recursive*); symbolic links are not followed; *exclude* takes the path as
    ``str`` and prunes excluded directories."""
    out: dict[bytes, StatTuple] = {}
    root = root.rstrip(b"/") or b"/"
    out[root] = stat_tuple(os.lstat(root))
    if not stat_mod.S_ISDIR(out[root][1]):
        return out
    stack = [root]
    while stack:
        d = stack.pop()
        try:
            it = os.scandir(d)
        except OSError as exc:
            if onerror is not None:
                onerror(exc)
            continue
        with it:
            for entry in it:
                path = entry.path
                if exclude is not None and exclude(os.fsdecode(path)):
                    continue
                try:
                    st = entry.stat(follow_symlinks=False)
                except OSError:
                    continue  # gone meanwhile: the live watch reports it
                out[path] = stat_tuple(st)
                if recursive and stat_mod.S_ISDIR(st.st_mode):
                    stack.append(path)
    return out


def _is_dir(st: StatTuple | None) -> bool:
    return st is not None and stat_mod.S_ISDIR(st[1])


def _compare(
    old: FileState, st: StatTuple, digest: Callable[[bytes, StatTuple], bytes | None], p: bytes
) -> tuple[str, ...]:
    size, mode, uid, gid, mtime, ino, ctime = st
    fields: list[str] = []
    if old.inode is None:
        return ()  # never stat'ed (gone again before the writer looked): nothing to compare
    if not _is_dir(st):
        if old.size != size:
            fields.append("size")
        if old.mtime_ns != mtime:
            fields.append("mtime")
    if old.inode != ino:
        fields.append("inode")
    if old.mode != mode:
        fields.append("mode")
    if (old.uid, old.gid) != (uid, gid):
        fields.append("owner")
    if old.ctime_ns != ctime and not _is_dir(st):  # a directory's follows its entries
        fields.append("ctime")
        if old.digest and stat_mod.S_ISREG(mode):
            now = digest(p, st)
            if now and now != old.digest:
                fields.append("digest")
    return tuple(fields)


def diff(
    known: dict[bytes, FileState],
    disk: dict[bytes, StatTuple],
    digest: Callable[[bytes, StatTuple], bytes | None] = lambda p, st: None,
) -> list[Change]:
    """The changes that turn *known* (the journal's present entries) into *disk*.

    Renames are matched by (inode, type); a renamed directory's known entries
    are compared at their new place. Order: renames, deletions (deepest first),
    creations (shallowest first), then modifications, so that replaying them in
    order is a valid history."""
    gone = sorted(set(known) - set(disk), key=lambda p: (p.count(b"/"), p))
    new = set(disk) - set(known)
    # A rename keeps the inode and, for a file, its mtime. The inode alone is not
    # enough: a file deleted and another created meanwhile often get the same
    # number (the file system reuses it), which must not read as a rename.
    by_inode: dict[tuple[int, bool, int | None], bytes] = {}
    for p in new:
        st = disk[p]
        by_inode.setdefault((st[5], _is_dir(st), None if _is_dir(st) else st[4]), p)
    changes: list[Change] = []
    placed: dict[bytes, FileState] = {p: s for p, s in known.items() if p in disk}
    moved_away: set[bytes] = set()
    for p in gone:
        if p in moved_away:
            continue
        old = known[p]
        target = by_inode.get((old.inode or -1, old.is_dir, None if old.is_dir else old.mtime_ns))
        if target is None or target not in new:
            continue
        new.discard(target)
        changes.append(Change("renamed", target, p, old.is_dir, disk[target], ()))
        moved_away.add(p)
        placed[target] = old
        if old.is_dir:
            prefix = p + b"/"
            for q in [q for q in known if q.startswith(prefix)]:
                moved_away.add(q)
                dest = target + q[len(p) :]
                if dest in disk:
                    new.discard(dest)
                    placed[dest] = known[q]
                else:
                    changes.append(Change("deleted", dest, None, known[q].is_dir, None, ()))
    deleted = [p for p in gone if p not in moved_away]
    for p in sorted(deleted, key=lambda p: (-p.count(b"/"), p)):
        changes.append(Change("deleted", p, None, known[p].is_dir, None, ()))
    for p in sorted(new, key=lambda p: (p.count(b"/"), p)):
        changes.append(Change("created", p, None, _is_dir(disk[p]), disk[p], ()))
    for p in sorted(placed):
        fields = _compare(placed[p], disk[p], digest, p)
        if not fields:
            continue
        content = {"size", "mtime", "inode", "digest"} & set(fields)
        kind = "modified" if content else "attrib"
        changes.append(Change(kind, p, None, _is_dir(disk[p]), disk[p], fields))
    return changes


def to_prepared(
    changes: Iterable[Change], now_ns: int, hash_max: int | None = None
) -> Iterator[Prepared]:
    """The events that record *changes* (``origin = "offline"``, stamped *now_ns*)."""
    for c in changes:
        isdir = _ISDIR if c.is_dir else 0
        digest = c.digest
        if (
            hash_max is not None
            and digest is None
            and c.st is not None
            and c.kind in ("created", "modified", "renamed")
            and stat_mod.S_ISREG(c.st[1])
        ):
            digest = file_digest(c.path, c.st[0], hash_max)
        if c.kind == "renamed":
            assert c.src is not None
            yield Prepared(
                now_ns, _MOVED_FROM | isdir, c.src, None, _OFFLINE, None, None, None, None
            )
            yield Prepared(
                now_ns, _MOVED_TO | isdir, c.path, c.src, _OFFLINE, c.st, None, None, digest
            )
            continue
        mask = {"created": _CREATE, "deleted": _DELETE, "modified": _MODIFY, "attrib": _ATTRIB}
        yield Prepared(
            now_ns, mask[c.kind] | isdir, c.path, None, _OFFLINE, c.st, None, None, digest
        )


def offline_changes(
    journal: object,
    root: bytes,
    recursive: bool = True,
    exclude: Callable[[str], bool] | None = None,
    hash_max: int | None = None,
    disk: dict[bytes, StatTuple] | None = None,
) -> list[Change]:
    """Compare the tree under *root* now (or *disk*, its scan) with what *journal*
    believes exists."""
    from .sqlite import Journal

    assert isinstance(journal, Journal)
    if disk is None:
        disk = scan(root, recursive, exclude)
    base = root.rstrip(b"/") or b"/"
    depth = base.count(b"/") + 1
    known = {
        s.path: s
        for s in present_under(journal, root)
        if recursive or s.path == base or s.path.count(b"/") <= depth
    }
    if exclude is not None:
        known = {p: s for p, s in known.items() if p == base or not exclude(os.fsdecode(p))}

    def digest(p: bytes, st: StatTuple) -> bytes | None:
        return file_digest(p, st[0], hash_max) if hash_max is not None else None

    return diff(known, disk, digest)


def write_baseline(journal: object, root: bytes, disk: dict[bytes, StatTuple]) -> None:
    """Store *disk* as the state of a root recorded for the first time (no events)."""
    from .sqlite import Journal

    assert isinstance(journal, Journal)
    base = root.rstrip(b"/") or b"/"
    with journal.transaction() as conn:
        path_id = journal.store.path_id
        conn.executemany(
            "INSERT INTO files (path_id, present, is_dir, size, mode, uid, gid, mtime_ns, inode,"
            " ctime_ns) VALUES (?, 1, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT(path_id) DO UPDATE SET present = 1, is_dir = excluded.is_dir,"
            " deleted_ns = NULL, size = excluded.size, mode = excluded.mode, uid = excluded.uid,"
            " gid = excluded.gid, mtime_ns = excluded.mtime_ns, inode = excluded.inode,"
            " ctime_ns = excluded.ctime_ns",
            ((path_id(p), 1 if _is_dir(st) else 0, *st) for p, st in disk.items()),
        )
        conn.execute(
            "INSERT OR REPLACE INTO roots (path_id, baseline_ns) VALUES (?, ?)",
            (path_id(base), time.time_ns()),
        )


def start_root(
    journal: object,
    root: bytes,
    recursive: bool = True,
    exclude: Callable[[str], bool] | None = None,
    hash_max: int | None = None,
    chunk: int = 10_000,
    keep: Callable[[Prepared], bool] | None = None,
) -> int | None:
    """At the start of recording *root*: store its baseline the first time
    (return ``None``), else record what changed since as offline events
    (return how many; *keep* may filter them as the live events are)."""
    from .sqlite import Journal

    assert isinstance(journal, Journal)
    base = root.rstrip(b"/") or b"/"
    known = journal.read(
        "SELECT 1 FROM roots r JOIN paths p ON p.id = r.path_id WHERE p.path = ?", (base,)
    )
    if not known:
        write_baseline(journal, base, scan(base, recursive, exclude))
        return None
    items = list(
        to_prepared(
            offline_changes(journal, base, recursive, exclude, hash_max), time.time_ns(), hash_max
        )
    )
    for i in range(0, len(items), chunk):
        journal.write(items[i : i + chunk])
    return len(items)
