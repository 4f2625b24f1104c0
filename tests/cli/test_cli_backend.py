"""``inwatch watch --backend fanotify|inotify|auto`` through the real command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def test_watch_fanotify_json_names_who_did_it(inwatch, tmpfs: Path) -> None:  # type: ignore[no-untyped-def]
    proc = inwatch("watch", "--backend", "fanotify", "-r", "-e", "create", "--json", str(tmpfs))
    proc.ready()
    # Another uid is covered by tests/fanotify (here the tmp path is root's 0700).
    subprocess.run(["touch", str(tmpfs / "f")], check=True)
    line = proc.line()
    assert line is not None, "no event"
    ev = json.loads(line)
    assert ev["pathname"] == str(tmpfs / "f") and ev["events"] == ["CREATE"]
    assert ev["actor"]["uid"] == 0 and ev["actor"]["user"] == "root"
    assert ev["actor"]["exe"].endswith("/touch")


def test_watch_format_actor_fields(inwatch, tmpfs: Path) -> None:  # type: ignore[no-untyped-def]
    proc = inwatch(
        "watch", "--backend", "fanotify", "-r", "-e", "create", "--format", "%u %C %f", str(tmpfs)
    )
    proc.ready()
    subprocess.run(["touch", str(tmpfs / "g")], check=True)
    assert proc.line() == b"root touch g\n"


def test_fanotify_without_privilege_is_one_clear_line(tmp_path: Path) -> None:
    """As root without CAP_SYS_ADMIN (a filesystem mark needs it)."""
    src = str(Path(__file__).resolve().parents[2] / "src")
    no_admin = ["setpriv", "--inh-caps=-sys_admin", "--bounding-set=-sys_admin"]
    out = subprocess.run(
        [*no_admin, sys.executable, "-m", "inwatch", "watch", "--backend", "fanotify", "/tmp"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": src},
    )
    assert out.returncode == 1
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "CAP_SYS_ADMIN" in lines[0] and "inotify" in lines[0], out.stderr
