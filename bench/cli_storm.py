"""The command line in a storm: ``inwatch watch`` next to ``inotifywait -m``.

    .venv/bin/python bench/cli_storm.py            10 interleaved rounds, every mode
    .venv/bin/python bench/cli_storm.py --quick    3 rounds, --json and inotifywait only
    .venv/bin/python bench/cli_storm.py --rounds 5 --files 20000 --modes json,default,format,csv
    .venv/bin/python bench/cli_storm.py --baseline /tmp/before/src --baseline-modes json,default
                                                    also an older inwatch (its src/ directory,
                                                    e.g. ``git archive 5bab37a | tar -x``)

A separate process (``_gen.py storm``) creates, writes, closes and deletes
FILES files (4 events each) as fast as it can, in one directory ("flat") or
spread over a 111-directory tree ("tree": the root and 110 subdirectories,
watched with ``-r``). The tool watches with
``-e create,modify,close_write,delete,moved_from,moved_to,delete_self,move_self,attrib``
and writes to a pipe read as fast as possible ("pipe") or to a file on /dev/shm
("file"). Rounds interleave the tools (inwatch, inotifywait, inwatch, ...) so a
busy machine hurts both alike. inotifywait runs twice: with its default output
("inotifywait") and with ``--format '%w%f %e'`` ("inotifywait:format", the
format of inwatch:format). With ``--baseline SRC``, the inwatch of another
source tree runs too ("before:MODE", the same interpreter with PYTHONPATH=SRC).

Start-up counts (it is part of what a user pays per storm), so it is measured
as an installed inwatch starts: with its bytecode cached. With
PYTHONDONTWRITEBYTECODE set, every start would compile every module again
(about 75 ms, a microsecond per event of the storm) that ``pip install``
never leaves to the user; the tools run without it, after one unmeasured start
that writes the caches (``__pycache__``, ignored by git).

Per run: kernel queue overflows reported by the tool, the DELETE lines
delivered out of FILES (%), and the tool's CPU time (user + system, from
``wait4``'s rusage, the whole process: every thread) per generated event, in µs.
The summary splits it (from /proc, in 10 ms ticks): start-up until the tool is
ready, then during the storm the main thread and the other threads (inwatch:
the read-ahead and writer threads); what is left is the exit and the final
drain.
The end of a run is a sentinel file created after the generator exits and seen
in the output (nothing is timed with sleeps). Timings are for reading by a
person, never a test: the machine is shared.

Since 2026-12-01 the events of a root filtered by its mask alone (the
``-e`` list above) take the dispatcher's hot path (``Root.narrow``): the main
thread went from ~3.5 to ~1.5 us/event and ``--json`` from 5.6 to 3.4 us/event
(1.7-1.9x to 1.0-1.1x inotifywait; the commit before it, 5823080, as
``--baseline``, same run, 5 rounds). The breakdown below is from before that.

Where the time goes (``watch --json``, flat, to a file, ~5 us/event in all;
per-thread CPU from /proc/PID/task/*/stat sampled at the sentinel, the main
thread's parts with ``time.thread_time()`` around each step; 2 shared cores):

- start-up and exit, ~52 ms a run = 0.65 us/event: the interpreter 10 ms,
  ``import inwatch`` 30 ms (typing and re for Event's Generic, dataclasses and
  inspect for knobs, enum, ctypes, the library's own modules), the command's
  modules and parser ~12 ms (was ~19: shutil, json, csv and datetime are no
  longer imported at start);
- the main thread ~3.3: the library's ``Watcher.read`` (parse and dispatch of
  what the read-ahead thread took) 2.0-2.2, the lines (cli/lines.py) 0.4-0.5,
  filter and hand-over 0.1, the wait 0.15-0.25;
- the read-ahead thread 0.4-0.9, mostly the kernel's copy-out and wake-ups;
- the writer thread 0.25-0.4 (JSON is ~190 bytes an event: 15 MB a storm).
  perf: 67 % of the samples in libpython, 27 % in the kernel.

The main thread reads ~45 events at a time: a consumer that gets faster
reads smaller batches and pays the per-read cost (wake-up, poll, eventfd,
process()) more often, so a saving per batch shows up less than one for one.
Tried and measured (interleaved A/B, 4-12 rounds): writing from the main
thread when stdout is a regular file (no writer thread): no gain; no
read-ahead thread: no gain (and no drain while the main thread is busy); a
1-3 ms nap of the main thread after a big batch: worse (the read-ahead thread,
then free to run, wakes per few events); GC: one or two gen-0 collections a
storm. What does pay is reading bigger batches, and only the thread that
reads the kernel can make them: a 2 ms nap of the read-ahead thread after a
read of 2 KiB or more (library, drivers/blocking.py; not done here): -15 % (file 4.29
vs 5.02, pipe 3.98 vs 4.65 us/event, 5 rounds); the same nap in the command's
main thread with no read-ahead thread: -16 to -19 % (4.39 vs 5.23, 4.23 vs
5.20, 6 rounds), but then nothing drains the kernel queue while the main
thread formats, which issue 11 ruled out.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
EVENTS = "create,modify,close_write,delete,moved_from,moved_to,delete_self,move_self,attrib"
SENTINEL = "zz-storm-end"
SUBDIRS = 110  # + the root: 111 directories

INWATCH_MODES = {
    "json": ["--json"],
    "default": [],
    "format": ["--format", "%w%f %e"],
    "csv": ["--csv"],
}


def tool_argv(tool: str, root: str, recursive: bool) -> list[str]:
    r = ["-r"] if recursive else []
    if tool == "inotifywait":
        return ["inotifywait", "-m", *r, "-e", EVENTS, root]
    if tool == "inotifywait:format":
        return ["inotifywait", "-m", *r, "-e", EVENTS, "--format", "%w%f %e", root]
    mode = tool.split(":", 1)[1]
    return [sys.executable, "-m", "inwatch", "watch", *r, "-e", EVENTS, *INWATCH_MODES[mode], root]


def tool_env(tool: str, baseline: str | None) -> dict[str, str]:
    """The environment of *tool*: bytecode cached; PYTHONPATH=*baseline* for before:."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    if tool.startswith("before:"):
        env["PYTHONPATH"] = baseline or ""
    return env


