"""``inwatch top [PATH | --all]``: which files are opened most, and by which programs.

The performance use of the fanotify backend: every OPEN (and exec) in a tree,
or on every mounted filesystem with ``--all``, counted per file and per
(file, program); a refreshing table on a terminal, or the final table after
``-t SECONDS`` or a stop signal (``--json`` for machines).

Counts are lower bounds: the kernel merges identical events of one process
while they are unread (two opens of one file by one process in quick
succession can arrive as one). The table says so. Where exact per-file counts
matter, ``inwatch stats`` (inotify, no merging) stays the tool.
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
import time
from collections.abc import Callable
from typing import Any

from ..fanotify.backend import FanotifyBackend
from ..fanotify.core import EXEC
from ..fanotify.errors import FanotifyError
from .args import FORMATTER, CliError, seconds
from .audit import open_backend, program
from .central import add_host_option, connection, is_central
from .format import dumps, printable
from .output import Output, run_guarded
from .wait import Waiter

__all__ = ["HELP", "LOWER_BOUND", "add_parser", "mounted_filesystems", "run"]

HELP = "which files are opened most, and by which programs (fanotify)"

LOWER_BOUND = (
    "counts are lower bounds: the kernel merges identical events of one process "
    "while unread; use 'inwatch stats' for exact per-file counts"
)

EXAMPLES = """\
examples:
  inwatch top /srv                 a refreshing table of the most opened files under /srv
  inwatch top --all -t 30          every mounted filesystem for 30 s, then the table
  inwatch top --json -t 10 ~/src   the table as JSON
