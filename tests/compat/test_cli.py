"""``python -m inwatch.pyinotify``: pyinotify's command line, compared with
``python -m pyinotify`` itself."""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest


def _watch(module: str, args: list[str], root: Path, touch: list[str]) -> tuple[str, int]:
    env = dict(os.environ, PYTHONUNBUFFERED="1", PYTHONWARNINGS="ignore")
    proc = subprocess.Popen(
        [sys.executable, "-m", module, *args, str(root)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    assert proc.stdout is not None
    out = b""
    sel = selectors.DefaultSelector()
    try:
        # No output until it watches: probe with new files until one shows up.
        sel.register(proc.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + 15
        i = 0
        while b"probe" not in out:
            assert time.monotonic() < deadline, out
            (root / f"probe{i}").touch()
            i += 1
            if sel.select(0.1):
                out += os.read(proc.stdout.fileno(), 65536)
        for name in touch:
            (root / name).touch()
        while sum(b"probe" not in ln for ln in out.split(b"\n")[:-1]) < len(touch):
            assert time.monotonic() < deadline, out
            if sel.select(0.1):
                out += os.read(proc.stdout.fileno(), 65536)
    finally:
        sel.close()
        proc.send_signal(signal.SIGINT)
        code = proc.wait(10)
        out += proc.stdout.read()
        proc.stdout.close()
    lines = [ln for ln in out.decode().splitlines() if "probe" not in ln]
    return "\n".join(lines).replace(str(root), "ROOT"), code


def test_same_output_as_pyinotify(tmp_path: Path) -> None:
    pytest.importorskip("pyinotify")
    results = []
    for module in ("pyinotify", "inwatch.pyinotify"):
        root = tmp_path / module
        root.mkdir()
        results.append(_watch(module, ["-f", "-e", "IN_CREATE"], root, ["a", "b"]))
    assert results[1] == results[0]
    assert results[1] == (
        "<Event dir=False mask=0x100 maskname=IN_CREATE name=a path=ROOT pathname=ROOT/a wd=1 >\n"
        "<Event dir=False mask=0x100 maskname=IN_CREATE name=b path=ROOT pathname=ROOT/b wd=1 >",
        0,
    )


def test_colored_output(tmp_path: Path) -> None:
    text, code = _watch("inwatch.pyinotify", ["-e", "IN_CREATE"], tmp_path, ["a"])
    assert code == 0
    assert "\033[1mEvent" in text and "name\033[0m" in text


def test_version_and_bad_event() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "inwatch.pyinotify", "-V"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert (out.returncode, out.stdout) == (0, "0.9.6\n")
    bad = subprocess.run(
        [sys.executable, "-m", "inwatch.pyinotify", "-e", "IN_NOPE", "/tmp"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert bad.returncode == 2
    assert bad.stderr.endswith("error: The event 'IN_NOPE' specified with option -e is not valid\n")
