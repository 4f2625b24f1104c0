"""``inwatch watch`` on the real kernel, through the real command."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from procstate import wait_stopped

from inwatch import Mask


def jline(proc) -> dict:  # type: ignore[no-untyped-def]
    line = proc.line()
    assert line is not None, (proc.out_seen, proc.err_seen)
    return json.loads(line)


KEYS = [
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
    "actor",
    "time",
]


def test_json_fields(inwatch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    w = tmp_path / "w"
    w.mkdir()
    proc = inwatch("watch", "-r", "--json", "-e", "create,close_write,move,delete", str(w))
    proc.ready()
    t0 = time.time()
    (w / "a").write_text("hello")
    ev = jline(proc)
    assert list(ev) == KEYS
    assert ev["wd"] == 1 and ev["mask"] == Mask.CREATE and ev["events"] == ["CREATE"]
    assert ev["cookie"] == 0 and ev["dir"] is False and ev["synthetic"] is False
    assert (ev["path"], ev["name"], ev["pathname"]) == (str(w), "a", str(w / "a"))
    assert t0 <= ev["time"] <= time.time()
    ev = jline(proc)
    assert ev["events"] == ["CLOSE_WRITE"] and ev["pathname"] == str(w / "a")

    (w / "d").mkdir()
    ev = jline(proc)
    assert ev["events"] == ["CREATE", "ISDIR"] and ev["dir"] is True
    assert ev["mask"] == Mask.CREATE | Mask.ISDIR and ev["pathname"] == str(w / "d")

    os.rename(w / "a", w / "d" / "b")
    frm, to = jline(proc), jline(proc)
    assert frm["events"] == ["MOVED_FROM"] and frm["pathname"] == str(w / "a")
    assert "src_pathname" not in frm and frm["cookie"] != 0
    assert to["events"] == ["MOVED_TO"] and to["cookie"] == frm["cookie"]
    assert to["wd"] != frm["wd"] and to["path"] == str(w / "d") and to["name"] == "b"
    assert to["src_pathname"] == str(w / "a")
    assert list(to) == [*KEYS[:8], "src_pathname", *KEYS[8:]]

    (w / "d" / "b").unlink()
    ev = jline(proc)
    assert ev["events"] == ["DELETE"] and ev["pathname"] == str(w / "d" / "b")


def test_non_utf8_name_round_trips(inwatch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    raw = b"caf\xe9-\xff.txt"
    proc = inwatch("watch", "--json", "-e", "create", ".")
    proc.ready()
    fd = os.open(os.fsencode(tmp_path) + b"/" + raw, os.O_CREAT | os.O_WRONLY, 0o644)
    os.close(fd)
    line = proc.line()
    assert line is not None
    assert b"\\udce9" in line and b"\\udcff" in line
    line.decode("utf-8")  # the output is valid UTF-8
    ev = json.loads(line)
    assert os.fsencode(ev["name"]) == raw
    assert os.fsencode(ev["pathname"]) == b"./" + raw


def test_timeout_exit_2(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    r = run_cli("watch", "-t", "0.3", ".", cwd=tmp_path)
    assert r.returncode == 2
    assert r.stdout == b""
    assert r.stderr == b"Setting up watches.\nWatches established.\n"


def test_timeout_is_reset_by_events(inwatch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    proc = inwatch("watch", "-t", "1.5", "-e", "create", "--format", "%f", ".")
    proc.ready()
    for i in range(3):
        (tmp_path / f"f{i}").touch()
        assert proc.line() == f"f{i}\n".encode()
    assert proc.wait() == 2


def test_once_exits_after_first_event(inwatch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    proc = inwatch("watch", "-1", "--format", "%e %w%f", ".")
    proc.ready()
    (tmp_path / "x").mkdir()
    (tmp_path / "y").mkdir()
    assert proc.wait() == 0
    assert proc.stdout_rest() == [b"CREATE,ISDIR ./x\n"]


def test_quiet(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    r = run_cli("watch", "-q", "-t", "0.2", ".", cwd=tmp_path)
    assert (r.returncode, r.stdout, r.stderr) == (2, b"", b"")


def test_exit_0_when_watched_dir_is_deleted(inwatch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    d = tmp_path / "d"
    (d / "sub").mkdir(parents=True)
    proc = inwatch("watch", "-r", "--format", "%e %w%f", "d")
    proc.ready()
    shutil.rmtree(d)
    assert proc.wait() == 0
    out = [x.decode() for x in proc.stdout_rest()]
    assert out[-2:] == ["DELETE_SELF d/\n", "IGNORED d/\n"]
    assert "DELETE,ISDIR d/sub\n" in out and "IGNORED d/sub/\n" in out


def test_sigterm_and_sigint_exit_0(inwatch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    for sig in (signal.SIGTERM, signal.SIGINT):
        proc = inwatch("watch", "--format", "%f", ".")
        proc.ready()
        (tmp_path / f"s{sig}").touch()
        assert proc.line() == f"s{sig}\n".encode()
        proc.proc.send_signal(sig)
        assert proc.wait() == 0
        assert b"Traceback" not in b"".join(proc.stderr_rest())


def test_format_and_csv(inwatch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    fmt = inwatch("watch", "-e", "moved_from,moved_to", "--format", "%w|%f|%:e|%c", ".")
    csvp = inwatch("watch", "-e", "create", "--csv", ".")
    fmt.ready()
    csvp.ready()
    (tmp_path / 'a,"b').touch()
    assert csvp.line() == b'./,CREATE,"a,""b"\n'
    os.rename(tmp_path / 'a,"b', tmp_path / "c")
    frm, to = fmt.line().decode(), fmt.line().decode()
    cookie = frm.rsplit("|", 1)[1].strip()
    assert int(cookie) > 0
    assert frm == f'./|a,"b|MOVED_FROM|{cookie}\n'
    assert to == f"./|c|MOVED_TO|{cookie}\n"


def test_exclude_glob_and_regexes(inwatch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "w" / "build").mkdir(parents=True)
    proc = inwatch(
        "watch",
        "-r",
        "-e",
        "create",
        "--format",
        "%w%f",
        "--exclude",
        "*.tmp",
        "--exclude",
        "build",
        "--exclude-regex",
        "skip",
        "w",
    )
    proc.ready()
    for name in ("w/a.tmp", "w/build/x", "w/skip-me", "w/keep"):
        (tmp_path / name).touch()
    assert proc.line() == b"w/keep\n"
    inc = inwatch("watch", "-e", "create", "--format", "%f", "--include-regex", r"\.py$", "w")
    inc.ready()
    (tmp_path / "w" / "x.txt").touch()
    (tmp_path / "w" / "x.py").touch()
    assert inc.line() == b"x.py\n"
    (tmp_path / "w" / "last").touch()
    assert proc.line() == b"w/x.txt\n"  # nothing else slipped in before


def test_fromfile_stdin_with_excludes(inwatch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    for d in ("d1", "d2/skip"):
        (tmp_path / d).mkdir(parents=True)
    proc = inwatch(
        "watch",
        "-r",
        "-e",
        "create",
        "--format",
        "%w%f",
        "--fromfile",
        "-",
        stdin=b"d1\nd2\n@d2/skip\n",
    )
    proc.ready()
    (tmp_path / "d2" / "skip" / "x").touch()
    (tmp_path / "d1" / "x").touch()
    (tmp_path / "d2" / "y").touch()
    assert proc.lines(2) == [b"d1/x\n", b"d2/y\n"]


def test_queue_overflow_is_shown(inwatch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    limit = int(Path("/proc/sys/fs/inotify/max_queued_events").read_text())
    if limit > 100_000:
        pytest.skip("max_queued_events too large to fill quickly")
    a, b = tmp_path / "a", tmp_path / "b"
    a.touch()
    b.touch()
    proc = inwatch("watch", "--json", "-e", "attrib", ".")
    proc.ready()
    proc.proc.send_signal(signal.SIGSTOP)
    wait_stopped(proc.proc.pid)  # its read-ahead thread must not take a batch meanwhile
    try:
        for i in range(limit // 2 + 10):  # alternate so the kernel cannot merge them
            os.utime(a, (i, i))
            os.utime(b, (i, i))
    finally:
        proc.proc.send_signal(signal.SIGCONT)
    seen = 0
    while True:
        ev = jline(proc)
        if ev["wd"] == -1:
            break
        seen += 1
    assert ev["events"] == ["Q_OVERFLOW"] and ev["path"] is None and ev["name"] is None
    assert ev["pathname"] is None
    assert seen == limit


# --- errors: one line, exit 1, no traceback -----------------------------------------


def one_line_error(r: subprocess.CompletedProcess[bytes]) -> str:
    err = r.stderr.decode()
    assert r.returncode == 1, r
    assert "Traceback" not in err
    lines = [x for x in err.splitlines() if x != "Setting up watches."]
    assert len(lines) == 1, err
    return lines[0]


def test_missing_path(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    line = one_line_error(run_cli("watch", "-r", "nope", cwd=tmp_path))
    assert "'nope'" in line and "check the path" in line


def test_unknown_event(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    line = one_line_error(run_cli("watch", "-e", "create,frobnicate", ".", cwd=tmp_path))
    assert "frobnicate" in line and "unknown event" in line


def test_bad_option_is_exit_1(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    line = one_line_error(run_cli("watch", "--bogus", ".", cwd=tmp_path))
    assert "--bogus" in line


@pytest.mark.skipif(shutil.which("setpriv") is None or os.geteuid() != 0, reason="root+setpriv")
def test_permission_denied(tmp_path: Path) -> None:
    r = subprocess.run(
        [
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            sys.executable,
            "-m",
            "inwatch",
            "watch",
            str(tmp_path),
        ],
        capture_output=True,
        timeout=30,
        check=False,
        cwd="/",
    )
    line = one_line_error(r)
    assert str(tmp_path) in line and "permission" in line


@pytest.mark.skipif(shutil.which("unshare") is None, reason="no unshare")
def test_watch_limit(tmp_path: Path) -> None:
    for d in ("a/b", "c", "d", "e"):
        (tmp_path / "tree" / d).mkdir(parents=True)
    r = subprocess.run(
        [
            "unshare",
            "-U",
            "-r",
            "sh",
            "-c",
            'echo 3 > /proc/sys/user/max_inotify_watches && "$PY" -m inwatch watch -r tree',
        ],
        cwd=tmp_path,
        capture_output=True,
        timeout=30,
        check=False,
        env={**os.environ, "PY": sys.executable},
    )
    line = one_line_error(r)
    assert "'tree'" in line and "max_inotify_watches" in line and "sysctl -w" in line
    assert "6 more needed" in line


@pytest.fixture
def shm_dir() -> Iterator[Path]:
    """A directory others may enter (tmp_path is private to root)."""
    d = Path(tempfile.mkdtemp(dir="/dev/shm", prefix="inwatch-cli-"))
    d.chmod(0o755)
    try:
        yield d
    finally:
        shutil.rmtree(d)


@pytest.mark.skipif(shutil.which("setpriv") is None or os.geteuid() != 0, reason="root+setpriv")
def test_unreadable_subdirectory_is_a_warning(shm_dir: Path) -> None:
    (shm_dir / "tree" / "open").mkdir(parents=True)
    (shm_dir / "tree" / "secret").mkdir(mode=0o700)
    r = subprocess.run(
        [
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            sys.executable,
            "-m",
            "inwatch",
            "watch",
            "-r",
            "-t",
            "0.2",
            "tree",
        ],
        capture_output=True,
        timeout=30,
        check=False,
        cwd=shm_dir,
    )
    assert r.returncode == 2, r
    err = r.stderr.decode().splitlines()
    assert err[0] == "Setting up watches." and err[-1] == "Watches established."
    assert len(err) == 3 and err[1].startswith("inwatch: warning: cannot watch 'tree/secret'")
