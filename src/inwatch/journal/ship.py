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

Gaps (windows in which the journal may miss events) are shipped with the rows, in order: see
:class:`Shipper`.

``inwatch.journal.natssink.NatsSink`` publishes to JetStream; ``inwatch.journal.server.PgSink``
writes to PostgreSQL; :func:`sink_for` picks one from a ``--to`` URL.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol, TextIO

from inwatch.journal import wire

__all__ = ["JournalLike", "Shipper", "Sink", "SinkError", "sink_for"]


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
        # (The newest overflow gap of an earlier run is looked at again, and may have been
        # shipped then: not counted unless this run knows it is not.)
        gaps = sum(
            g.gap_id > self.gap_cursor or g.gap_id in self._gaps_sent for g in self._new_gaps()
        )
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
                    self.refused = None
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


def sink_for(url: str, *, host: str, stream: str = "INWATCH", replicas: int = 1) -> Sink:
    """The sink a ``--to`` URL names: ``nats://``/``tls://`` (JetStream) or ``postgresql://``.

    ValueError for an unknown scheme or a URL carrying credentials; MissingExtraError (an
    ImportError) when the client library is not installed.
    """
    from inwatch.journal.natsconn import parse_nats_url

    if url.startswith(("nats://", "tls://")):
        from inwatch.journal.natssink import NatsSink

        return NatsSink(parse_nats_url(url), host=host, stream=stream, replicas=replicas)
    if url.startswith(("postgresql://", "postgres://")):
        from inwatch.journal.server import PgSink, StoreError

        try:
            return PgSink(url)
        except StoreError as exc:
            raise ValueError(str(exc)) from None
    raise ValueError(f"{url!r}: ship to nats://HOST:PORT[,...] or postgresql://...")
