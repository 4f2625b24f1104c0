"""Paths: str, bytes and os.PathLike in; names are bytes out, whatever they hold.

Linux file names are bytes. A name that is not UTF-8 is never an error: bytes
come back byte for byte, and a str path made with surrogateescape (what
``os.fsdecode`` gives for such names) reaches the same file.
"""

from __future__ import annotations

import os
from pathlib import Path

from inwatch import Inotify, Mask

from .kutil import drain, drain_short

LATIN1 = b"caf\xe9"  # not UTF-8
INVALID = b"\xff\xfe-\x80"


def test_non_utf8_names_come_back_as_the_raw_bytes(ino: Inotify, tmp_path: Path) -> None:
    wd = ino.add_watch(os.fsencode(tmp_path), Mask.CREATE | Mask.DELETE)
    for raw in (LATIN1, INVALID, "日本".encode(), b"with space", b"a" * 255):
        path = os.path.join(os.fsencode(tmp_path), raw)
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o644))
        os.unlink(path)
        assert drain_short(ino) == [(wd, "CREATE", raw), (wd, "DELETE", raw)]


def test_str_path_with_surrogateescape_watches_a_non_utf8_directory(
    ino: Inotify, tmp_path: Path
) -> None:
    raw_dir = os.path.join(os.fsencode(tmp_path), INVALID)
    os.mkdir(raw_dir)
    str_dir = os.fsdecode(raw_dir)
    assert "\udcff" in str_dir  # surrogateescape
    wd = ino.add_watch(str_dir, Mask.CREATE)
    assert ino.add_watch(raw_dir, Mask.CREATE) == wd  # the same inode, the same watch
    assert ino.add_watch(Path(str_dir), Mask.CREATE) == wd
    os.close(os.open(os.path.join(raw_dir, LATIN1), os.O_CREAT | os.O_WRONLY, 0o644))
    [ev] = drain(ino)
    assert (ev.wd, ev.name) == (wd, LATIN1)
    assert os.fsdecode(ev.name) == "caf\udce9"  # str out through surrogateescape
    assert os.fsencode(os.fsdecode(ev.name)) == LATIN1


def test_str_bytes_and_pathlike_name_the_same_watch(ino: Inotify, tmp_path: Path) -> None:
    class MyPath:
        def __init__(self, path: bytes) -> None:
            self.path = path

        def __fspath__(self) -> bytes:
            return self.path

    wd = ino.add_watch(str(tmp_path), Mask.CREATE)
    assert ino.add_watch(os.fsencode(tmp_path), Mask.CREATE) == wd
    assert ino.add_watch(tmp_path, Mask.CREATE) == wd
    assert ino.add_watch(MyPath(os.fsencode(tmp_path)), Mask.CREATE) == wd


def test_a_relative_path_is_resolved_against_the_cwd(ino: Inotify, tmp_path: Path) -> None:
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        wd = ino.add_watch(".", Mask.CREATE)
    finally:
        os.chdir(cwd)
    assert ino.add_watch(tmp_path, Mask.CREATE) == wd
