"""Every inotify event, produced by a real operation on a real filesystem.

Each test does one thing and asserts the exact events this kernel queues for it
(inotify queues them synchronously, in the syscall that causes them).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from inwatch import IN_ALL_EVENTS, Inotify, Mask

from .kutil import assert_quiet, drain, drain_short


def test_open_access_close_nowrite_on_a_file(ino: Inotify, tmp_path: Path) -> None:
    f = tmp_path / "f"
    f.write_bytes(b"data")
    wd = ino.add_watch(f, Mask.ALL_EVENTS)
    with open(f, "rb") as fh:
        assert fh.read() == b"data"
    assert drain_short(ino) == [
        (wd, "OPEN", b""),
        (wd, "ACCESS", b""),
        (wd, "CLOSE_NOWRITE", b""),
    ]


def test_modify_and_close_write_reported_to_file_and_its_directory(
    ino: Inotify, tmp_path: Path
) -> None:
    f = tmp_path / "f"
    f.touch()
    wd_dir = ino.add_watch(tmp_path, Mask.ALL_EVENTS)
    wd_file = ino.add_watch(f, Mask.ALL_EVENTS)
    fd = os.open(f, os.O_WRONLY)
    os.write(fd, b"x")
    os.close(fd)
    assert drain_short(ino) == [
        (wd_dir, "OPEN", b"f"),
        (wd_file, "OPEN", b""),
        (wd_dir, "MODIFY", b"f"),
        (wd_file, "MODIFY", b""),
        (wd_dir, "CLOSE_WRITE", b"f"),
        (wd_file, "CLOSE_WRITE", b""),
    ]


def test_truncate_is_modify(ino: Inotify, tmp_path: Path) -> None:
    f = tmp_path / "f"
    f.write_bytes(b"data")
    wd = ino.add_watch(f, Mask.MODIFY)
    os.truncate(f, 1)
    assert drain_short(ino) == [(wd, "MODIFY", b"")]


def test_attrib_on_chmod_and_utime(ino: Inotify, tmp_path: Path) -> None:
    f = tmp_path / "f"
    f.touch()
    wd = ino.add_watch(f, Mask.ATTRIB)
    os.chmod(f, 0o600)
    assert drain_short(ino) == [(wd, "ATTRIB", b"")]
    os.utime(f, (1, 1))
    assert drain_short(ino) == [(wd, "ATTRIB", b"")]


def test_identical_consecutive_events_are_merged(ino: Inotify, tmp_path: Path) -> None:
    # inotify(7): "If successive output inotify events produced on the inotify file
    # descriptor are identical (same wd, mask, cookie, and name), then they are
    # coalesced into a single event if the older event has not yet been read".
    f = tmp_path / "f"
    f.touch()
    wd = ino.add_watch(f, Mask.MODIFY)
    with open(f, "wb", buffering=0) as fh:
        for _ in range(10):
            fh.write(b"x")
    assert drain_short(ino) == [(wd, "MODIFY", b"")]


def test_create_and_delete_in_a_directory(ino: Inotify, tmp_path: Path) -> None:
    wd = ino.add_watch(tmp_path, Mask.CREATE | Mask.DELETE)
    (tmp_path / "new").touch()
    assert drain_short(ino) == [(wd, "CREATE", b"new")]
    (tmp_path / "new").unlink()
    assert drain_short(ino) == [(wd, "DELETE", b"new")]
    os.symlink("nowhere", tmp_path / "link")  # a symlink is created too
    assert drain_short(ino) == [(wd, "CREATE", b"link")]


def test_isdir_on_directory_events(ino: Inotify, tmp_path: Path) -> None:
    wd = ino.add_watch(tmp_path, Mask.ALL_EVENTS)
    (tmp_path / "sub").mkdir()
    assert drain_short(ino) == [(wd, "CREATE|ISDIR", b"sub")]
    os.rename(tmp_path / "sub", tmp_path / "sub2")
    events = drain(ino)
    assert [(e.wd, e.mask, e.name) for e in events] == [
        (wd, Mask.MOVED_FROM | Mask.ISDIR, b"sub"),
        (wd, Mask.MOVED_TO | Mask.ISDIR, b"sub2"),
    ]
    fd = os.open(tmp_path / "sub2", os.O_RDONLY | os.O_DIRECTORY)
    os.close(fd)
    assert drain_short(ino) == [(wd, "OPEN|ISDIR", b"sub2"), (wd, "CLOSE_NOWRITE|ISDIR", b"sub2")]
    (tmp_path / "sub2").rmdir()
    assert drain_short(ino) == [(wd, "DELETE|ISDIR", b"sub2")]
    # The watched directory's own events carry ISDIR too.
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    os.close(fd)
    assert drain_short(ino) == [(wd, "OPEN|ISDIR", b""), (wd, "CLOSE_NOWRITE|ISDIR", b"")]


def test_moved_from_and_moved_to_share_one_cookie(ino: Inotify, tmp_path: Path) -> None:
    src = tmp_path / "src"
    dst = tmp_path / "dst"
    src.mkdir()
    dst.mkdir()
    (src / "a").touch()
    wd_src = ino.add_watch(src, Mask.MOVE)
    wd_dst = ino.add_watch(dst, Mask.MOVE)
    os.rename(src / "a", dst / "b")
    moved_from, moved_to = drain(ino)
    assert (moved_from.wd, moved_from.mask, moved_from.name) == (wd_src, Mask.MOVED_FROM, b"a")
    assert (moved_to.wd, moved_to.mask, moved_to.name) == (wd_dst, Mask.MOVED_TO, b"b")
    assert moved_from.cookie == moved_to.cookie != 0
    # A second rename gets a different cookie; a rename within one dir pairs too.
    os.rename(dst / "b", dst / "c")
    again_from, again_to = drain(ino)
    assert again_from.cookie == again_to.cookie != moved_from.cookie
    assert (again_from.wd, again_from.name, again_to.wd, again_to.name) == (
        wd_dst,
        b"b",
        wd_dst,
        b"c",
    )


def test_move_out_of_watched_tree_gives_moved_from_alone(ino: Inotify, tmp_path: Path) -> None:
    watched = tmp_path / "watched"
    watched.mkdir()
    (watched / "a").touch()
    wd = ino.add_watch(watched, Mask.ALL_EVENTS)
    os.rename(watched / "a", tmp_path / "outside")
    [ev] = drain(ino)
    assert (ev.wd, ev.mask, ev.name) == (wd, Mask.MOVED_FROM, b"a") and ev.cookie != 0


def test_delete_self_then_ignored(ino: Inotify, tmp_path: Path) -> None:
    f = tmp_path / "f"
    f.touch()
    wd = ino.add_watch(f, Mask.ALL_EVENTS)
    f.unlink()
    # The link count drops (ATTRIB), the inode goes (DELETE_SELF), the watch goes (IGNORED).
    assert drain_short(ino) == [(wd, "ATTRIB", b""), (wd, "DELETE_SELF", b""), (wd, "IGNORED", b"")]
    with pytest.raises(OSError):
        ino.rm_watch(wd)  # the kernel removed it


def test_delete_self_of_a_directory(ino: Inotify, tmp_path: Path) -> None:
    d = tmp_path / "d"
    d.mkdir()
    wd = ino.add_watch(d, Mask.ALL_EVENTS)
    d.rmdir()
    # Unlike DELETE in the parent, DELETE_SELF of a directory carries no ISDIR.
    assert drain_short(ino) == [(wd, "DELETE_SELF", b""), (wd, "IGNORED", b"")]


def test_move_self(ino: Inotify, tmp_path: Path) -> None:
    f = tmp_path / "f"
    f.touch()
    d = tmp_path / "d"
    d.mkdir()
    wd_f = ino.add_watch(f, Mask.ALL_EVENTS)
    wd_d = ino.add_watch(d, Mask.ALL_EVENTS)
    os.rename(f, tmp_path / "g")
    os.rename(d, tmp_path / "e")
    # The watch follows the inode, not the name: events still come after the move.
    (tmp_path / "g").write_bytes(b"x")
    assert drain_short(ino) == [
        (wd_f, "MOVE_SELF", b""),
        (wd_d, "MOVE_SELF", b""),
        (wd_f, "OPEN", b""),
        (wd_f, "MODIFY", b""),
        (wd_f, "CLOSE_WRITE", b""),
    ]


def test_unmount_then_ignored(ino: Inotify, tmpfs: Path) -> None:
    (tmpfs / "sub").mkdir()
    (tmpfs / "file").touch()
    wd_root = ino.add_watch(tmpfs, Mask.ALL_EVENTS)
    wd_sub = ino.add_watch(tmpfs / "sub", Mask.CREATE)  # UNMOUNT comes unasked
    wd_file = ino.add_watch(tmpfs / "file", Mask.ALL_EVENTS)
    subprocess.run(["umount", str(tmpfs)], check=True, timeout=30)
    events = drain_short(ino)
    # One UNMOUNT then IGNORED per watch on the unmounted filesystem; the order of
    # the watches is the kernel's walk over the superblock's inodes.
    per_wd: dict[int, list[str]] = {}
    for wd, mask, name in events:
        assert name == b""
        per_wd.setdefault(wd, []).append(mask)
    assert per_wd == {
        wd_root: ["UNMOUNT|ISDIR", "IGNORED"],  # a directory: ISDIR, like DELETE
        wd_sub: ["UNMOUNT|ISDIR", "IGNORED"],
        wd_file: ["UNMOUNT", "IGNORED"],
    }
    assert len(events) == 6


def test_q_overflow_when_more_than_max_queued_events(ino: Inotify, tmp_path: Path) -> None:
    max_queued = int(Path("/proc/sys/fs/inotify/max_queued_events").read_text())
    # The queue size is fixed when the instance is created; the test needs a few
    # thousand syscalls per 1024 events, so it stays well bounded for the default 16384.
    if max_queued > 1 << 20:
        pytest.skip(f"max_queued_events = {max_queued} is too large to fill in a test")
    f = tmp_path / "f"
    f.touch()
    wd = ino.add_watch(f, Mask.OPEN | Mask.CLOSE_NOWRITE)
    # OPEN, CLOSE_NOWRITE alternate, so no two consecutive events merge.
    path = os.fsencode(f)
    for _ in range(max_queued // 2 + 10):
        os.close(os.open(path, os.O_RDONLY))
    assert ino.pending_bytes() == (max_queued + 1) * 16
    events = ino.read(timeout=0)
    assert len(events) == max_queued + 1  # everything is read in one call
    *kept, overflow = events
    assert tuple(overflow) == (-1, Mask.Q_OVERFLOW, 0, b"")
    assert {(e.wd, e.mask) for e in kept} == {(wd, Mask.OPEN), (wd, Mask.CLOSE_NOWRITE)}
    # Once drained, the instance works again.
    os.close(os.open(path, os.O_RDONLY))
    assert drain_short(ino) == [(wd, "OPEN", b""), (wd, "CLOSE_NOWRITE", b"")]


def test_only_the_asked_events_are_reported(ino: Inotify, tmp_path: Path) -> None:
    f = tmp_path / "f"
    f.touch()
    wd = ino.add_watch(f, Mask.CLOSE_WRITE)
    f.read_bytes()
    os.chmod(f, 0o640)
    assert_quiet(ino, 0.05)
    f.write_bytes(b"x")
    assert drain_short(ino) == [(wd, "CLOSE_WRITE", b"")]
    assert IN_ALL_EVENTS == Mask.ALL_EVENTS == 0xFFF
