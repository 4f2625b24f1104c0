"""Journal rows through a real 3-node JetStream cluster into a real PostgreSQL: exact counts."""

from __future__ import annotations

import time

from .conftest import (
    central_count,
    central_rows,
    journal_rows,
    storm,
    stream_messages,
    wait_for,
)

FILES = 600  # each file: CREATE + CLOSE_WRITE = 2 rows


def _settled(agent, url, pg_url, expected: int, timeout: float = 60) -> list:
    """Wait until the journal holds *expected* rows and all of them are central; return them."""
    wait_for(lambda: len(journal_rows(agent.db)) >= expected, timeout, f"{expected} journal rows")
    local = journal_rows(agent.db)
    assert len(local) == expected, f"journal has {len(local)} rows, expected {expected}"
    wait_for(lambda: central_count(pg_url) >= expected, timeout, f"{expected} central rows")
    return local


def test_storm_through_jetstream_into_postgres(nats_cluster, pg_url, procs):
    agent = procs.agent("h1", nats_cluster.url).start()
    collector = procs.collector(nats_cluster.url, pg_url).start()
    storm(agent.root, 0, FILES)
    local = _settled(agent, nats_cluster.url, pg_url, 2 * FILES)
    assert sorted(central_rows(pg_url)) == sorted(local)
    # Each row stored once in the stream too (the message id is stable).
    assert stream_messages(nats_cluster.url) == 2 * FILES
    assert agent.stop() == 0
    assert collector.stop() == 0
    assert f"{2 * FILES} rows committed ({2 * FILES} new" in collector.err()


def test_one_nats_node_killed_mid_storm(nats_cluster, pg_url, procs):
    agent = procs.agent("h1", nats_cluster.url).start()
    collector = procs.collector(nats_cluster.url, pg_url).start()
    storm(agent.root, 0, FILES // 2)
    wait_for(lambda: central_count(pg_url) > 0, 30, "the first rows to arrive")
    nats_cluster.kill(0)  # SIGKILL: the R3 stream keeps a quorum of two
    storm(agent.root, FILES // 2, FILES // 2)
    local = _settled(agent, nats_cluster.url, pg_url, 2 * FILES)
    assert sorted(central_rows(pg_url)) == sorted(local)
    assert stream_messages(nats_cluster.url) == 2 * FILES
    assert agent.stop() == 0
    assert collector.stop() == 0


def test_all_nats_nodes_down_30s(nats_cluster, pg_url, procs):
    agent = procs.agent("h1", nats_cluster.url).start()
    collector = procs.collector(nats_cluster.url, pg_url).start()
    storm(agent.root, 0, 100)
    _settled(agent, nats_cluster.url, pg_url, 200)
    nats_cluster.kill_all()
    down_at = time.monotonic()
    storm(agent.root, 100, 400)  # recorded locally while the whole cluster is down
    wait_for(lambda: len(journal_rows(agent.db)) == 1000, 30, "local recording to go on")
    wait_for(lambda: "backlog" in agent.err(), 30, "the agent to report its backlog")
    time.sleep(max(0.0, 30 - (time.monotonic() - down_at)))  # the 30 s outage
    assert central_count(pg_url) == 200  # nothing can have reached the store meanwhile
    report = [line for line in agent.err().splitlines() if "backlog" in line]
    assert "800 rows" in report[-1], report[-1]
    assert len(report) <= 30 / 5 + 2  # at most every few seconds
    nats_cluster.start_all()
    local = _settled(agent, nats_cluster.url, pg_url, 1000, timeout=90)
    assert sorted(central_rows(pg_url)) == sorted(local)
    wait_for(lambda: "caught up" in agent.err(), 30, "the agent to say it caught up")
    assert stream_messages(nats_cluster.url) == 1000
    assert agent.stop() == 0
    assert collector.stop() == 0


async def _publish_garbage(url: str) -> None:
    import nats

    nc = await nats.connect(["nats://" + s for s in url[7:].split(",")], connect_timeout=1)
    try:
        await nc.jetstream().publish("inwatch.intruder.events", b"not a row")
    finally:
        await nc.close()


def test_a_message_that_is_not_a_row_is_kept_and_reported(nats_cluster, pg_url, procs):
    import asyncio

    import psycopg

    agent = procs.agent("h1", nats_cluster.url).start()
    asyncio.run(_publish_garbage(nats_cluster.url))
    collector = procs.collector(nats_cluster.url, pg_url).start()
    storm(agent.root, 0, 50)
    local = _settled(agent, nats_cluster.url, pg_url, 100)
    assert sorted(central_rows(pg_url)) == sorted(local)
    wait_for(lambda: "is not an inwatch row" in collector.err(), 10, "the reject report")
    with psycopg.connect(pg_url) as conn:
        rejects = conn.execute("SELECT subject, payload, error FROM inwatch_rejects").fetchall()
    assert rejects == [
        (
            "inwatch.intruder.events",
            b"not a row",
            "not JSON: Expecting value: line 1 column 1 (char 0)",
        )
    ]
    assert agent.stop() == 0
    assert collector.stop() == 0
    assert "100 rows committed (100 new, 0 already there), 1 rejects" in collector.err()


def test_collect_refuses_bad_urls_in_one_line(tmp_path, procs):
    for args, message in [
        (
            ["--from", "nats://u:pw@127.0.0.1:1", "--into", "postgresql:///x"],
            "credentials are never taken from the command line",
        ),
        (
            ["--from", "nats://127.0.0.1:1", "--into", "postgresql://u:pw@127.0.0.1/x"],
            "a password in the PostgreSQL URL is refused",
        ),
        (["--from", "http://x", "--into", "postgresql:///x"], "expected nats://"),
    ]:
        c = procs.collector(args[1], args[3], f"bad{len(procs.all)}").start()
        assert c.popen is not None
        assert c.popen.wait(30) == 1
        lines = c.err().strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("inwatch collect: "), lines
        assert message in lines[0]
