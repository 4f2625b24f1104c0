"""A fake kernel behind the inotify core's port, to script races.

A tiny in-memory file system (directories and files by inode) and an inotify
instance over it: watches by inode, events packed with the real wire format
(:func:`inwatch.inotify.wire.pack_event`) into a queue that ``read()`` drains.
Hooks run scripted operations at the moments a real kernel cannot be made to
hit on purpose: just before a directory is listed, just after a watch is added.
Only what the core relies on is modelled (inotify(7)): a watch follows its
inode across renames, a rename queues MOVED_FROM, MOVED_TO (one cookie) and
MOVE_SELF, rmdir queues DELETE_SELF, IGNORED, then the parent's DELETE.
"""

from __future__ import annotations

import errno
import itertools
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass, field

from inwatch.inotify.wire import pack_event

MOVED_FROM, MOVED_TO, CREATE, DELETE = 0x40, 0x80, 0x100, 0x200
DELETE_SELF, MOVE_SELF, IGNORED, ISDIR = 0x400, 0x800, 0x8000, 0x40000000
MODIFY, ATTRIB = 0x2, 0x4
ACCESS, CLOSE_NOWRITE, OPEN = 0x1, 0x10, 0x20


@dataclass
class Node:
    ino: int
    is_dir: bool
    children: dict[str, int] = field(default_factory=dict)


class FakeEntry:
    def __init__(self, kernel: FakeKernel, parent: str, name: str, node: Node) -> None:
        self.name = name
        self.path = parent.rstrip("/") + "/" + name
        self._node = node
        self._kernel = kernel

    def inode(self) -> int:
        return self._node.ino

    def is_dir(self, *, follow_symlinks: bool = True) -> bool:
        return self._node.is_dir

    def stat(self, *, follow_symlinks: bool = True) -> os.stat_result:
        return self._kernel.stat_of(self._node)


