"""Connecting to NATS: servers from a URL, credentials from the environment or files, TLS.

Credentials never come from the command line (it is visible to every user in ``ps``): a URL with a
user or password in it is refused. They come from, in this order:

- ``INWATCH_NATS_CREDS``: a ``.creds`` file (JWT + nkey seed, as ``nsc`` writes it);
- ``INWATCH_NATS_NKEY``: an nkey seed file (needs the ``nkeys`` package);
- ``INWATCH_NATS_USER`` with ``INWATCH_NATS_PASSWORD`` or ``INWATCH_NATS_PASSWORD_FILE``;
- ``INWATCH_NATS_TOKEN`` or ``INWATCH_NATS_TOKEN_FILE``.

TLS: ``tls://`` URLs, or any of ``INWATCH_NATS_TLS_CA`` / ``_TLS_CERT`` / ``_TLS_KEY`` (file paths).
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

__all__ = ["NatsTarget", "parse_nats_url"]


@dataclass(frozen=True)
class NatsTarget:
    servers: tuple[str, ...]
    tls: bool = False
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ), repr=False)

    def display(self) -> str:
        return ",".join(self.servers)

    def connect_options(self) -> dict[str, Any]:
        """Keyword arguments for ``nats.connect`` (credentials and TLS; no reconnect policy)."""
        env = self.env
        opts: dict[str, Any] = {}
        if env.get("INWATCH_NATS_CREDS"):
            opts["user_credentials"] = _readable(env["INWATCH_NATS_CREDS"])
        elif env.get("INWATCH_NATS_NKEY"):
            opts["nkeys_seed"] = _readable(env["INWATCH_NATS_NKEY"])
        elif env.get("INWATCH_NATS_USER"):
            opts["user"] = env["INWATCH_NATS_USER"]
            opts["password"] = _secret(env, "INWATCH_NATS_PASSWORD")
        elif env.get("INWATCH_NATS_TOKEN") or env.get("INWATCH_NATS_TOKEN_FILE"):
            opts["token"] = _secret(env, "INWATCH_NATS_TOKEN")
        ca, cert, key = (env.get(f"INWATCH_NATS_TLS_{k}") for k in ("CA", "CERT", "KEY"))
        if self.tls or ca or cert:
            ctx = ssl.create_default_context(cafile=_readable(ca) if ca else None)
            if cert:
                ctx.load_cert_chain(_readable(cert), _readable(key) if key else None)
            opts["tls"] = ctx
        return opts


def _readable(path: str) -> str:
    if not os.access(path, os.R_OK):
        raise ValueError(f"cannot read {path}")
    return path


def _secret(env: Mapping[str, str], name: str) -> str:
    if env.get(name) is not None:
        return env[name]
    if env.get(name + "_FILE"):
        with open(_readable(env[name + "_FILE"]), encoding="utf-8") as f:
            return f.read().strip()
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
    return NatsTarget(tuple(servers), tls=scheme == "tls", env=dict(env or os.environ))
