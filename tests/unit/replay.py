"""Replay an event stream over a starting tree (pure), to compare with the real end.

A tree is a set of paths relative to the watched root; directories end in "/".
The replay applies CREATE / DELETE / MOVED_FROM / MOVED_TO (paired by cookie, or
by ``src_pathname``) in order, and records what a reader of the events could not
make sense of: a CREATE of an entry that exists already (a duplicate), an event
about an entry below a directory that does not exist (a path where nothing was),
any other event (ATTRIB, MODIFY...) about an entry the replay does not hold then
(a stale path); only the watch's own DELETE_SELF, MOVE_SELF and IGNORED may name
the last path of an entry that left.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

MOVED_FROM, MOVED_TO, CREATE, DELETE, ISDIR = 0x40, 0x80, 0x100, 0x200, 0x40000000
Q_OVERFLOW = 0x4000
_SELF = 0x400 | 0x800 | 0x8000  # DELETE_SELF, MOVE_SELF, IGNORED


def _key(rel: str, is_dir: bool) -> str:
    return rel + "/" if is_dir else rel


def _subtree(tree: set[str], rel: str) -> set[str]:
    return {p for p in tree if p == rel + "/" or p.startswith(rel + "/")}


def replay(root: str, start: set[str], events: Iterable[Any]) -> tuple[set[str], list[str]]:
    """The tree after *events*, and the complaints a careful reader would have."""
    tree = set(start)
    departed: dict[int, set[str]] = {}
    complaints: list[str] = []
    prefix = root.rstrip("/") + "/"
    for ev in events:
        if ev.mask & Q_OVERFLOW:
            continue
        full = os.fsdecode(ev.pathname)
        if not full.startswith(prefix):
            continue  # about the root itself
        rel = full[len(prefix) :]
        is_dir = bool(ev.mask & ISDIR)
        parent = os.path.dirname(rel)
        if ev.mask & (CREATE | MOVED_TO) and parent and parent + "/" not in tree:
            complaints.append(f"{ev!r}: its directory {parent}/ does not exist")
        if not ev.mask & (CREATE | DELETE | MOVED_FROM | MOVED_TO | _SELF):
            if rel + "/" not in tree and rel not in tree:
                complaints.append(f"{ev!r}: about an entry the replay does not hold")
        elif ev.mask & CREATE:
            if _key(rel, is_dir) in tree:
                complaints.append(f"{ev!r}: created twice")
            tree.add(_key(rel, is_dir))
        elif ev.mask & DELETE:
            if _key(rel, is_dir) not in tree:
                complaints.append(f"{ev!r}: deleted but never there")
            tree -= _subtree(tree, rel) if is_dir else {rel}
        elif ev.mask & MOVED_FROM:
            moved = _subtree(tree, rel) if is_dir else ({rel} & tree)
            tree -= moved
            departed[ev.cookie] = {p[len(rel) :] for p in moved}
        elif ev.mask & MOVED_TO:
            tree -= _subtree(tree, rel) if is_dir else {rel}  # rename(2) replaces
            moved = departed.pop(ev.cookie, None)
            if moved is None:
                tree.add(_key(rel, is_dir))
            else:
                tree |= {rel + tail for tail in moved} or {_key(rel, is_dir)}
    return tree, complaints


def real_tree(root: str) -> set[str]:
    out: set[str] = set()
    for dirpath, dirnames, filenames in os.walk(root):
        rel = os.path.relpath(dirpath, root)
        base = "" if rel == "." else rel + "/"
        out.update(base + d + "/" for d in dirnames)
        out.update(base + f for f in filenames)
    return out
