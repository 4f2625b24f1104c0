"""Replay an event stream over the starting tree; compare with the real final tree.

Pure: it takes the starting tree, the events (as :class:`Rec`), the final tree
and every path the tree ever held, and returns the divergences. The classes
(each :class:`Divergence` has one ``kind``):

``missing``        an entry on disk at the end that the replay does not hold
``extra``          an entry the replay holds that is not on disk at the end
``kind``           both hold it, but one as a directory and the other not
``dup-create``     a CREATE of a path the replay already holds
``orphan``         a CREATE or MOVED_TO whose parent directory the replay does not
                   hold at that moment (an entry reported ahead of the rename or
                   the mkdir that explains it)
``unknown-source`` a DELETE, MOVED_FROM, or a MOVED_TO's ``src_pathname``, naming a
                   path the replay does not hold at that moment
``stale``          any other event (MODIFY, ATTRIB, OPEN...) at a path the replay
                   does not hold at that moment, though an entry was there at
                   another time
``never-was``      an event at a path where no entry ever was
``outside``        an event whose path is outside the watched root
``own-read``       OPEN, ACCESS or CLOSE_NOWRITE of a directory from the kernel,
                   delivered after the sentinel's CREATE (the last operation): no
                   operation read it then, so it is the watcher's own listing

How events apply (inotify(7)): CREATE adds the entry (a directory when ISDIR);
DELETE removes it and whatever the replay still holds below it; MOVED_FROM
takes the subtree away, and a MOVED_TO whose ``src_pathname`` names it puts it
back at the new path (a MOVED_FROM never paired moved the entry out of the
tree); a MOVED_TO with no ``src_pathname`` brought the entry in from outside
(its contents come as CREATEs of their own). A rename onto an existing name
replaces it, so MOVED_TO onto a held path is not a duplicate. Q_OVERFLOW only
counts: the rescan after it comes as ordinary CREATE/DELETE events (origin
"rescan") and the replay must converge all the same.
"""

from __future__ import annotations

from typing import NamedTuple

from .ops import Tree

IN_ACCESS = 0x1
IN_MODIFY = 0x2
IN_CLOSE_NOWRITE = 0x10
IN_OPEN = 0x20
IN_MOVED_FROM = 0x40
IN_MOVED_TO = 0x80
IN_CREATE = 0x100
IN_DELETE = 0x200
IN_DELETE_SELF = 0x400
IN_MOVE_SELF = 0x800
IN_UNMOUNT = 0x2000
IN_Q_OVERFLOW = 0x4000
IN_IGNORED = 0x8000
IN_ISDIR = 0x40000000

# Events about a watch itself (its directory deleted, moved, or the watch gone):
# they may name the directory's last path inside the tree after it left it.
_SELF = IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF

CLASSES = (
    "missing",
    "extra",
    "kind",
    "dup-create",
    "orphan",
    "unknown-source",
    "stale",
    "never-was",
    "outside",
    "own-read",
    "hang",
    "crash",
)


class Rec(NamedTuple):
    """One delivered event, whatever the driver: absolute paths as bytes."""

    mask: int
    pathname: bytes | None
    src: bytes | None = None
    origin: str = "kernel"


class Divergence(NamedTuple):
    kind: str
    path: bytes
    detail: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.path!r} {self.detail}"


