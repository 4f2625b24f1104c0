"""``inwatch collect --from nats://... --into postgresql://...``: JetStream -> central PostgreSQL.

A durable pull consumer (``--durable``, shared by every collector given the same name: run
several to scale out) fetches batches, inserts them in one transaction, and acknowledges only
after the commit; see :mod:`inwatch.journal.collect` for why nothing is lost or doubled.
SIGINT/SIGTERM/SIGHUP finish the batch in hand and exit 0 (a second one aborts).
"""

from __future__ import annotations

import argparse
import sys
import threading
from typing import Any

from ..journal._optional import MissingExtraError
from .args import FORMATTER, CliError
from .output import run_guarded
from .wait import Waiter

__all__ = ["HELP", "add_parser", "run"]

HELP = "collect shipped journal rows from NATS JetStream into PostgreSQL"

EXAMPLES = """\
examples:
  inwatch collect --from nats://nats1:4222,nats2:4222 --into postgresql://db/inwatch
  PGUSER=inwatch PGPASSFILE=/etc/inwatch/pgpass INWATCH_NATS_CREDS=/etc/inwatch/collect.creds \\
      inwatch collect --from tls://nats1:4222 --into 'postgresql://db/inwatch?sslmode=verify-full'

credentials come from the environment, never from the command line:
  NATS: INWATCH_NATS_CREDS (file), INWATCH_NATS_NKEY (seed file), INWATCH_NATS_USER with
        INWATCH_NATS_PASSWORD or INWATCH_NATS_PASSWORD_FILE, INWATCH_NATS_TOKEN(_FILE);
        TLS: tls:// URLs, INWATCH_NATS_TLS_CA / _CERT / _KEY (files)
  PostgreSQL: libpq's PG* variables, PGPASSFILE or ~/.pgpass, sslmode=... in the URL
"""


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(
        "collect",
        help=HELP,
        description="Write the rows that agents ship to a JetStream stream into a central "
        "PostgreSQL database (schema created or migrated on first use).",
        epilog=EXAMPLES,
        formatter_class=FORMATTER,
    )
    p.add_argument(
        "--from",
        dest="source",
        required=True,
        metavar="URL",
        help="nats://HOST:PORT[,HOST:PORT...] (or tls://)",
    )
    p.add_argument("--into", dest="db", required=True, metavar="URL", help="postgresql://...")
    p.add_argument("--stream", default="INWATCH", metavar="NAME", help="stream (INWATCH)")
    p.add_argument(
        "--durable",
        default="inwatch-collect",
        metavar="NAME",
        help="durable consumer, shared by collectors of the same name (inwatch-collect)",
    )
    p.add_argument("--batch", type=int, default=500, metavar="N", help="rows per transaction (500)")
    p.add_argument(
        "--ack-wait",
        type=float,
        default=30.0,
        metavar="S",
        help="redeliver what a collector has not acknowledged after S seconds (30)",
    )
    p.add_argument(
        "--replicas",
        type=int,
        default=1,
        metavar="N",
        help="replicas of the stream if this collector must create it (1)",
    )
    return p


def run(args: argparse.Namespace) -> int:
    return run_guarded("collect", lambda: _collect(args))


def _collect(args: argparse.Namespace) -> int:
    from ..journal.collect import Collector
    from ..journal.natsconn import NatsRefused, parse_nats_url
    from ..journal.server import StoreError, store_name

    if args.batch < 1:
        raise CliError("--batch must be at least 1")
    try:
        target = parse_nats_url(args.source)
        collector = Collector(
            target,
            args.db,
            stream=args.stream,
            durable=args.durable,
            batch=args.batch,
            ack_wait=args.ack_wait,
            replicas=args.replicas,
        )
        where = store_name(args.db)
    except (ValueError, StoreError, MissingExtraError) as exc:
        raise CliError(str(exc)) from None
    print(
        f"Collecting from {target.display()} (stream {args.stream}, consumer {args.durable})"
        f" into {where}",
        file=sys.stderr,
        flush=True,
    )
    stop = threading.Event()
    done = threading.Event()
    failure: list[BaseException] = []
    # The collector's asyncio loop runs on a thread of its own; the main thread sleeps in the
    # command line's one wait (signals, or the collector ending by itself on an error).
    with Waiter(watch_stdout=False) as waiter:

        def work() -> None:
            try:
                collector.run(stop)
            except BaseException as exc:  # handed to the main thread, raised there
                failure.append(exc)
            finally:
                # Not worker.is_alive(): the thread is still alive while it pokes, and a
                # waiter that looked then would sleep for good.
                done.set()
                waiter.poke()

        worker = threading.Thread(target=work, name="inwatch-collect")
        worker.start()
        try:
            waiter.wait(until=done.is_set)
        finally:
            stop.set()  # the batch in hand is committed and acknowledged first
            worker.join()
    if failure:
        if isinstance(failure[0], StoreError):
            raise CliError(f"{where}: {failure[0]}")
        if isinstance(failure[0], NatsRefused):
            raise CliError(f"{target.display()}: {failure[0]}")
        raise failure[0]
    print(
        f"inwatch collect: {collector.collected} rows committed ({collector.inserted} new,"
        f" {collector.collected - collector.inserted} already there), {collector.rejected}"
        f" rejects; {collector.gaps} of the rows were gaps",
        file=sys.stderr,
        flush=True,
    )
    return 0
