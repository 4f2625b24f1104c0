"""``inwatch stats``: counts equal to the operations performed."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest
from procstate import wait_stopped

from inwatch.cli.stats import Counts, render_table
from inwatch.flags import Mask


def finish(proc, sig: int = signal.SIGINT) -> list[bytes]:  # type: ignore[no-untyped-def]
    proc.proc.send_signal(sig)
    assert proc.wait() == 0
    return proc.stdout_rest()


def test_counts_equal_operations(inwatch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "a").write_text("aaa")
    (tmp_path / "sub").mkdir()
    proc = inwatch("stats", "-r", "-e", "open,modify,close_write", "--json", ".")
    proc.ready()
    for _ in range(3):
        (tmp_path / "a").read_text()
    for i in range(2):
        with open(tmp_path / "b", "a") as f:
            f.write(str(i))
    for _ in range(4):
        os.listdir(tmp_path / "sub")  # reported by . and by sub: counted once
    obj = json.loads(b"".join(finish(proc)))
    files = {f["filename"]: f for f in obj["files"]}
    assert set(files) == {"./a", "./b", "./sub"}
    assert files["./a"]["open"] == 3 and files["./a"]["total"] == 3
    assert (files["./b"]["open"], files["./b"]["modify"], files["./b"]["close_write"]) == (2, 2, 2)
    assert files["./sub"]["open"] == 4 and files["./sub"]["total"] == 4
    assert [f["filename"] for f in obj["files"]] == ["./b", "./sub", "./a"]  # by total
    assert obj["overflows"] == 0


def test_table_timeout_sort_top(inwatch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    proc = inwatch(
        "stats", "-e", "create,delete,attrib", "-a", "attrib", "--top", "2", "-t", "3", "."
    )
    proc.ready()
    for name in "xyz":
        (tmp_path / name).touch()
    # never the same file twice in a row: the kernel merges identical neighbours
    for i, name in enumerate("xzxzxy"):
        os.utime(tmp_path / name, (i, i))
    (tmp_path / "y").unlink()
    assert proc.wait() == 0  # -t ends the count
    out = [x.decode().split() for x in proc.stdout_rest()]
    assert out == [
        ["total", "attrib", "create", "delete", "filename"],
        ["3", "1", "1", "1", "./y"],
        ["3", "2", "1", "0", "./z"],
    ]


def test_no_events(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    r = run_cli("stats", "-t", "0.2", ".", cwd=tmp_path)
    assert r.returncode == 0 and r.stdout == b"No events occurred.\n"


def test_bad_sort_key(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    r = run_cli("stats", "-d", "nonsense", ".", cwd=tmp_path)
    assert r.returncode == 1 and r.stderr.count(b"\n") == 1 and b"nonsense" in r.stderr


def test_overflow_is_reported(inwatch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    limit = int(Path("/proc/sys/fs/inotify/max_queued_events").read_text())
    if limit > 100_000:
        pytest.skip("max_queued_events too large to fill quickly")
    a, b = tmp_path / "a", tmp_path / "b"
    a.touch()
    b.touch()
    proc = inwatch("stats", "-e", "attrib", ".")
    proc.ready()
    proc.proc.send_signal(signal.SIGSTOP)
    wait_stopped(proc.proc.pid)  # a reader thread must not take a batch meanwhile
    try:
        for i in range(limit // 2 + 10):
            os.utime(a, (i, i))
            os.utime(b, (i, i))
    finally:
        proc.proc.send_signal(signal.SIGCONT)
    out = b"".join(finish(proc)).decode()
    assert "overflowed 1 time(s)" in out and "lower bounds" in out
    rows = {line.split()[-1]: int(line.split()[0]) for line in out.splitlines()[1:3]}
    assert rows == {"./a": limit // 2, "./b": limit // 2}


def test_render_table_hides_zero_columns_unless_z() -> None:
    c = Counts()
    c.add("/p/f", int(Mask.OPEN))
    c.add("/p/f", int(Mask.OPEN | Mask.ISDIR))
    assert render_table(c, c.rows("total", True, None), False).split() == [
        "total",
        "open",
        "filename",
        "2",
        "2",
        "/p/f",
    ]
    assert "access" in render_table(c, c.rows("total", True, None), True)
