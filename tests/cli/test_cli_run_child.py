"""Issue 11, items 5, 7-11 and 18 for ``inwatch run``: the child, the change lists,
changes while busy, a watch that goes away. The real command in a subprocess."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import time
from pathlib import Path

import pytest

WAIT = 10.0


def gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def wait_gone(pid: int, timeout: float = WAIT) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if gone(pid):
            return True
        time.sleep(0.02)
    return False


def test_child_is_in_a_group_of_its_own_in_our_session(inwatch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A process group (killpg reaches its tree) but the same session, so it
    keeps the controlling terminal (no start_new_session)."""
    probe = "import os; print(os.getpid(), os.getpgid(0), os.getsid(0), flush=True)"
    proc = inwatch("run", ".", "--", sys.executable, "-c", probe)
    pid, pgid, sid = map(int, proc.line().split())
    assert pgid == pid
    assert sid == os.getsid(proc.proc.pid) != pid


def test_child_never_outlives_a_sigkilled_inwatch(inwatch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    proc = inwatch("run", ".", "--", "sh", "-c", "echo $$; exec sleep 60")
    child = int(proc.line())
    proc.proc.kill()  # SIGKILL: no handler runs; PR_SET_PDEATHSIG does the work
    proc.proc.wait(WAIT)
    assert wait_gone(child)


def test_sighup_stops_a_restart_command(inwatch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    proc = inwatch("run", "--restart", ".", "--", "sh", "-c", "echo $$; exec sleep 60")
    child = int(proc.line())
    proc.proc.send_signal(signal.SIGHUP)
    assert proc.wait() == 0
    assert wait_gone(child)


def test_killed_by_a_signal_is_named(inwatch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    proc = inwatch("run", ".", "--", "sh", "-c", "kill -9 $$")
    proc.wait_stderr("inwatch run: killed by SIGKILL")


def test_large_change_list_goes_through_a_file(inwatch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """6,000 paths of ~70 bytes: 420 KB, three times what the kernel accepts
    in one environment string (E2BIG before). The list is in the file, whole."""
    src = tmp_path / "src"
    src.mkdir()
    report = (
        'echo "T=${INWATCH_CHANGED_TRUNCATED:-0} SET=${INWATCH_CHANGED+yes}"; '
        'tr "\\0" "\\n" < "$INWATCH_CHANGED_FILE" | wc -l'
    )
    # a long debounce: the 6,000 creations make one batch even on a loaded machine
    proc = inwatch("run", "--no-initial", "--debounce", "2000", "src", "--", "sh", "-c", report)
    proc.ready()
    pad = "p" * 60
    for i in range(6000):
        os.mknod(src / f"{i:05}{pad}")
    assert proc.line() == b"T=1 SET=\n"
    assert int(proc.line()) == 6000
    proc.wait_stderr(
        "inwatch run: 6000 changed paths do not fit in INWATCH_CHANGED: left out "
        "(INWATCH_CHANGED_TRUNCATED=1); read INWATCH_CHANGED_FILE"
    )
    proc.wait_stderr("inwatch run: exit status 0")


def test_nul_file_and_json_are_exact(inwatch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    src = tmp_path / "src"
    src.mkdir()
    (src / "old").write_text("x")
    out = tmp_path / "out"
    out.mkdir()
    save = f'cp "$INWATCH_CHANGED_FILE" {out}/nul; cp "$INWATCH_CHANGES_JSON" {out}/json; echo done'
    proc = inwatch(
        "run",
        "--no-initial",
        "--debounce",
        "200",
        "-e",
        "create,moved_from,moved_to",
        "src",
        "--",
        "sh",
        "-c",
        save,
    )
    proc.ready()
    os.mknod(src / "two\nlines")
    os.rename(src / "old", src / "new")
    assert proc.line() == b"done\n"
    assert (out / "nul").read_bytes() == b"src/two\nlines\0src/old\0src/new\0"
    assert json.loads((out / "json").read_text()) == [
        {"path": "src/two\nlines", "events": ["CREATE"]},
        {"path": "src/old", "events": ["MOVED_FROM"]},
        {"path": "src/new", "events": ["MOVED_TO"], "from": "src/old"},
    ]


def test_a_change_during_a_run_makes_one_more_run(inwatch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Two quick saves: the second, made while the first run runs, is not lost."""
    src = tmp_path / "src"
    src.mkdir()
    out = tmp_path / "go"
    # Each run says what changed, then waits until the test says go on.
    script = f'echo "RUN $INWATCH_CHANGED"; while [ ! -e {out} ]; do sleep 0.02; done; rm -f {out}'
    proc = inwatch(
        "run",
        "--no-initial",
        "--debounce",
        "50",
        "-e",
        "close_write",
        "src",
        "--",
        "sh",
        "-c",
        script,
    )
    proc.ready()
    (src / "a").write_text("1")
    assert proc.line() == b"RUN src/a\n"
    (src / "b").write_text("2")  # while the command runs
    out.touch()
    assert proc.line() == b"RUN src/b\n"
    out.touch()
    proc.wait_stderr("inwatch run: exit status 0")


def test_on_busy_ignore_drops_changes_during_a_run(inwatch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    src = tmp_path / "src"
    src.mkdir()
    out = tmp_path / "go"
    script = f'echo "RUN $INWATCH_CHANGED"; while [ ! -e {out} ]; do sleep 0.02; done; rm -f {out}'
    proc = inwatch(
        "run",
        "--on-busy",
        "ignore",
        "--no-initial",
        "--debounce",
        "50",
        "-e",
        "close_write",
        "src",
        "--",
        "sh",
        "-c",
        script,
    )
    proc.ready()
    (src / "a").write_text("1")
    assert proc.line() == b"RUN src/a\n"
    (src / "b").write_text("2")
    out.touch()
    proc.wait_stderr("inwatch run: exit status 0")
    (src / "c").write_text("3")
    assert proc.line() == b"RUN src/c\n"  # b was dropped: the next run is about c alone
    out.touch()


def test_last_watch_gone_is_said_and_the_path_rewatched(inwatch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    build = tmp_path / "build"
    build.mkdir()
    proc = inwatch(
        "run",
        "--no-initial",
        "--debounce",
        "50",
        "build",
        "--",
        "sh",
        "-c",
        'echo "RUN $INWATCH_EVENT"',
    )
    proc.ready()
    shutil.rmtree(build)
    proc.wait_stderr("inwatch run: no watch remains (build gone): watching again when it reappears")
    build.mkdir()
    proc.wait_stderr("inwatch run: watching build again")
    assert proc.line() in (b"RUN CREATE\n", b"RUN DELETE_SELF,CREATE\n")
    proc.wait_stderr("inwatch run: exit status 0")
    (build / "x").touch()
    assert proc.line().startswith(b"RUN CREATE")
    assert proc.proc.poll() is None


def test_restart_and_on_busy_contradiction_is_a_usage_error(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    r = run_cli("run", "--restart", "--on-busy", "ignore", ".", "--", "true", cwd=tmp_path)
    assert r.returncode == 1 and r.stderr.count(b"\n") == 1 and b"contradicts" in r.stderr


@pytest.mark.parametrize("value", ["nan", "-1", "1e12", "inf", "x"])
def test_bad_debounce_is_a_usage_error(run_cli, tmp_path: Path, value: str) -> None:  # type: ignore[no-untyped-def]
    r = run_cli("run", "--debounce", value, ".", "--", "true", cwd=tmp_path)
    assert r.returncode == 1 and r.stderr.count(b"\n") == 1 and b"Traceback" not in r.stderr
    assert b"--debounce" in r.stderr