class FakeKernel:
    """Implements :class:`inwatch.inotify.port.Port` over an in-memory tree."""

    def __init__(self) -> None:
        self._ino = itertools.count(2)
        self.nodes: dict[int, Node] = {1: Node(1, True)}
        self.watch_of: dict[int, int] = {}  # inode -> wd
        self.inode_of: dict[int, int] = {}  # wd -> inode
        self.masks: dict[int, int] = {}
        self._wd = itertools.count(1)
        self._cookie = itertools.count(100)
        self.queue: list[bytes] = []
        self.now = 0.0
        self.closed = False
        self.before_list: dict[str, Callable[[], None]] = {}
        self.after_watch: dict[str, Callable[[], None]] = {}
        self.reads = 0
        self.refuse: dict[str, int] = {}  # path -> errno add_watch fails with
        # Listing a directory opens, reads and closes it: with *echo*, OPEN,
        # ACCESS and CLOSE_NOWRITE (ISDIR) go to its parent's watch, named as
        # the directory is named at each moment; *during_list* hooks run
        # between the OPEN and the rest (a rename in the middle of a listing).
        self.echo = False
        self.during_list: dict[str, Callable[[], None]] = {}

    # --- the file system ---------------------------------------------------------------

    def _lookup(self, path: str) -> Node:
        node = self.nodes[1]
        for part in [p for p in path.split("/") if p]:
            if not node.is_dir or part not in node.children:
                raise FileNotFoundError(errno.ENOENT, "No such file or directory", path)
            node = self.nodes[node.children[part]]
        return node

    def _split(self, path: str) -> tuple[Node, str]:
        parent, name = os.path.split(path.rstrip("/"))
        return self._lookup(parent or "/"), name

    def _queue(self, node: Node, mask: int, cookie: int = 0, name: str = "") -> None:
        wd = self.watch_of.get(node.ino)
        if wd is None:
            return
        if mask & self.masks[wd] & 0xFFF or mask & IGNORED:
            self.queue.append(pack_event(wd, mask, cookie, name.encode()))

    def mkdir(self, path: str) -> None:
        parent, name = self._split(path)
        node = Node(next(self._ino), True)
        self.nodes[node.ino] = node
        parent.children[name] = node.ino
        self._queue(parent, CREATE | ISDIR, name=name)

    def makedirs(self, path: str) -> None:
        done = ""
        for part in [p for p in path.split("/") if p]:
            done += "/" + part
            try:
                self._lookup(done)
            except FileNotFoundError:
                self.mkdir(done)

    def create(self, path: str) -> None:
        parent, name = self._split(path)
        node = Node(next(self._ino), False)
        self.nodes[node.ino] = node
        parent.children[name] = node.ino
        self._queue(parent, CREATE, name=name)

    def modify(self, path: str) -> None:
        """A write to a file: MODIFY on its directory's watch."""
        parent, name = self._split(path)
        self._queue(parent, MODIFY, name=name)

    def attrib(self, path: str) -> None:
        """chmod: ATTRIB on the entry's own watch (no name), then on its
        parent's (with the name), as inotify(7) reports a directory's events."""
        parent, name = self._split(path)
        node = self.nodes[parent.children[name]]
        isdir = ISDIR if node.is_dir else 0
        self._queue(node, ATTRIB | isdir)
        self._queue(parent, ATTRIB | isdir, name=name)

    def rename(self, src: str, dst: str) -> None:
        sparent, sname = self._split(src)
        dparent, dname = self._split(dst)
        ino = sparent.children.pop(sname)
        node = self.nodes[ino]
        replaced = dparent.children.get(dname)
        if replaced is not None and self.nodes[replaced].is_dir:
            self._gone_dir(self.nodes[replaced])
        dparent.children[dname] = ino
        cookie = next(self._cookie)
        isdir = ISDIR if node.is_dir else 0
        self._queue(sparent, MOVED_FROM | isdir, cookie, sname)
        self._queue(dparent, MOVED_TO | isdir, cookie, dname)
        self._queue(node, MOVE_SELF)

    def rmdir(self, path: str) -> None:
        parent, name = self._split(path)
        node = self.nodes[parent.children.pop(name)]
        self._gone_dir(node)
        self._queue(parent, DELETE | ISDIR, name=name)

    def _gone_dir(self, node: Node) -> None:
        self._queue(node, DELETE_SELF)
        wd = self.watch_of.pop(node.ino, None)
        if wd is not None:
            self.queue.append(pack_event(wd, IGNORED))
            del self.inode_of[wd]

    # --- the port --------------------------------------------------------------------

    def fileno(self) -> int:
        return -1

    def inotify_fd(self) -> int:
        return -1

    def wait_fds(self) -> list[tuple[int, int]]:
        return []

    def new_mounts(self) -> set[str] | None:
        return None

    def was_mount_point(self, path: str) -> bool | None:
        return None

    def add_watch(self, path: str, mask: int) -> int:
        if path in self.refuse:
            err = self.refuse[path]
            raise OSError(err, os.strerror(err), path)
        node = self._lookup(path)
        if mask & 0x01000000 and not node.is_dir:
            raise NotADirectoryError(errno.ENOTDIR, "Not a directory", path)
        wd = self.watch_of.get(node.ino)
        if wd is None:
            wd = next(self._wd)
            self.watch_of[node.ino] = wd
            self.inode_of[wd] = node.ino
            self.masks[wd] = mask & 0xFFF
        elif mask & 0x20000000:
            self.masks[wd] |= mask & 0xFFF
        else:
            self.masks[wd] = mask & 0xFFF
        hook = self.after_watch.pop(path, None)
        if hook is not None:
            hook()
        return wd

    def rm_watch(self, wd: int) -> None:
        ino = self.inode_of.pop(wd, None)
        if ino is None:
            raise OSError(errno.EINVAL, "Invalid argument")
        del self.watch_of[ino]
        self.queue.append(pack_event(wd, IGNORED))

    def read(self) -> bytes:
        self.reads += 1
        data = b"".join(self.queue)
        self.queue.clear()
        return data

    def scandir(self, path: str) -> list[FakeEntry]:
        hook = self.before_list.pop(path, None)
        if hook is not None:
            hook()
        node = self._lookup(path)
        if not node.is_dir:
            raise NotADirectoryError(errno.ENOTDIR, "Not a directory", path)
        listing = [FakeEntry(self, path, n, self.nodes[i]) for n, i in node.children.items()]
        if self.echo:
            self._echo(node, OPEN)
            hook = self.during_list.pop(path, None)
            if hook is not None:
                hook()
            self._echo(node, ACCESS)
            self._echo(node, CLOSE_NOWRITE)
        return listing

    def _echo(self, node: Node, mask: int) -> None:
        for parent in self.nodes.values():
            for name, ino in parent.children.items():
                if ino == node.ino:
                    self._queue(parent, mask | ISDIR, name=name)
                    return

    def stat_of(self, node: Node) -> os.stat_result:
        mode = stat.S_IFDIR | 0o755 if node.is_dir else stat.S_IFREG | 0o644
        return os.stat_result((mode, node.ino, 1, 1, 0, 0, 0, 0, 0, 0))

    def stat(self, path: str, follow_symlinks: bool) -> os.stat_result:
        return self.stat_of(self._lookup(path))

    def clock(self) -> float:
        self.now += 0.001
        return self.now

    def close(self) -> None:
        self.closed = True

    # --- for the tests ------------------------------------------------------------------

    def tree(self, top: str) -> set[str]:
        """Every path below *top* now (directories end with '/')."""
        out: set[str] = set()
        stack = [(top.rstrip("/"), self._lookup(top))]
        while stack:
            path, node = stack.pop()
            for name, ino in node.children.items():
                child = self.nodes[ino]
                full = f"{path}/{name}"
                out.add(full + "/" if child.is_dir else full)
                if child.is_dir:
                    stack.append((full, child))
        return out

    def watched_paths(self, top: str) -> set[str]:
        """The directories below *top* (and itself) that have a watch now."""
        out = set()
        if self._lookup(top).ino in self.watch_of:
            out.add(top)
        for p in self.tree(top):
            if p.endswith("/") and self._lookup(p).ino in self.watch_of:
                out.add(p.rstrip("/"))
        return out
