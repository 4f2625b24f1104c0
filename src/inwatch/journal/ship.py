"""Shipping the journal: a Shipper thread moves committed rows after a cursor to a sink, in order.

Delivery is at-least-once and the writes downstream are idempotent, so nothing is lost or doubled:

- the Shipper reads committed rows after the sink's cursor (``Journal.rows_after``), hands them to
  the sink, and advances the cursor (``Journal.set_cursor``) only past rows the sink acknowledged;
  after a failure, a restart or a SIGKILL it resumes from the cursor, so a row may be sent twice
  but never skipped;
- JetStream drops a message whose ``Nats-Msg-Id`` it already stored inside the stream's duplicate
  window (two minutes by default), and PostgreSQL ignores a row whose (host, journal id, sequence)
  it already has (``ON CONFLICT DO NOTHING``), so a resend never doubles a row.

While the sink is unreachable the journal goes on recording locally; the Shipper retries with
exponential backoff and reports the backlog (rows and age of the oldest) on stderr at most every
``report_every`` seconds, then once more when it has caught up.

:class:`NatsSink` publishes to JetStream; ``inwatch.journal.server.PgSink`` writes to PostgreSQL.
"""

from __future__ import annotations

import asyncio
import json
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol, TextIO

from inwatch.journal import natsconn, wire
from inwatch.journal._optional import require
from inwatch.journal.natsconn import NatsTarget

__all__ = ["JournalLike", "NatsSink", "Shipper", "Sink", "SinkError", "sink_for"]


class JournalLike(Protocol):
    """What the Shipper needs of ``inwatch.journal.Journal`` (usable from the Shipper's thread)."""

    def register_sink(self, name: str) -> None: ...
    def cursor(self, sink: str) -> int: ...
    def set_cursor(self, sink: str, seq: int) -> None: ...
    def rows_after(self, seq: int, limit: int) -> Sequence[Any]: ...
    def gaps_to_ship(self, after_id: int) -> Sequence[wire.GapRow]: ...
    def last_seq(self) -> int: ...


class SinkError(Exception):
    """A sink could not take all the rows; ``delivered`` is how many, from the first, it did.

    ``refused``: the sink answered but refused us (credentials, TLS trust): retrying goes on
    (the operator may fix the server's side), but the failure is a configuration error."""

    def __init__(self, message: str, delivered: int = 0, *, refused: bool = False) -> None:
        super().__init__(message)
        self.delivered = delivered
        self.refused = refused


class Sink(Protocol):
    #: The cursor's name in the journal (stable across restarts).
    name: str

    def display(self) -> str: ...
    def send(self, rows: Sequence[Any]) -> None:
        """Deliver *rows* (in order) or raise SinkError saying how many were delivered."""

    def send_gaps(self, gaps: Sequence[wire.GapRow]) -> None:
        """Deliver every gap row or raise SinkError (all of them are sent again then)."""

    def close(self) -> None: ...


