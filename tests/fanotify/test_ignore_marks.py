"""In-kernel ignore marks (inwatch.fanotify.ignores) on the real kernel: what
an excluded directory's direct children and the listener's own files do no
longer reaches user space (counted as the records the parser sees), while
everything else still arrives; a directory renamed out of the exclusion is
watched again. Run with FAN_MARK_IGNORE (6.0), the legacy flags, and none."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from inwatch import Event, Mask
from inwatch.fanotify.backend import FanotifyBackend

from .conftest import collect, has

N = 40
WORK = """
set -e
for i in $(seq 1 {n}); do
  echo x > skip/f$i; echo x > d.cache/f$i; echo x > keep/f$i
done
touch keep/end
"""


def _run(root: Path, mode: str) -> tuple[int, list[str]]:
    for d in ("skip", "keep"):
        (root / d).mkdir()
    with FanotifyBackend(ignore_marks=mode) as b:
        b.add(str(root), recursive=True, exclude=["skip", "*.cache"])
        # Made after add(): its ignore mark comes with its CREATE.
        subprocess.run(["sh", "-ec", "mkdir d.cache && touch keep/ready"], cwd=root, check=True)
        collect(b, has(root / "keep" / "ready", Mask.CLOSE_WRITE))
        before = b.records
        subprocess.run(["sh", "-c", WORK.format(n=N)], cwd=root, check=True, timeout=60)
        got = collect(b, has(root / "keep" / "end", Mask.CLOSE_WRITE))
        seen = b.records - before
        if mode != "off":
            assert b.stats["ignored_dirs"] == 2
    return seen, [e.pathname for e in got]


@pytest.mark.parametrize("mode", ["auto", "legacy"])
def test_excluded_directories_are_dropped_by_the_kernel(fan_tmpfs: Path, mode: str) -> None:
    (fan_tmpfs / "on").mkdir()
    (fan_tmpfs / "off").mkdir()
    seen_on, paths = _run(fan_tmpfs / "on", mode)
    seen_off, paths_off = _run(fan_tmpfs / "off", "off")
    # The same events are delivered either way: keep's, none of the excluded.
    assert {p for p in paths if "/keep/f" in p} == {
        str(fan_tmpfs / "on" / "keep" / f"f{i}") for i in range(1, N + 1)
    }
    assert not [p for p in paths + paths_off if "/skip" in p or ".cache" in p]
    # Each file: one record (CREATE|OPEN|MODIFY|CLOSE_WRITE merged while unread,
    # or a few if read in between). Without ignore marks the excluded
    # directories' 2N files reach user space too.
    assert seen_off >= 3 * N, seen_off
    assert seen_on < seen_off - 2 * N + N // 2, (seen_on, seen_off)


def test_own_files_are_dropped_by_the_kernel(fan_tmpfs: Path) -> None:
    """A file only this process writes (a journal, an output file), named to
    the backend."""
    journal = open(fan_tmpfs / "journal", "wb")  # noqa: SIM115
    try:
        with FanotifyBackend(ignore_own=False) as b:
            b.add(str(fan_tmpfs), recursive=True)
            assert b.ignore_own_file(journal.fileno())
            assert b.stats["ignored_files"] == 1
            before = b.records
            for _ in range(20):
                journal.write(b"row\n")
                journal.flush()
            (fan_tmpfs / "other").write_bytes(b"x")
            got = collect(b, has(fan_tmpfs / "other", Mask.CLOSE_WRITE))
            assert not [e for e in got if e.pathname == str(fan_tmpfs / "journal")], got
            # The other file's record(s), none of the journal's 20 writes.
            assert b.records - before <= 3, b.records - before
    finally:
        journal.close()


def test_renamed_out_of_the_exclusion_is_watched_again(fan_tmpfs: Path) -> None:
    (fan_tmpfs / "skip").mkdir()
    (fan_tmpfs / "skip" / "old").write_bytes(b"")
    with FanotifyBackend(ignore_marks="auto") as b:
        b.add(str(fan_tmpfs), recursive=True, exclude=["skip"])
        assert b.stats["ignored_dirs"] == 1
        script = "mv skip data && echo x > data/new"
        subprocess.run(["sh", "-ec", script], cwd=fan_tmpfs, check=True)
        # What it held, and what was made in it before its ignore mark went
        # (the window an inotify watch on a moved-in directory has too), come
        # from its listing.
        arrived = has(fan_tmpfs / "data", Mask.MOVED_TO | Mask.ISDIR, src_pathname=None)
        new = str(fan_tmpfs / "data" / "new")

        def listed(evs: list[Event[Any]]) -> bool:  # by the listing or the kernel
            return any(e.pathname == new and e.mask == Mask.CREATE for e in evs)

        got = collect(b, lambda evs: arrived(evs) and listed(evs))
        assert [e.origin for e in got if e.pathname == new and e.mask == Mask.CREATE] in (
            ["scan"],
            ["kernel"],
        )
        assert has(fan_tmpfs / "data" / "old", Mask.CREATE, origin="scan")(got)
        subprocess.run(["sh", "-ec", "echo y > data/later"], cwd=fan_tmpfs, check=True)
        collect(b, has(fan_tmpfs / "data" / "later", Mask.CLOSE_WRITE, origin="kernel"))
        assert b.stats["ignored_dirs"] == 0
        # And back: renamed to the excluded name, it is ignored again.
        subprocess.run(["mv", "data", "skip"], cwd=fan_tmpfs, check=True)
        collect(b, has(fan_tmpfs / "data", Mask.MOVED_FROM | Mask.ISDIR))
        assert b.stats["ignored_dirs"] == 1
