"""Collecting: a durable JetStream pull consumer that writes rows into PostgreSQL in batches.

The order of effects is what makes it lossless: fetch a batch, insert it in one transaction,
commit, and only then acknowledge the messages. A collector killed before its commit leaves the
messages unacknowledged, and JetStream redelivers them after ``ack_wait``; killed after the commit
but before the acks arrive, the redelivered rows are ignored by ``ON CONFLICT DO NOTHING``. Several
collectors can fetch from the same durable consumer (each message goes to one of them at a time),
which is how collection scales out.

While PostgreSQL is unreachable the fetched batch is kept and retried with backoff (telling
JetStream the messages are still in progress so they are not redelivered meanwhile); while NATS is
unreachable the collector reconnects. Both are reported on stderr at most every few seconds.
A message that is not an inwatch row is never dropped: it goes to ``inwatch_rejects`` and is
reported. Gap messages (see :mod:`inwatch.journal.wire`) go to ``inwatch_gaps`` in the same
transaction as the events of their batch: a batch is fetched in stream order, so with one
collector a gap is committed with or after the events the agent published before it. Several
collectors commit their batches concurrently: then order holds per batch only.
"""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from typing import Any, TextIO

from inwatch.journal import server, wire
from inwatch.journal._optional import require
from inwatch.journal.natsconn import NatsRefused, NatsTarget, NatsUnreachable, connect

__all__ = ["Collector"]


async def _sleep(seconds: float, stop: threading.Event) -> None:
    """Sleep, but return soon after *stop* is set."""
    end = time.monotonic() + seconds
    while not stop.is_set() and time.monotonic() < end:
        await asyncio.sleep(min(0.1, end - time.monotonic()))


