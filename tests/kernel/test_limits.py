"""`limits()` and `inotify_usage()` against the /proc files and our own fds."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from inwatch import Inotify, Limits, Mask, inotify_usage, limits
from inwatch.knobs import raise_command


def _proc_int(path: str) -> int | None:
    try:
        return int(Path(path).read_text())
    except FileNotFoundError:
        return None


def test_values_are_the_proc_files() -> None:
    lim = limits()
    assert isinstance(lim, Limits)
    assert lim.max_queued_events == _proc_int("/proc/sys/fs/inotify/max_queued_events")
    assert lim.max_user_instances == _proc_int("/proc/sys/fs/inotify/max_user_instances")
    assert lim.max_user_watches == _proc_int("/proc/sys/fs/inotify/max_user_watches")
    assert lim.userns_max_instances == _proc_int("/proc/sys/user/max_inotify_instances")
    assert lim.userns_max_watches == _proc_int("/proc/sys/user/max_inotify_watches")
    assert lim.max_queued_events is not None and lim.max_user_watches is not None


def test_the_binding_limit_is_the_smaller_knob() -> None:
    lim = limits()
    values = [v for v in (lim.max_user_watches, lim.userns_max_watches) if v is not None]
    assert lim.watch_limit == min(values)
    assert Path(lim.watch_knob).exists() and os.path.basename(lim.watch_knob) in (
        "max_user_watches",
        "max_inotify_watches",
    )
    assert Path(lim.instance_knob).exists()
    assert lim.instance_limit == min(
        v for v in (lim.max_user_instances, lim.userns_max_instances) if v is not None
    )


def test_usage_counts_this_process_instances_and_watches(tmp_path: Path) -> None:
    for i in range(5):
        (tmp_path / f"d{i}").mkdir()

    def mine() -> tuple[int, int]:
        for p in inotify_usage():
            if p.pid == os.getpid():
                return p.instances, p.watches
        return 0, 0

    own = mine()
    with Inotify() as a, Inotify() as b:
        for i in range(5):
            a.add_watch(tmp_path / f"d{i}", Mask.CREATE)
        b.add_watch(tmp_path, Mask.CREATE)
        assert mine() == (own[0] + 2, own[1] + 6)
        # The user's totals include ours (other processes may come and go).
        during = limits()
        assert during.instances_in_use >= 2 and during.watches_in_use >= 6
    assert mine() == own


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to switch to an unused uid")
def test_user_totals_go_up_by_what_a_process_opens() -> None:
    # The totals are per user, and this user (root) has other processes opening
    # and closing instances meanwhile; a child under a uid nobody else uses sees
    # exact before/during/after numbers.
    code = """
        import json, os
        from inwatch import Inotify, Mask, limits  # before: the stdlib may be root-only
        os.setgroups([])
        os.setgid(54321)
        os.setuid(54321)
        before = limits()
        with Inotify() as a, Inotify() as b:
            for path in ("/", "/proc", "/sys", "/dev", "/usr"):
                a.add_watch(path, Mask.CREATE)
            b.add_watch("/", Mask.CREATE)
            during = limits()
        after = limits()
        print(json.dumps([[x.instances_in_use, x.watches_in_use] for x in (before, during, after)]))
    """
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [[0, 0], [2, 6], [0, 0]]


def test_usage_entries_describe_processes() -> None:
    with Inotify() as ino:
        ino.add_watch("/", Mask.CREATE)
        usage = inotify_usage()
        me = [p for p in usage if p.pid == os.getpid()]
        assert len(me) == 1
        assert me[0].command == Path("/proc/self/comm").read_text().strip()
        assert me[0].instances >= 1 and me[0].watches >= 1
        # Most watches first.
        assert [p.watches for p in usage] == sorted((p.watches for p in usage), reverse=True)


def test_raise_command() -> None:
    assert (
        raise_command("/proc/sys/fs/inotify/max_user_watches", 524288)
        == "sudo sysctl -w fs.inotify.max_user_watches=524288"
    )
    assert (
        raise_command("/proc/sys/user/max_inotify_instances", 256)
        == "sudo sysctl -w user.max_inotify_instances=256"
    )
