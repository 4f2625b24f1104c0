"""Fixtures of the journal tests: real SQLite files in real directories."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import ClassVar

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
        errors="surrogateescape",  # paths are the kernel's bytes, UTF-8 or not
        timeout=timeout,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        **kw,  # type: ignore[arg-type]
    )


class Recording:
    """A running ``inwatch record`` (stderr kept in a file, polled for its lines)."""

    live: ClassVar[list[Recording]] = []  # stopped by the autouse fixture if a test failed

    def __init__(self, db: Path, *args: str, tmp: Path) -> None:
        Recording.live.append(self)
        self.err_path = tmp / f"record-{os.urandom(4).hex()}.err"
        self.err = open(self.err_path, "w")  # noqa: SIM115  (closed in stop())
        self.proc = subprocess.Popen(
            inwatch_cmd("record", "--db", str(db), *args),
            stdout=subprocess.DEVNULL,
            stderr=self.err,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        wait_for(lambda: "Recording to" in self.stderr() or self.proc.poll() is not None)
        assert self.proc.poll() is None, self.stderr()

    def stderr(self) -> str:
        return self.err_path.read_text()

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        self.proc.send_signal(sig)
        rc = self.proc.wait(timeout)
        self.err.close()
        Recording.live.remove(self)
        return rc

    def wait(self, timeout: float) -> int:
        rc = self.proc.wait(timeout)
        self.err.close()
        Recording.live.remove(self)
        return rc


@pytest.fixture(autouse=True)
def _stop_recordings() -> Iterator[None]:
    yield
    for rec in list(Recording.live):
        rec.proc.kill()
        rec.proc.wait(10)
        rec.err.close()
        Recording.live.remove(rec)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    d = tmp_path / "tree"
    d.mkdir()
    return d


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "state" / "journal.db"