class Replay:
    """The replayed tree, relative to the root ("" is the root itself)."""

    def __init__(
        self, root: bytes, initial: Tree, ever: set[bytes], sentinel: bytes | None = None
    ) -> None:
        self.root = root
        self.sentinel = sentinel
        self.after_sentinel = False
        self.tree: Tree = dict(initial)
        self.ever = ever | set(initial) | {b""}
        self.out: list[Divergence] = []
        self.overflows = 0
        self.limbo: dict[bytes, Tree] = {}  # MOVED_FROM's subtree, by source path

    def _flag(self, kind: str, path: bytes, detail: str) -> None:
        self.out.append(Divergence(kind, path, detail))

    def rel(self, path: bytes) -> bytes | None:
        if path == self.root:
            return b""
        if path.startswith(self.root + b"/"):
            return path[len(self.root) + 1 :]
        return None

    def _take(self, top: bytes) -> Tree:
        """Remove *top* and what is below it; return them relative to *top*."""
        taken = {b"": self.tree.pop(top)} if top in self.tree else {}
        prefix = top + b"/"
        for p in [p for p in self.tree if p.startswith(prefix)]:
            taken[p[len(prefix) :]] = self.tree.pop(p)
        return taken

    def _put(self, top: bytes, sub: Tree) -> None:
        for p, k in sub.items():
            self.tree[top + b"/" + p if p else top] = k

    def _parent_held(self, rel: bytes, what: str) -> None:
        parent = rel.rpartition(b"/")[0]
        if parent and self.tree.get(parent) != "d":
            self._flag("orphan", rel, f"{what} while the replay has no directory {parent!r}")

    def apply(self, i: int, ev: Rec) -> None:
        mask = ev.mask
        if mask & IN_Q_OVERFLOW:
            self.overflows += 1
            return
        if ev.pathname is None:
            return
        what = f"(event #{i} {mask:#x} origin {ev.origin})"
        rel = self.rel(ev.pathname)
        if rel is None:
            self._flag("outside", ev.pathname, what)
            return
        if rel not in self.ever:
            self._flag("never-was", rel, what)
        kind = "d" if mask & IN_ISDIR else "f"
        if (
            self.after_sentinel
            and ev.origin == "kernel"
            and mask & IN_ISDIR
            and mask & (IN_OPEN | IN_ACCESS | IN_CLOSE_NOWRITE)
        ):
            self._flag("own-read", rel, what)
        if rel == self.sentinel and mask & IN_CREATE:
            self.after_sentinel = True
        if mask & IN_CREATE:
            if rel in self.tree:
                self._flag("dup-create", rel, what)
            self._parent_held(rel, f"CREATE {what}")
            self.tree[rel] = kind
        elif mask & IN_DELETE:
            if rel not in self.tree:
                self._flag("unknown-source", rel, f"DELETE {what}")
            self._take(rel)
        elif mask & IN_MOVED_FROM:
            if rel not in self.tree:
                self._flag("unknown-source", rel, f"MOVED_FROM {what}")
            self.limbo[rel] = self._take(rel) or {b"": kind}
        elif mask & IN_MOVED_TO:
            self._moved_to(rel, kind, ev, what)
        elif rel and rel not in self.tree and not mask & _SELF and rel in self.ever:
            self._flag("stale", rel, what)

    def _moved_to(self, rel: bytes, kind: str, ev: Rec, what: str) -> None:
        src = self.rel(ev.src) if ev.src is not None else None
        sub: Tree
        if ev.src is not None and src is None:
            self._flag("outside", ev.src, f"src_pathname of MOVED_TO {rel!r} {what}")
        if src is not None:
            if src not in self.ever:
                self._flag("never-was", src, f"src_pathname {what}")
            if src in self.limbo:
                sub = self.limbo.pop(src)
            elif src in self.tree:  # MOVED_TO delivered before its MOVED_FROM
                sub = self._take(src)
            else:
                self._flag("unknown-source", src, f"src_pathname of MOVED_TO {rel!r} {what}")
                sub = {b"": kind}
        else:
            sub = {b"": kind}
        self._take(rel)  # a rename replaces what had that name
        self._parent_held(rel, f"MOVED_TO {what}")
        self._put(rel, sub)

    def finish(self, final: Tree) -> list[Divergence]:
        for p in sorted(set(final) | set(self.tree)):
            if p not in self.tree:
                self._flag("missing", p, "on disk, not in the replay")
            elif p not in final:
                self._flag("extra", p, "in the replay, not on disk")
            elif self.tree[p] != final[p]:
                self._flag("kind", p, f"replay {self.tree[p]}, disk {final[p]}")
        return self.out


def replay(
    root: bytes,
    initial: Tree,
    events: list[Rec],
    final: Tree,
    ever: set[bytes],
    sentinel: bytes | None = None,
) -> tuple[list[Divergence], int]:
    """The divergences of *events* replayed over *initial* against *final*
    (trees relative to *root*), and the number of queue overflows seen.
    *sentinel*: the path (relative) created by the last operation."""
    r = Replay(root, initial, ever, sentinel)
    for i, ev in enumerate(events):
        r.apply(i, ev)
    return r.finish(final), r.overflows
