"""Issue 11, items 2-6: broken pipes, unwritable stdout, signals, Ctrl-C in setup.

Every test drives the real command in a subprocess.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

WAIT = 10.0  # seconds: the longest any single wait may take

INWATCH = [sys.executable, "-m", "inwatch"]


def wait_for_stderr(proc: subprocess.Popen[bytes], text: bytes, timeout: float = WAIT) -> bytes:
    """Read *proc*'s stderr until a line holds *text*; return all read so far."""
    assert proc.stderr is not None
    seen = b""
    deadline = time.monotonic() + timeout
    while text not in seen:
        left = deadline - time.monotonic()
        assert left > 0, f"stderr never said {text!r}: {seen!r}"
        if select.select([proc.stderr], [], [], left)[0]:
            chunk = os.read(proc.stderr.fileno(), 65536)
            assert chunk, f"stderr ended without {text!r}: {seen!r}"
            seen += chunk
    return seen


def rest_of(proc: subprocess.Popen[bytes], stream: object) -> bytes:
    assert stream is not None
    return stream.read()  # type: ignore[attr-defined,no-any-return]


@pytest.fixture
def spawn() -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    """``spawn(*args, cwd=..., stdout=PIPE, preexec_fn=None)``: ``inwatch ARGS``,
    killed, reaped and its pipes closed after the test."""
    procs: list[subprocess.Popen[bytes]] = []

    def start(
        *args: str,
        cwd: Path | str = "/",
        stdout: Any = subprocess.PIPE,
        preexec_fn: Callable[[], object] | None = None,
    ) -> subprocess.Popen[bytes]:
        p = subprocess.Popen(
            [*INWATCH, *args],
            cwd=cwd,
            stdout=stdout,
            stderr=subprocess.PIPE,
            preexec_fn=preexec_fn,
        )
        procs.append(p)
        return p

    yield start
    for p in procs:
        if p.poll() is None:
            p.kill()
        p.wait(WAIT)
        for s in (p.stdout, p.stderr):
            if s is not None:
                s.close()


# --- item 2: a reader that goes away ------------------------------------------


@pytest.mark.parametrize("mode", [[], ["--json"], ["--csv"], ["--format", "%w%f %e"]])
def test_head_1_ends_the_watch(spawn, tmp_path: Path, mode: list[str]) -> None:  # type: ignore[no-untyped-def]
    """``inwatch watch DIR | head -1``: head exits after one line; inwatch ends
    quietly (status 0, nothing more on stderr) without another event to write."""
    proc = spawn("watch", *mode, ".", cwd=tmp_path)
    wait_for_stderr(proc, b"Watches established.")
    (tmp_path / "one").touch()
    assert b"one" in proc.stdout.readline()
    proc.stdout.close()  # what head does after its line
    assert proc.wait(WAIT) == 0
    assert rest_of(proc, proc.stderr) == b""


