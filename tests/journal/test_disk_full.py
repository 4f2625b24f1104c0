"""A journal on a small tmpfs that fills up: recording stops with a clear error,
waits for space (no crash loop), then records the window as a gap."""

from __future__ import annotations

import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from inwatch.journal import Journal

from .conftest import Recording, wait_for


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mnt = tmp_path / "small"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)], check=True)
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=True)


def fill(path: Path) -> None:
    """Write *path* until the file system is full."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (65536, 4096, 1):
            try:
                while True:
                    os.write(fd, b"\0" * size)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
    finally:
        os.close(fd)


def test_disk_full_stops_then_records_the_gap(small_fs: Path, tree: Path, tmp_path: Path) -> None:
    db = small_fs / "journal" / "journal.db"
    rec = Recording(db, "--commit-ms", "10", str(tree), tmp=tmp_path)
    filler = small_fs / "filler"
    fill(filler)
    i = 0

    def full_reported() -> bool:
        nonlocal i
        for _ in range(50):
            (tree / (f"{i:06}-" + "n" * 200)).write_text("x")
            i += 1
        return "disk full" in rec.stderr()

    wait_for(full_reported, timeout=60, what="the disk-full error")
    err = rec.stderr()
    assert str(db) in err and "waiting for free space" in err
    assert rec.proc.poll() is None  # waiting, not crashing (nor exiting to be restarted)
    filler.unlink()
    assert rec.wait(30) == 1
    assert "free space is back: the gap is recorded" in rec.stderr()
    with Journal(db, create=False) as j:
        gaps = j.gaps()
        assert [g.kind for g in gaps] == ["disk_full"]
        assert "not recorded" in gaps[0].detail
        recorded = {os.path.basename(r.path) for r in j.events(ops="create")}
    assert len(recorded) < i  # the batches that met the full disk are missing
    # Restarted, it diffs what it missed (and names the downtime).
    rec = Recording(db, str(tree), tmp=tmp_path)
    assert rec.stop() == 0
    with Journal(db, create=False) as j:
        assert [g.kind for g in j.gaps()] == ["disk_full", "downtime"]
        names = {os.path.basename(r.path) for r in j.events(ops="create")}
        assert names == set(os.listdir(os.fsencode(tree)))
