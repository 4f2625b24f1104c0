"""`limits()` and `inotify_usage()` against the /proc files and our own fds."""

from __future__ import annotations

import os
from pathlib import Path

from inwatch import Inotify, Limits, Mask, inotify_usage, limits
from inwatch.limits import raise_command


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
    deltas = []
    # The totals are the whole user's: other processes of this user (other test
    # runs, desktop daemons) may open or close instances meanwhile, so measure the
    # before/after difference a few times and expect one clean measurement.
    for _ in range(5):
        before = limits()
        with Inotify() as a, Inotify() as b:
            for i in range(5):
                a.add_watch(tmp_path / f"d{i}", Mask.CREATE)
            b.add_watch(tmp_path, Mask.CREATE)
            assert mine() == (own[0] + 2, own[1] + 6)  # this process: exact
            during = limits()
        after = limits()
        deltas.append(
            (
                during.instances_in_use - before.instances_in_use,
                during.watches_in_use - before.watches_in_use,
                after.instances_in_use - before.instances_in_use,
                after.watches_in_use - before.watches_in_use,
            )
        )
        if deltas[-1] == (2, 6, 0, 0):
            break
    assert deltas[-1] == (2, 6, 0, 0), deltas
    assert mine() == own


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
