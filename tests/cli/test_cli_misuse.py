"""Issue 11, items 12-18: escaping, odd PATHs, -1 and atomic saves, --classic,
numbers, permission errors, limit suggestions, and the smaller items. The real
command in a subprocess (plus the pure functions they rest on)."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from inwatch.cli.format import printable
from inwatch.cli.session import pseudo_mounts

WAIT = 10.0
INWATCH = [sys.executable, "-m", "inwatch"]
as_nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
needs_setpriv = pytest.mark.skipif(
    shutil.which("setpriv") is None or os.geteuid() != 0, reason="root+setpriv"
)
needs_unshare = pytest.mark.skipif(shutil.which("unshare") is None, reason="no unshare")


def one_line_error(r: subprocess.CompletedProcess[bytes]) -> str:
    err = r.stderr.decode(errors="surrogateescape")
    assert r.returncode == 1, r
    assert "Traceback" not in err
    lines = [x for x in err.splitlines() if x != "Setting up watches."]
    assert len(lines) == 1, err
    return lines[0]


@pytest.fixture
def shm_dir() -> Iterator[Path]:
    """A directory others may enter (tmp_path is private to root)."""
    d = Path(tempfile.mkdtemp(dir="/dev/shm", prefix="inwatch-cli-"))
    d.chmod(0o755)
    try:
        yield d
    finally:
        shutil.rmtree(d)


# --- 12: one escaping function ------------------------------------------------------


def test_printable_escapes_c0_del_c1_and_undecodable_bytes() -> None:
    assert printable("a\x1b]0;PWNED\x07b") == "a\\x1b]0;PWNED\\x07b"
    assert printable("csi\x9b2J del\x7f nl\n") == "csi\\x9b2J del\\x7f nl\\x0a"
    assert printable(os.fsdecode(b"bad\xff")) == "bad\\xff"
    assert printable("caf\u00e9 \u65e5\u672c") == "caf\u00e9 \u65e5\u672c"  # text stays text


def test_human_line_escapes_c1_csi(inwatch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    proc = inwatch("watch", "-e", "create", ".")
    proc.ready()
    os.mknod(tmp_path / "a\u009b2Jb")
    line = proc.line()
    assert line.endswith(b"./a\\x9b2Jb\n") and b"\xc2\x9b" not in line


@needs_setpriv
def test_warning_with_an_escape_in_a_directory_name(shm_dir: Path) -> None:
    evil = "\x1b]0;PWNED\x07"
    (shm_dir / "tree" / evil).mkdir(parents=True, mode=0o700)  # nobody may not list it
    r = subprocess.run(
        [*as_nobody, *INWATCH, "watch", "-r", "-t", "0.2", "tree"],
        capture_output=True,
        timeout=30,
        check=False,
        cwd=shm_dir,
    )
    assert r.returncode == 2, r
    assert b"\x1b" not in r.stderr and b"\x07" not in r.stderr
    assert b"cannot watch 'tree/\\x1b]0;PWNED\\x07'" in r.stderr


def test_error_line_escapes_the_path(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    r = run_cli("watch", "gone\x1b[2J", cwd=tmp_path)
    line = one_line_error(r)
    assert "\x1b" not in line and "gone\\x1b[2J" in line


# --- 13: '' and a looping link ------------------------------------------------------


def test_empty_path_is_no_such_file(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    line = one_line_error(run_cli("watch", "", cwd=tmp_path))
    assert line == "inwatch watch: cannot watch '': No such file or directory (check the path)"


def test_self_looping_link_is_an_error(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "loop").symlink_to("loop")
    line = one_line_error(run_cli("watch", "loop", cwd=tmp_path))
    assert "'loop': Too many levels of symbolic links" in line


# --- 14: -1 and an atomic save ---------------------------------------------------------


def test_once_with_an_atomic_save_is_not_success(inwatch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "doc.txt").write_text("v1")
    proc = inwatch("watch", "-e", "close_write", "-1", "doc.txt")
    proc.ready()
    (tmp_path / ".doc.txt.swp").write_text("v2")
    os.rename(tmp_path / ".doc.txt.swp", tmp_path / "doc.txt")  # how editors save
    assert proc.wait() == 1
    assert proc.stdout_rest() == []
    err = b"".join(proc.stderr_rest()).decode()
    assert "no watch remains (doc.txt deleted, replaced or unmounted) and no event came" in err
    assert "watch its directory instead" in err


# --- 15: --classic ------------------------------------------------------------------------


@pytest.mark.parametrize("opt", [["-t", "1"], ["-1"], ["-q"], ["-P"], ["--include-regex", "x"]])
def test_classic_rejects_what_it_cannot_honour(run_cli, tmp_path: Path, opt: list[str]) -> None:  # type: ignore[no-untyped-def]
    line = one_line_error(run_cli("watch", "--classic", *opt, ".", cwd=tmp_path))
    assert line.startswith("inwatch watch: --classic is the sample program's output and takes no ")
    assert opt[0] in line


# --- 16: numbers --------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["nan", "-1", "0", "1e20", "x", "-inf"])
def test_bad_timeout_is_a_usage_error(run_cli, tmp_path: Path, value: str) -> None:  # type: ignore[no-untyped-def]
    r = run_cli("watch", "-t", value, ".", cwd=tmp_path)
    line = one_line_error(r)
    assert "-t/--timeout" in line


def test_timeout_inf_waits_forever(inwatch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    proc = inwatch("watch", "-t", "inf", "-e", "create", ".")
    proc.ready()
    os.mknod(tmp_path / "a")
    assert proc.line().endswith(b"./a\n")
    proc.proc.send_signal(signal.SIGINT)
    assert proc.wait() == 0


# --- 17: permission, and the limit suggestions --------------------------------------------


@needs_setpriv
def test_unsearchable_component_says_permission_denied(shm_dir: Path) -> None:
    (shm_dir / "locked" / "sub").mkdir(parents=True)
    (shm_dir / "locked").chmod(0o700)
    r = subprocess.run(
        [*as_nobody, *INWATCH, "watch", "locked/sub"],
        capture_output=True,
        timeout=30,
        check=False,
        cwd=shm_dir,
    )
    line = one_line_error(r)
    assert "'locked/sub': Permission denied" in line


def test_raise_lines_always_suggest_more() -> None:
    from inwatch import Limits
    from inwatch.cli.limits import raise_lines

    for current, used, needed in ((8192, 8000, 1000), (100, 0, 3000), (1 << 20, 1 << 20, 1)):
        lim = Limits(
            max_queued_events=16384,
            max_user_instances=128,
            max_user_watches=current,
            userns_max_instances=None,
            userns_max_watches=None,
            instances_in_use=1,
            watches_in_use=used,
        )
        (line,) = raise_lines(lim, needed)
        value = int(line.rsplit("=", 1)[1])
        assert value > current and value >= used + needed


@needs_unshare
def test_limits_and_the_watch_error_suggest_the_same(tmp_path: Path) -> None:
    for d in ("a/b", "c", "d", "e"):
        (tmp_path / "tree" / d).mkdir(parents=True)

    def userns(script: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            [
                "unshare",
                "-U",
                "-r",
                "sh",
                "-c",
                f"echo 3 > /proc/sys/user/max_inotify_watches && {script}",
            ],
            cwd=tmp_path,
            capture_output=True,
            timeout=30,
            check=False,
            env={**os.environ, "PY": sys.executable},
        )

    lim = userns('"$PY" -m inwatch limits tree')
    err = userns('"$PY" -m inwatch watch -r tree')
    if lim.returncode != 0:
        pytest.skip("cannot lower the limit in a user namespace here")
    suggested = [
        w for w in lim.stdout.decode().split() if w.startswith("user.max_inotify_watches=")
    ]
    assert len(suggested) == 1
    assert f"sysctl -w {suggested[0]})" in one_line_error(err)


# --- 18: the smaller items ------------------------------------------------------------------


def test_help_lists_each_command_once(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = run_cli("--help", cwd=tmp_path).stdout.decode()
    for name in ("watch", "stats", "run", "limits"):
        assert sum(1 for line in out.splitlines() if line.split()[:1] == [name]) == 1


def test_one_watch_is_singular(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "f").touch()
    out = run_cli("limits", "f", cwd=tmp_path).stdout.decode()
    assert "  f: 1 file -> 1 watch" in out
    # (a word of its own: "11 watches" of other processes is fine)
    assert re.search(r"(?<![\d,])1 watches", out) is None, out


def test_directory_report_is_one_human_line(inwatch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "sub").mkdir()
    proc = inwatch("watch", "-r", "-e", "attrib", ".")
    proc.ready()
    (tmp_path / "sub").chmod(0o700)  # reported by . (name sub) and by sub itself
    (tmp_path / "after").touch()
    os.chmod(tmp_path / "after", 0o600)
    assert proc.line().endswith(b"ATTRIB,ISDIR        ./sub\n")
    assert proc.line().endswith(b"ATTRIB              ./after\n")


def test_exclude_absolute_path_under_the_root(inwatch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "skip").mkdir()
    (tmp_path / "keep").mkdir()
    proc = inwatch("watch", "-r", "-e", "create", "--exclude", str(tmp_path / "skip"), ".")
    proc.ready()
    os.mknod(tmp_path / "skip" / "x")
    os.mknod(tmp_path / "keep" / "y")
    assert proc.line().endswith(b"./keep/y\n")


def test_exclude_absolute_path_elsewhere_is_an_error(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    line = one_line_error(run_cli("watch", "--exclude", "/elsewhere", ".", cwd=tmp_path))
    assert "--exclude '/elsewhere' cannot match: it is not under a watched PATH" in line


def test_pseudo_mounts_below_a_root(tmp_path: Path) -> None:
    info = tmp_path / "mountinfo"
    info.write_text(
        "22 1 0:21 / /proc rw,nosuid - proc proc rw\n"
        "23 1 0:22 / /sys rw - sysfs sysfs rw\n"
        "24 1 8:1 / /home rw - ext4 /dev/sda1 rw\n"
        "25 24 0:40 / /home/u/my\\040proc rw - proc proc rw\n"
    )
    assert pseudo_mounts(["/"], str(info)) == ["/home/u/my proc", "/proc", "/sys"]
    assert pseudo_mounts(["/home"], str(info)) == ["/home/u/my proc"]
    assert pseudo_mounts(["/proc"], str(info)) == []  # named: watched


@needs_unshare
def test_recursive_watch_skips_a_proc_mount(tmp_path: Path) -> None:
    (tmp_path / "tree" / "p").mkdir(parents=True)
    r = subprocess.run(
        [
            "unshare",
            "-m",
            "sh",
            "-c",
            'mount -t proc proc tree/p && "$PY" -m inwatch watch -r -t 0.2 tree',
        ],
        cwd=tmp_path,
        capture_output=True,
        timeout=30,
        check=False,
        env={**os.environ, "PY": sys.executable},
    )
    if b"mount:" in r.stderr:
        pytest.skip("cannot mount proc here")
    assert r.returncode == 2, r
    assert (
        b"inwatch: warning: not watching pseudo filesystems (name them as a PATH to watch them): "
        b"tree/p\n" in r.stderr
    )
