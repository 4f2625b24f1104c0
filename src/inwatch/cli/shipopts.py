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
from ..journal.ship import Shipper, Sink, sink_for
from .args import CliError

__all__ = ["add_ship_arguments", "make_sinks", "start_shipper"]


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


def make_sinks(args: argparse.Namespace, host: str) -> list[Sink]:
    """One sink per ``--to`` URL, nothing connected yet; CliError for a bad URL or a missing
    extra (called before the watches are set up: a typo must not wait for a big tree)."""
    sinks: list[Sink] = []
    for url in getattr(args, "to", None) or []:
        try:
            sinks.append(sink_for(url, host=host, stream=args.stream, replicas=args.replicas))
        except (ValueError, MissingExtraError) as exc:
            raise CliError(f"--to {url}: {exc}") from None
    return sinks


def start_shipper(
    journal: Any, args: argparse.Namespace, host: str, sinks: list[Sink] | None = None
) -> list[Shipper]:
    """One started Shipper per sink (made from ``--to`` unless given); CliError as make_sinks."""
    if sinks is None:
        sinks = make_sinks(args, host)
    return [Shipper(journal, sink).start() for sink in sinks]
