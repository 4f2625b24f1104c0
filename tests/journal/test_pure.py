"""The pure parts: names, times, sizes, and the offline diff on fake input."""

from __future__ import annotations

import stat
import time
from pathlib import Path

import pytest

from inwatch.journal.offline import diff, to_prepared
from inwatch.journal.query import FileState, parse_time
from inwatch.journal.retention import parse_duration, parse_size
from inwatch.journal.schema import op_mask, op_name

REG, DIR = stat.S_IFREG | 0o644, stat.S_IFDIR | 0o755


def known(
    path: bytes, mode: int, ino: int, size: int = 1, mtime: int = 5, ctime: int = 5
) -> FileState:
    return FileState(
        path, True, stat.S_ISDIR(mode), None, None, None, None, None, None, None, None, None,
        None, size, mode, 0, 0, mtime, ctime, ino, None,
    )  # fmt: skip


def test_op_names() -> None:
    assert op_name(0x40000100) == "CREATE|ISDIR"
    assert op_mask("create,moved_to") == 0x180
    assert op_mask("IN_CREATE|ISDIR") == 0x40000100
    with pytest.raises(ValueError, match="unknown event name 'NOPE'"):
        op_mask("nope")


def test_parse_time() -> None:
    now = 1_000_000.0
    assert parse_time("90s", now) == ("ns", int((now - 90) * 1e9))
    assert parse_time("7d", now) == ("ns", int((now - 7 * 86400) * 1e9))
    assert parse_time("seq:42") == ("seq", 42)
    assert parse_time("2026-11-30T15:00:00Z").value == 1796050800 * 10**9
    with pytest.raises(ValueError, match="bad time"):
        parse_time("yesterday")


def test_sizes_and_durations() -> None:
    assert parse_size("1G") == 1 << 30 and parse_size("64MiB") == 64 << 20
    assert parse_size("500") == 500
    assert parse_duration("30d") == 30 * 86400 * 10**9
    with pytest.raises(ValueError):
        parse_size("lots")


def test_diff_created_deleted_modified_attrib() -> None:
    k = {
        b"/r": known(b"/r", DIR, 1),
        b"/r/same": known(b"/r/same", REG, 2),
        b"/r/gone": known(b"/r/gone", REG, 3),
        b"/r/grown": known(b"/r/grown", REG, 4),
        b"/r/chmod": known(b"/r/chmod", REG, 5),
    }
    disk = {
        b"/r": (0, DIR, 0, 0, 9, 1, 9),  # a directory's mtime follows its entries: no change
        b"/r/same": (1, REG, 0, 0, 5, 2, 5),
        b"/r/grown": (2, REG, 0, 0, 6, 4, 6),
        b"/r/chmod": (1, REG | 0o100, 0, 0, 5, 5, 7),
        b"/r/new": (1, REG, 0, 0, 5, 9, 5),
    }
    got = [(c.kind, c.path, c.fields) for c in diff(k, disk)]
    assert got == [
        ("deleted", b"/r/gone", ()),
        ("created", b"/r/new", ()),
        ("attrib", b"/r/chmod", ("mode", "ctime")),
        ("modified", b"/r/grown", ("size", "mtime", "ctime")),
    ]


def test_diff_renamed_directory_carries_its_subtree() -> None:
    k = {
        b"/r/d": known(b"/r/d", DIR, 10),
        b"/r/d/a": known(b"/r/d/a", REG, 11),
        b"/r/d/b": known(b"/r/d/b", REG, 12),
    }
    disk = {
        b"/r/e": (0, DIR, 0, 0, 5, 10, 5),
        b"/r/e/a": (1, REG, 0, 0, 5, 11, 5),
        b"/r/e/b": (3, REG, 0, 0, 8, 12, 8),  # changed after the rename
    }
    got = [(c.kind, c.path, c.src) for c in diff(k, disk)]
    assert got == [("renamed", b"/r/e", b"/r/d"), ("modified", b"/r/e/b", None)]
    events = list(to_prepared(diff(k, disk), time.time_ns()))
    assert [(hex(e.mask), e.path, e.src) for e in events] == [
        ("0x40000040", b"/r/d", None),
        ("0x40000080", b"/r/e", b"/r/d"),
        ("0x2", b"/r/e/b", None),
    ]
    assert all(e.origin == 3 for e in events)  # offline


def test_diff_reused_inode_is_not_a_rename() -> None:
    k = {b"/r/drop": known(b"/r/drop", REG, 7, mtime=5)}
    disk = {b"/r/new": (1, REG, 0, 0, 99, 7, 99)}  # same inode number, another file
    assert [(c.kind, c.path) for c in diff(k, disk)] == [
        ("deleted", b"/r/drop"),
        ("created", b"/r/new"),
    ]


def test_diff_deletes_deepest_first_and_creates_shallowest_first() -> None:
    k = {p: known(p, DIR if p.count(b"/") < 3 else REG, i) for i, p in enumerate(
        [b"/r/x", b"/r/x/y", b"/r/x/y/z"])}  # fmt: skip
    disk = {b"/r/n": (0, DIR, 0, 0, 1, 50, 1), b"/r/n/m": (0, REG, 0, 0, 1, 51, 1)}
    got = [(c.kind, c.path) for c in diff(k, disk)]
    assert got == [
        ("deleted", b"/r/x/y/z"),
        ("deleted", b"/r/x/y"),
        ("deleted", b"/r/x"),
        ("created", b"/r/n"),
        ("created", b"/r/n/m"),
    ]


def test_no_stat_for_an_entry_deleted_later_in_the_batch(tmp_path: Path) -> None:
    from inwatch import Event
    from inwatch.journal.store import prepare_batch

    (tmp_path / "kept").write_text("1")
    (tmp_path / "gone").write_text("1")  # still there: the DELETE below is made up
    evs = [
        Event(1, 0x100, 0, "kept", str(tmp_path), time=1.0),
        Event(1, 0x100, 0, "gone", str(tmp_path), time=1.0),
        Event(1, 0x200, 0, "gone", str(tmp_path), time=1.0),
        Event(1, 0x100, 0, "gone", str(tmp_path), time=1.0),  # made again: stat'ed
    ]
    items = prepare_batch(evs)
    assert [it.st is not None for it in items] == [True, False, False, True]
