"""What the kernel refuses, as the fanotify backend reports it: one OSError
subclass per remedy, with the path and a hint."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from inwatch.fanotify import _sys
from inwatch.fanotify.backend import FanotifyBackend
from inwatch.fanotify.errors import (
    FanotifyError,
    NoFileHandlesError,
    UnsupportedEventError,
)
from inwatch.fanotify.fd import Fanotify
from inwatch.fanotify.flags import FanMark, FanMask


def test_missing_path(tmp_path: Path) -> None:
    with FanotifyBackend(actors=False) as b, pytest.raises(FileNotFoundError) as info:
        b.add(str(tmp_path / "nope"))
    assert info.value.filename == str(tmp_path / "nope")


def test_filesystem_without_handles() -> None:
    with FanotifyBackend(actors=False) as b, pytest.raises(NoFileHandlesError) as info:
        b.add("/proc")
    assert info.value.errno in (errno.EOPNOTSUPP, errno.ENODEV, errno.EXDEV)
    assert "inotify" in str(info.value) and "/proc" in str(info.value)


def test_mount_mark_cannot_report_directory_events(tmpfs: Path) -> None:
    with Fanotify(pidfd=False) as fan, pytest.raises(UnsupportedEventError) as info:
        fan.mark(os.fsencode(tmpfs), FanMask.CREATE, FanMark.MOUNT)
    assert info.value.errno == errno.EINVAL
    assert "mount mark cannot report" in str(info.value)


def test_no_such_path_to_mark(tmp_path: Path) -> None:
    with Fanotify(pidfd=False) as fan, pytest.raises(FanotifyError) as info:
        fan.mark(os.fsencode(tmp_path / "nope"), FanMask.CREATE)
    assert info.value.errno == errno.ENOENT and info.value.filename == os.fsencode(
        tmp_path / "nope"
    )


def test_stale_handle(tmpfs: Path) -> None:
    d = tmpfs / "gone"
    d.mkdir()
    handle, _ = _sys.name_to_handle_at(os.fsencode(d))
    d.rmdir()
    fd = os.open(tmpfs, os.O_RDONLY | os.O_DIRECTORY)
    try:
        with pytest.raises(NoFileHandlesError) as info:
            _sys.open_by_handle_at(fd, handle)
        assert info.value.errno == errno.ESTALE
    finally:
        os.close(fd)


def test_embedded_nul_and_wide_mask() -> None:
    with Fanotify(pidfd=False) as fan:
        with pytest.raises(ValueError, match="null byte"):
            fan.mark(b"/tmp\0x", FanMask.CREATE)
        with pytest.raises(OverflowError):
            fan.mark(b"/tmp", 1 << 64)
