"""Restarts and kills in the middle of shipping and collecting: no loss, no duplicate."""

from __future__ import annotations

from .conftest import central_count, central_rows, journal_rows, storm, stream_messages, wait_for

FILES = 600


def _check(agent, nats_url, pg_url, expected: int) -> None:
    wait_for(lambda: len(journal_rows(agent.db)) >= expected, 60, f"{expected} journal rows")
    local = journal_rows(agent.db)
    assert len(local) == expected
    wait_for(lambda: central_count(pg_url) >= expected, 60, f"{expected} central rows")
    assert sorted(central_rows(pg_url)) == sorted(local)
    assert stream_messages(nats_url) == expected


def test_postgres_restarted_while_collect_runs(nats_cluster, pg_server, pg_url, procs):
    agent = procs.agent("h1", nats_cluster.url).start()
    collector = procs.collector(nats_cluster.url, pg_url).start()
    storm(agent.root, 0, FILES // 2)
    wait_for(lambda: central_count(pg_url) > 0, 30, "the first rows")
    pg_server.stop("immediate")  # a crash, as far as the collector can tell
    storm(agent.root, FILES // 2, FILES // 2)
    wait_for(lambda: "cannot write to" in collector.err(), 30, "the collector to report it")
    pg_server.start()
    _check(agent, nats_cluster.url, pg_url, 2 * FILES)
    assert agent.stop() == 0
    assert collector.stop() == 0


def test_agent_sigkilled_mid_shipping_and_restarted(nats_cluster, pg_url, procs):
    agent = procs.agent("h1", nats_cluster.url).start()
    collector = procs.collector(nats_cluster.url, pg_url).start()
    storm(agent.root, 0, FILES)
    wait_for(lambda: central_count(pg_url) > 0, 30, "shipping to start")
    agent.kill()
    shipped_before = central_count(pg_url)
    # What the killed agent committed is in its journal; the restart ships the rest from the
    # cursor (rows resent inside the duplicate window are dropped by JetStream).
    committed = len(journal_rows(agent.db))
    assert committed >= shipped_before
    agent.start()
    storm(agent.root, FILES, 100)
    wait_for(lambda: len(journal_rows(agent.db)) >= committed + 200, 30, "the new rows")
    expected = len(journal_rows(agent.db))
    _check(agent, nats_cluster.url, pg_url, expected)
    assert agent.stop() == 0
    assert collector.stop() == 0


def test_collect_sigkilled_and_restarted(nats_cluster, pg_url, procs):
    agent = procs.agent("h1", nats_cluster.url).start()
    collector = procs.collector(nats_cluster.url, pg_url, "c0", "--ack-wait", "2").start()
    storm(agent.root, 0, FILES)
    wait_for(lambda: central_count(pg_url) > 0, 30, "collecting to start")
    collector.kill()
    storm(agent.root, FILES, FILES // 2)
    collector = procs.collector(nats_cluster.url, pg_url, "c1", "--ack-wait", "2").start()
    _check(agent, nats_cluster.url, pg_url, 3 * FILES)
    assert agent.stop() == 0
    assert collector.stop() == 0
