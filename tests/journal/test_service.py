"""contrib/inwatch-record.service: its ExecStart runs (with a test journal and
tree in place of the system's), stops cleanly on its KillSignal, and systemd
accepts the unit."""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from inwatch.journal import Journal

from .conftest import RUN_CMD, Recording, wait_for

UNIT = Path(__file__).resolve().parents[2] / "contrib" / "inwatch-record.service"


def _setting(name: str) -> str:
    for line in UNIT.read_text().splitlines():
        if line.startswith(name + "="):
            return line.split("=", 1)[1]
    raise AssertionError(f"{name}= missing from {UNIT}")


def _exec_start(db: Path, roots: list[Path]) -> list[str]:
    """The unit's ExecStart with the journal and roots of this test."""
    argv = shlex.split(_setting("ExecStart"))
    assert os.path.basename(argv[0]) == "inwatch" and argv[1] == "record"
    opts, i = [], 2
    while i < len(argv) and argv[i].startswith("-"):
        if argv[i] == "--db":
            opts += ["--db", str(db)]
            i += 2
            continue
        opts.append(argv[i])
        if argv[i] in ("--keep", "--max-size"):
            opts.append(argv[i + 1])
            i += 1
        i += 1
    assert argv[i:], "the unit names roots to record"
    return opts + [str(r) for r in roots]


def test_exec_start_records_and_stops_on_kill_signal(tmp_path: Path, tree: Path) -> None:
    db = tmp_path / "lib" / "inwatch" / "journal.db"
    args = _exec_start(db, [tree])
    assert args[:2] == ["-r", "--quiet"]
    rec = Recording(db, *[a for a in args if a not in ("--db", str(db))], tmp=tmp_path)
    (tree / "sub").mkdir()
    (tree / "sub" / "conf").write_text("x=1")
    wait_for(lambda: _count(db) >= 2, what="the events recorded")
    sig = getattr(signal, _setting("KillSignal"))
    assert rec.stop(sig) == 0
    with Journal(db, create=False) as j:
        assert {os.path.basename(r.path) for r in j.events()} >= {b"sub", b"conf"}


def _count(db: Path) -> int:
    with Journal(db, create=False) as j:
        return len(j.events())


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze")
def test_systemd_accepts_the_unit(tmp_path: Path) -> None:
    text = UNIT.read_text()
    start = _setting("ExecStart")
    runner = f"{sys.executable} {RUN_CMD} {start.split(' ', 1)[1]}"
    unit = tmp_path / UNIT.name
    unit.write_text(text.replace("ExecStart=" + start, "ExecStart=" + runner))
    res = subprocess.run(
        ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60
    )
    assert res.returncode == 0 and not res.stderr.strip(), res.stderr
