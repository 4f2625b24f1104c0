"""``inwatch audit`` and ``inwatch top``: the real command in a subprocess."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .test_kernel_actors import SRC, _Lines

NOBODY = ["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups"]


def _start(args: list[str], cwd: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": SRC}
    return subprocess.Popen(
        [sys.executable, "-m", "inwatch", *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )


def _until_seen(lines: _Lines, probe: Path, timeout: float = 20.0) -> None:
    """Touch *probe* until the command reports it: it is watching then."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        subprocess.run(["touch", str(probe)], check=True, timeout=30)
        try:
            line = lines.next(timeout=0.5)
        except pytest.fail.Exception:
            continue
        if probe.name in line:
            return
    pytest.fail("the command never reported the probe", pytrace=False)


def _finish(proc: subprocess.Popen[bytes]) -> tuple[int, str, str]:
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    return proc.returncode, out.decode(), err.decode()


def test_audit_json_actor_and_summary(fan_tmpfs: Path) -> None:
    (fan_tmpfs / "secret").write_bytes(b"s")
    proc = _start(["audit", "--json", str(fan_tmpfs)], fan_tmpfs)
    try:
        lines = _Lines(proc)
        _until_seen(lines, fan_tmpfs / "probe")
        subprocess.run([*NOBODY, "cat", "secret"], cwd=fan_tmpfs, check=True, timeout=30)
        while True:
            ev = json.loads(lines.next())
            if ev.get("pathname") == str(fan_tmpfs / "secret") and "CLOSE_NOWRITE" in ev["events"]:
                break
    finally:
        status, rest, err = _finish(proc)
    assert status == 0, err
    actor = ev["actor"]
    assert actor["uid"] == 65534 and actor["user"] == "nobody", actor
    assert actor["exe"] == os.path.realpath(shutil.which("cat") or "")
    assert actor["status"] in ("ok", "exited") and set(actor) == {
        "pid",
        "uid",
        "user",
        "gid",
        "comm",
        "exe",
        "status",
    }
    summary = json.loads(rest.splitlines()[-1])["summary"]
    row = next(r for r in summary if r["pathname"] == str(fan_tmpfs / "secret"))
    assert row["user"] == "nobody" and row["program"].endswith("/cat")
    assert row["events"]["OPEN"] >= 1 and row["count"] >= 2


def test_audit_user_filter(fan_tmpfs: Path) -> None:
    (fan_tmpfs / "f").write_bytes(b"x")
    proc = _start(["audit", "--user", "nobody", str(fan_tmpfs)], fan_tmpfs)
    try:
        lines = _Lines(proc)
        # Readiness: nobody's own probe (root's would be filtered out).
        deadline = time.monotonic() + 20
        while True:
            assert time.monotonic() < deadline, "audit never reported nobody's probe"
            subprocess.run([*NOBODY, "cat", "f"], cwd=fan_tmpfs, check=True, timeout=30)
            subprocess.run(["cat", "f"], cwd=fan_tmpfs, check=True, timeout=30, capture_output=True)
            try:
                first = lines.next(timeout=0.5)
                break
            except pytest.fail.Exception:
                continue
    finally:
        status, rest, err = _finish(proc)
    assert status == 0, err
    events = [first, *[x for x in rest.splitlines() if x.startswith("20")]]
    assert events and all("user=nobody" in x for x in events), events


def test_top_counts_opens_per_program(fan_tmpfs: Path) -> None:
    (fan_tmpfs / "hot").write_bytes(b"x")
    proc = _start(["top", "--json", "-t", "3", str(fan_tmpfs)], fan_tmpfs)
    deadline = time.monotonic() + 30
    while proc.poll() is None:  # keep opening until the table is final
        assert time.monotonic() < deadline
        subprocess.run(["cat", "hot"], cwd=fan_tmpfs, check=True, timeout=30, capture_output=True)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    table = json.loads(out)
    assert table["lower_bound"] is True and "lower bounds" in table["note"]
    top = table["top"][0]
    assert top["pathname"] == str(fan_tmpfs / "hot") and top["opens"] >= 1
    assert os.path.realpath(shutil.which("cat") or "") in top["programs"]


def test_without_privilege_says_what_is_missing(tmp_path: Path) -> None:
    os.chmod(tmp_path, 0o755)
    env = {**os.environ, "PYTHONPATH": SRC}
    res = subprocess.run(
        [*NOBODY, sys.executable, "-m", "inwatch", "audit", "/"],
        cwd="/",
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    if "No module named" in res.stderr or "Permission denied" in res.stderr.split("\n")[0]:
        pytest.skip(f"uid 65534 cannot run this checkout: {res.stderr.strip()[:200]}")
    assert res.returncode == 1
    (line,) = res.stderr.splitlines()
    assert line.startswith("inwatch audit: ") and "CAP_SYS_ADMIN" in line and "inotify" in line


def test_watch_names_pid_uid_and_comm(fan_tmpfs: Path) -> None:
    """The human line gains ``pid uid comm``; ``--format`` ``%p %u %C``. The
    writer prints its pid, then becomes touch (exec keeps the pid)."""
    proc = _start(
        ["watch", "--backend", "fanotify", "-r", "-e", "create", "--format", "%p %u %C %f", "."],
        fan_tmpfs,
    )
    try:
        lines = _Lines(proc)
        _until_created(lines, fan_tmpfs)
        who = subprocess.run(
            [*NOBODY, "sh", "-c", "echo $$; exec touch made"],
            cwd=fan_tmpfs,
            check=True,
            timeout=30,
            capture_output=True,
            text=True,
        )
        pid = who.stdout.strip()
        while True:
            line = lines.next()
            if line.endswith(" made"):
                break
    finally:
        _finish(proc)
    assert line == f"{pid} nobody touch made", line
    human = _start(["watch", "--backend", "fanotify", "-r", "-e", "create", "."], fan_tmpfs)
    try:
        lines = _Lines(human)
        _until_created(lines, fan_tmpfs)
        subprocess.run([*NOBODY, "touch", "again"], cwd=fan_tmpfs, check=True, timeout=30)
        while "again" not in (line := lines.next()):
            pass
    finally:
        _finish(human)
    assert "65534" in line or "nobody" in line, line
    assert "touch" in line, line


def _until_created(lines: _Lines, top: Path, timeout: float = 20.0) -> None:
    """Create probe files until the command (``-e create``) reports one."""
    deadline = time.monotonic() + timeout
    n = 0
    while time.monotonic() < deadline:
        n += 1
        subprocess.run(["touch", str(top / f"probe-{os.getpid()}-{n}")], check=True, timeout=30)
        try:
            if "probe-" in lines.next(timeout=0.5):
                return
        except pytest.fail.Exception:
            continue
    pytest.fail("the command never reported a probe", pytrace=False)
