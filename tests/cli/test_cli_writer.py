"""The command's stdout writer: a short text goes out on the caller's thread
when that cannot block, everything else through the writer thread, and the
lines keep their order either way (real pipes and files)."""

from __future__ import annotations

import fcntl
import os
import threading
import time
from pathlib import Path

import pytest

from inwatch.cli.output import Output, Writer


class Seen(Output):
    """Output that notes which thread wrote each piece (observation only: the
    writes are the real ones, to the real fd)."""

    def __init__(self, fd: int) -> None:
        super().__init__(fd)
        self.threads: list[int] = []

    def write_all(self, data: bytes) -> None:
        self.threads.append(threading.get_ident())
        super().write_all(data)


def read_until(fd: int, size: int, seconds: float = 5.0) -> bytes:
    got = b""
    end = time.monotonic() + seconds
    os.set_blocking(fd, False)
    while len(got) < size and time.monotonic() < end:
        try:
            got += os.read(fd, 1 << 16)
        except BlockingIOError:
            time.sleep(0.001)
    return got


def test_short_texts_to_a_pipe_with_room_go_out_on_the_callers_thread() -> None:
    r, w = os.pipe()
    try:
        out = Seen(w)
        writer = Writer(out, lambda: None)
        want = b""
        for i in range(50):
            line = f"line {i}\n"
            writer.put(line, 1)
            writer.release()
            want += line.encode()
        assert read_until(r, len(want)) == want
        assert out.threads == [threading.get_ident()] * 50
        writer.finish()
    finally:
        os.close(r)
        os.close(w)


def test_a_full_pipe_or_a_long_text_goes_through_the_thread_in_order() -> None:
    r, w = os.pipe()
    try:
        fcntl.fcntl(w, fcntl.F_SETPIPE_SZ, 4096)  # one page: easy to fill
        out = Seen(w)
        writer = Writer(out, lambda: None)
        first = "a" * 4096  # fills the pipe: the next writes must wait
        writer.put(first, 1)
        writer.release()
        assert out.threads == [threading.get_ident()]
        writer.put("b\n", 1)
        writer.release()  # full: handed over, this thread goes on at once
        writer.put("c" * 5000 + "\n", 1)
        writer.release()  # too long for one pipe slot: handed over
        writer.put("d\n", 1)
        writer.release()  # the thread has work queued: after it, never before
        want = (first + "b\n" + "c" * 5000 + "\n" + "d\n").encode()
        assert read_until(r, len(want)) == want
        writer.finish()
        assert out.threads[0] == threading.get_ident()
        assert all(t != threading.get_ident() for t in out.threads[1:])
        assert len(out.threads) >= 2
    finally:
        os.close(r)
        os.close(w)


def test_a_regular_file_is_written_directly(tmp_path: Path) -> None:
    fd = os.open(tmp_path / "out", os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        out = Seen(fd)
        writer = Writer(out, lambda: None)
        for i in range(10):
            writer.put(f"{i}\n", 1)
            writer.release()
        writer.finish()
        assert out.threads == [threading.get_ident()] * 10
        assert (tmp_path / "out").read_text() == "".join(f"{i}\n" for i in range(10))
    finally:
        os.close(fd)


def test_a_broken_pipe_on_the_callers_thread_is_raised_by_check() -> None:
    r, w = os.pipe()
    os.close(r)
    woken: list[bool] = []
    try:
        writer = Writer(Output(w), lambda: woken.append(True))
        writer.put("x\n", 1)
        writer.release()
        assert woken == [True]
        with pytest.raises(BrokenPipeError):
            writer.check()
        with pytest.raises(BrokenPipeError):
            writer.finish()
    finally:
        os.close(w)
