"""The seed's FSMonitor, unchanged but for its import line, driven by a script.

It runs in a subprocess (its loop only ends on KeyboardInterrupt, as in the
seed); each step waits, bounded, for the exact lines it must print.
"""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent


class Monitor:
    def __init__(self, path: Path) -> None:
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE / "fsmonitor_seed.py"), str(path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        assert self.proc.stdout is not None
        self.sel = selectors.DefaultSelector()
        self.sel.register(self.proc.stdout, selectors.EVENT_READ)
        self.buf = b""
        self.stderr = ""

    def lines(self, count: int, timeout: float = 10.0) -> list[str]:
        """The next *count* lines printed (waiting at most *timeout* seconds)."""
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        while self.buf.count(b"\n") < count:
            left = deadline - time.monotonic()
            assert left > 0, f"timed out; got {self.buf!r}"
            if self.sel.select(left):
                chunk = os.read(self.proc.stdout.fileno(), 65536)
                assert chunk, f"monitor exited; got {self.buf!r}"
                self.buf += chunk
        *out, self.buf = self.buf.split(b"\n", count)
        return [line.decode() for line in out]

    def quiet(self, wait: float = 0.3) -> None:
        """Nothing more is printed for *wait* seconds."""
        assert not self.sel.select(wait) and not self.buf, self.buf

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGINT)
        try:
            code = self.proc.wait(10)
            assert self.proc.stderr is not None
            self.stderr = self.proc.stderr.read().decode(errors="replace")
            return code
        finally:
            self.sel.close()
            for stream in (self.proc.stdout, self.proc.stderr):
                if stream is not None:
                    stream.close()


def test_seed_fsmonitor_prints_exact_lines(tmp_path: Path) -> None:
    root = tmp_path / "watched"
    (root / "old" / "deep").mkdir(parents=True)
    m = Monitor(root)
    try:
        assert m.lines(1) == [f"now starting monitor {root}"]

        with open(root / "a.txt", "w") as f:
            f.write("hello")
        assert m.lines(2) == [f"Create file: {root}/a.txt ", f"Modify file: {root}/a.txt "]

        with open(root / "old" / "deep" / "b.txt", "w") as f:  # rec=True watched it
            f.write("x")
        assert m.lines(2) == [
            f"Create file: {root}/old/deep/b.txt ",
            f"Modify file: {root}/old/deep/b.txt ",
        ]

        (root / "sub").mkdir()
        assert m.lines(1) == [f"Create file: {root}/sub "]
        (root / "sub" / "c.txt").touch()  # auto_add watched the new directory
        assert m.lines(1) == [f"Create file: {root}/sub/c.txt "]

        # A whole tree appearing at once: each entry reported exactly once.
        os.makedirs(root / "p" / "q" / "r")
        assert m.lines(3) == [
            f"Create file: {root}/p ",
            f"Create file: {root}/p/q ",
            f"Create file: {root}/p/q/r ",
        ]

        os.unlink(root / "sub" / "c.txt")
        assert m.lines(1) == [f"Delete file: {root}/sub/c.txt "]
        (root / "sub").rmdir()
        assert m.lines(1) == [f"Delete file: {root}/sub "]
        os.unlink(root / "a.txt")
        assert m.lines(1) == [f"Delete file: {root}/a.txt "]
        m.quiet()
    finally:
        code = m.stop()
    assert code == 0
    assert m.buf == b""


def test_seed_fsmonitor_loses_nothing_when_a_directory_goes_at_once(tmp_path: Path) -> None:
    """Issue 10, item 14: a file written in an auto-added subdirectory, then the
    file and the directory deleted at once. The directory's IN_IGNORED is read
    together with the file's events; its Watch must survive until that IGNORED
    is *processed*, so the Modify and Delete before it reach the handler.
    In even rounds the monitor is stopped (SIGSTOP) while the files change, so
    that all of it is read at once (the widest window); in odd rounds it runs."""
    root = tmp_path / "watched"
    root.mkdir()
    m = Monitor(root)
    try:
        assert m.lines(1) == [f"now starting monitor {root}"]
        for i in range(20):
            sub = root / f"sub{i}"
            sub.mkdir()
            assert m.lines(1) == [f"Create file: {sub} "]
            if i % 2 == 0:
                m.proc.send_signal(signal.SIGSTOP)
            try:
                with open(sub / "f", "w") as f:
                    f.write("x")
                os.unlink(sub / "f")
                sub.rmdir()
            finally:
                m.proc.send_signal(signal.SIGCONT)
            assert m.lines(4) == [
                f"Create file: {sub}/f ",
                f"Modify file: {sub}/f ",
                f"Delete file: {sub}/f ",
                f"Delete file: {sub} ",
            ], f"round {i}"
        m.quiet()
    finally:
        code = m.stop()
    assert code == 0
    assert "Unable to retrieve Watch object" not in m.stderr
