"""--help/--version, python -m inwatch, symlinked roots, unmount."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from inwatch import __version__
from inwatch.accel import ACTIVE


def test_version(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    r = run_cli("--version", cwd=tmp_path)
    # The version, then which path the hot path runs on (inwatch.accel.ACTIVE).
    assert (r.returncode, r.stdout) == (0, f"inwatch {__version__} ({ACTIVE})\n".encode())


@pytest.mark.parametrize("command", ["watch", "stats", "run", "limits"])
def test_help_has_examples(run_cli, tmp_path: Path, command: str) -> None:  # type: ignore[no-untyped-def]
    r = run_cli(command, "--help", cwd=tmp_path)
    assert r.returncode == 0
    out = r.stdout.decode()
    assert "examples:" in out and f"inwatch {command} " in out.split("examples:")[1]


def test_no_command_prints_help(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    r = run_cli(cwd=tmp_path)
    assert r.returncode == 1 and b"watch" in r.stderr and b"limits" in r.stderr


def test_human_line(inwatch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    proc = inwatch("watch", "-e", "create", ".")
    proc.ready()
    (tmp_path / "new").mkdir()
    stamp, events, path = proc.line().decode().split()
    assert len(stamp) == len("12:34:56.789") and events == "CREATE,ISDIR" and path == "./new"


def test_symlinked_root(inwatch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to("real")
    followed = inwatch("watch", "-e", "create", "--format", "%f", "link")
    not_followed = inwatch("watch", "-P", "--format", "%e", "link")
    followed.ready()
    not_followed.ready()
    (tmp_path / "real" / "x").touch()
    assert followed.line() == b"x\n"
    os.utime(tmp_path / "link", follow_symlinks=False)  # an ATTRIB of the link itself
    assert not_followed.line() == b"ATTRIB\n"


def test_unmount_is_reported_and_ends_the_watch(inwatch, tmpfs: Path) -> None:  # type: ignore[no-untyped-def]
    (tmpfs / "d").mkdir()
    proc = inwatch("watch", "-r", "--format", "%e %w%f", str(tmpfs))
    proc.ready()
    subprocess.run(["umount", str(tmpfs)], check=True, timeout=30)
    assert proc.wait() == 0
    out = [x.decode() for x in proc.stdout_rest()]
    assert f"UNMOUNT,ISDIR {tmpfs}/\n" in out and f"UNMOUNT,ISDIR {tmpfs}/d/\n" in out
    assert out[-1].startswith("IGNORED ")
