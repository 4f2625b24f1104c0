"""Drive the real ``inwatch`` command in a subprocess.

:class:`CliProc` reads the child's stdout and stderr on two threads into queues,
so every wait has a timeout; the fixture kills what is left and joins the
threads, so a test leaves no process or thread behind.
"""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest

WAIT = 10.0  # seconds: the longest any single wait may take before the test fails


def _pump(stream: IO[bytes], q: queue.Queue[bytes | None]) -> None:
    for line in iter(stream.readline, b""):
        q.put(line)
    q.put(None)


class CliProc:
    """``python -m inwatch ARGS`` running in *cwd*."""

    def __init__(
        self,
        args: list[str],
        cwd: Path,
        env: dict[str, str] | None = None,
        stdin: bytes | None = None,
        argv: list[str] | None = None,
    ) -> None:
        self.args = args
        full_env = dict(os.environ)
        full_env.pop("PYTHONWARNINGS", None)
        full_env.update(env or {})
        self.proc = subprocess.Popen(
            argv or [sys.executable, "-m", "inwatch", *args],
            cwd=cwd,
            stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=full_env,
        )
        if stdin is not None:
            assert self.proc.stdin is not None
            self.proc.stdin.write(stdin)
            self.proc.stdin.close()
        self._out: queue.Queue[bytes | None] = queue.Queue()
        self._err: queue.Queue[bytes | None] = queue.Queue()
        self.out_seen: list[bytes] = []
        self.err_seen: list[bytes] = []
        self._threads = [
            threading.Thread(target=_pump, args=(self.proc.stdout, self._out), daemon=True),
            threading.Thread(target=_pump, args=(self.proc.stderr, self._err), daemon=True),
        ]
        for t in self._threads:
            t.start()
        self._out_eof = self._err_eof = False

    # --- reading -------------------------------------------------------------
    def _get(self, q: queue.Queue[bytes | None], deadline: float) -> bytes | None:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError
        try:
            return q.get(timeout=left)
        except queue.Empty:
            raise TimeoutError from None

    def line(self, timeout: float = WAIT) -> bytes | None:
        """The next stdout line (with its newline), ``None`` at end of output."""
        if self._out_eof:
            return None
        try:
            line = self._get(self._out, time.monotonic() + timeout)
        except TimeoutError:
            raise AssertionError(
                f"no stdout line within {timeout}s; seen so far: {self.out_seen[-20:]!r}; "
                f"stderr: {self.err_seen!r}"
            ) from None
        if line is None:
            self._out_eof = True
        else:
            self.out_seen.append(line)
        return line

    def try_line(self, timeout: float) -> bytes | None:
        """The next stdout line if one comes within *timeout*, else ``None``."""
        try:
            line = self._get(self._out, time.monotonic() + timeout)
        except TimeoutError:
            return None
        if line is None:
            self._out_eof = True
        else:
            self.out_seen.append(line)
        return line

    def lines(self, n: int, timeout: float = WAIT) -> list[bytes]:
        got = []
        for _ in range(n):
            line = self.line(timeout)
            assert line is not None, f"output ended after {got!r}"
            got.append(line)
        return got

    def wait_stderr(self, text: str, timeout: float = WAIT) -> None:
        """Wait for the stderr line *text* (exactly)."""
        want = text.encode()
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._get(self._err, deadline)
            except TimeoutError:
                raise AssertionError(
                    f"stderr never said {text!r} within {timeout}s: {self.err_seen!r}"
                ) from None
            if line is None:
                self._err_eof = True
                raise AssertionError(f"stderr ended without {text!r}: {self.err_seen!r}")
            self.err_seen.append(line)
            if line.rstrip(b"\n") == want:
                return

    def wait_stderr_prefix(self, prefix: str, timeout: float = WAIT) -> bytes:
        """Wait for a stderr line starting with *prefix*; return it."""
        want = prefix.encode()
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._get(self._err, deadline)
            except TimeoutError:
                raise AssertionError(
                    f"stderr never began a line with {prefix!r} within {timeout}s: "
                    f"{self.err_seen!r}"
                ) from None
            if line is None:
                self._err_eof = True
                raise AssertionError(f"stderr ended without {prefix!r}: {self.err_seen!r}")
            self.err_seen.append(line)
            if line.startswith(want):
                return line

    def ready(self) -> CliProc:
        self.wait_stderr("Watches established.")
        return self

    def stderr_rest(self, timeout: float = WAIT) -> list[bytes]:
        """Every stderr line until the end (the process must be ending)."""
        deadline = time.monotonic() + timeout
        while not self._err_eof:
            line = self._get(self._err, deadline)
            if line is None:
                self._err_eof = True
            else:
                self.err_seen.append(line)
        return self.err_seen

    def stdout_rest(self, timeout: float = WAIT) -> list[bytes]:
        rest = []
        while True:
            line = self.line(timeout)
            if line is None:
                return rest
            rest.append(line)

    def wait(self, timeout: float = WAIT) -> int:
        return self.proc.wait(timeout)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(WAIT)
        for t in self._threads:
            t.join(WAIT)
        for s in (self.proc.stdout, self.proc.stderr):
            if s is not None:
                s.close()


@pytest.fixture
def inwatch(tmp_path: Path) -> Iterator[object]:
    """``inwatch(*args, cwd=tmp_path, env=None, stdin=None) -> CliProc``."""
    procs: list[CliProc] = []

    def start(
        *args: str,
        cwd: Path = tmp_path,
        env: dict[str, str] | None = None,
        stdin: bytes | None = None,
        argv: list[str] | None = None,
    ) -> CliProc:
        """Start ``inwatch ARGS`` (or any *argv*, e.g. an oracle tool)."""
        p = CliProc(list(args), cwd, env, stdin, argv)
        procs.append(p)
        return p

    yield start
    for p in procs:
        p.close()


def run_inwatch(
    *args: str, cwd: Path, timeout: float = WAIT, input: bytes | None = None
) -> subprocess.CompletedProcess[bytes]:
    """Run ``inwatch ARGS`` to completion."""
    return subprocess.run(
        [sys.executable, "-m", "inwatch", *args],
        cwd=cwd,
        capture_output=True,
        timeout=timeout,
        input=input,
        check=False,
    )


@pytest.fixture
def run_cli() -> object:
    return run_inwatch
