"""Twenty simulated hosts at a steady rate, collected by two collectors into one database."""

from __future__ import annotations

import re

from .conftest import central_count, central_rows, journal_rows, stream_messages, wait_for

HOSTS = 20
FILES = 150  # per host, at 30 files/s: 300 rows per host


def test_twenty_hosts_two_collectors(nats_cluster, pg_url, procs):
    collectors = [
        procs.collector(nats_cluster.url, pg_url, f"c{i}", "--batch", "100").start()
        for i in range(2)
    ]
    agents = [
        procs.agent(
            f"host{i:02d}.example.com", nats_cluster.url, "--generate", str(FILES), "--rate", "30"
        ).launch()
        for i in range(HOSTS)
    ]
    for a in agents:  # started together, as a fleet would be
        a.wait_ready()
    total = HOSTS * 2 * FILES
    for a in agents:
        wait_for(lambda a=a: len(journal_rows(a.db)) >= 2 * FILES, 60, f"{a.db} to fill")
    local = sorted(row for a in agents for row in journal_rows(a.db))
    assert len(local) == total
    assert len({r[0] for r in local}) == HOSTS
    wait_for(lambda: central_count(pg_url) >= total, 60, f"{total} central rows")
    assert sorted(central_rows(pg_url)) == local
    assert stream_messages(nats_cluster.url) == total
    for a in agents:
        assert a.stop() == 0
    committed = []
    for c in collectors:
        assert c.stop() == 0
        m = re.search(r"(\d+) rows committed \((\d+) new", c.err())
        assert m, c.err()
        committed.append(int(m.group(2)))
    assert sum(committed) == total  # each row inserted by exactly one collector
    assert all(n > 0 for n in committed), f"one collector did all the work: {committed}"