def test_stats_ends_quietly_when_its_reader_goes(spawn, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    proc = spawn("stats", ".", cwd=tmp_path)
    wait_for_stderr(proc, b"Watches established.")
    proc.stdout.close()
    assert proc.wait(WAIT) == 0
    assert rest_of(proc, proc.stderr) == b""


# --- item 3: output that cannot be written ------------------------------------


def test_dev_full_fails_at_the_first_write(spawn, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with open("/dev/full", "wb") as full:
        proc = spawn("watch", ".", cwd=tmp_path, stdout=full)
    wait_for_stderr(proc, b"Watches established.")
    (tmp_path / "x").touch()
    assert proc.wait(WAIT) == 1
    err = rest_of(proc, proc.stderr).decode()
    assert err == "inwatch watch: cannot write to stdout: No space left on device\n"


@pytest.mark.parametrize(
    "args",
    [["watch", "."], ["stats", "-t", "30", "."], ["limits"], ["watch", "--classic", "."]],
)
def test_closed_stdout_fails_at_start(tmp_path: Path, args: list[str]) -> None:
    r = subprocess.run(
        ["sh", "-c", 'exec "$PY" -m inwatch "$@" >&-', "sh", *args],
        cwd=tmp_path,
        capture_output=True,
        timeout=WAIT,
        env={**os.environ, "PY": sys.executable},
        check=False,
    )
    assert r.returncode == 1
    assert r.stderr.decode() == f"inwatch {args[0]}: cannot write to stdout: Bad file descriptor\n"


def test_stats_to_dev_full_is_one_line(tmp_path: Path) -> None:
    with open("/dev/full", "wb") as full:
        r = subprocess.run(
            [*INWATCH, "stats", "-q", "-t", "0.1", "."],
            cwd=tmp_path,
            stdout=full,
            stderr=subprocess.PIPE,
            timeout=WAIT,
            check=False,
        )
    assert r.returncode == 1
    assert r.stderr.decode() == "inwatch stats: cannot write to stdout: No space left on device\n"


# --- item 4: every event read is written at exit -------------------------------


def test_sigint_writes_everything_read_to_a_slow_reader(spawn, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The reader stalls for longer than the old 5 s drain limit after SIGINT:
    every event is still written, however many batches it was read in."""
    pad = "x" * 100  # ~115 bytes a line: a pipe holds a few hundred
    proc = spawn("watch", "-e", "create", "--csv", ".", cwd=tmp_path)
    wait_for_stderr(proc, b"Watches established.")
    for i in range(1500):
        os.mknod(tmp_path / f"a{i:04}{pad}")
    first = proc.stdout.readline()  # the writer is at work, and soon blocked
    for i in range(1500):
        os.mknod(tmp_path / f"b{i:04}{pad}")
    proc.send_signal(signal.SIGINT)
    time.sleep(6)  # the slow reader: a stall, not a wait for an event
    lines = [first, *proc.stdout.read().splitlines(keepends=True)]
    assert proc.wait(WAIT) == 0
    assert len(lines) == 3000 and lines[-1] == f"./,CREATE,b1499{pad}\n".encode()


def test_second_sigint_aborts_with_a_count(spawn, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    proc = spawn("watch", "-e", "create", ".", cwd=tmp_path)
    wait_for_stderr(proc, b"Watches established.")
    for i in range(3000):
        os.mknod(tmp_path / f"f{i:04}")
    proc.send_signal(signal.SIGINT)  # honoured by writing into a pipe nobody reads...
    deadline = time.monotonic() + WAIT
    while proc.poll() is None and time.monotonic() < deadline:
        proc.send_signal(signal.SIGINT)  # ...until this one aborts it
        if select.select([proc.stderr], [], [], 0.2)[0]:
            break
    err = wait_for_stderr(proc, b"were not written").decode()
    assert proc.wait(WAIT) == 128 + signal.SIGINT
    line = err.splitlines()[-1]
    assert line.startswith("inwatch watch: aborted by a second SIGINT: ")
    assert int(line.split(": ")[2].split()[0]) > 0


# --- item 5: SIGHUP ------------------------------------------------------------------


def test_sighup_ends_watch_like_sigterm(spawn, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    proc = spawn("watch", "-e", "create", "--csv", ".", cwd=tmp_path)
    wait_for_stderr(proc, b"Watches established.")
    (tmp_path / "a").touch()
    proc.send_signal(signal.SIGHUP)
    assert proc.wait(WAIT) == 0
    assert rest_of(proc, proc.stdout) == b"./,CREATE,a\n"


def test_under_nohup_sighup_is_left_ignored(spawn, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # nohup sets SIGHUP to SIG_IGN before exec: the user asked to survive a hang-up.
    proc = spawn(
        "watch",
        "-e",
        "create",
        "--csv",
        ".",
        cwd=tmp_path,
        preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN),
    )
    wait_for_stderr(proc, b"Watches established.")
    proc.send_signal(signal.SIGHUP)
    (tmp_path / "after").touch()  # still watching: its line comes
    ready, _, _ = select.select([proc.stdout], [], [], WAIT)
    assert ready, "no line after SIGHUP: the watch ended"
    assert proc.stdout.readline() == b"./,CREATE,after\n"
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(WAIT) == 0


def test_sighup_ends_stats_with_its_table(spawn, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    proc = spawn("stats", "-e", "create", ".", cwd=tmp_path)
    wait_for_stderr(proc, b"Watches established.")
    (tmp_path / "a").touch()
    proc.send_signal(signal.SIGHUP)
    assert proc.wait(WAIT) == 0
    out = rest_of(proc, proc.stdout).decode().splitlines()
    assert out[0].split() == ["total", "create", "filename"]
    assert out[1].split() == ["1", "1", "./a"]


# --- item 6: Ctrl-C while a big tree is being set up ----------------------------------


@pytest.fixture
def big_tree() -> Iterator[Path]:
    """20,000 directories on /dev/shm."""
    top = Path(tempfile.mkdtemp(dir="/dev/shm", prefix="inwatch-setup-"))
    try:
        for i in range(200):
            d = top / f"d{i:03}"
            d.mkdir()
            for j in range(100):
                (d / f"{j:02}").mkdir()
        yield top
    finally:
        shutil.rmtree(top)


def test_ctrl_c_during_setup_stops_at_once(spawn, big_tree: Path) -> None:  # type: ignore[no-untyped-def]
    proc = spawn("watch", "-r", str(big_tree))
    wait_for_stderr(proc, b"Setting up watches.")
    proc.send_signal(signal.SIGINT)
    assert proc.wait(WAIT) == 0
    # It stopped in the middle of the walk: the setup never completed.
    assert b"Watches established." not in rest_of(proc, proc.stderr)


def test_ctrl_c_three_times_during_setup(spawn, big_tree: Path) -> None:  # type: ignore[no-untyped-def]
    """Impatient: three Ctrl-C in a row. It ends at once, with status 0 (the
    first stopped it) or 130 (a later one aborted the stopping), never a traceback."""
    proc = spawn("watch", "-r", str(big_tree))
    wait_for_stderr(proc, b"Setting up watches.")
    for _ in range(3):
        proc.send_signal(signal.SIGINT)
    assert proc.wait(WAIT) in (0, 130)
    err = rest_of(proc, proc.stderr)
    assert b"Traceback" not in err and b"Watches established." not in err


# --- output held during a storm, never while idle ----------------------------------


@pytest.mark.parametrize("sink", ["pipe", "file"])
def test_burst_tail_is_written_without_a_later_event(spawn, tmp_path: Path, sink: str) -> None:  # type: ignore[no-untyped-def]
    """The writer is handed output per 64 KiB or before the command sleeps: a
    burst of several 64 KiB and a remainder comes out whole, with no event
    after it to push the remainder out."""
    w = tmp_path / "w"
    w.mkdir()
    out_path = tmp_path / "out.jsonl"
    if sink == "file":
        out = os.open(out_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        p = spawn("watch", "--json", "-e", "create", str(w), stdout=out)
        os.close(out)
    else:
        p = spawn("watch", "--json", "-e", "create", str(w))
    wait_for_stderr(p, b"Watches established")
    count = 1500  # ~300 KiB of JSON lines
    for i in range(count):
        os.mknod(w / f"f{i:05d}")
    seen = b""
    deadline = time.monotonic() + WAIT
    while seen.count(b"\n") < count:
        left = deadline - time.monotonic()
        assert left > 0, f"{len(seen.splitlines())} of {count} lines written"
        if sink == "file":
            seen = out_path.read_bytes()
            time.sleep(0.02)
        elif select.select([p.stdout], [], [], left)[0]:
            chunk = os.read(p.stdout.fileno(), 1 << 20)
            assert chunk, "stdout ended early"
            seen += chunk
    names = [json.loads(line)["name"] for line in seen.splitlines()]
    assert names == [f"f{i:05d}" for i in range(count)]
    p.send_signal(signal.SIGINT)
    assert p.wait(WAIT) == 0
