"""Connecting to NATS: servers from a URL, credentials from the environment or files, TLS.

Credentials never come from the command line (it is visible to every user in ``ps``): a URL with a
user or password in it is refused. They come from, in this order:

- ``INWATCH_NATS_CREDS``: a ``.creds`` file (JWT + nkey seed, as ``nsc`` writes it);
- ``INWATCH_NATS_NKEY``: an nkey seed file (needs the ``nkeys`` package);
- ``INWATCH_NATS_USER`` with ``INWATCH_NATS_PASSWORD`` or ``INWATCH_NATS_PASSWORD_FILE``;
- ``INWATCH_NATS_TOKEN`` or ``INWATCH_NATS_TOKEN_FILE``.

TLS: ``tls://`` URLs, or any of ``INWATCH_NATS_TLS_CA`` / ``_TLS_CERT`` / ``_TLS_KEY`` (file paths).

The credentials' files are read and checked (a ``.creds`` file has its two blocks, a seed file
one ``SU...`` seed) when the URL is parsed, so that a typo is one line before any watch is set,
and again at each connection.

:func:`connect` is the one way in for the agent's sink and the collector: a first connection
bounded in time (nats-py's own retries never give up while every server is down), and a server
that refuses the credentials or a certificate that does not verify ends it at once with
:class:`NatsRefused` (retrying cannot fix either; the agent reports it, the collector exits).
"""

from __future__ import annotations

import asyncio
import os
import ssl
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

__all__ = ["NatsRefused", "NatsTarget", "NatsUnreachable", "connect", "parse_nats_url", "refusal"]


class NatsUnreachable(Exception):
    """No server of the list answered within the first connection's time limit."""


class NatsRefused(Exception):
    """A server answered but refused us: bad credentials, or a TLS certificate not trusted."""


@dataclass(frozen=True)
class NatsTarget:
    servers: tuple[str, ...]
    tls: bool = False
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ), repr=False)

    def display(self) -> str:
        return ",".join(self.servers)

    def credentials(self) -> str:
        """Which credentials are used, for messages (never the secret itself)."""
        env = self.env
        for name in ("INWATCH_NATS_CREDS", "INWATCH_NATS_NKEY", "INWATCH_NATS_USER"):
            if env.get(name):
                return f"{name}={env[name]}"
        if env.get("INWATCH_NATS_TOKEN") or env.get("INWATCH_NATS_TOKEN_FILE"):
            return "INWATCH_NATS_TOKEN(_FILE)"
        return "no credentials (INWATCH_NATS_* unset)"

    def connect_options(self) -> dict[str, Any]:
        """Keyword arguments for ``nats.connect`` (credentials and TLS; no reconnect policy)."""
        opts = self.credential_options()
        env = self.env
        ca, cert, key = (env.get(f"INWATCH_NATS_TLS_{k}") for k in ("CA", "CERT", "KEY"))
        if self.tls or ca or cert:
            ctx = ssl.create_default_context(cafile=_readable(ca) if ca else None)
            if cert:
                ctx.load_cert_chain(_readable(cert), _readable(key) if key else None)
            opts["tls"] = ctx
        return opts

    def credential_options(self) -> dict[str, Any]:
        """The credentials' part of :meth:`connect_options`; ValueError for a file that cannot
        be read or is not what it should be (checked by parse_nats_url, and at each connect)."""
        env = self.env
        opts: dict[str, Any] = {}
        if env.get("INWATCH_NATS_CREDS"):
            opts["user_credentials"] = _creds_file(env["INWATCH_NATS_CREDS"])
        elif env.get("INWATCH_NATS_NKEY"):
            opts["nkeys_seed"] = _seed_file(env["INWATCH_NATS_NKEY"])
        elif env.get("INWATCH_NATS_USER"):
            opts["user"] = env["INWATCH_NATS_USER"]
            opts["password"] = _secret(env, "INWATCH_NATS_PASSWORD")
        elif env.get("INWATCH_NATS_TOKEN") or env.get("INWATCH_NATS_TOKEN_FILE"):
            opts["token"] = _secret(env, "INWATCH_NATS_TOKEN")
        return opts


