"""Publishing journal rows and gaps to a NATS JetStream stream (``record --to nats://``).

The Shipper (:mod:`inwatch.journal.ship`) hands batches to :class:`NatsSink`; each message
carries its stable id as ``Nats-Msg-Id``, so JetStream drops a resend inside the stream's
duplicate window, and the sink reports how many messages, from the first, the stream
acknowledged (the Shipper's cursor moves only past those).
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Sequence
from typing import Any

from inwatch.journal import natsconn, wire
from inwatch.journal._optional import require
from inwatch.journal.natsconn import NatsTarget
from inwatch.journal.ship import SinkError

__all__ = ["NatsSink"]


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