class Shipper:
    """A thread that ships a journal's committed rows to one sink; start(), wake(), stop().

    Gaps go with the events, in order. The Shipper reads the gaps not shipped yet, then the
    journal's last sequence S (so every event committed before those gaps is at or below S),
    ships the events up to S, then the gaps, then the events after S. So a gap is never sent
    before an event committed before it, and is sent before every event committed after the
    Shipper saw it (events committed in between, at or below S, may go before it).
    The gaps' cursor is ``<sink name>#gaps`` (a gap id), next to the events' cursor.
    """

    def __init__(
        self,
        journal: JournalLike,
        sink: Sink,
        *,
        batch: int = 1000,
        poll: float = 1.0,
        linger: float = 0.5,
        report_every: float = 5.0,
        backoff: tuple[float, float] = (0.2, 2.0),
        stderr: TextIO | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.journal = journal
        self.sink = sink
        self.batch = batch
        self.poll = poll
        self.linger = linger
        self.report_every = report_every
        self.backoff = backoff
        self.stderr = stderr if stderr is not None else sys.stderr
        self.clock = clock
        self.shipped = 0
        self.cursor = 0
        self.gaps_shipped = 0
        self.gap_cursor = 0
        self._gap_name = f"{sink.name}#gaps"
        # gap id -> end_ns of the version shipped by this process (an overflow gap grows).
        self._gaps_sent: dict[int, int] = {}
        #: The last delivery error, None once the sink takes rows again.
        self.error: str | None = None
        #: The last refusal (credentials, TLS trust) while nothing was shipped after it.
        self.refused: str | None = None
        #: An error the thread died of (a journal failure); raised again by stop().
        self.fatal: BaseException | None = None
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._deadline = float("inf")
        self._thread: threading.Thread | None = None
        self._last_report = float("-inf")
        self._result: bool | None = None

    # -- control -------------------------------------------------------------------------------
    def start(self) -> Shipper:
        self.journal.register_sink(self.sink.name)
        self.cursor = self.journal.cursor(self.sink.name)
        self.gap_cursor = self.journal.cursor(self._gap_name)
        self._thread = threading.Thread(target=self._run, name="inwatch-shipper", daemon=True)
        self._thread.start()
        return self

    def wake(self) -> None:
        """Rows were committed: ship now instead of at the next poll."""
        self._wake.set()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def stop(self, timeout: float = 5.0) -> bool:
        """Ship what is committed for up to *timeout* s (or until the sink fails), then stop;
        True if nothing is left.

        What is not shipped stays in the journal and goes at the next start (the cursor says where).
        A second call returns the first one's answer.
        """
        if self._result is not None:
            return self._result
        self._deadline = self.clock() + timeout
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout + 30.0)
        self.sink.close()
        if self.fatal is not None:
            raise self.fatal
        left = self._backlog()
        gaps = len(self._new_gaps())
        if left[0] or gaps:
            what = f"{left[0]} rows" + (f" and {gaps} gap(s)" if gaps else "")
            self._say(f"{what} not shipped yet; they stay in the journal and go at the next start")
        self._result = left[0] == 0 and gaps == 0
        return self._result

    # -- the loop ------------------------------------------------------------------------------
    def _run(self) -> None:
        try:
            self._loop()
        except BaseException as exc:  # a journal failure: loud, and stop() raises it
            self.fatal = exc
            self._say(f"shipping stopped: {exc}")

    def _loop(self) -> None:
        delay = self.backoff[0]
        # Gaps read from the journal, and the last sequence committed when they were read:
        # they are sent once the cursor has reached it (every event committed before them
        # was acknowledged), before any row after it.
        held: tuple[list[wire.GapRow], int] | None = None
        while True:
            if self._stopping.is_set() and self.clock() >= self._deadline:
                return
            if held is None:
                gaps = self._new_gaps()
                if gaps:
                    held = (gaps, self.journal.last_seq())  # read after the gaps: see above
            rows = self.journal.rows_after(self.cursor, self.batch)
            if held is not None:
                barrier = held[1]
                rows = [r for r in rows if r.seq <= barrier]  # up to the gaps, not past them
            failure: SinkError | None
            if held is not None and not rows:
                failure = self._send_gaps(held[0])
                if failure is None:
                    held = None
                    delay = self.backoff[0]
                    continue
                oldest_ns = min(g.end_ns for g in held[0])
            elif not rows:
                if self._stopping.is_set():
                    return
                if self.error is not None:
                    self._say(f"backlog shipped to {self.sink.display()}; caught up")
                    self.error = None
                self._wake.wait(self.poll)
                self._wake.clear()
                # Something was committed: let more gather before reading (a read and a send
                # cost the same for one row as for hundreds).
                self._stopping.wait(self.linger)
                continue
            else:
                try:
                    self.sink.send(rows)
                    delivered, failure = len(rows), None
                except SinkError as exc:
                    delivered, failure = exc.delivered, exc
                if delivered:
                    self.cursor = int(rows[delivered - 1].seq)
                    self.journal.set_cursor(self.sink.name, self.cursor)
                    self.shipped += delivered
                if failure is None:
                    delay = self.backoff[0]
                    self.refused = None
                    if len(rows) < self.batch and not self._stopping.is_set() and held is None:
                        # Let rows gather: each send costs a round trip and a cursor commit
                        # whatever its size, so a trickle is shipped in a few batches a second.
                        self._stopping.wait(self.linger)
                    continue
                oldest_ns = rows[min(delivered, len(rows) - 1)].time_ns
            self.error = str(failure)
            self.refused = self.error if failure.refused else None
            if self._stopping.is_set():
                return  # stopping and the sink fails: what is left waits in the journal
            self._report_backlog(oldest_ns)
            # Interruptible backoff: stop() must not wait for a long retry delay.
            self._stopping.wait(min(delay, max(0.0, self._deadline - self.clock())))
            delay = min(delay * 2, self.backoff[1])

    def _new_gaps(self) -> list[wire.GapRow]:
        """Gaps not shipped yet, or shipped before they grew."""
        return [
            g
            for g in self.journal.gaps_to_ship(self.gap_cursor)
            if self._gaps_sent.get(g.gap_id) != g.end_ns
        ]

    def _send_gaps(self, gaps: list[wire.GapRow]) -> SinkError | None:
        try:
            self.sink.send_gaps(gaps)
        except SinkError as exc:
            return exc
        for g in gaps:
            self._gaps_sent[g.gap_id] = g.end_ns
        top = max(g.gap_id for g in gaps)
        if top > self.gap_cursor:
            self.gap_cursor = top
            self.journal.set_cursor(self._gap_name, top)
        self.gaps_shipped += len(gaps)
        return None

    # -- reporting -----------------------------------------------------------------------------
    def _backlog(self) -> tuple[int, str]:
        """(rows not shipped, "" or "+" when that is a lower bound)."""
        last_seq = getattr(self.journal, "last_seq", None)
        if callable(last_seq):
            return max(0, int(last_seq()) - self.cursor), ""
        n = len(self.journal.rows_after(self.cursor, 100_000))
        return n, "+" if n == 100_000 else ""

    def _report_backlog(self, oldest_ns: int) -> None:
        now = self.clock()
        if now - self._last_report < self.report_every:
            return
        self._last_report = now
        rows, plus = self._backlog()
        age = max(0.0, time.time() - oldest_ns / 1e9)
        self._say(
            f"cannot ship to {self.sink.display()}: {self.error}; "
            f"backlog {rows}{plus} rows, oldest {age:.0f} s old; recording goes on, retrying"
        )

    def _say(self, message: str) -> None:
        print(f"inwatch: {message}", file=self.stderr, flush=True)