"""

_OPEN = 0x20
_Q_OVERFLOW = 0x4000
# Filesystems with no files of interest, or no file handles to mark them by.
_PSEUDO = frozenset(
    [
        "proc",
        "sysfs",
        "devpts",
        "cgroup",
        "cgroup2",
        "securityfs",
        "debugfs",
        "tracefs",
        "pstore",
        "bpf",
        "mqueue",
        "hugetlbfs",
        "configfs",
        "fusectl",
        "binfmt_misc",
        "autofs",
        "efivarfs",
        "rpc_pipefs",
        "nsfs",
        "devtmpfs",
    ]
)


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(
        "top",
        help=HELP,
        description="Count opens per file and per program, live or over -t SECONDS.",
        epilog=EXAMPLES,
        formatter_class=FORMATTER,
    )
    p.add_argument("paths", nargs="*", metavar="PATH", help="trees to count (recursive)")
    p.add_argument("--all", action="store_true", help="every mounted filesystem")
    p.add_argument("-t", "--timeout", type=seconds, metavar="SECONDS", help="stop after this")
    p.add_argument("-n", "--rows", type=int, default=20, metavar="N", help="rows shown (20)")
    p.add_argument("--interval", type=seconds, default=2.0, metavar="SECONDS", help="refresh (2)")
    p.add_argument("--json", action="store_true", help="the final table as JSON")
    p.add_argument(
        "--db",
        metavar="FILE",
        help="count from a journal (inwatch record) instead of watching: most-changed paths",
    )
    p.add_argument(
        "--since", metavar="T", help="with --db: from T (ISO time, 90s/15m/24h/7d, seq:N)"
    )
    p.add_argument("--op", metavar="OPS", help="with --db: count these events (e.g. open)")
    add_host_option(p)
    return p


def _from_central(args: argparse.Namespace) -> int:
    """``top --db postgresql://``: the most-changed (``--op open``: most-opened)
    paths over every host (or the ``--host`` ones), with their host."""
    from ..journal import server
    from ..journal.query import parse_time
    from .central import gap_lines
    from .query import gap_note

    try:
        since = parse_time(args.since) if args.since else None
    except ValueError as exc:
        raise CliError(str(exc)) from None
    if since is not None and since.kind != "ns":
        raise CliError("--since seq:N is per journal: give a time with --db postgresql://")
    with connection(args.db) as conn:
        rows = server.top_paths(
            conn,
            since_ns=since.value if since is not None else None,
            hosts=args.host,
            opened=args.op == "open",
            limit=args.rows,
        )
        gaps = gap_lines(conn, since.value if since is not None else None, None, args.host)
    out = Output()
    if args.json:
        body = [{"host": h, "path": os.fsdecode(p), "count": n} for h, p, n in rows]
        out.write(dumps({"db": args.db, "since": args.since, "rows": body}) + "\n")
    else:
        out.write(f"{'count':>8}  host  path\n")
        for host, path, n in rows:
            out.write(f"{n:>8}  {printable(host)}  {printable(os.fsdecode(path))}\n")
    out.flush()
    if gaps:
        sys.stderr.write(gap_note("top", gaps))
    return 0


def _from_journal(args: argparse.Namespace) -> int:
    """``top --db``: the most-changed (``--op open``: most-opened) paths of a journal."""
    from ..journal import Journal, JournalError
    from ..journal.query import parse_time
    from ..journal.report import gap_line
    from .query import gap_note

    if args.paths or args.all:
        raise CliError("--db counts from the journal: give no PATH and no --all")
    if is_central(args.db):
        return _from_central(args)
    try:
        since = parse_time(args.since) if args.since else None
        with Journal(args.db, create=False) as j:
            rows = j.top(since=since, ops=args.op, limit=args.rows)
            lo = since.value if since is not None and since.kind == "ns" else None
            if since is not None and since.kind == "seq":
                after = j.events(since=since, limit=1)
                lo = after[0].time_ns if after else None
            gaps = [gap_line(g) for g in j.gaps(lo, None)] if since is None or lo else []
    except (JournalError, ValueError) as exc:
        raise CliError(str(exc)) from None
    out = Output()
    if args.json:
        body = [{"path": os.fsdecode(path), "count": n} for path, n in rows]
        out.write(dumps({"db": args.db, "since": args.since, "rows": body}) + "\n")
    else:
        out.write(f"{'count':>8}  path\n")
        for path, n in rows:
            out.write(f"{n:>8}  {printable(os.fsdecode(path))}\n")
    out.flush()
    if gaps:
        sys.stderr.write(gap_note("top", gaps))
    return 0


def mounted_filesystems(
    mounts: str = "/proc/self/mounts", dev: Callable[[str], int] | None = None
) -> list[str]:
    """One mount point per filesystem (by device number: a filesystem mounted
    twice is marked once), pseudo filesystems left out. *dev* gives a path's
    device (``os.stat().st_dev`` by default); a point it cannot stat is left out."""
    if dev is None:
        dev = _st_dev
    seen: set[int] = set()
    out: list[str] = []
    with open(mounts) as f:
        for line in f:
            parts = line.split()
            if len(parts) < 3 or parts[2] in _PSEUDO:
                continue
            point = parts[1].replace("\\040", " ").replace("\\011", "\t").replace("\\134", "\\")
            try:
                key = dev(point)
            except OSError:
                continue
            if key in seen:
                continue
            seen.add(key)
            out.append(point)
    return out


def _st_dev(path: str) -> int:
    return os.stat(path).st_dev


def run(args: argparse.Namespace) -> int:
    return run_guarded("top", lambda: _top(args))


def _backend(args: argparse.Namespace) -> tuple[FanotifyBackend, list[str]]:
    if args.all:
        if args.paths:
            raise CliError("give PATHs or --all, not both")
        try:
            backend = FanotifyBackend()
        except FanotifyError as exc:
            raise CliError(f"cannot use fanotify: {exc}") from None
        skipped = []
        for point in mounted_filesystems():
            try:
                backend.add(point, _OPEN | EXEC, recursive=True)
            except OSError as exc:
                skipped.append(f"{point} ({exc.strerror or exc})")
        if not backend.watches:
            backend.close()
            raise CliError("no filesystem could be marked: " + "; ".join(skipped))
        return backend, skipped
    if not args.paths:
        raise CliError("give PATHs to watch, or --all")
    return open_backend(args.paths, _OPEN | EXEC, None), []


def _top(args: argparse.Namespace) -> int:
    if args.rows < 1:
        raise CliError("--rows must be at least 1")
    if args.db:
        return _from_journal(args)
    backend, skipped = _backend(args)
    for s in skipped:
        os.write(2, f"inwatch top: not counted: {printable(s)}\n".encode())
    files: collections.Counter[str] = collections.Counter()
    by_prog: dict[str, collections.Counter[str]] = {}
    total = overflows = 0
    live = sys.stdout.isatty() and args.timeout is None and not args.json
    out = Output()
    start = time.monotonic()
    with backend, Waiter() as waiter:
        deadline = None if args.timeout is None else start + args.timeout
        refresh = start + args.interval
        while True:
            wake = refresh if live else deadline
            if live and deadline is not None:
                wake = min(refresh, deadline)
            why = waiter.wait(wake, readable=backend.fileno())
            if why == "signal" or (deadline is not None and time.monotonic() >= deadline):
                break
            if why == "readable":
                for ev in backend.process(backend.read_raw()):
                    if ev.mask & _Q_OVERFLOW:
                        overflows += 1
                        continue
                    if not ev.mask & (_OPEN | EXEC) or ev.origin != "kernel":
                        continue
                    path = os.fsdecode(ev.pathname)
                    files[path] += 1
                    by_prog.setdefault(path, collections.Counter())[program(ev.actor)] += 1
                    total += 1
            if live and time.monotonic() >= refresh:
                out.write("\x1b[H\x1b[2J")
                _table(out, files, by_prog, total, overflows, time.monotonic() - start, args.rows)
                out.flush()
                refresh = time.monotonic() + args.interval
    elapsed = time.monotonic() - start
    if args.json:
        rows = [
            {"pathname": p, "opens": n, "programs": dict(by_prog[p].most_common())}
            for p, n in files.most_common(args.rows)
        ]
        obj = {
            "seconds": round(elapsed, 3),
            "opens": total,
            "files": len(files),
            "overflows": overflows,
            "lower_bound": True,
            "note": LOWER_BOUND,
            "top": rows,
        }
        out.write(dumps(obj) + "\n")
    else:
        _table(out, files, by_prog, total, overflows, elapsed, args.rows)
    out.flush()
    if overflows:
        os.write(
            2,
            f"inwatch top: the kernel queue overflowed {overflows} time(s): "
            "opens were lost\n".encode(),
        )
        return 1
    return 0


def _table(
    out: Output,
    files: collections.Counter[str],
    by_prog: dict[str, collections.Counter[str]],
    total: int,
    overflows: int,
    elapsed: float,
    rows: int,
) -> None:
    out.write(f"{total} opens of {len(files)} files in {elapsed:.1f} s ({LOWER_BOUND})\n")
    if overflows:
        out.write(f"WARNING: the kernel queue overflowed {overflows} time(s): opens were lost\n")
    out.write(f"{'opens':>7}  {'file':<50} programs\n")
    for path, n in files.most_common(rows):
        progs = ", ".join(
            f"{printable(os.path.basename(p) or p)} {c}" for p, c in by_prog[path].most_common(3)
        )
        out.write(f"{n:>7}  {printable(path):<50} {progs}\n")
