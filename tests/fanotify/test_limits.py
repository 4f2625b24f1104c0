"""fanotify limits: read from /proc (the real one, and a fake directory)."""

from __future__ import annotations

from pathlib import Path

from inwatch.fanotify.limits import limits


def test_reads_the_real_knobs() -> None:
    lim = limits()
    if not Path("/proc/sys/fs/fanotify").is_dir():
        assert lim.max_queued_events is None
        return
    expected = int(Path("/proc/sys/fs/fanotify/max_queued_events").read_text())
    assert lim.max_queued_events == expected
    assert lim.rows()[0] == ("/proc/sys/fs/fanotify/max_queued_events", expected)


def test_missing_or_garbled_files_are_none(tmp_path: Path) -> None:
    (tmp_path / "max_queued_events").write_text("123\n")
    (tmp_path / "max_user_marks").write_text("many\n")
    lim = limits(str(tmp_path))
    assert lim.max_queued_events == 123
    assert lim.max_user_marks is None and lim.max_user_groups is None