def warm_up(tools: list[str], baseline: str | None) -> None:
    """Start each inwatch once (unmeasured), so its bytecode caches exist."""
    for tool in tools:
        if not tool.startswith("inotifywait"):
            code = "import inwatch.cli.registry as r; r.build_parser(); import inwatch.cli.lines"
            if tool.startswith("before:"):
                code = "import inwatch.cli.registry as r; r.build_parser()"
            subprocess.run([sys.executable, "-c", code], env=tool_env(tool, baseline), check=True)


class PipeCounter(threading.Thread):
    """Reads the tool's stdout as fast as it can; counts DELETE lines and overflows."""

    def __init__(self, fd: int) -> None:
        super().__init__(daemon=True)
        self.fd = fd
        self.deletes = 0
        self.overflows = 0
        self.seen_end = threading.Event()
        self._tail = b""

    def run(self) -> None:
        while True:
            chunk = os.read(self.fd, 1 << 20)
            if not chunk:
                return
            data = self._tail + chunk
            cut = data.rfind(b"\n") + 1
            whole, self._tail = data[:cut], data[cut:]
            self.deletes += whole.count(b"DELETE") - whole.count(b"DELETE_SELF")
            self.overflows += whole.count(b"Q_OVERFLOW")
            if SENTINEL.encode() in whole:
                self.seen_end.set()


_TICK = os.sysconf("SC_CLK_TCK")


def cpu_split(pid: int) -> tuple[float, float]:
    """(seconds of CPU of *pid*'s main thread, of its other threads) so far, from
    /proc (clock ticks: 10 ms steps; medians over rounds smooth them). Threads
    that ended are in neither (the setup thread's walk, a one-directory watch
    here, is a few ms)."""
    main = other = 0.0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended meanwhile
        used = (int(fields[11]) + int(fields[12])) / _TICK  # utime + stime
        if int(tid) == pid:
            main += used
        else:
            other += used
    return main, other


def wait_stderr_ready(proc: subprocess.Popen[bytes], lines: list[bytes]) -> None:
    assert proc.stderr is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            raise RuntimeError(f"tool ended before it was ready: {b''.join(lines)!r}")
        lines.append(line)
        if b"Watches established" in line:
            return
    raise RuntimeError("tool not ready within 60 s")


