"""``inwatch run``: debounce, no self-triggering loop, --restart of a process group."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from inwatch.cli.run import Batch

REPORT = 'printf "RUN %s [%s]\\n" "$(echo $INWATCH_CHANGED)" "$INWATCH_EVENT"'


def gone(pid: int) -> bool:
    """The process has exited (a zombie waiting for its reaper counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def wait_gone(pid: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if gone(pid):
            return True
        time.sleep(0.02)
    return False


def change_until_line(proc, src: Path) -> bytes:  # type: ignore[no-untyped-def]
    """Touch new files in *src* until the command prints a line: with --restart,
    events in the first DEBOUNCE ms after a start are taken for its own."""
    deadline = time.monotonic() + 10
    i = 0
    while time.monotonic() < deadline:
        (src / f"x{i}").touch()
        i += 1
        line = proc.try_line(0.2)
        if line is not None:
            return line
    raise AssertionError(f"no restart; stderr: {proc.err_seen!r}")


def test_burst_runs_once(inwatch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    src = tmp_path / "src"
    src.mkdir()
    proc = inwatch(
        "run", "--no-initial", "-r", "--debounce", "300", "src", "--", "sh", "-c", REPORT
    )
    proc.ready()
    names = [f"f{i:02}" for i in range(20)]
    for n in names:
        (src / n).write_text(n)
    line = proc.line().decode()
    assert line == f"RUN {' '.join('src/' + n for n in names)} [CREATE,MODIFY,CLOSE_WRITE]\n"
    proc.wait_stderr("inwatch run: exit status 0")
    (src / "later").touch()
    # the burst made exactly one run: the next one is about the later change alone
    assert proc.line() == b"RUN src/later [CREATE,CLOSE_WRITE]\n"


def test_initial_run_and_own_writes_do_not_loop(inwatch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    src = tmp_path / "src"
    src.mkdir()
    # the command writes into the watched tree every time it runs
    proc = inwatch(
        "run",
        "--debounce",
        "50",
        "src",
        "--",
        "sh",
        "-c",
        REPORT + "; echo x >> src/own; mkdir -p src/out; touch src/out/y",
    )
    proc.ready()
    assert proc.line() == b"RUN  [INITIAL]\n"
    # --on-busy queue: the writes of a run make one more run, until a run changed
    # the same set as the busy-only run before it: the loop rule stops there.
    assert proc.line() == b"RUN src/own src/out [CREATE,MODIFY,CLOSE_WRITE]\n"
    assert proc.line() == b"RUN src/own [MODIFY,CLOSE_WRITE]\n"
    proc.wait_stderr_prefix("inwatch run: not running again: the last run changed the same 1 path")
    for name in ("a", "b", "c"):
        (src / name).write_text(name)
        assert proc.line() == f"RUN src/{name} [CREATE,MODIFY,CLOSE_WRITE]\n".encode()
        proc.wait_stderr("inwatch run: exit status 0")
    # its own writes after each outside change are known: no further run
    assert proc.try_line(1.0) is None
    proc.proc.send_signal(signal.SIGTERM)
    assert proc.wait() == 0
    assert proc.stdout_rest() == []


def test_restart_stops_the_whole_group(inwatch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    src = tmp_path / "src"
    src.mkdir()
    script = 'sleep 60 & echo "START $$ $! $INWATCH_EVENT"; wait'
    proc = inwatch(
        "run", "--restart", "--grace", "2", "--debounce", "100", "src", "--", "sh", "-c", script
    )
    proc.ready()
    _, pid1, kid1, ev1 = proc.line().decode().split()
    assert ev1 == "INITIAL"
    _, pid2, kid2, ev2 = change_until_line(proc, src).decode().split()
    assert ev2 == "CREATE,CLOSE_WRITE"
    assert wait_gone(int(pid1)) and wait_gone(int(kid1))  # shell and its child both
    assert os.getpgid(int(kid2)) == int(pid2)  # the new one runs in its own group
    proc.proc.send_signal(signal.SIGINT)
    assert proc.wait() == 0
    assert wait_gone(int(pid2)) and wait_gone(int(kid2))


def test_restart_kills_after_grace(inwatch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    src = tmp_path / "src"
    src.mkdir()
    script = 'trap "" TERM; echo "START $$"; while :; do sleep 0.05; done'
    proc = inwatch(
        "run", "--restart", "--grace", "0.3", "--debounce", "50", "src", "--", "sh", "-c", script
    )
    proc.ready()
    pid1 = int(proc.line().split()[1])
    pid2 = int(change_until_line(proc, src).split()[1])
    assert pid2 != pid1 and wait_gone(pid1)
    proc.proc.send_signal(signal.SIGTERM)
    assert proc.wait() == 0
    assert wait_gone(pid2)


def test_missing_command(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    r = run_cli("run", ".", cwd=tmp_path)
    assert r.returncode == 1 and r.stderr.count(b"\n") == 1 and b"--" in r.stderr


def test_batch_debounce_and_cap() -> None:
    b = Batch()
    assert not b
    b.add("/a", ["CREATE"], 10.0)
    b.add("/b", ["MODIFY", "ISDIR"], 10.1)
    b.add("/a", ["CREATE"], 10.2)
    assert b.due(0.3, 2.0) == 10.5
    b.last = 11.9
    assert b.due(0.3, 2.0) == 12.0  # a steady stream still runs after the cap
    assert b.env() == {"INWATCH_CHANGED": "/a\n/b", "INWATCH_EVENT": "CREATE,MODIFY"}
    b.add(None, ["Q_OVERFLOW"], 12.0)
    assert b.env()["INWATCH_EVENT"] == "CREATE,MODIFY,Q_OVERFLOW"
