"""The scripted session of the seed article (inotify_test on dir1/, dir1/dir2/ and
dir1/dir2/file1), replayed step by step against this kernel.

The shell commands are replaced by the syscalls they make, so the test does not
depend on which coreutils is installed. Each step asserts exactly the events this
kernel (Linux 6.x) queues, in order.

How 6.x differs from the 2.6-era article (whose listings are quoted per step):

- Reading a directory (getdents64) reports ACCESS|ISDIR, on the directory and its
  parent's watch; the article's ``ls`` showed only OPEN and CLOSE_NOWRITE.
  glibc's readdir calls getdents64 until it returns nothing, so ``ls`` of a small
  directory reads twice: two ACCESS per watch. Identical consecutive events are
  merged, so where only one watch hears them (``rm -rf``) a single ACCESS remains.
- ``rmdir dir1/dir2``: the article listed DELETE "dir2" on WD 1 first; 6.x queues
  DELETE_SELF and IGNORED on WD 2 first, then DELETE|ISDIR on WD 1.
- DELETE_SELF of a directory carries no ISDIR (as in the article's output), while
  OPEN/ACCESS/CLOSE of a watched directory on its own watch do.

Everything else, the hard-link case included, is what the article shows: the
watch is on the inode, so after ``ln dir1/file1 dir1/file2`` and ``mv dir1/file1
./file3`` (out of the watched tree) WD 3 keeps reporting for dir1/file2, until the
last link goes.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from inwatch import Inotify, Mask

from .kutil import assert_quiet, drain_short


@pytest.fixture
def session(tmp_path: Path) -> Iterator[Path]:
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        yield tmp_path
    finally:
        os.chdir(cwd)


def touch(path: str) -> None:
    # coreutils touch: open(O_WRONLY|O_CREAT|O_NOCTTY|O_NONBLOCK), futimens, close.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_NOCTTY | os.O_NONBLOCK, 0o666)
    try:
        os.utime(fd)
    finally:
        os.close(fd)


def test_seed_article_session(ino: Inotify, session: Path) -> None:
    # Listing 9: mkdir -p dir1/dir2; touch dir1/dir2/file1;
    #            ./inotify_test dir1/ dir1/dir2/ dir1/dir2/file1
    os.makedirs("dir1/dir2")
    touch("dir1/dir2/file1")
    wd1 = ino.add_watch("dir1/", Mask.ALL_EVENTS)
    wd2 = ino.add_watch("dir1/dir2/", Mask.ALL_EVENTS)
    wd3 = ino.add_watch("dir1/dir2/file1", Mask.ALL_EVENTS)
    assert (wd1, wd2, wd3) == (1, 2, 3)
    assert_quiet(ino, 0.02)

    # Listing 10: ls dir1/dir2 -- OPEN and CLOSE_NOWRITE, doubled (dir1 sees its
    # child dir2, dir2 sees itself); 6.x adds ACCESS for each getdents64.
    assert os.listdir("dir1/dir2") == ["file1"]
    assert drain_short(ino) == [
        (wd1, "OPEN|ISDIR", b"dir2"),
        (wd2, "OPEN|ISDIR", b""),
        (wd1, "ACCESS|ISDIR", b"dir2"),
        (wd2, "ACCESS|ISDIR", b""),
        (wd1, "ACCESS|ISDIR", b"dir2"),
        (wd2, "ACCESS|ISDIR", b""),
        (wd1, "CLOSE_NOWRITE|ISDIR", b"dir2"),
        (wd2, "CLOSE_NOWRITE|ISDIR", b""),
    ]

    # Listing 11: echo "Some text" >> dir1/dir2/file1
    with open("dir1/dir2/file1", "a") as f:
        f.write("Some text\n")
    assert drain_short(ino) == [
        (wd2, "OPEN", b"file1"),
        (wd3, "OPEN", b""),
        (wd2, "MODIFY", b"file1"),
        (wd3, "MODIFY", b""),
        (wd2, "CLOSE_WRITE", b"file1"),
        (wd3, "CLOSE_WRITE", b""),
    ]

    # Listing 12: chmod a+w dir1/dir2/file1
    os.chmod("dir1/dir2/file1", os.stat("dir1/dir2/file1").st_mode | 0o222)
    assert drain_short(ino) == [(wd2, "ATTRIB", b"file1"), (wd3, "ATTRIB", b"")]

    # Listing 13: mv dir1/dir2/file1 dir1 -- one cookie pairs the two halves.
    os.rename("dir1/dir2/file1", "dir1/file1")
    events = ino.read(timeout=1)
    assert [(e.wd, e.mask, e.name) for e in events] == [
        (wd2, Mask.MOVED_FROM, b"file1"),
        (wd1, Mask.MOVED_TO, b"file1"),
        (wd3, Mask.MOVE_SELF, b""),
    ]
    assert events[0].cookie == events[1].cookie != 0 and events[2].cookie == 0

    # Listing 14: ln dir1/file1 dir1/file2 -- link count (ATTRIB) and the new name.
    os.link("dir1/file1", "dir1/file2")
    assert drain_short(ino) == [(wd3, "ATTRIB", b""), (wd1, "CREATE", b"file2")]

    # Listing 15: mv dir1/file1 ./file3 -- out of the watched tree: no MOVED_TO.
    os.rename("dir1/file1", "file3")
    events = ino.read(timeout=1)
    assert [(e.wd, e.mask, e.name) for e in events] == [
        (wd1, Mask.MOVED_FROM, b"file1"),
        (wd3, Mask.MOVE_SELF, b""),
    ]
    assert events[0].cookie != 0

    # Listing 16: rmdir dir1/dir2 -- WD 2 is gone (IGNORED); 6.x reports it before
    # the parent's DELETE.
    os.rmdir("dir1/dir2")
    assert drain_short(ino) == [
        (wd2, "DELETE_SELF", b""),
        (wd2, "IGNORED", b""),
        (wd1, "DELETE|ISDIR", b"dir2"),
    ]

    # Listing 16 (bis): rm file3 -- only the link count drops (ATTRIB): dir1/file2
    # is another link to the same inode, so WD 3 stays.
    os.unlink("file3")
    assert drain_short(ino) == [(wd3, "ATTRIB", b"")]

    # Listing 17: touch dir1/file2 -- "we are still watching file2" through WD 3.
    touch("dir1/file2")
    assert drain_short(ino) == [
        (wd1, "OPEN", b"file2"),
        (wd3, "OPEN", b""),
        (wd1, "ATTRIB", b"file2"),
        (wd3, "ATTRIB", b""),
        (wd1, "CLOSE_WRITE", b"file2"),
        (wd3, "CLOSE_WRITE", b""),
    ]

    # Listing 18: rm -rf dir1 -- coreutils opens dir1, reads it, unlinks file2 at
    # the directory fd, closes it and removes dir1.
    fd = os.open("dir1", os.O_RDONLY | os.O_DIRECTORY)
    try:
        assert os.listdir(fd) == ["file2"]
        os.unlink("file2", dir_fd=fd)
    finally:
        os.close(fd)
    os.rmdir("dir1")
    assert drain_short(ino) == [
        (wd1, "OPEN|ISDIR", b""),
        (wd1, "ACCESS|ISDIR", b""),  # two getdents64, merged into one event
        (wd3, "ATTRIB", b""),  # the last link goes: nlink 1 -> 0
        (wd3, "DELETE_SELF", b""),
        (wd3, "IGNORED", b""),
        (wd1, "DELETE", b"file2"),
        (wd1, "CLOSE_NOWRITE|ISDIR", b""),
        (wd1, "DELETE_SELF", b""),
        (wd1, "IGNORED", b""),
    ]
    # "Watching = 0 items": every watch is gone.
    for wd in (wd1, wd2, wd3):
        with pytest.raises(OSError):
            ino.rm_watch(wd)
    assert_quiet(ino, 0.02)