class NatsSink:
    """Publish rows to a JetStream stream, each with its stable message id, and wait for the acks.

    Rows are published back to back on one connection (JetStream stores them in that order) and
    the acknowledgements are awaited together; the delivered count is the acknowledged prefix
    (a later row acknowledged after an earlier one failed is sent again, and dropped by the
    server as a duplicate).
    The stream is created if it does not exist (``inwatch.*.events``, file storage, *replicas*).
    nats-py runs on an asyncio loop in a thread of the sink's own, started by the first send()
    and ended by close().
    """

    def __init__(
        self,
        target: NatsTarget,
        *,
        host: str,
        stream: str = "INWATCH",
        replicas: int = 1,
        ack_timeout: float = 5.0,
        duplicate_window: float = 120.0,
    ) -> None:
        self._nats = require("nats")
        self.target = target
        self.host = host
        self.stream = stream
        self.replicas = replicas
        self.ack_timeout = ack_timeout
        self.duplicate_window = duplicate_window
        self.subject = wire.subject_for(host)
        self.name = f"nats:{stream}"
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._nc: Any = None
        self._js: Any = None
        self._acks: Any = None
        self._reply_prefix = ""
        self._batch = 0
        self._waiting: dict[str, asyncio.Future[Any]] = {}
        self.last_async_error: str | None = None

    def display(self) -> str:
        return f"{self.target.display()} (stream {self.stream})"

    def send(self, rows: Sequence[Any]) -> None:
        self._run(self._send(rows, None))

    def send_gaps(self, gaps: Sequence[wire.GapRow]) -> None:
        self._run(self._send(None, gaps))

    def _run(self, coro: Any) -> None:
        if self._loop is None:
            # One loop thread for the sink's life: nats-py's reader, pinger and reconnect tasks
            # keep running between batches, and a batch costs one hand-over, not a loop start.
            self._loop = asyncio.new_event_loop()
            self._thread = threading.Thread(
                target=self._loop.run_forever, name="inwatch-nats", daemon=True
            )
            self._thread.start()
        asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def close(self) -> None:
        loop, self._loop = self._loop, None
        if loop is None:
            return
        try:
            asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(15.0)
        except Exception:  # closing a dead connection: nothing left to lose
            pass
        self._nc = self._acks = None
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(10.0)
            self._thread = None
        loop.close()

    async def _shutdown(self) -> None:
        if self._nc is not None:
            try:
                await asyncio.wait_for(self._nc.close(), 5.0)
            except Exception:  # closing a dead connection: nothing left to lose
                pass
        # Tasks nats-py may leave behind (a reconnect in progress) end before the loop does.
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _connect(self) -> None:
        if self._nc is not None and not self._nc.is_closed:
            return

        async def on_error(exc: Exception) -> None:
            # nats-py logs every reconnect failure by default; keep the last for our own report.
            self.last_async_error = str(exc) or type(exc).__name__

        try:
            # Bounded: the Shipper reports, backs off and can be stopped while servers are down.
            self._nc = await natsconn.connect(
                self._nats, self.target, name=f"inwatch-record {self.host}", on_error=on_error
            )
        except natsconn.NatsRefused as exc:
            self._nc = self._acks = None
            raise SinkError(f"cannot connect: {exc}", refused=True) from None
        except natsconn.NatsUnreachable as exc:
            self._nc = self._acks = None
            raise SinkError(f"cannot connect: {exc}") from None
        except Exception as exc:
            self._nc = self._acks = None
            raise SinkError(f"cannot connect: {_describe(exc)}") from exc
        self._js = self._nc.jetstream(timeout=self.ack_timeout)
        await self._ensure_stream()

    async def _ensure_stream(self) -> None:
        api = self._nats.js.api
        errors = self._nats.js.errors
        try:
            info = await self._js.stream_info(self.stream)
        except errors.NotFoundError:
            try:
                await self._js.add_stream(
                    name=self.stream,
                    subjects=[wire.SUBJECT_WILDCARD],
                    storage=api.StorageType.FILE,
                    num_replicas=self.replicas,
                    duplicate_window=self.duplicate_window,
                )
            except Exception as exc:
                raise SinkError(f"cannot create stream {self.stream}: {_describe(exc)}") from exc
            return
        except Exception as exc:
            raise SinkError(f"stream {self.stream}: {_describe(exc)}") from exc
        subjects = info.config.subjects or []
        if not {wire.SUBJECT_WILDCARD, "inwatch.>", ">", self.subject} & set(subjects):
            raise SinkError(f"stream {self.stream} does not take subject {self.subject}")

    async def _send(self, rows: Sequence[Any] | None, gaps: Sequence[wire.GapRow] | None) -> None:
        """Publish *rows* (or *gaps*) on the host's subject and await the acknowledgements."""
        await self._connect()
        if not self._nc.is_connected:
            # nats-py is reconnecting by itself: publishing now would only fill its buffer with
            # copies that the next attempt sends again. Give its reconnect loop a moment.
            await asyncio.sleep(0.5)
            if not self._nc.is_connected:
                raise SinkError(f"disconnected: {self.last_async_error or 'reconnecting'}")
        # JetStream's publish is a core NATS request: the stream answers each message on its
        # reply subject with a PubAck ({"stream", "seq", "duplicate"}) or {"error": ...}.
        # Publishing the whole batch without awaiting in between lets nats-py's flusher write it
        # in a few socket writes (nats-py's own publish_async yields per message, which costs
        # one write(2) per row); then the acks are awaited together.
        if self._acks is None:
            self._reply_prefix = self._nc.new_inbox()
            self._acks = await self._nc.subscribe(self._reply_prefix + ".*", cb=self._on_ack)
        self._batch += 1
        loop = asyncio.get_running_loop()
        self._waiting = {}
        futures: list[asyncio.Future[Any]] = []
        error: str | None = None
        count = len(rows) if rows is not None else len(gaps or ())
        for i in range(count):
            if rows is not None:
                values = wire.row_values(rows[i])
                mid, payload = wire.msg_id(values[0], values[1], values[2]), wire.encode(values)
            else:
                assert gaps is not None
                mid, payload = wire.gap_msg_id(gaps[i]), wire.encode_gap(gaps[i])
            headers = {"Nats-Msg-Id": mid, "Nats-Expected-Stream": self.stream}
            token = f"{self._batch}-{i}"
            fut: asyncio.Future[Any] = loop.create_future()
            self._waiting[token] = fut
            try:
                await self._nc.publish(
                    self.subject,
                    payload,
                    reply=f"{self._reply_prefix}.{token}",
                    headers=headers,
                )
            except Exception as exc:
                error = _describe(exc)
                break
            futures.append(fut)
        if futures:
            await asyncio.wait(futures, timeout=self.ack_timeout)
        self._waiting = {}  # acks arriving later are for a batch that will be resent
        delivered = 0
        for fut in futures:
            if not fut.done():
                error = error or f"no acknowledgement within {self.ack_timeout:g} s"
                break
            failure = fut.exception()
            if failure is not None:
                error = error or str(failure)
                break
            delivered += 1
        for fut in futures[delivered:]:  # retrieved: asyncio would log each as never retrieved
            if fut.done():
                fut.exception()
            else:
                fut.cancel()
        if error is not None or delivered < count:
            raise SinkError(error or "not acknowledged", delivered)

    async def _on_ack(self, msg: Any) -> None:
        fut = self._waiting.get(msg.subject.rsplit(".", 1)[-1])
        if fut is None or fut.done():
            return
        if msg.headers and msg.headers.get("Status") == "503":
            fut.set_exception(SinkError(f"no stream answers subject {self.subject}"))
            return
        data = msg.data
        if data.startswith(b'{"stream":') and b'"error"' not in data:
            fut.set_result(None)  # a PubAck: stored (or a duplicate the stream already had)
            return
        try:
            resp = json.loads(msg.data)
        except ValueError:
            fut.set_exception(SinkError(f"bad acknowledgement {msg.data[:80]!r}"))
            return
        if "error" in resp:
            err = resp["error"]
            fut.set_exception(SinkError(f"{err.get('description', err)} ({err.get('code')})"))
        else:
            fut.set_result(resp)


def _describe(exc: BaseException) -> str:
    text = str(exc).strip()
    name = type(exc).__name__
    return f"{name}: {text}" if text and name not in text else (text or name)


def sink_for(url: str, *, host: str, stream: str = "INWATCH", replicas: int = 1) -> Sink:
    """The sink a ``--to`` URL names: ``nats://``/``tls://`` (JetStream) or ``postgresql://``.

    ValueError for an unknown scheme or a URL carrying credentials; MissingExtraError (an
    ImportError) when the client library is not installed.
    """
    from inwatch.journal.natsconn import parse_nats_url

    if url.startswith(("nats://", "tls://")):
        return NatsSink(parse_nats_url(url), host=host, stream=stream, replicas=replicas)
    if url.startswith(("postgresql://", "postgres://")):
        from inwatch.journal.server import PgSink, StoreError

        try:
            return PgSink(url)
        except StoreError as exc:
            raise ValueError(str(exc)) from None
    raise ValueError(f"{url!r}: ship to nats://HOST:PORT[,...] or postgresql://...")
