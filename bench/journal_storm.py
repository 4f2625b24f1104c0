"""The journal's figures (issue 13), run by hand, never as a timed test.

1. storm: ``inwatch record`` under the 20,000-file storm (create, write, close,
   delete: 80,000 events with the changes mask) -- every event in the journal, no
   overflow; CPU µs per event of the recorder against ``inwatch watch --json >
   file`` with the same mask on the same storm (rounds interleaved; tree, journal
   and output on /dev/shm unless ``--storm-dir``); journal bytes per event
   (target <= 120 B without hashes; CPU target <= 2x watch --json).
2. query: ``inwatch query --since T`` over a journal of N events (default 10
   million, made synthetically by the library's own writer SQL) for a 10,000-row
   answer, wall clock of the whole command (target <= 1 s).
3. check: ``inwatch check`` over a 100,000-file tree against ``find -newer`` (what
   changed since a time stamp: metadata only) and an AIDE-style full scan (every
   file read and hashed: ``b2sum``; AIDE itself when installed).

    python bench/journal_storm.py [--rounds 3] [--query-events 10000000]
                                  [--check-files 100000] [--only storm,query,check]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from inwatch.journal import Journal  # noqa: E402

FILES = 20_000
MASK = "create,modify,close_write,delete"
TICK = os.sysconf("SC_CLK_TCK")

GENERATOR = """
import os, sys
d = sys.argv[1]
for i in range(int(sys.argv[2])):
    p = os.path.join(d, "f%06d" % i)
    fd = os.open(p, os.O_WRONLY | os.O_CREAT, 0o644)
    os.write(fd, b"x" * 100)
    os.close(fd)
    os.unlink(p)
"""


def inwatch(*args: str) -> list[str]:
    """``inwatch ARGS``: through the registry when it lists the command, else the
    journal tests' runner (the commands' modules with the registry protocol)."""
    try:
        from inwatch.cli import registry  # type: ignore[attr-defined]

        if args[0] in registry.COMMANDS:
            return [sys.executable, "-m", "inwatch", *args]
    except ImportError:
        pass
    if args[0] == "watch":
        return [sys.executable, "-m", "inwatch", *args]
    return [sys.executable, str(ROOT / "tests" / "journal" / "run_cmd.py"), *args]


def cpu_s(pid: int) -> float:
    """utime + stime of every thread of *pid*, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def wait_line(path: Path, text: str, proc: subprocess.Popen[bytes], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while text not in path.read_text():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"no {text!r} from {proc.args}: {path.read_text()}")
        time.sleep(0.02)


def settle(count: object, expected: int, timeout: float = 120) -> int:
    """Poll *count()* until it reaches *expected* or stops growing for 5 s."""
    deadline = time.monotonic() + timeout
    last, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        n = count()  # type: ignore[operator]
        if n >= expected:
            return int(n)
        if n != last:
            last, since = n, time.monotonic()
        elif time.monotonic() - since > 5.0:
            return int(n)
        time.sleep(0.05)
    return int(last)


def storm(d: Path) -> None:
    subprocess.run([sys.executable, "-c", GENERATOR, str(d), str(FILES)], check=True)