class Collector:
    def __init__(
        self,
        target: NatsTarget,
        db_url: str,
        *,
        stream: str = "INWATCH",
        durable: str = "inwatch-collect",
        batch: int = 500,
        ack_wait: float = 30.0,
        replicas: int = 1,
        fetch_timeout: float = 1.0,
        report_every: float = 5.0,
        backoff: tuple[float, float] = (0.2, 5.0),
        stderr: TextIO | None = None,
    ) -> None:
        self._nats = require("nats")
        self._psycopg = require("psycopg")
        server.store_name(db_url)  # refuse a bad URL before anything starts
        self.target = target
        self.db_url = db_url
        self.stream = stream
        self.durable = durable
        self.batch = batch
        self.ack_wait = ack_wait
        self.replicas = replicas
        self.fetch_timeout = fetch_timeout
        self.report_every = report_every
        self.backoff = backoff
        self.stderr = stderr if stderr is not None else sys.stderr
        #: Messages committed to PostgreSQL, rows that were new there, messages kept as rejects,
        #: gap messages among those committed.
        self.collected = 0
        self.inserted = 0
        self.rejected = 0
        self.gaps = 0
        self._conn: Any = None
        self._nc: Any = None
        self._sub: Any = None
        self._last_report: dict[str, float] = {}

    # -- running -------------------------------------------------------------------------------
    def run(self, stop: threading.Event) -> None:
        """Collect until *stop* is set; StoreError if the database cannot be used at all."""
        asyncio.run(self._main(stop))

    async def _main(self, stop: threading.Event) -> None:
        delay = self.backoff[0]
        try:
            while not stop.is_set():
                try:
                    await self._subscribe()
                    msgs = await self._sub.fetch(self.batch, timeout=self.fetch_timeout)
                except self._nats.errors.TimeoutError:
                    continue  # nothing to collect right now
                except (server.StoreError, NatsRefused):
                    raise  # no retry can fix these: the command says so and exits 1
                except Exception as exc:
                    timeout = isinstance(exc, asyncio.TimeoutError)  # builtin only from 3.11
                    what = (
                        "no server answered"
                        if timeout
                        else (str(exc) if isinstance(exc, NatsUnreachable) else repr(exc))
                    )
                    self._report("nats", f"cannot fetch from {self.target.display()}: {what}")
                    await self._drop_nats_if_closed()
                    await _sleep(delay, stop)
                    delay = min(delay * 2, self.backoff[1])
                    continue
                delay = self.backoff[0]
                if await self._store(msgs, stop):
                    await self._ack(msgs)
        finally:
            await self._close()

    async def _subscribe(self) -> None:
        if self._sub is not None:
            return
        nats = self._nats
        api = nats.js.api
        if self._nc is None:
            # Bounded, so the loop (and a stop request) gets control back while servers are
            # down; NatsRefused (credentials, TLS trust) ends the collector.
            self._nc = await connect(nats, self.target, name="inwatch-collect")
        js = self._nc.jetstream(timeout=5.0)
        try:
            await js.stream_info(self.stream)
        except nats.js.errors.NotFoundError:
            await js.add_stream(
                name=self.stream,
                subjects=[wire.SUBJECT_WILDCARD],
                storage=api.StorageType.FILE,
                num_replicas=self.replicas,
                duplicate_window=120.0,
            )
        config = api.ConsumerConfig(
            ack_policy=api.AckPolicy.EXPLICIT,
            deliver_policy=api.DeliverPolicy.ALL,
            ack_wait=self.ack_wait,
            max_ack_pending=max(20_000, 4 * self.batch),
        )
        self._sub = await js.pull_subscribe(
            wire.SUBJECT_WILDCARD, durable=self.durable, stream=self.stream, config=config
        )

    async def _drop_nats_if_closed(self) -> None:
        if self._nc is not None and self._nc.is_closed:
            self._nc = self._sub = None

    # -- storing -------------------------------------------------------------------------------
    async def _store(self, msgs: list[Any], stop: threading.Event) -> bool:
        """Insert and commit the batch; False if stopped before it could be committed."""
        values: list[tuple[Any, ...]] = []
        gaps: list[wire.GapRow] = []
        rejects: list[tuple[str, str, bytes, str]] = []
        for m in msgs:
            try:
                decoded = wire.decode_any(m.data)
                if isinstance(decoded, wire.GapRow):
                    gaps.append(decoded)
                else:
                    values.append(decoded)
            except wire.WireError as exc:
                seq = m.metadata.sequence.stream if m.metadata else "?"
                rejects.append((f"{self.stream}:{seq}", m.subject, bytes(m.data), str(exc)))
                self._say(
                    f"message {seq} on {m.subject} is not an inwatch row ({exc}); "
                    "kept in inwatch_rejects"
                )
        delay = self.backoff[0]
        in_progress_at = time.monotonic()
        while True:
            try:
                new = await asyncio.to_thread(self._commit, values, gaps, rejects)
            except server.StoreError:
                raise
            except (self._psycopg.Error, OSError) as exc:
                self._close_db()
                first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                self._report(
                    "pg",
                    f"cannot write to {server.store_name(self.db_url)}: {first}; "
                    f"{len(msgs)} rows held (not acknowledged), retrying",
                )
                if stop.is_set():
                    self._say(f"stopping: {len(msgs)} uncommitted rows stay in the stream")
                    return False
                if time.monotonic() - in_progress_at > self.ack_wait / 3:
                    in_progress_at = time.monotonic()
                    await self._in_progress(msgs)
                await _sleep(delay, stop)
                delay = min(delay * 2, self.backoff[1])
                continue
            self.collected += len(values) + len(gaps)
            self.inserted += new
            self.gaps += len(gaps)
            self.rejected += len(rejects)
            return True

    def _commit(
        self,
        values: list[tuple[Any, ...]],
        gaps: list[wire.GapRow],
        rejects: list[tuple[str, str, bytes, str]],
    ) -> int:
        if self._conn is None:
            self._conn = server.connect(self.db_url)
            server.ensure_schema(self._conn)
        with self._conn.transaction():
            new = server.insert_rows(self._conn, values) + server.insert_gaps(self._conn, gaps)
            if rejects:
                server.insert_rejects(self._conn, rejects)
        return new

    async def _in_progress(self, msgs: list[Any]) -> None:
        for m in msgs:
            try:
                await m.in_progress()
            except Exception:  # NATS down too: the messages are redelivered later, no loss
                return

    async def _ack(self, msgs: list[Any]) -> None:
        try:
            for m in msgs:
                await m.ack()
            await self._nc.flush(timeout=5)
        except Exception as exc:
            # Committed but not acknowledged: JetStream redelivers, ON CONFLICT drops the copies.
            self._report("ack", f"acks not confirmed ({exc!r}); the rows will be redelivered")

    # -- closing and reporting -----------------------------------------------------------------
    def _close_db(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None

    async def _close(self) -> None:
        self._close_db()
        if self._nc is not None:
            try:
                await asyncio.wait_for(self._nc.close(), 5.0)
            except Exception:  # the process is leaving; unacked messages are redelivered
                pass
            self._nc = self._sub = None

    def _report(self, kind: str, message: str) -> None:
        now = time.monotonic()
        if now - self._last_report.get(kind, float("-inf")) >= self.report_every:
            self._last_report[kind] = now
            self._say(message)

    def _say(self, message: str) -> None:
        print(f"inwatch collect: {message}", file=self.stderr, flush=True)
