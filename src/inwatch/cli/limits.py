"""``inwatch limits [PATH...]``: the limits, who uses inotify, and whether a tree fits.

A recursive watch needs one watch per directory (files are reported by their
directory's watch). The count walks each PATH with ``os.scandir`` without
following symbolic links (the PATH itself is followed, as ``watch`` does).
"""

from __future__ import annotations

import argparse
import os
from dataclasses import asdict, dataclass
from typing import Any

from .. import Limits, inotify_usage, limits
from ..limits import _suggest, raise_command  # the library's rule: one suggestion
from ._common import os_reason, plural, quote
from .args import FORMATTER, CliError
from .format import dumps, printable
from .output import Output

__all__ = ["HELP", "TreeCount", "add_parser", "count_dirs", "raise_lines", "run"]

HELP = "inotify limits, usage, and whether a tree fits"

EXAMPLES = """\
examples:
  inwatch limits                       the limits and who uses inotify now
  inwatch limits ~/src /srv/data       and whether a recursive watch of each fits
  inwatch limits --json /              machine-readable
"""


def add_parser(sub: Any) -> argparse.ArgumentParser:
    lim: argparse.ArgumentParser = sub.add_parser(
        "limits",
        help=HELP,
        description="Show the inotify limits, what the current user uses, and for each "
        "PATH how many watches a recursive watch needs.",
        epilog=EXAMPLES,
        formatter_class=FORMATTER,
    )
    lim.add_argument("paths", nargs="*", metavar="PATH", help="trees to check")
    lim.add_argument("--top", type=int, default=5, metavar="N", help="processes shown (5)")
    lim.add_argument("--json", action="store_true", help="print as JSON")
    return lim


_FS = "/proc/sys/fs/inotify/"
_USERNS = "/proc/sys/user/"


@dataclass(frozen=True)
class TreeCount:
    """Directories under a path (the path included) and those we could not read."""

    path: str
    directories: int
    unreadable: int
    is_dir: bool


def count_dirs(path: str) -> TreeCount:
    """How many watches ``watch -r PATH`` needs: its directories, itself included."""
    if not os.path.isdir(path):
        os.stat(path)  # FileNotFoundError / PermissionError for a missing path
        return TreeCount(path, 1, 0, False)
    dirs = 0
    unreadable = 0
    stack = [path]
    while stack:
        top = stack.pop()
        dirs += 1
        try:
            with os.scandir(top) as it:
                for entry in it:
                    try:
                        if entry.is_dir(follow_symlinks=False):
                            stack.append(entry.path)
                    except OSError:
                        continue
        except OSError:
            unreadable += 1
    return TreeCount(path, dirs, unreadable, True)


def raise_lines(lim: Limits, needed: int) -> list[str]:
    """The commands that raise every watch knob that would bind for *needed* more
    watches (empty if it fits)."""
    total = lim.watches_in_use + needed
    lines = []
    for knob, value in (
        (_FS + "max_user_watches", lim.max_user_watches),
        (_USERNS + "max_inotify_watches", lim.userns_max_watches),
    ):
        if value is not None and total > value:
            # The value the watch-limit error suggests too (always above *value*).
            lines.append(raise_command(knob, _suggest(value, lim.watches_in_use, needed)))
    return lines


def run(ns: argparse.Namespace) -> int:
    lim = limits()
    usage = inotify_usage()
    trees = []
    for path in ns.paths:
        try:
            trees.append(count_dirs(path))
        except OSError as exc:
            raise CliError(f"cannot look at {quote(path)}: {os_reason(exc)}") from None
    needed = sum(t.directories for t in trees)
    fits = lim.watch_limit is None or lim.watches_in_use + needed <= lim.watch_limit
    fixes = raise_lines(lim, needed) if trees else []
    if ns.json:
        obj: dict[str, Any] = {
            "limits": {
                "fs.inotify.max_queued_events": lim.max_queued_events,
                "fs.inotify.max_user_instances": lim.max_user_instances,
                "fs.inotify.max_user_watches": lim.max_user_watches,
                "user.max_inotify_instances": lim.userns_max_instances,
                "user.max_inotify_watches": lim.userns_max_watches,
            },
            "watch_limit": lim.watch_limit,
            "watch_knob": lim.watch_knob,
            "instance_limit": lim.instance_limit,
            "instance_knob": lim.instance_knob,
            "instances_in_use": lim.instances_in_use,
            "watches_in_use": lim.watches_in_use,
            "processes": [asdict(p) for p in usage[: ns.top]],
            "paths": [asdict(t) for t in trees],
            "watches_needed": needed,
            "fits": fits,
            "fix": fixes,
        }
        out = Output()
        out.write(dumps(obj) + "\n")
        out.flush()
        return 0

    def val(v: int | None) -> str:
        return "-" if v is None else f"{v:,}"

    lines = [
        "inotify limits (per user):",
        f"  fs.inotify.max_user_watches     {val(lim.max_user_watches):>14}",
        f"  fs.inotify.max_user_instances   {val(lim.max_user_instances):>14}",
        f"  fs.inotify.max_queued_events    {val(lim.max_queued_events):>14}   (per instance)",
        f"  user.max_inotify_watches        {val(lim.userns_max_watches):>14}   (user namespace)",
        f"  user.max_inotify_instances      {val(lim.userns_max_instances):>14}   (user namespace)",
        "",
        f"in use by uid {os.geteuid()}: {plural(lim.watches_in_use, 'watch')} of "
        f"{val(lim.watch_limit)} ({lim.watch_knob}), "
        f"{plural(lim.instances_in_use, 'instance')} of "
        f"{val(lim.instance_limit)} ({lim.instance_knob})",
    ]
    if usage:
        lines.append(f"  {'PID':>7}  {'INSTANCES':>9}  {'WATCHES':>9}  COMMAND")
        for p in usage[: ns.top]:
            lines.append(f"  {p.pid:>7}  {p.instances:>9}  {p.watches:>9}  {printable(p.command)}")
        if len(usage) > ns.top:
            lines.append(f"  ... and {plural(len(usage) - ns.top, 'more process')}")
    if trees:
        lines.extend(["", "a recursive watch of each PATH needs:"])
    for t in trees:
        what = plural(t.directories, "directory") if t.is_dir else "1 file"
        line = f"  {printable(t.path)}: {what} -> {plural(t.directories, 'watch')}"
        if t.unreadable:
            line += f" ({plural(t.unreadable, 'directory')} unreadable: they cannot be watched)"
        lines.append(line)
    if trees:
        free = None if lim.watch_limit is None else lim.watch_limit - lim.watches_in_use
        if fits:
            lines.append(
                f"fits: {plural(needed, 'watch')} needed, {val(free)} free under {lim.watch_knob}"
            )
        else:
            lines.append(
                f"does not fit: {plural(needed, 'watch')} needed, {val(free)} free under "
                f"{lim.watch_knob}; raise it with:"
            )
            lines.extend(f"  {line}" for line in fixes)
            if any("sysctl" in line for line in fixes):
                lines.append("  (to keep it after a reboot, put the setting in /etc/sysctl.d/)")
    if lim.instance_limit is not None and lim.instances_in_use >= lim.instance_limit:
        value = _suggest(lim.instance_limit, lim.instances_in_use, 1)
        lines.append(
            f"no inotify instance left: raise it with: {raise_command(lim.instance_knob, value)}"
        )
    text = Output()
    text.write("\n".join(lines) + "\n")
    text.flush()
    return 0