def run_record(work: Path, tree: Path) -> dict[str, float]:
    db = work / "journal.db"
    for suffix in ("", "-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    err = work / "record.err"
    with open(err, "w") as e:
        proc = subprocess.Popen(
            inwatch("record", "-q", "-e", MASK, "--db", str(db), str(tree)),
            stdout=subprocess.DEVNULL,
            stderr=e,
        )
    wait_line(err, "Recording to", proc)
    size0 = os.path.getsize(db) + os.path.getsize(str(db) + "-wal")
    cpu0 = cpu_s(proc.pid)
    storm(tree)

    def count() -> int:
        with Journal(db, create=False) as j:
            return j.last_seq()

    got = settle(count, 4 * FILES)
    cpu1 = cpu_s(proc.pid)
    proc.send_signal(signal.SIGTERM)
    rc = proc.wait(60)
    with Journal(db, create=False) as j:
        overflow = len(j.events(ops="q_overflow")) + len(j.gaps())
        rows = len(j.events())
    j = Journal(db, create=False)
    j.read("PRAGMA wal_checkpoint(TRUNCATE)")
    j.close()
    size1 = os.path.getsize(db)
    return {
        "events": rows,
        "seen": got,
        "overflow": overflow,
        "rc": rc,
        "cpu_us": (cpu1 - cpu0) * 1e6 / max(got, 1),
        "bytes_per_event": (size1 - size0) / max(rows, 1),
        "file_bytes": size1,
    }


def run_watch(work: Path, tree: Path) -> dict[str, float]:
    out = work / "watch.json"
    err = work / "watch.err"
    with open(out, "w") as o, open(err, "w") as e:
        proc = subprocess.Popen(
            inwatch("watch", "--json", "-e", MASK, str(tree)), stdout=o, stderr=e
        )
    wait_line(err, "Watches established.", proc)
    cpu0 = cpu_s(proc.pid)
    storm(tree)

    def count() -> int:
        with open(out, "rb") as f:
            return sum(1 for _ in f)

    got = settle(count, 4 * FILES)
    cpu1 = cpu_s(proc.pid)
    proc.send_signal(signal.SIGTERM)
    proc.wait(60)
    return {"events": got, "cpu_us": (cpu1 - cpu0) * 1e6 / max(got, 1)}


def bench_storm(rounds: int, where: str | None) -> None:
    print(
        f"## storm: {FILES} files x (create, modify, close_write, delete), {rounds} rounds,"
        f" tree and journal in {where or tempfile.gettempdir()}"
    )
    rec: list[dict[str, float]] = []
    wat: list[dict[str, float]] = []
    with tempfile.TemporaryDirectory(prefix="inwatch-jbench-", dir=where) as tmp:
        work = Path(tmp)
        tree = work / "tree"
        tree.mkdir()
        for r in range(rounds):
            first, second = (run_record, run_watch) if r % 2 == 0 else (run_watch, run_record)
            for fn in (first, second):
                res = fn(work, tree)
                (rec if fn is run_record else wat).append(res)
                print(f"  round {r + 1} {fn.__name__[4:]:>6}: {res}", flush=True)
    med = sorted(x["cpu_us"] for x in rec)[len(rec) // 2]
    medw = sorted(x["cpu_us"] for x in wat)[len(wat) // 2]
    bpe = sorted(x["bytes_per_event"] for x in rec)[len(rec) // 2]
    lossless = all(x["events"] == 4 * FILES and x["overflow"] == 0 for x in rec)
    print(f"record: every event in the journal, no overflow, in all rounds: {lossless}")
    print(
        f"record CPU µs/event (median): {med:.2f}; watch --json: {medw:.2f};"
        f" ratio {med / medw:.2f}x (target <= 2x)"
    )
    print(f"journal bytes/event (median): {bpe:.1f} (target <= 120)")


def build_journal(db: Path, n: int, paths: int = 100_000) -> int:
    """A journal of *n* events over *paths* paths, written with plain SQL in big
    transactions (the same table layout ``record`` writes); returns the
    ``time_ns`` after which exactly 10,000 events follow."""
    j = Journal(db)
    conn = j.conn
    t0 = time.time_ns() - n * 1_000_000  # one event per ms, ending now
    with j.transaction():
        conn.executemany(
            "INSERT INTO paths (id, path) VALUES (?, ?)",
            ((i + 1, b"/srv/data/d%03d/file-%06d" % (i % 500, i)) for i in range(paths)),
        )
    chunk = 500_000
    for start in range(0, n, chunk):
        with j.transaction():
            conn.executemany(
                "INSERT INTO events (time_ns, mask, path_id, origin, size, mode, uid, gid,"
                " mtime_ns, inode) VALUES (?, ?, ?, 0, ?, 33188, 1000, 1000, ?, ?)",
                (
                    (
                        t0 + i * 1_000_000,
                        (0x2, 0x8, 0x100, 0x200)[i % 4],
                        i % paths + 1,
                        i % 4096,
                        t0 + i * 1_000_000,
                        1_000_000 + i % paths,
                    )
                    for i in range(start, min(n, start + chunk))
                ),
            )
        print(f"  built {min(n, start + chunk)} events", flush=True)
    j.close()
    return t0 + (n - 10_000) * 1_000_000


def bench_query(n: int) -> None:
    print(f"## query --since over {n} events, 10,000-row answer")
    with tempfile.TemporaryDirectory(prefix="inwatch-jquery-", dir="/var/tmp") as tmp:
        db = Path(tmp) / "big.db"
        t = time.perf_counter()
        since_ns = build_journal(db, n)
        print(
            f"  journal built in {time.perf_counter() - t:.0f} s: {os.path.getsize(db)} bytes"
            f" ({os.path.getsize(db) / n:.1f} B/event)"
        )
        since = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(since_ns // 10**9))
        since += f".{since_ns % 10**9 // 1000:06d}"
        walls, cpus = [], []
        for _ in range(5):
            t = time.perf_counter()
            ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
            res = subprocess.run(
                inwatch("query", "--db", str(db), "--since", since, "--json"),
                capture_output=True,
                check=True,
            )
            walls.append(time.perf_counter() - t)
            ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpus.append(ru1.ru_utime - ru0.ru_utime + ru1.ru_stime - ru0.ru_stime)
            rows = res.stdout.count(b"\n")
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import inwatch.cli"], check=True)
        startup = time.perf_counter() - t
        print(
            f"  rows answered: {rows}; wall clock of the whole command, median of 5:"
            f" {sorted(walls)[2]:.3f} s (best {min(walls):.3f} s; Python start-up alone"
            f" {startup:.3f} s) (target <= 1 s); CPU of the command, median:"
            f" {sorted(cpus)[2]:.3f} s; load average {os.getloadavg()[0]:.1f} on"
            f" {os.cpu_count()} CPUs"
        )


def bench_check(files: int) -> None:
    print(f"## check over a {files}-file tree")
    with tempfile.TemporaryDirectory(prefix="inwatch-jcheck-", dir="/var/tmp") as tmp:
        work = Path(tmp)
        tree = work / "tree"
        for i in range(files):
            d = tree / f"d{i // 1000:03}"
            if i % 1000 == 0:
                d.mkdir(parents=True)
            (d / f"f{i:06}").write_bytes(b"y" * (i % 2048))
        db = work / "j.db"
        from inwatch.journal.offline import start_root

        with Journal(db) as j:
            t = time.perf_counter()
            start_root(j, os.fsencode(tree))
            print(f"  baseline stored in {time.perf_counter() - t:.2f} s")
        stamp = work / "stamp"
        stamp.touch()
        (tree / "d000" / "f000001").write_text("changed")

        def timed(label: str, cmd: list[str], shell: bool = False) -> None:
            subprocess.run(["sync"], check=True)
            t = time.perf_counter()
            res = subprocess.run(cmd, capture_output=True, shell=shell)
            wall = time.perf_counter() - t
            print(f"  {label:<44} {wall:7.3f} s  (exit {res.returncode})", flush=True)

        for _ in range(2):  # the second pass runs with a warm cache; both are shown
            timed("inwatch check", inwatch("check", "--db", str(db)))
            timed("find -newer (metadata since a stamp)", ["find", str(tree), "-newer", str(stamp)])
            timed(
                "find + b2sum of every file (AIDE-style)",
                f"find {tree} -type f -print0 | xargs -0 b2sum > /dev/null",
                shell=True,
            )
            if shutil.which("aide"):
                timed("aide --check", ["aide", "--check"])
            else:
                print("  aide: not installed")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--query-events", type=int, default=10_000_000)
    ap.add_argument("--check-files", type=int, default=100_000)
    ap.add_argument("--only", default="storm,query,check")
    ap.add_argument(
        "--storm-dir",
        default="/dev/shm" if os.path.isdir("/dev/shm") else None,
        help="where the storm's tree and journal live (default /dev/shm: the CPU of"
        " the tools is measured, not the disk's)",
    )
    a = ap.parse_args()
    only = a.only.split(",")
    print(
        f"# journal bench, {time.strftime('%Y-%m-%d %H:%M')} UTC, {os.cpu_count()} CPUs,"
        f" load {os.getloadavg()[0]:.1f}, Python {sys.version.split()[0]}"
    )
    if "storm" in only:
        bench_storm(a.rounds, a.storm_dir)
    if "query" in only:
        bench_query(a.query_events)
    if "check" in only:
        bench_check(a.check_files)


if __name__ == "__main__":
    main()
