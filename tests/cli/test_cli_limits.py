"""``inwatch limits``: values from /proc, tree counts, and the fix when it binds."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from inwatch import limits


def make_tree(root: Path) -> int:
    """5 directories plus the root; files and a symlink to a directory (not followed)."""
    for d in ("a", "a/b", "a/b/c", "d", "e"):
        (root / d).mkdir(parents=True)
        (root / d / "file").write_text("x")
    (root / "link").symlink_to(root / "a")
    return 6


def test_limits_counts_the_tree(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    tree = tmp_path / "tree"
    tree.mkdir()
    n = make_tree(tree)
    r = run_cli("limits", str(tree), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    out = r.stdout.decode()
    lim = limits()
    assert re.search(rf"fs\.inotify\.max_user_watches +{lim.max_user_watches:,}\n", out)
    assert re.search(rf"fs\.inotify\.max_queued_events +{lim.max_queued_events:,} ", out)
    assert f"  {tree}: {n} directories -> {n} watches" in out
    assert "fits:" in out


def test_limits_json(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    tree = tmp_path / "tree"
    tree.mkdir()
    n = make_tree(tree)
    r = run_cli("limits", "--json", str(tree), str(tree / "a" / "file"), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    obj = json.loads(r.stdout)
    lim = limits()
    assert obj["limits"]["fs.inotify.max_user_watches"] == lim.max_user_watches
    assert obj["limits"]["fs.inotify.max_queued_events"] == lim.max_queued_events
    assert obj["watch_limit"] == lim.watch_limit
    assert [p["directories"] for p in obj["paths"]] == [n, 1]
    assert obj["paths"][1]["is_dir"] is False
    assert obj["watches_needed"] == n + 1
    assert obj["fits"] is True and obj["fix"] == []


def test_limits_missing_path(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    r = run_cli("limits", "nope", cwd=tmp_path)
    assert r.returncode == 1
    assert r.stdout == b""
    assert r.stderr.decode().count("\n") == 1 and "'nope'" in r.stderr.decode()


needs_unshare = pytest.mark.skipif(shutil.which("unshare") is None, reason="no unshare")


def in_userns(script: str, cwd: Path) -> subprocess.CompletedProcess[bytes]:
    """Run *script* (sh) in a new user namespace whose watch limit is 3."""
    return subprocess.run(
        [
            "unshare",
            "-U",
            "-r",
            "sh",
            "-c",
            f"echo 3 > /proc/sys/user/max_inotify_watches && {script}",
        ],
        cwd=cwd,
        capture_output=True,
        timeout=30,
        check=False,
        env={**os.environ, "PY": sys.executable},
    )


@needs_unshare
def test_limits_does_not_fit_names_the_namespace_knob(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    tree.mkdir()
    make_tree(tree)
    r = in_userns('"$PY" -m inwatch limits tree', tmp_path)
    if r.returncode != 0 and b"max_inotify_watches" in r.stderr:
        pytest.skip("cannot lower the limit in a user namespace here")
    out = r.stdout.decode()
    assert r.returncode == 0, r.stderr
    assert "does not fit: 6 watches needed" in out
    assert "/proc/sys/user/max_inotify_watches" in out
    assert "sysctl -w user.max_inotify_watches=" in out


@needs_unshare
def test_classic_watch_limit_is_one_line(tmp_path: Path) -> None:
    for d in "abcd":
        (tmp_path / d).mkdir()
    r = in_userns('"$PY" -m inwatch watch --classic a b c d', tmp_path)
    assert r.returncode == 1, r
    err = r.stderr.decode()
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "'d'" in err and "max_inotify_watches" in err and "sysctl -w" in err


def test_limits_show_the_fanotify_knobs(run_cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Read from /proc/sys/fs/fanotify (never written), in both output modes."""
    res = run_cli("limits", cwd=tmp_path)
    knob = "/proc/sys/fs/fanotify/max_queued_events"
    with open(knob) as f:
        value = int(f.read())
    assert "fs.fanotify.max_queued_events" in res.stdout.decode()
    res = run_cli("limits", "--json", cwd=tmp_path)
    assert json.loads(res.stdout)["limits"]["fs.fanotify.max_queued_events"] == value