def _readable(path: str) -> str:
    # Opened, not os.access(): for root, access(R_OK) says yes to a directory and to a file
    # that CAP_DAC_OVERRIDE would not let it read once the service manager drops it.
    try:
        with open(path, "rb"):
            return path
    except OSError as exc:
        raise ValueError(f"cannot read {path} ({exc.strerror or exc})") from None


def _creds_file(path: str) -> str:
    """*path* when it reads as a ``.creds`` file, else ValueError saying why.

    A ``.creds`` file holds a user JWT on the line after ``-----BEGIN NATS USER JWT-----`` and
    the user's nkey seed (``SU...``) on the line after ``-----BEGIN USER NKEY SEED-----``, as
    ``nsc`` writes it. nats-py reads the file only while connecting, and (2.16) a wrong file
    does not give a clear error there: a bare seed file (what INWATCH_NATS_NKEY takes) ends in
    a TypeError inside nkeys, and a file with the seed block but no JWT line makes
    ``_read_creds_user_jwt`` loop for ever at the end of the file, inside the event loop,
    where no timeout can end it. So the file is checked here, before the first connection.
    """
    try:
        with open(path, "rb") as f:
            text = f.read(1 << 20)  # a .creds file is ~1 KiB; a huge file is not one
    except OSError as exc:
        raise ValueError(f"cannot read {path} ({exc.strerror or exc})") from None
    lines = text.splitlines()

    def after(marker: bytes) -> bytes:
        for i, line in enumerate(lines[:-1]):
            if marker in line:
                return lines[i + 1].strip()
        return b""

    user_jwt, seed = after(b"BEGIN NATS USER JWT"), after(b"BEGIN USER NKEY SEED")
    if user_jwt.count(b".") != 2 or not seed.startswith(b"SU"):
        raise ValueError(
            f"{path} is not a NATS .creds file (a user JWT and the user's nkey seed between"
            " BEGIN/END lines, as nsc writes it)"
        )
    return path


def _seed_file(path: str) -> str:
    """*path* when it holds one user nkey seed (``SU`` + 56 base32 characters), else ValueError.

    nats-py reads the whole file, strips it and decodes it as a seed only while connecting: a
    ``.creds`` file given here by mistake would fail there (ErrInvalidSeed), retried for ever.
    """
    try:
        with open(path, "rb") as f:
            seed = f.read(4096).strip()
    except OSError as exc:
        raise ValueError(f"cannot read {path} ({exc.strerror or exc})") from None
    if not (len(seed) == 58 and seed.startswith(b"SU") and seed.isalnum()):
        hint = "; a .creds file goes in INWATCH_NATS_CREDS" if b"BEGIN" in seed else ""
        raise ValueError(f"{path} is not an nkey user seed file (one line SU...){hint}")
    return path


def _secret(env: Mapping[str, str], name: str) -> str:
    if env.get(name) is not None:
        return env[name]
    if env.get(name + "_FILE"):
        try:
            with open(env[name + "_FILE"], encoding="utf-8") as f:
                return f.read().strip()
        except (OSError, UnicodeDecodeError) as exc:
            why = exc.strerror if isinstance(exc, OSError) else "not UTF-8"
            raise ValueError(f"cannot read {env[name + '_FILE']} ({why or exc})") from None
    raise ValueError(f"{name} or {name}_FILE is not set")


