"""``--db postgresql://...``: query, history and top read the central store.

The same questions as on a local journal (issue 14), answered by
:mod:`inwatch.journal.server` over every host that ships to it, or over the
``--host`` ones. Credentials come from libpq's environment and ``.pgpass``,
never from the URL (a URL with a password is refused). The agents ship their
journals' gaps too, so an answer from the central store says where a host was
blind, in the local commands' words, each gap line led by its host.
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Iterator
from typing import Any

from .args import CliError

__all__ = ["add_host_option", "connection", "gap_lines", "is_central"]


def is_central(db: str | None) -> bool:
    return bool(db) and str(db).startswith(("postgresql://", "postgres://"))


def add_host_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--host",
        action="append",
        metavar="NAME",
        help="with --db postgresql://...: only this host (repeatable)",
    )


@contextlib.contextmanager
def connection(url: str) -> Iterator[Any]:
    """A connection to the central store, its schema migrated if it is older than this
    inwatch (first use after an upgrade); one clear CliError if it cannot be had."""
    from ..journal import server
    from ..journal._optional import MissingExtraError

    where = url.split("@")[-1]
    try:
        conn = server.connect(url)
    except (server.StoreError, MissingExtraError) as exc:
        raise CliError(str(exc)) from None
    except Exception as exc:  # psycopg's OperationalError: no server, refused
        reason = " ".join(str(exc).split())  # libpq's message spans lines: one line
        raise CliError(f"cannot reach {where}: {reason}") from None
    try:
        try:
            if conn.execute("SELECT to_regclass('inwatch_meta')").fetchone()[0] is None:
                raise CliError(f"{where} holds no inwatch rows (nothing was shipped there yet)")
            server.ensure_schema(conn)
            conn.commit()  # the SELECT above opened a transaction: the migration is in it
        except server.StoreError as exc:
            raise CliError(f"{where}: {exc}") from None
        yield conn
    finally:
        conn.close()


def gap_lines(
    conn: Any, since_ns: int | None, until_ns: int | None, hosts: list[str] | None
) -> list[str]:
    """``HOST  <gap_line>`` for every shipped gap overlapping the range (of *hosts*)."""
    from ..journal import server
    from ..journal.report import gap_line
    from .format import printable

    return [
        f"{printable(h)}  {gap_line(g)}"
        for h, g in server.gap_rows(conn, since_ns, until_ns, hosts=hosts)
    ]
