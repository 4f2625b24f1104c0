"""inotifywait (inotify-tools) as an oracle: watching the same directory at the
same time, it must see exactly the events inwatch reads."""

from __future__ import annotations

import os
import select
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from inwatch import Inotify, Mask, mask_names

from .kutil import drain

pytestmark = pytest.mark.skipif(
    shutil.which("inotifywait") is None, reason="inotifywait (inotify-tools) not installed"
)


def _operations(d: Path) -> None:
    (d / "a").write_bytes(b"hello")
    (d / "a").read_bytes()
    os.chmod(d / "a", 0o600)
    (d / "sub").mkdir()
    os.rename(d / "a", d / "sub" / "a")  # out of d: MOVED_FROM alone
    os.rename(d / "sub", d / "sub2")
    os.link(d / "sub2" / "a", d / "hard")
    os.symlink("hard", d / "link")
    with open(d / "hard", "ab") as f:
        f.write(b"!")
    os.listdir(d)
    (d / "link").unlink()
    (d / "hard").unlink()
    shutil.rmtree(d / "sub2")
    d.rmdir()


def _read_until(fd: int, marker: str, timeout: float) -> str:
    data = b""
    deadline = time.monotonic() + timeout
    while not data.decode().endswith(marker):
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
            raise AssertionError(f"inotifywait printed only {data!r}")
        chunk = os.read(fd, 65536)
        if not chunk:
            raise AssertionError(f"inotifywait ended after {data!r}")
        data += chunk
    return data.decode()


def test_inotifywait_sees_the_same_events(ino: Inotify, tmp_path: Path) -> None:
    d = tmp_path / "watched"
    d.mkdir()
    proc = subprocess.Popen(
        ["inotifywait", "-m", "--format", "%e|%f", str(d)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        for line in proc.stderr:  # "Setting up watches." then "Watches established."
            if "established" in line:
                break
        wd = ino.add_watch(d, Mask.ALL_EVENTS)
        _operations(d)
        # inotifywait -m keeps running with no watch left: read until the last
        # event (DELETE_SELF of d; it flushes every line), then stop it.
        assert proc.stdout is not None
        out = _read_until(proc.stdout.fileno(), "DELETE_SELF|\n", timeout=10)
    finally:
        proc.kill()
        proc.communicate(timeout=10)
    theirs = []
    for line in out.splitlines():
        events, _, name = line.partition("|")
        # inotifywait adds the alias CLOSE to CLOSE_WRITE/CLOSE_NOWRITE.
        theirs.append(([e for e in events.split(",") if e != "CLOSE"], name))
    ours = [
        (list(mask_names(e.mask)), os.fsdecode(e.name))
        for e in drain(ino)
        if e.wd == wd and not e.mask & Mask.IGNORED  # inotifywait does not print IGNORED
    ]
    # The kernel merges an event into the previous one if they are identical and
    # the previous is still unread: how many merge depends on when each reader
    # reads (inotifywait reads at once, this test at the end), so compare with
    # consecutive duplicates collapsed.
    assert len(ours) > 20
    assert _collapse(ours) == _collapse(theirs)


def _collapse(events: list[tuple[list[str], str]]) -> list[tuple[list[str], str]]:
    return [ev for i, ev in enumerate(events) if i == 0 or ev != events[i - 1]]
