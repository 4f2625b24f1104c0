"""The rescan diff (pure): what we knew of a directory against a fresh listing."""

from __future__ import annotations

from inwatch.rescan import diff_dir


def times(**t: float):  # type: ignore[no-untyped-def]
    return lambda name: t.get(name)


def test_new_deleted_and_modified_files_with_the_mtime_slack() -> None:
    d = diff_dir(
        [("kept", False), ("touched", False), ("new", False)],
        known_files={"kept", "touched", "gone"},
        watched_dirs={},
        unwatched_dirs=set(),
        changed_at=times(kept=99.0, touched=100.0),
        since=100.0,  # the last read before the overflow, minus the slack
        track_dirs=True,
    )
    assert d.created_files == ["new"]
    assert d.deleted_files == ["gone"]
    assert d.modified == ["touched"]  # at the boundary: a spurious MODIFY beats a miss
    assert d.files_now == {"kept", "touched", "new"}


def test_directories_watched_new_and_gone() -> None:
    d = diff_dir(
        [("still", True), ("fresh", True)],
        known_files=set(),
        watched_dirs={"still": 5, "renamed-away": 6},
        unwatched_dirs=set(),
        changed_at=times(),
        since=0.0,
        track_dirs=True,
    )
    assert d.visit == [5]
    assert d.created_dirs == ["fresh"]
    assert d.gone_watched == {"renamed-away": 6}


def test_a_reported_directory_without_a_watch_is_rewatched_or_deleted() -> None:
    """Its watch failed (renamed before we got there), or its IGNORED came
    before an overflow swallowed the parent's DELETE: never a phantom."""
    d = diff_dir(
        [("back", True)],
        known_files=set(),
        watched_dirs={},
        unwatched_dirs={"back", "phantom"},
        changed_at=times(),
        since=0.0,
        track_dirs=True,
    )
    assert d.rewatch_dirs == ["back"]
    assert d.created_dirs == []
    assert d.deleted_dirs == ["phantom"]


def test_roots_without_auto_add_do_not_compare_directories() -> None:
    d = diff_dir(
        [("sub", True), ("f", False)],
        known_files=set(),
        watched_dirs={},
        unwatched_dirs={"x"},
        changed_at=times(),
        since=0.0,
        track_dirs=False,
    )
    assert d.created_dirs == [] and d.deleted_dirs == [] and d.created_files == ["f"]
