"""Fixtures of the journal tests: real SQLite files in real directories."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
RUN_CMD = HERE / "run_cmd.py"


def wait_for(predicate: Callable[[], object], timeout: float = 20.0, what: str = "") -> object:
    """Poll *predicate* until it is truthy or *timeout* passes (then fail)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what or predicate}")
        time.sleep(0.02)


def inwatch_cmd(*args: str) -> list[str]:
    """The command line of ``inwatch ARGS`` for a subprocess (the journal commands
    through tests/journal/run_cmd.py until the CLI registry carries them)."""
    return [sys.executable, str(RUN_CMD), *args]


def run_inwatch(
    *args: str, timeout: float = 60.0, **kw: object
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        inwatch_cmd(*args),
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        **kw,  # type: ignore[arg-type]
    )


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    d = tmp_path / "tree"
    d.mkdir()
    return d


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "state" / "journal.db"
