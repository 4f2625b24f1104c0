"""Who did it, on the real kernel: live and exited processes, another uid,
another pid namespace, and the unprivileged listener of a user namespace."""

from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from inwatch import Mask
from inwatch.fanotify.backend import FanotifyBackend

from .conftest import WAIT, collect, has

LISTENER = str(Path(__file__).with_name("listener.py"))
SRC = str(Path(__file__).resolve().parents[2] / "src")


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": SRC}


def test_exited_process_of_another_uid(fan: FanotifyBackend, fan_tmpfs: Path) -> None:
    if fan.actors is None or fan.actors.table is None:
        pytest.skip(f"no proc connector: {fan.actors and fan.actors.why_no_connector}")
    f = fan_tmpfs / "nobody"
    cmd = ["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups", "touch", f.name]
    # A relative path from a cwd entered as root: uid 65534 may not search /tmp/pytest-of-root.
    subprocess.run(cmd, check=True, timeout=30, cwd=fan_tmpfs)
    got = collect(fan, has(f, Mask.CREATE))
    touch = shutil.which("touch")
    assert touch is not None
    for e in got:
        if e.pathname == str(f):
            a = e.actor
            assert a is not None and a.status == "exited", a
            assert (a.uid, a.gid, a.exe) == (65534, 65534, os.path.realpath(touch)), a
            assert a.comm is None  # not read from the process: not claimed


