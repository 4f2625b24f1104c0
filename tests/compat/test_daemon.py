"""Notifier.loop(daemonize=True), issue 10 item 13: relative paths resolved in
the caller's directory, a pid file that cannot be written fails in the caller,
SIGTERM removes the pid file. Each daemon runs from a subprocess; every wait
is bounded."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest


def _wait(cond: object, what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _daemon_code(watched: Path, **loop_args: object) -> str:
    args = ", ".join(f"{k}={v!r}" for k, v in loop_args.items())
    return (
        "import inwatch.pyinotify as p\n"
        "wm = p.WatchManager()\n"
        f"wm.add_watch({str(watched)!r}, p.IN_CREATE)\n"
        "n = p.Notifier(wm, timeout=50)\n"
        f"n.loop(daemonize=True, {args})\n"
    )


def test_relative_paths_are_the_callers(tmp_path: Path) -> None:
    watched = tmp_path / "w"
    watched.mkdir()
    code = _daemon_code(watched, pid_file="d.pid", stdout="out.txt", stderr="err.txt")
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, timeout=30, capture_output=True
    )
    assert done.returncode == 0, done.stderr
    pid_file = tmp_path / "d.pid"
    assert pid_file.read_text().endswith("\n")  # written before the caller exited
    pid = int(pid_file.read_text())
    try:
        (watched / "f").touch()
        out = tmp_path / "out.txt"
        _wait(lambda: "name=f " in out.read_text(), "the event in stdout")
        assert (tmp_path / "err.txt").exists()
        assert not Path("/d.pid").exists() and not Path("/out.txt").exists()
    finally:
        os.kill(pid, signal.SIGTERM)
        _wait(lambda: not _alive(pid), "the daemon to end")


def test_sigterm_removes_the_pid_file(tmp_path: Path) -> None:
    watched = tmp_path / "w"
    watched.mkdir()
    pid_file = tmp_path / "d.pid"
    code = _daemon_code(watched, pid_file=str(pid_file))
    subprocess.run([sys.executable, "-c", code], timeout=30, check=True)
    pid = int(pid_file.read_text())
    _wait(lambda: _alive(pid), "the daemon")
    os.kill(pid, signal.SIGTERM)
    _wait(lambda: not pid_file.exists(), "the pid file to go")
    _wait(lambda: not _alive(pid), "the daemon to end")
    # ... so the next start is not refused.
    subprocess.run([sys.executable, "-c", code], timeout=30, check=True)
    pid = int(pid_file.read_text())
    os.kill(pid, signal.SIGTERM)
    _wait(lambda: not pid_file.exists() and not _alive(pid), "the second daemon to end")


@pytest.mark.parametrize(
    ("pid_file", "message"),
    [
        ("missing-dir/d.pid", r"cannot write pid file .*/missing-dir/d\.pid: No such file"),
        ("exists.pid", r"pid file .*/exists\.pid already exists"),
    ],
)
def test_pid_file_errors_fail_in_the_caller(tmp_path: Path, pid_file: str, message: str) -> None:
    watched = tmp_path / "w"
    watched.mkdir()
    (tmp_path / "exists.pid").write_text("1\n")
    code = _daemon_code(watched, pid_file=pid_file)
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, timeout=30, capture_output=True, text=True
    )
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("inwatch.pyinotify.errors.NotifierError: Cannot daemonize: ")
    assert re.search(message, last), last
    assert (tmp_path / "exists.pid").read_text() == "1\n"  # not touched
    assert not (tmp_path / "missing-dir").exists()


def test_unwritable_stdout_fails_in_the_caller(tmp_path: Path) -> None:
    watched = tmp_path / "w"
    watched.mkdir()
    code = _daemon_code(watched, pid_file=False, stdout="no/such/dir/out")
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, timeout=30, capture_output=True, text=True
    )
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == (
        "inwatch.pyinotify.errors.NotifierError: Cannot daemonize: cannot open stdout "
        f"{tmp_path}/no/such/dir/out: No such file or directory"
    )
