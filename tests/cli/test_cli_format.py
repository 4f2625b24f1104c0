"""Pure tests of the output formatters and the -e parser (no kernel)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime

import pytest

from inwatch.cli.events import UnknownEventError, parse_events_option
from inwatch.cli.format import (
    ClassicPrinter,
    csv_line,
    format_event,
    human_line,
    json_line,
    json_object,
    printable,
)
from inwatch.flags import Mask
from inwatch.inotify.wire import RawEvent


@dataclass
class Ev:
    wd: int = 1
    mask: int = int(Mask.CREATE)
    cookie: int = 0
    name: str = "f"
    path: str = "/w"
    src_pathname: str | None = None
    synthetic: bool = False
    origin: str = "kernel"

    @property
    def pathname(self) -> str:
        return os.path.join(self.path, self.name) if self.name else self.path


T = datetime(2026, 11, 21, 3, 4, 5, 123456).timestamp()


# --- -e -------------------------------------------------------------------------


def test_event_names_any_case_commas_and_repeats() -> None:
    assert parse_events_option(["create,DELETE", "Close_Write"]) == (
        Mask.CREATE | Mask.DELETE | Mask.CLOSE_WRITE
    )


def test_event_aliases_and_in_prefix() -> None:
    assert parse_events_option(["close"]) == Mask.CLOSE
    assert parse_events_option(["move"]) == Mask.MOVE
    assert parse_events_option(["all_events"]) == Mask.ALL_EVENTS
    assert parse_events_option(["IN_OPEN"]) == Mask.OPEN
    assert parse_events_option(None) is None


@pytest.mark.parametrize("bad", ["creat", "isdir", "oneshot", "", ","])
def test_unknown_event_name(bad: str) -> None:
    with pytest.raises(UnknownEventError) as info:
        parse_events_option([bad])
    assert "unknown event" in str(info.value)
    assert "\n" not in str(info.value)


# --- human --------------------------------------------------------------------------


def test_human_line() -> None:
    ev = Ev(mask=int(Mask.CREATE | Mask.ISDIR), name="new")
    assert human_line(ev, T) == "03:04:05.123 CREATE,ISDIR        /w/new"


def test_human_line_move_synthetic_overflow_and_escapes() -> None:
    ev = Ev(mask=int(Mask.MOVED_TO), cookie=5, name="b", src_pathname="/w/a")
    assert human_line(ev, T).endswith("MOVED_TO            /w/b  (from /w/a)")
    assert human_line(Ev(synthetic=True), T).endswith("/w/f  (found by scan)")
    over = Ev(wd=-1, mask=int(Mask.Q_OVERFLOW), name="", path="")
    assert "Q_OVERFLOW" in human_line(over, T) and "lost" in human_line(over, T)
    bad = os.fsdecode(b"a\xff\nb")
    assert printable(bad) == "a\\xff\\x0ab"
    assert "\n" not in human_line(Ev(name=bad), T)


# --- JSON ---------------------------------------------------------------------------


def test_json_keys_and_values() -> None:
    ev = Ev(wd=3, mask=int(Mask.CREATE | Mask.ISDIR), name="d", path="/w/sub")
    obj = json.loads(json_line(ev, T))
    assert list(obj) == [
        "wd",
        "mask",
        "events",
        "cookie",
        "dir",
        "path",
        "name",
        "pathname",
        "synthetic",
        "origin",
        "time",
    ]
    assert obj == {
        "wd": 3,
        "mask": int(Mask.CREATE | Mask.ISDIR),
        "events": ["CREATE", "ISDIR"],
        "cookie": 0,
        "dir": True,
        "path": "/w/sub",
        "name": "d",
        "pathname": "/w/sub/d",
        "synthetic": False,
        "origin": "kernel",
        "time": T,
    }


def test_json_src_pathname_only_on_paired_move() -> None:
    to = Ev(mask=int(Mask.MOVED_TO), cookie=9, name="b", src_pathname="/w/a")
    assert json_object(to, T)["src_pathname"] == "/w/a"
    assert "src_pathname" not in json_object(Ev(mask=int(Mask.MOVED_FROM), cookie=9), T)


def test_json_overflow_nulls() -> None:
    obj = json_object(Ev(wd=-1, mask=int(Mask.Q_OVERFLOW), name="", path=""), T)
    assert obj["wd"] == -1 and obj["events"] == ["Q_OVERFLOW"]
    assert obj["path"] is obj["name"] is obj["pathname"] is None


def test_json_non_utf8_round_trip() -> None:
    raw = b"caf\xe9-\xff.txt"
    line = json_line(Ev(name=os.fsdecode(raw)), T)
    assert "\\udce9" in line and "\\udcff" in line
    line.encode("utf-8")  # valid UTF-8 text, no lone surrogate left in it
    assert os.fsencode(json.loads(line)["name"]) == raw
    # readable non-ASCII stays readable
    assert "été" in json_line(Ev(name="été"), T)


# --- --format -------------------------------------------------------------------------


def test_format_conversions() -> None:
    ev = Ev(mask=int(Mask.MOVED_FROM | Mask.ISDIR), cookie=77, name="x")
    assert format_event("%w|%f|%e|%:e|%c|%%|%n|%0", ev, T) == (
        "/w/|x|MOVED_FROM,ISDIR|MOVED_FROM:ISDIR|77|%|\n|\0"
    )
    assert format_event("%w%f", ev, T) == "/w/x"
    assert format_event("%T", ev, T, "%H:%M:%S.%f") == "03:04:05.123456"
    assert format_event("%q %", ev, T) == "%q %"


def test_format_file_root_has_no_slash_and_overflow_is_empty() -> None:
    ev = Ev(name="", path="/w/file.txt", mask=int(Mask.MODIFY))
    assert format_event("%w|%f", ev, T, file_roots=frozenset({"/w/file.txt"})) == "/w/file.txt|"
    over = Ev(wd=-1, mask=int(Mask.Q_OVERFLOW), name="", path="")
    assert format_event("%w|%f|%e", over, T) == "||Q_OVERFLOW"


# --- CSV -----------------------------------------------------------------------------


def test_csv_rfc4180_quoting() -> None:
    ev = Ev(mask=int(Mask.MODIFY), name='a "b",c')
    assert csv_line(ev, T) == '/w/,MODIFY,"a ""b"",c"'
    ev2 = Ev(mask=int(Mask.CREATE | Mask.ISDIR), name="d")
    assert csv_line(ev2, T) == '/w/,"CREATE,ISDIR",d'
    assert csv_line(ev2, T, "%H:%M") == '03:04,/w/,"CREATE,ISDIR",d'
    nl = Ev(name="x\ny")
    assert csv_line(nl, T) == '/w/,CREATE,"x\ny"'


# --- --classic -------------------------------------------------------------------------


def test_classic_lines_from_the_article() -> None:
    p = ClassicPrinter()
    assert p.watching("dir1/", 1) == ["Watching dir1/ WD=1", "Watching = 1 items"]
    p.watching("dir1/dir2/", 2)
    batch = [
        RawEvent(1, int(Mask.OPEN | Mask.ISDIR), 0, b"dir2"),
        RawEvent(2, int(Mask.OPEN | Mask.ISDIR), 0, b""),
    ]
    assert p.batch(batch) == [
        "",
        "2 events queued",
        'OPEN: Dir "dir2" on WD #1',
        'OPEN: Dir "(null)" on WD #2',
    ]
    assert p.event(RawEvent(2, int(Mask.MOVED_FROM), 569, b"file1")) == [
        'MOVED_FROM: File "file1" on WD #2. Cookie=569'
    ]
    assert p.event(RawEvent(1, int(Mask.MOVED_TO), 569, b"file1")) == [
        'MOVED_TO: File "file1" on WD #1. Cookie=569'
    ]
    assert p.event(RawEvent(3, int(Mask.MOVE_SELF), 0, b"")) == [
        'MOVE_SELF: File "(null)" on WD #3'
    ]
    assert p.event(RawEvent(2, int(Mask.IGNORED), 0, b"")) == [
        "IGNORED: WD #2",
        "Watching = 1 items",
    ]
    assert p.watched_items == 1


def test_classic_overflow_unknown_and_flags() -> None:
    p = ClassicPrinter()
    assert p.event(RawEvent(-1, int(Mask.Q_OVERFLOW), 0, b"")) == [
        "Warning: AN OVERFLOW EVENT OCCURRED: "
    ]
    both = int(Mask.OPEN | Mask.CREATE)
    assert p.event(RawEvent(1, both, 0, b"x")) == [
        'UNKNOWN EVENT "120" OCCURRED for file "x" on WD #1'
    ]
    assert p.event(RawEvent(1, int(Mask.OPEN | Mask.ONESHOT), 0, b"x")) == [
        'OPEN: File "x" on WD #1',
        "Flags=80000020",
    ]
    # a cookie above 2**31 prints as C's %d of an int
    assert p.event(RawEvent(1, int(Mask.MOVED_FROM), 0xFFFFFFFF, b"x"))[0].endswith("Cookie=-1")


def test_inotifywait_names_add_close() -> None:
    from inwatch.cli.format import inotifywait_names

    assert inotifywait_names(int(Mask.CLOSE_WRITE)) == ("CLOSE_WRITE", "CLOSE")
    assert inotifywait_names(int(Mask.CLOSE_NOWRITE | Mask.ISDIR)) == (
        "CLOSE_NOWRITE",
        "CLOSE",
        "ISDIR",
    )
    assert inotifywait_names(int(Mask.CREATE | Mask.ISDIR)) == ("CREATE", "ISDIR")
    ev = Ev(mask=int(Mask.CLOSE_WRITE))
    assert format_event("%e", ev, T) == "CLOSE_WRITE,CLOSE"
    assert csv_line(ev, T) == '/w/,"CLOSE_WRITE,CLOSE",f'
    assert json_object(ev, T)["events"] == ["CLOSE_WRITE"]  # JSON: the kernel's bits only


def test_progress_after_one_second_when_not_a_tty(capsys: pytest.CaptureFixture[str]) -> None:
    import time

    from inwatch.cli._common import Progress

    p = Progress(lambda: 1234)
    try:
        deadline = time.monotonic() + 5
        err = ""
        while "Setting up watches: 1234 so far\n" not in err and time.monotonic() < deadline:
            time.sleep(0.05)  # polling the captured stderr, bounded by the deadline
            err += capsys.readouterr().err
    finally:
        p.close()
    assert "Setting up watches: 1234 so far\n" in err
    quiet = Progress(lambda: 1, enabled=False)
    quiet.close()
    assert capsys.readouterr().err == ""