def test_live_process(fan: FanotifyBackend, fan_tmpfs: Path) -> None:
    f = fan_tmpfs / "live"
    proc = subprocess.Popen(
        ["sh", "-c", f"echo x > {f}; read line"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL
    )
    try:
        got = collect(fan, has(f, Mask.CLOSE_WRITE))
    finally:
        proc.communicate(b"\n", timeout=30)
    a = next(e.actor for e in got if e.pathname == str(f))
    assert a is not None
    assert (a.pid, a.uid, a.status) == (proc.pid, 0, "ok"), a
    assert a.comm == "sh" and a.exe == os.path.realpath("/bin/sh"), a


def test_listener_own_activity_is_dropped(fan_tmpfs: Path) -> None:
    with FanotifyBackend() as b:  # ignore_own defaults to True
        b.add(str(fan_tmpfs), recursive=True)
        (fan_tmpfs / "mine").write_bytes(b"x")
        subprocess.run(["touch", str(fan_tmpfs / "theirs")], check=True, timeout=30)
        got = collect(b, has(fan_tmpfs / "theirs", Mask.CLOSE_WRITE))
        assert not [e for e in got if e.name == "mine"]


class _Lines:
    """Lines of a child's stdout, each wait bounded."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self.proc = proc
        self.buf = b""

    def next(self, timeout: float = WAIT) -> str:
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.proc.stdout], [], [], left)[0]:
                pytest.fail(f"no line from the listener; so far {self.buf!r}", pytrace=False)
            chunk = os.read(self.proc.stdout.fileno(), 65536)
            if not chunk:
                err = self.proc.stderr.read().decode() if self.proc.stderr else ""
                pytest.fail(f"listener ended: {err}", pytrace=False)
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode()


def _events(lines: _Lines) -> list[dict[str, Any]]:
    out = []
    while True:
        ev = json.loads(lines.next())
        out.append(ev)
        if ev["pathname"].endswith("/stop"):
            return out


def test_other_pid_namespace_is_hidden(fan_tmpfs: Path) -> None:
    if shutil.which("unshare") is None:
        pytest.skip("unshare(1) missing")
    # The listener lives in a new pid namespace: we, outside it, have no pid there.
    cmd = ["unshare", "-pf", "--mount-proc", sys.executable, LISTENER, str(fan_tmpfs)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env())
    try:
        lines = _Lines(proc)
        assert lines.next().startswith("ready")
        (fan_tmpfs / "from-outside").write_bytes(b"")
        (fan_tmpfs / "stop").write_bytes(b"")
        evs = _events(lines)
    finally:
        proc.kill()
        proc.communicate(timeout=30)
    mine = [e for e in evs if e["pathname"].endswith("/from-outside")]
    assert mine
    for e in mine:
        assert e["actor"] == [0, None, None, None, None, "hidden"], e


def test_unprivileged_user_namespace(tmp_path: Path) -> None:
    if shutil.which("unshare") is None:
        pytest.skip("unshare(1) missing")
    mnt = tmp_path / "userns"
    mnt.mkdir()
    script = f"mount -t tmpfs userns {mnt} && exec {sys.executable} {LISTENER} {mnt} --spawn"
    try:
        res = subprocess.run(
            ["unshare", "-Urm", "sh", "-c", script],
            capture_output=True,
            text=True,
            timeout=60,
            env=_env(),
        )
    except subprocess.TimeoutExpired:
        pytest.fail("the unprivileged listener hung", pytrace=False)
    if res.returncode != 0 and ("Operation not permitted" in res.stderr or "mount" in res.stderr):
        pytest.skip(f"no unprivileged fanotify filesystem mark here: {res.stderr.strip()[-300:]}")
    assert res.returncode == 0, res.stderr
    first, *rest = res.stdout.splitlines()
    assert first == "ready False"  # no pidfds without CAP_SYS_ADMIN in the initial namespace
    evs = [json.loads(x) for x in rest]
    spawned = [e for e in evs if e["pathname"] == f"{mnt}/spawned"]
    assert {e["mask"] for e in spawned} >= {int(Mask.CREATE), int(Mask.CLOSE_WRITE)}
    for e in spawned:
        # Another process, seen by an unprivileged listener: the kernel gives pid 0.
        assert e["actor"] == [0, None, None, None, None, "hidden"], e


def test_many_events_with_pidfds_leave_no_fd(fan: FanotifyBackend, fan_tmpfs: Path) -> None:
    # Every event of a live process installs a pidfd in the reader: they are
    # closed right after each read (the autouse fixture fails on any leak).
    n = 2000
    gen = f"for i in range({n}): open(str(i), 'w').close()\n"
    subprocess.run([sys.executable, "-c", gen], cwd=fan_tmpfs, check=True, timeout=60)
    got = collect(fan, has(fan_tmpfs / str(n - 1), Mask.CLOSE_WRITE))
    creates = [e for e in got if e.mask == Mask.CREATE]
    assert len(creates) == n
    assert all(e.actor is not None and e.actor.uid == 0 for e in creates)
    assert all(e.actor.exe == os.path.realpath(sys.executable) for e in creates if e.actor)


def test_proc_connector_is_drained_while_the_tree_is_quiet(fan_tmpfs: Path) -> None:
    # No exec marks: running `true` elsewhere makes no fanotify event at all,
    # only proc-connector news, which must still wake the backend's fd.
    with FanotifyBackend(exec_paths=()) as b:
        actors = b.actors
        if actors is None or actors.table is None:
            pytest.skip("no proc connector")
        b.add(str(fan_tmpfs), recursive=True)
        before = actors.table.drain_no
        subprocess.run(["true"], check=True, timeout=30)
        deadline = time.monotonic() + WAIT
        while actors.table.drain_no == before:
            assert time.monotonic() < deadline, "the backend's fd never woke for the connector"
            if select.select([b], [], [], 0.2)[0]:
                assert b.read_raw() == b""  # nothing in the tree: only the connector drained
        assert actors.lost == 0


def test_reader_and_handler_threads(fan_tmpfs: Path) -> None:
    """The shape of the threaded driver: one thread only reads (capturing
    actors while the writers live), another processes; order and actors hold."""
    import threading

    from inwatch.fanotify.backend import Buffered

    n = 3000
    with FanotifyBackend() as backend:
        backend.add(str(fan_tmpfs), recursive=True)
        buf = Buffered(backend)
        got: list[Any] = []
        stop = threading.Event()

        def reader() -> None:
            while not stop.is_set():
                if select.select([buf], [], [], 0.05)[0]:
                    buf.read_raw()

        t = threading.Thread(target=reader)
        t.start()
        try:
            gen = f"for i in range({n}): open(str(i), 'w').close()\n"
            subprocess.run([sys.executable, "-c", gen], cwd=fan_tmpfs, check=True, timeout=60)
            deadline = time.monotonic() + WAIT
            while not has(fan_tmpfs / str(n - 1), Mask.CLOSE_WRITE)(got):
                assert time.monotonic() < deadline, f"{len(got)} events so far"
                batch = buf.process()
                if not batch:
                    stop.wait(0.01)  # a poll interval: nothing processed yet
                got.extend(batch)
        finally:
            stop.set()
            t.join()
    creates = [int(e.name) for e in got if e.mask == Mask.CREATE]
    assert creates == list(range(n))  # every file, in order
    assert all(e.actor is not None and e.actor.uid == 0 for e in got)