def parse_nats_url(url: str, env: Mapping[str, str] | None = None) -> NatsTarget:
    """``nats://HOST:PORT[,HOST:PORT...]`` (or ``tls://``) -> NatsTarget; ValueError if bad."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme not in ("nats", "tls"):
        raise ValueError(f"{url!r}: expected nats://HOST:PORT[,HOST:PORT...]")
    servers: list[str] = []
    for part in rest.rstrip("/").split(","):
        part = part.strip()
        if not part:
            continue
        if not part.startswith(("nats://", "tls://")):
            part = f"{scheme}://{part}"
        split = urlsplit(part)
        if split.username or split.password:
            raise ValueError(
                f"{url!r}: credentials are never taken from the command line; set "
                "INWATCH_NATS_USER and INWATCH_NATS_PASSWORD(_FILE), or INWATCH_NATS_CREDS"
            )
        if not split.hostname:
            raise ValueError(f"{url!r}: no host in {part!r}")
        host = f"[{split.hostname}]" if ":" in split.hostname else split.hostname
        servers.append(f"{scheme}://{host}:{split.port or 4222}")
    if not servers:
        raise ValueError(f"{url!r}: no server")
    target = NatsTarget(
        tuple(servers), tls=scheme == "tls", env=dict(os.environ if env is None else env)
    )
    # A credentials file that is missing, unreadable or not what it should be is a typo:
    # said now, before the caller sets up any watch, rather than at the first connection.
    target.credential_options()
    return target


def refusal(exc: BaseException, target: NatsTarget) -> str | None:
    """What *exc* says when it is a refusal that no retry can fix, else None."""
    text = str(exc).strip() or type(exc).__name__
    if isinstance(exc, ssl.SSLCertVerificationError):
        ca = target.env.get("INWATCH_NATS_TLS_CA")
        return f"TLS: the server's certificate does not verify ({exc.verify_message or text}); " + (
            f"CA {ca}" if ca else "set INWATCH_NATS_TLS_CA to the CA file"
        )
    lower = text.lower()
    if type(exc).__name__ == "AuthorizationError" or "authorization violation" in lower:
        return (
            f"the server refused the credentials (Authorization Violation; {target.credentials()})"
        )
    if "authentication" in lower and ("expired" in lower or "revoked" in lower):
        return f"the server refused the credentials ({text}; {target.credentials()})"
    return None


async def connect(
    nats: Any,
    target: NatsTarget,
    *,
    name: str,
    on_error: Callable[[Exception], Awaitable[None]] | None = None,
) -> Any:
    """A nats-py connection to *target* that reconnects forever once made.

    The first connection gets ``2 s`` per server plus ``2 s``: NatsUnreachable after that;
    NatsRefused as soon as a server refuses the credentials or the TLS handshake fails to
    verify (nats-py would retry those forever, reporting each only to its error callback).
    """
    refused: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    last: list[str] = []

    async def error_cb(exc: Exception) -> None:
        last[:] = [str(exc) or type(exc).__name__]
        why = refusal(exc, target)
        if why is not None and not refused.done():
            refused.set_result(why)
        if on_error is not None:
            await on_error(exc)

    try:
        options = target.connect_options()
    except (OSError, ValueError) as exc:
        raise NatsRefused(str(exc)) from None
    nc = nats.NATS()
    task = asyncio.ensure_future(
        nc.connect(
            list(target.servers),
            error_cb=error_cb,
            connect_timeout=2,
            reconnect_time_wait=1,
            max_reconnect_attempts=-1,
            allow_reconnect=True,
            name=name,
            **options,
        )
    )
    done, _ = await asyncio.wait(
        {task, refused}, timeout=2.0 * len(target.servers) + 2.0, return_when="FIRST_COMPLETED"
    )
    if task in done:
        refused.cancel()
        try:
            task.result()
            return nc
        except Exception as exc:
            why = refusal(exc, target)
            if why is not None:
                raise NatsRefused(why) from None
            raise
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    try:  # whatever nats-py started for the attempt (a reconnect loop) ends with it
        await asyncio.wait_for(nc.close(), 2.0)
    except Exception:  # never connected: nothing to close
        pass
    if refused in done:
        raise NatsRefused(refused.result())
    refused.cancel()
    raise NatsUnreachable(f"no server answered ({last[0] if last else 'timed out'})")
