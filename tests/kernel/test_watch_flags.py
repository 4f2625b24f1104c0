"""The watch options of inotify_add_watch(2), each doing what inotify(7) says."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from inwatch import Inotify, Mask

from .kutil import assert_quiet, drain_short


def test_oneshot_reports_one_event_then_removes_the_watch(ino: Inotify, tmp_path: Path) -> None:
    # inotify(7): "IN_ONESHOT: Monitor the filesystem object corresponding to
    # pathname for one event, then remove from watch list."
    wd = ino.add_watch(tmp_path, Mask.CREATE | Mask.ONESHOT)
    (tmp_path / "a").touch()
    (tmp_path / "b").touch()
    assert drain_short(ino) == [(wd, "CREATE", b"a"), (wd, "IGNORED", b"")]
    (tmp_path / "c").touch()
    assert_quiet(ino)
    with pytest.raises(OSError) as err:
        ino.rm_watch(wd)
    assert err.value.errno == errno.EINVAL


def test_onlydir_refuses_a_file_naming_the_path(ino: Inotify, tmp_path: Path) -> None:
    f = tmp_path / "file"
    f.touch()
    with pytest.raises(NotADirectoryError) as err:
        ino.add_watch(f, Mask.CREATE | Mask.ONLYDIR)
    assert err.value.errno == errno.ENOTDIR
    assert err.value.filename == str(f)
    assert str(f) in str(err.value)
    # A directory is accepted, and the flag is not reported in events.
    wd = ino.add_watch(tmp_path, Mask.CREATE | Mask.ONLYDIR)
    (tmp_path / "x").touch()
    assert drain_short(ino) == [(wd, "CREATE", b"x")]


def test_onlydir_follows_a_symlink_to_a_directory(ino: Inotify, tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    os.symlink("d", tmp_path / "link")
    assert ino.add_watch(tmp_path / "link", Mask.CREATE | Mask.ONLYDIR) == ino.add_watch(
        tmp_path / "d", Mask.CREATE
    )
    with pytest.raises(NotADirectoryError):
        ino.add_watch(tmp_path / "link", Mask.CREATE | Mask.ONLYDIR | Mask.DONT_FOLLOW)


def test_dont_follow_watches_the_symlink_itself(ino: Inotify, tmp_path: Path) -> None:
    target = tmp_path / "target"
    target.touch()
    link = tmp_path / "link"
    os.symlink("target", link)
    wd_target = ino.add_watch(link, Mask.ATTRIB | Mask.MODIFY)  # followed: the target
    wd_link = ino.add_watch(link, Mask.ATTRIB | Mask.MODIFY | Mask.DONT_FOLLOW)
    assert wd_target != wd_link
    assert ino.add_watch(target, Mask.ATTRIB | Mask.MODIFY) == wd_target

    target.write_bytes(b"x")  # the target changes: only the followed watch hears it
    assert drain_short(ino) == [(wd_target, "MODIFY", b"")]
    os.utime(link, (1, 1), follow_symlinks=False)  # the link itself changes
    assert drain_short(ino) == [(wd_link, "ATTRIB", b"")]
    os.utime(link, (2, 2))  # followed: the target's times
    assert drain_short(ino) == [(wd_target, "ATTRIB", b"")]


def test_dont_follow_on_a_dangling_symlink(ino: Inotify, tmp_path: Path) -> None:
    link = tmp_path / "dangling"
    os.symlink("missing", link)
    with pytest.raises(FileNotFoundError):
        ino.add_watch(link, Mask.ALL_EVENTS)
    wd = ino.add_watch(link, Mask.ALL_EVENTS | Mask.DONT_FOLLOW)
    link.unlink()
    assert drain_short(ino) == [(wd, "ATTRIB", b""), (wd, "DELETE_SELF", b""), (wd, "IGNORED", b"")]


def test_mask_add_ors_into_the_existing_mask(ino: Inotify, tmp_path: Path) -> None:
    f = tmp_path / "f"
    f.touch()
    wd = ino.add_watch(f, Mask.OPEN)
    assert ino.add_watch(f, Mask.CLOSE_WRITE | Mask.MASK_ADD) == wd
    f.write_bytes(b"x")
    assert drain_short(ino) == [(wd, "OPEN", b""), (wd, "CLOSE_WRITE", b"")]


def test_without_mask_add_the_mask_is_replaced(ino: Inotify, tmp_path: Path) -> None:
    f = tmp_path / "f"
    f.touch()
    wd = ino.add_watch(f, Mask.OPEN)
    assert ino.add_watch(f, Mask.CLOSE_WRITE) == wd
    f.write_bytes(b"x")
    assert drain_short(ino) == [(wd, "CLOSE_WRITE", b"")]


def test_mask_create_refuses_an_existing_watch(ino: Inotify, tmp_path: Path) -> None:
    f = tmp_path / "f"
    f.touch()
    wd = ino.add_watch(f, Mask.OPEN | Mask.MASK_CREATE)
    with pytest.raises(FileExistsError) as err:
        ino.add_watch(f, Mask.CLOSE | Mask.MASK_CREATE)
    assert err.value.errno == errno.EEXIST
    assert err.value.filename == str(f)
    # A watch is on the inode: another name for it (a hard link) is "already watched".
    os.link(f, tmp_path / "hard")
    with pytest.raises(FileExistsError):
        ino.add_watch(tmp_path / "hard", Mask.OPEN | Mask.MASK_CREATE)
    # The refused call left the first mask alone.
    f.read_bytes()
    assert drain_short(ino) == [(wd, "OPEN", b"")]
    # Another instance has its own watches.
    with Inotify() as other:
        assert other.add_watch(f, Mask.OPEN | Mask.MASK_CREATE) >= 1


def test_mask_create_with_mask_add_is_invalid(ino: Inotify, tmp_path: Path) -> None:
    with pytest.raises(OSError) as err:
        ino.add_watch(tmp_path, Mask.OPEN | Mask.MASK_CREATE | Mask.MASK_ADD)
    assert err.value.errno == errno.EINVAL


def test_an_empty_mask_is_invalid(ino: Inotify, tmp_path: Path) -> None:
    with pytest.raises(OSError) as err:
        ino.add_watch(tmp_path, 0)
    assert err.value.errno == errno.EINVAL
    assert err.value.filename == str(tmp_path)
    # Any inotify bit makes the mask valid, even one that selects no event.
    wd = ino.add_watch(tmp_path, Mask.ONLYDIR)
    (tmp_path / "f").touch()
    assert_quiet(ino, 0.05)
    ino.rm_watch(wd)
    assert drain_short(ino) == [(wd, "IGNORED", b"")]


def _write_after_unlink(ino: Inotify, tmp_path: Path, mask: int) -> list[tuple[int, str, bytes]]:
    wd = ino.add_watch(tmp_path, mask)
    fd = os.open(tmp_path / "f", os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        os.unlink(tmp_path / "f")
        os.write(fd, b"written after the unlink")
    finally:
        os.close(fd)
    return [ev for ev in drain_short(ino) if ev[0] == wd]


def test_without_excl_unlink_an_unlinked_child_still_reports(ino: Inotify, tmp_path: Path) -> None:
    events = _write_after_unlink(ino, tmp_path, Mask.ALL_EVENTS)
    assert events[-3:] == [
        (1, "DELETE", b"f"),
        (1, "MODIFY", b"f"),
        (1, "CLOSE_WRITE", b"f"),
    ]


def test_excl_unlink_stops_events_of_unlinked_children(ino: Inotify, tmp_path: Path) -> None:
    # inotify(7): "IN_EXCL_UNLINK: By default, when watching events on the children
    # of a directory, events are generated for children even after they have been
    # unlinked from the directory. [...] IN_EXCL_UNLINK changes the default".
    events = _write_after_unlink(ino, tmp_path, Mask.ALL_EVENTS | Mask.EXCL_UNLINK)
    assert events == [
        (1, "CREATE", b"f"),
        (1, "OPEN", b"f"),
        (1, "DELETE", b"f"),
    ]