def one_run(
    tool: str, sink: str, layout: str, files: int, scratch: str, baseline: str | None = None
) -> dict[str, float]:
    root = tempfile.mkdtemp(prefix="storm-", dir=scratch)
    if layout == "tree":
        for i in range(SUBDIRS):
            os.mkdir(f"{root}/d{i}")
    out_path = os.path.join(scratch, "out.txt")
    if sink == "file":
        stdout = os.open(out_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        read_fd = -1
    else:
        read_fd, stdout = os.pipe()
    env = tool_env(tool, baseline)
    proc = subprocess.Popen(
        tool_argv(tool, root, layout == "tree"), stdout=stdout, stderr=subprocess.PIPE, env=env
    )
    os.close(stdout)
    counter = None
    if sink == "pipe":
        counter = PipeCounter(read_fd)
        counter.start()
    err: list[bytes] = []
    wait_stderr_ready(proc, err)
    start_main, start_other = cpu_split(proc.pid)
    errs = threading.Thread(target=lambda: err.extend(iter(proc.stderr.readline, b"")), daemon=True)  # type: ignore[union-attr]
    errs.start()
    subdirs = SUBDIRS if layout == "tree" else 0
    t0 = time.monotonic()
    subprocess.run(
        [sys.executable, os.path.join(HERE, "_gen.py"), "storm", root, str(files), str(subdirs)],
        check=True,
    )
    gen_s = time.monotonic() - t0
    open(os.path.join(root, SENTINEL), "wb").close()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if counter is not None and counter.seen_end.wait(0.05):
            break
        if counter is None:
            with open(out_path, "rb") as f:
                f.seek(max(0, os.path.getsize(out_path) - 4096))
                if SENTINEL.encode() in f.read():
                    break
            time.sleep(0.05)
    storm_main, storm_other = cpu_split(proc.pid)
    proc.send_signal(signal.SIGINT)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    errs.join(5)
    if counter is not None:
        counter.join(10)
        os.close(read_fd)
        deletes, overflows = counter.deletes, counter.overflows
    else:
        with open(out_path, "rb") as f:
            data = f.read()
        deletes = data.count(b"DELETE") - data.count(b"DELETE_SELF")
        overflows = data.count(b"Q_OVERFLOW")
        os.unlink(out_path)
    overflows += b"".join(err).count(b"overflow")
    shutil.rmtree(root, ignore_errors=True)
    cpu = usage.ru_utime + usage.ru_stime
    return {
        "overflows": overflows,
        "delivered": 100.0 * deletes / files,
        "cpu_us": 1e6 * cpu / (4 * files),
        # start-up (until ready) and the storm's main thread / other threads, in
        # us per event too: what an 80,000-event storm pays for each
        "start_us": 1e6 * (start_main + start_other) / (4 * files),
        "main_us": 1e6 * (storm_main - start_main) / (4 * files),
        "threads_us": 1e6 * (storm_other - start_other) / (4 * files),
        "gen_s": gen_s,
        "status": proc.returncode,
    }


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--quick", action="store_true", help="3 rounds, --json and inotifywait")
    ap.add_argument("--rounds", type=int)
    ap.add_argument("--files", type=int, default=20_000)
    ap.add_argument("--modes", default=None, help="inwatch modes: json,default,format,csv")
    ap.add_argument("--sinks", default="pipe,file")
    ap.add_argument("--layouts", default="flat,tree")
    ap.add_argument("--baseline", metavar="SRC", help="also run the inwatch of SRC (a src/ dir)")
    ap.add_argument("--baseline-modes", default="json", help="its modes (default: json)")
    ns = ap.parse_args()
    # Started in the background (``cmd &``), this process ignores SIGINT, and
    # its tools would inherit that and never stop when asked.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    rounds = ns.rounds or (3 if ns.quick else 10)
    modes = (ns.modes or ("json" if ns.quick else "json,default,format,csv")).split(",")
    tools = [f"inwatch:{m}" for m in modes]
    if ns.baseline:
        tools += [f"before:{m}" for m in ns.baseline_modes.split(",")]
    if shutil.which("inotifywait"):
        tools += ["inotifywait", "inotifywait:format"]
    scratch = tempfile.mkdtemp(
        prefix="cli-storm-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None
    )
    results: dict[tuple[str, str, str], list[dict[str, float]]] = {}
    warm_up(tools, ns.baseline)
    try:
        for r in range(rounds):
            for layout in ns.layouts.split(","):
                for sink in ns.sinks.split(","):
                    for tool in tools:
                        res = one_run(tool, sink, layout, ns.files, scratch, ns.baseline)
                        results.setdefault((layout, sink, tool), []).append(res)
                        print(
                            f"round {r + 1} {layout:4} {sink:4} {tool:18} "
                            f"overflows {res['overflows']:.0f} "
                            f"delivered {res['delivered']:6.2f}% cpu {res['cpu_us']:5.2f} us/event "
                            f"(generator {res['gen_s']:.2f} s, exit {res['status']:.0f})",
                            flush=True,
                        )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(
        f"\n{ns.files:,} files x 4 events, {rounds} rounds; medians (runs that lost events / runs)"
    )
    head = f"{'layout':6} {'sink':4} {'tool':18} {'lossy':>10} {'delivered %':>11}"
    print(
        f"{head} {'cpu us/ev':>9} {'spread':>13} {'/inotifywait':>12}"
        f"  {'start-up':>8} {'main':>5} {'threads':>7}"
    )
    for (layout, sink, tool), runs in results.items():
        # A loss is an overflow reported or a DELETE missing (inotifywait's
        # default output does not always show its overflow).
        bad = sum(1 for x in runs if x["overflows"] or x["delivered"] < 100.0)
        cpu = [x["cpu_us"] for x in runs]
        peer = results.get((layout, sink, "inotifywait"))
        ratio = (
            f"{statistics.median(cpu) / statistics.median(x['cpu_us'] for x in peer):>11.2f}x"
            if peer
            else ""
        )
        print(
            f"{layout:6} {sink:4} {tool:18} {bad:>4}/{len(runs):<5} "
            f"{statistics.median(x['delivered'] for x in runs):>11.2f} "
            f"{statistics.median(cpu):>9.2f} {min(cpu):>6.2f}-{max(cpu):<6.2f} {ratio:>12}"
            f"  {statistics.median(x['start_us'] for x in runs):>8.2f}"
            f" {statistics.median(x['main_us'] for x in runs):>5.2f}"
            f" {statistics.median(x['threads_us'] for x in runs):>7.2f}"
        )
    lost = any(
        x["overflows"] or x["delivered"] < 100.0
        for k, v in results.items()
        if k[2].startswith("inwatch:")
        for x in v
    )
    return 1 if lost else 0


if __name__ == "__main__":
    sys.exit(main())
