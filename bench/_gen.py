"""The second process: makes files as fast as it can while a peer watches.

    python _gen.py storm ROOT FILES SUBDIRS   create, write, close, delete each file
                                              (in ROOT, or spread over ROOT/d0..d{SUBDIRS-1})
    python _gen.py race ROOT DEPTH            mkdir a level, at once a file inside, go deeper

The burst workload calls :func:`burst` in the parent itself (the peer is stopped).
"""

from __future__ import annotations

import os
import stat
import sys


def burst(root: str, count: int) -> None:
    """*count* files made with mknod: exactly one IN_CREATE each, no open/close."""
    mode = stat.S_IFREG | 0o600
    mknod = os.mknod
    for i in range(count):
        mknod(f"{root}/b{i:05d}", mode)


def storm(root: str, count: int, subdirs: int) -> None:
    dirs = [f"{root}/d{i}" for i in range(subdirs)] if subdirs else [root]
    flags = os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC
    ndirs = len(dirs)
    for i in range(count):
        path = f"{dirs[i % ndirs]}/s{i:05d}"
        fd = os.open(path, flags, 0o644)
        os.write(fd, b"x")
        os.close(fd)
        os.unlink(path)


def race(root: str, depth: int) -> None:
    path = root
    flags = os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC
    for i in range(depth):
        path = f"{path}/d{i}"
        os.mkdir(path)
        os.close(os.open(f"{path}/f{i}", flags, 0o644))


if __name__ == "__main__":
    kind, root, *rest = sys.argv[1:]
    if kind == "storm":
        storm(root, int(rest[0]), int(rest[1]))
    elif kind == "race":
        race(root, int(rest[0]))
    else:
        sys.exit(f"unknown generator {kind!r}")
