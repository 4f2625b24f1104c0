"""The per-user inotify limits, what is in use, and the errors that name them.

Two sets of knobs exist. ``/proc/sys/fs/inotify/max_user_{watches,instances}`` are
the limits of the initial user namespace (machine-wide: writing them as root
changes every user). ``/proc/sys/user/max_inotify_{watches,instances}`` are the
limits of the *current* user namespace; a watch counts against its namespace and
every ancestor, so inside a container the smaller of the two binds.
``max_queued_events`` caps each instance's queue: past it the kernel drops events
and queues one ``IN_Q_OVERFLOW``.

What a user holds now is read from ``/proc/*/fdinfo``: every inotify fd lists one
``inotify wd:`` line per watch. Processes we may not inspect are skipped, so the
counts are a lower bound for other users' processes (exact for our own).
"""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass

from .errors import InstanceLimitError, WatchLimitError

__all__ = ["Limits", "ProcessUsage", "inotify_usage", "limits"]

_FS = "/proc/sys/fs/inotify/"
_USERNS = "/proc/sys/user/"


@dataclass(frozen=True)
class ProcessUsage:
    """One process's inotify instances and watches."""

    pid: int
    command: str
    instances: int
    watches: int


@dataclass(frozen=True)
class Limits:
    """Limit values (``None`` where the file is missing) and the user's usage."""

    max_queued_events: int | None
    max_user_instances: int | None
    max_user_watches: int | None
    userns_max_instances: int | None
    userns_max_watches: int | None
    instances_in_use: int
    watches_in_use: int

    @property
    def watch_limit(self) -> int | None:
        """The watch limit that binds: the smaller of the two knobs."""
        return _smaller(self.max_user_watches, self.userns_max_watches)

    @property
    def instance_limit(self) -> int | None:
        """The instance limit that binds: the smaller of the two knobs."""
        return _smaller(self.max_user_instances, self.userns_max_instances)

    @property
    def watch_knob(self) -> str:
        """The ``/proc`` file whose value binds the watch count."""
        return _binding_knob(self.max_user_watches, self.userns_max_watches, "watches")

    @property
    def instance_knob(self) -> str:
        """The ``/proc`` file whose value binds the instance count."""
        return _binding_knob(self.max_user_instances, self.userns_max_instances, "instances")


def _smaller(a: int | None, b: int | None) -> int | None:
    values = [v for v in (a, b) if v is not None]
    return min(values) if values else None


def _binding_knob(fs_value: int | None, ns_value: int | None, what: str) -> str:
    if ns_value is not None and (fs_value is None or ns_value < fs_value):
        return f"{_USERNS}max_inotify_{what}"
    return f"{_FS}max_user_{what}"


def _read_int(path: str) -> int | None:
    try:
        with open(path, "rb") as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def inotify_usage(uid: int | None = None) -> list[ProcessUsage]:
    """Inotify instances and watches per process of *uid* (default: ours), most
    watches first."""
    uid = os.geteuid() if uid is None else uid
    found: list[ProcessUsage] = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            if entry.stat().st_uid != uid:
                continue
            instances = watches = 0
            fd_dir = f"/proc/{entry.name}/fd"
            for fd in os.listdir(fd_dir):
                try:
                    if os.readlink(f"{fd_dir}/{fd}") != "anon_inode:inotify":
                        continue
                    with open(f"/proc/{entry.name}/fdinfo/{fd}", "rb") as f:
                        info = f.read()
                except OSError:
                    continue
                instances += 1
                watches += info.count(b"inotify wd:")
            if instances:
                with open(f"/proc/{entry.name}/comm", "rb") as f:
                    command = os.fsdecode(f.read().strip())
                found.append(ProcessUsage(int(entry.name), command, instances, watches))
        except OSError:
            continue  # gone, or not ours to look at
    found.sort(key=lambda p: (-p.watches, -p.instances, p.pid))
    return found


def limits() -> Limits:
    """Read every inotify limit and count what the current user uses now."""
    usage = inotify_usage()
    return Limits(
        max_queued_events=_read_int(_FS + "max_queued_events"),
        max_user_instances=_read_int(_FS + "max_user_instances"),
        max_user_watches=_read_int(_FS + "max_user_watches"),
        userns_max_instances=_read_int(_USERNS + "max_inotify_instances"),
        userns_max_watches=_read_int(_USERNS + "max_inotify_watches"),
        instances_in_use=sum(p.instances for p in usage),
        watches_in_use=sum(p.watches for p in usage),
    )


def raise_command(knob: str, value: int) -> str:
    """The command that sets *knob* to *value* (sysctl for the sysctl tree)."""
    if knob.startswith("/proc/sys/"):
        key = knob[len("/proc/sys/") :].replace("/", ".")
        return f"sudo sysctl -w {key}={value}"
    return f"echo {value} | sudo tee {knob}"


def _suggest(limit: int, in_use: int, needed: int) -> int:
    # Room for what is asked plus the same again, rounded up to a power of two.
    want = max(limit + 1, in_use + 2 * max(needed, 1))
    return 1 << (want - 1).bit_length()


def watch_limit_error(path: str | bytes | None, needed: int = 1) -> WatchLimitError:
    """The ENOSPC error for *path*, naming the binding knob and the fix."""
    lim = limits()
    limit = lim.watch_limit
    knob = lim.watch_knob
    in_use = lim.watches_in_use
    if limit is None:
        return WatchLimitError(
            errno.ENOSPC, "inotify watch limit reached", path, needed=needed, in_use=in_use
        )
    value = _suggest(limit, in_use, needed)
    fix = raise_command(knob, value)
    message = (
        f"inotify watch limit reached: {in_use} watches in use, {knob} = {limit}"
        + (f", {needed} more needed" if needed > 1 else "")
        + f"; raise it to at least {max(in_use + needed, limit + 1)} (suggested: {fix})"
    )
    return WatchLimitError(
        errno.ENOSPC, message, path, limit=limit, in_use=in_use, knob=knob, needed=needed, fix=fix
    )


def instance_limit_error() -> InstanceLimitError:
    """The EMFILE error of inotify_init1, naming the binding knob and the fix."""
    lim = limits()
    limit = lim.instance_limit
    knob = lim.instance_knob
    in_use = lim.instances_in_use
    if limit is None:
        return InstanceLimitError(errno.EMFILE, "inotify instance limit reached", in_use=in_use)
    value = _suggest(limit, in_use, 1)
    fix = raise_command(knob, value)
    message = (
        f"inotify instance limit reached: {in_use} instances in use, {knob} = {limit}; "
        f"close unused instances or raise it (suggested: {fix})"
    )
    return InstanceLimitError(
        errno.EMFILE, message, limit=limit, in_use=in_use, knob=knob, needed=1, fix=fix
    )
