"""``--to URL`` for commands that record a journal: the options and the Shipper they start.

``inwatch record ... --to nats://HOST:PORT[,HOST:PORT...]`` or ``--to postgresql://...``:
:func:`add_ship_arguments` adds ``--to``, ``--stream``, ``--replicas``; :func:`start_shipper`
starts a :class:`~inwatch.journal.ship.Shipper` for an open journal (``None`` without ``--to``).
The recorder calls ``shipper.wake()`` after each commit and ``shipper.stop(timeout)`` on exit.
"""

from __future__ import annotations

import argparse
from typing import Any

from ..journal._optional import MissingExtraError
from ..journal.ship import Shipper, sink_for
from .args import CliError

__all__ = ["add_ship_arguments", "start_shipper"]


def add_ship_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("shipping (credentials from the environment, never here)")
    group.add_argument(
        "--to",
        action="append",
        metavar="URL",
        help="ship every committed row to nats://HOST:PORT[,HOST:PORT...] (JetStream) or "
        "postgresql://HOST/DB; repeatable",
    )
    group.add_argument(
        "--stream", default="INWATCH", metavar="NAME", help="JetStream stream (INWATCH)"
    )
    group.add_argument(
        "--replicas",
        type=int,
        default=1,
        metavar="N",
        help="replicas of the stream when it must be created (1)",
    )


def start_shipper(journal: Any, args: argparse.Namespace, host: str) -> list[Shipper]:
    """One started Shipper per ``--to`` URL; CliError for a bad URL or a missing extra."""
    shippers: list[Shipper] = []
    for url in getattr(args, "to", None) or []:
        try:
            sink = sink_for(url, host=host, stream=args.stream, replicas=args.replicas)
        except (ValueError, MissingExtraError) as exc:
            for s in shippers:
                s.stop(0)
            raise CliError(f"--to {url}: {exc}") from None
        shippers.append(Shipper(journal, sink).start())
    return shippers
