"""``inwatch limits [PATH...]``: the limits, who uses inotify, and whether a tree fits.

A recursive watch needs one watch per directory (files are reported by their
directory's watch). The count walks each PATH with ``os.scandir`` without
following symbolic links (the PATH itself is followed, as ``watch`` does).
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import asdict, dataclass
from typing import Any

from ..limits import Limits, inotify_usage, limits, raise_command
from ._common import text_out
from .args import FORMATTER, CliError
from .format import dumps

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
            target = 1 << (2 * total - 1).bit_length()  # room to grow, a round number
            lines.append(raise_command(knob, target))
    return lines


def run(ns: argparse.Namespace) -> int:
    lim = limits()
    usage = inotify_usage()
    trees = []
    for path in ns.paths:
        try:
            trees.append(count_dirs(path))
        except OSError as exc:
            raise CliError(f"cannot look at {path!r}: {exc.strerror} (check the path)") from None
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
        text_out().write(dumps(obj) + "\n")
        return 0

    def val(v: int | None) -> str:
        return "-" if v is None else f"{v:,}"

    out = [
        "inotify limits (per user):",
        f"  fs.inotify.max_user_watches     {val(lim.max_user_watches):>14}",
        f"  fs.inotify.max_user_instances   {val(lim.max_user_instances):>14}",
        f"  fs.inotify.max_queued_events    {val(lim.max_queued_events):>14}   (per instance)",
        f"  user.max_inotify_watches        {val(lim.userns_max_watches):>14}   (user namespace)",
        f"  user.max_inotify_instances      {val(lim.userns_max_instances):>14}   (user namespace)",
        "",
        f"in use by uid {os.geteuid()}: {lim.watches_in_use:,} watches of "
        f"{val(lim.watch_limit)} ({lim.watch_knob}), {lim.instances_in_use:,} instances of "
        f"{val(lim.instance_limit)} ({lim.instance_knob})",
    ]
    if usage:
        out.append(f"  {'PID':>7}  {'INSTANCES':>9}  {'WATCHES':>9}  COMMAND")
        for p in usage[: ns.top]:
            out.append(f"  {p.pid:>7}  {p.instances:>9}  {p.watches:>9}  {p.command}")
        if len(usage) > ns.top:
            out.append(f"  ... and {len(usage) - ns.top} more processes")
    if trees:
        out.extend(["", "a recursive watch of each PATH needs:"])
    for t in trees:
        what = "directories" if t.is_dir else "file"
        line = f"  {t.path}: {t.directories:,} {what} -> {t.directories:,} watches"
        if t.unreadable:
            line += f" ({t.unreadable:,} directories unreadable: they cannot be watched)"
        out.append(line)
    if trees:
        free = None if lim.watch_limit is None else lim.watch_limit - lim.watches_in_use
        if fits:
            out.append(f"fits: {needed:,} watches needed, {val(free)} free under {lim.watch_knob}")
        else:
            out.append(
                f"does not fit: {needed:,} watches needed, {val(free)} free under "
                f"{lim.watch_knob}; raise it with:"
            )
            out.extend(f"  {line}" for line in fixes)
            if any("sysctl" in line for line in fixes):
                out.append("  (to keep it after a reboot, put the setting in /etc/sysctl.d/)")
    if lim.instance_limit is not None and lim.instances_in_use >= lim.instance_limit:
        out.append(
            f"no inotify instance left: raise it with: "
            f"{raise_command(lim.instance_knob, 2 * lim.instance_limit)}"
        )
    sys.stdout.write("\n".join(out) + "\n")
    return 0
