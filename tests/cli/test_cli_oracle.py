"""``inwatch watch --format`` against ``inotifywait -m --format`` on the same operations."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(shutil.which("inotifywait") is None, reason="no inotifywait")

FMT = "%w|%e|%f"
END = b"w/|CREATE,ISDIR|zz-end\n"


def collapse(lines: list[bytes]) -> list[bytes]:
    return [line for i, line in enumerate(lines) if i == 0 or lines[i - 1] != line]


def until_end(proc) -> list[bytes]:  # type: ignore[no-untyped-def]
    got: list[bytes] = []
    while not got or got[-1] != END:
        line = proc.line()
        assert line is not None, got
        got.append(line)
    return got


def test_same_lines_as_inotifywait(inwatch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    w = tmp_path / "w"
    w.mkdir()
    ours = inwatch("watch", "--format", FMT, "w")
    ours.ready()  # first: our start-up lists w, which inotifywait would report
    theirs = inwatch(argv=["inotifywait", "-m", "--format", FMT, "w"])
    theirs.ready()
    (w / "d").mkdir()
    (w / "f").write_text("x")
    os.chmod(w / "f", 0o600)
    os.rename(w / "f", w / "g")
    os.rename(w / "d", w / "e")
    (w / "g").read_text()
    os.listdir(w)
    (w / "g").unlink()
    (w / "e").rmdir()
    (w / "zz-end").mkdir()
    got, want = until_end(ours), until_end(theirs)
    # The kernel merges an event into an identical one still unread, so how many
    # ACCESS a listing gives depends on when each reader read: compare the
    # sequences with such repeats collapsed.
    assert collapse(got) == collapse(want)
    assert b"w/|CLOSE_WRITE,CLOSE|f\n" in got and b"w/|MOVED_TO|g\n" in got
