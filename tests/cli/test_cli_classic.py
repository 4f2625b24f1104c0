"""``inwatch watch --classic``: the seed article's session, on this kernel.

The article ran ``inotify_test dir1/ dir1/dir2/ dir1/dir2/file1`` on a 2.6
kernel. A 6.x kernel differs in places (``ls`` also reports ACCESS on the
directory; ``rmdir`` queues DELETE_SELF/IGNORED of the child before the parent's
DELETE), so the expected lines are built from an independent oracle: a second
inotify instance with the same three watches, read after each command, printed
with the article's rules by :func:`article_lines` below.
"""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

from inwatch import IN_ALL_EVENTS, Inotify, RawEvent, mask_names

SESSION = [
    "ls dir1/dir2",
    'echo "Some text" >> dir1/dir2/file1',
    "chmod a+w dir1/dir2/file1",
    "mv dir1/dir2/file1 dir1",
    "ln dir1/file1 dir1/file2",
    "mv dir1/file1 ./file3",
    "rmdir dir1/dir2",
    "rm file3",
    "touch dir1/file2",
    "rm -rf dir1",
]


def article_lines(ev: RawEvent, count: list[int]) -> list[str]:
    """What the article's handle_event prints, written out independently."""
    names = [n for n in mask_names(ev.mask) if n != "ISDIR"]
    assert len(names) == 1, names
    kind = "Dir" if "ISDIR" in mask_names(ev.mask) else "File"
    name = ev.name.decode() if ev.name else "(null)"
    if names[0] == "IGNORED":
        count[0] -= 1
        return [f"IGNORED: WD #{ev.wd}", f"Watching = {count[0]} items"]
    line = f'{names[0]}: {kind} "{name}" on WD #{ev.wd}'
    if names[0] in ("MOVED_FROM", "MOVED_TO"):
        line += f". Cookie={ev.cookie}"
    return [line]


def collapse(lines: list[str]) -> list[str]:
    """Merge repeated consecutive lines.

    The kernel drops an event identical to the last one still queued, so two
    readers see a different number of repeats depending on when they read
    (``rm -rf`` gives ACCESS, ACCESS on the directory when read in between).
    """
    return [x for i, x in enumerate(lines) if i == 0 or x != lines[i - 1]]


def read_batches(proc, expected: list[str]) -> list[str]:  # type: ignore[no-untyped-def]
    """Read ``\\nN events queued`` groups until the events of *expected* were
    printed; check every N against the lines that follow it."""
    lines: list[str] = []
    while len(collapse(lines)) < len(collapse(expected)):
        assert proc.line() == b"\n"
        head = proc.line().decode()
        assert head.endswith(" events queued\n"), head
        n = int(head.split()[0])
        assert n > 0
        for _ in range(n):
            line = proc.line().decode().rstrip("\n")
            lines.append(line)
            if line.startswith("IGNORED: "):
                lines.append(proc.line().decode().rstrip("\n"))
    return lines


def test_seed_session(inwatch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "dir1" / "dir2").mkdir(parents=True)
    (tmp_path / "dir1" / "dir2" / "file1").touch()
    targets = ["dir1/", "dir1/dir2/", "dir1/dir2/file1"]
    with Inotify() as oracle:
        for t in targets:
            oracle.add_watch(tmp_path / t, IN_ALL_EVENTS)
        proc = inwatch("watch", "--classic", *targets)
        head = proc.lines(7)
        assert [x.decode() for x in head] == [
            "\n",
            "Watching dir1/ WD=1\n",
            "Watching = 1 items\n",
            "Watching dir1/dir2/ WD=2\n",
            "Watching = 2 items\n",
            "Watching dir1/dir2/file1 WD=3\n",
            "Watching = 3 items\n",
        ]
        count = [3]
        printed: dict[str, list[str]] = {}
        for command in SESSION:
            subprocess.run(
                command, shell=True, cwd=tmp_path, check=True, stdout=subprocess.DEVNULL, timeout=10
            )
            events = oracle.read(timeout=5)
            assert events, command
            expected = [line for ev in events for line in article_lines(ev, count)]
            got = read_batches(proc, expected)
            assert collapse(got) == collapse(expected), command
            printed[command] = collapse(got)
        assert proc.stdout_rest() == [b"\n", b"Terminating\n"]
        assert proc.wait() == 0

    # The lines of the article this kernel prints the same way.
    ls = printed["ls dir1/dir2"]
    assert ls[:2] == ['OPEN: Dir "dir2" on WD #1', 'OPEN: Dir "(null)" on WD #2']
    assert ls[-2:] == ['CLOSE_NOWRITE: Dir "dir2" on WD #1', 'CLOSE_NOWRITE: Dir "(null)" on WD #2']
    assert printed['echo "Some text" >> dir1/dir2/file1'] == [
        'OPEN: File "file1" on WD #2',
        'OPEN: File "(null)" on WD #3',
        'MODIFY: File "file1" on WD #2',
        'MODIFY: File "(null)" on WD #3',
        'CLOSE_WRITE: File "file1" on WD #2',
        'CLOSE_WRITE: File "(null)" on WD #3',
    ]
    assert printed["chmod a+w dir1/dir2/file1"] == [
        'ATTRIB: File "file1" on WD #2',
        'ATTRIB: File "(null)" on WD #3',
    ]
    frm, to, self_ = printed["mv dir1/dir2/file1 dir1"]
    cookie = frm.rsplit("=", 1)[1]
    assert frm == f'MOVED_FROM: File "file1" on WD #2. Cookie={cookie}'
    assert to == f'MOVED_TO: File "file1" on WD #1. Cookie={cookie}'
    assert self_ == 'MOVE_SELF: File "(null)" on WD #3'
    assert printed["ln dir1/file1 dir1/file2"] == [
        'ATTRIB: File "(null)" on WD #3',
        'CREATE: File "file2" on WD #1',
    ]
    assert sorted(printed["rmdir dir1/dir2"]) == sorted(
        [
            'DELETE: Dir "dir2" on WD #1',
            'DELETE_SELF: File "(null)" on WD #2',
            "IGNORED: WD #2",
            "Watching = 2 items",
        ]
    )
    assert printed["rm file3"] == ['ATTRIB: File "(null)" on WD #3']
    assert printed["rm -rf dir1"][-3:] == [
        'DELETE_SELF: File "(null)" on WD #1',
        "IGNORED: WD #1",
        "Watching = 0 items",
    ]


def test_classic_sigint_terminates(inwatch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    proc = inwatch("watch", "--classic", ".")
    assert proc.lines(3)[1:] == [b"Watching . WD=1\n", b"Watching = 1 items\n"]
    proc.proc.send_signal(signal.SIGINT)
    assert proc.stdout_rest() == [b"\n", b"Terminating\n"]
    assert proc.wait() == 0


def test_classic_missing_path(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    r = run_cli("watch", "--classic", "nope", cwd=tmp_path)
    assert r.returncode == 1
    err = r.stderr.decode().splitlines()
    assert len(err) == 1 and "'nope'" in err[0] and "Traceback" not in r.stderr.decode()
