"""The accelerator's inotify_add_watch (inotify/_accel_watch.c) on the real
kernel: the same wds as the Python path for what succeeds, and None (so that
fd.py's Python path makes the call again and raises its one error) for every
failure."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from inwatch.flags import IN_ALL_EVENTS, IN_CREATE, IN_MASK_ADD, IN_ONLYDIR
from inwatch.inotify import _sys
from inwatch.inotify.fd import Inotify

from .accel_bound import bound_accelerator


def test_same_wd_as_the_python_path(tmp_path: Path) -> None:
    native = bound_accelerator()
    (tmp_path / "a").mkdir()
    odd = os.fsdecode(b"\xffodd")  # not UTF-8: surrogateescape both ways
    os.mkdir(os.fsencode(tmp_path) + b"/\xffodd")
    with Inotify() as ino:
        fd = ino.fileno()
        wd_a = native.add_watch(fd, str(tmp_path / "a"), IN_CREATE)
        assert isinstance(wd_a, int) and wd_a > 0
        # The same inode again: the kernel returns the same wd, by either path.
        assert _sys.add_watch(fd, os.fsencode(tmp_path / "a"), IN_CREATE) == wd_a
        assert native.add_watch(fd, str(tmp_path / "a"), IN_ALL_EVENTS | IN_MASK_ADD) == wd_a
        wd_odd = native.add_watch(fd, f"{tmp_path}/{odd}", IN_CREATE)
        assert wd_odd == _sys.add_watch(fd, os.fsencode(tmp_path) + b"/\xffodd", IN_CREATE)
        assert wd_odd != wd_a
        # And it watches: an event comes for the non-UTF-8 directory's wd.
        (Path(f"{tmp_path}/{odd}") / "x").touch()
        assert [e.wd for e in ino.read(timeout=5)] == [wd_odd]


@pytest.mark.parametrize(
    "path, mask",
    [
        ("missing", IN_CREATE),  # ENOENT
        ("file", IN_CREATE | IN_ONLYDIR),  # ENOTDIR
        ("a\0b", IN_CREATE),  # an embedded NUL: refused, never cut
        ("a", 1 << 32),  # wider than the kernel's 32 bits: refused, never cut
        ("a", -1),
        ("a", 0),  # EINVAL: no event asked
    ],
)
def test_every_failure_is_none_and_fd_py_raises_it(tmp_path: Path, path: str, mask: int) -> None:
    native = bound_accelerator()
    (tmp_path / "a").mkdir()
    (tmp_path / "file").touch()
    full = f"{tmp_path}/{path}"
    with Inotify() as ino:
        assert native.add_watch(ino.fileno(), full, mask) is None
        with pytest.raises((OSError, ValueError, OverflowError)) as err:
            ino.add_watch(full, mask)
        # the Python path's message, which names the path (or the bad value)
        assert path.split("\0")[0] in str(err.value) or f"{mask:#x}" in str(err.value)


def test_a_closed_fd_is_none(tmp_path: Path) -> None:
    native = bound_accelerator()
    ino = Inotify()
    fd = ino.fileno()
    ino.close()
    assert native.add_watch(-1, str(tmp_path), IN_CREATE) is None
    assert native.add_watch(fd, str(tmp_path), IN_CREATE) is None  # EBADF (unless reused)
    with pytest.raises(ValueError, match="closed"):
        ino.add_watch(str(tmp_path), IN_CREATE)
