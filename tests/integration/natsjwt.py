"""NATS decentralised authentication for the tests: operator, account and user JWTs, ``.creds``
files, and the server configuration that trusts them; made here with ``nkeys``, without ``nsc``.

The format is the one of nats-io/jwt v2 (``v2/claims.go``, ``account_claims.go``,
``user_claims.go``, ``creds_utils.go``):

- a JWT is ``b64url(header) . b64url(claims) . b64url(ed25519 signature of the first two)``,
  unpadded base64url, the header ``{"typ":"JWT","alg":"ed25519-nkey"}``, signed by the issuer's
  nkey (operator -> itself and accounts, account -> its users);
- ``jti`` is the unpadded base32 of the SHA-512/256 of the JSON of the *standard* claims
  (``aud exp jti iat iss name nbf sub``, Go's field order, empty ones left out) with ``jti``
  empty: ``ClaimsData.hash()`` serialises the embedded ``ClaimsData``, not the ``nats`` part;
- ``nats`` holds ``type`` (operator/account/user), ``version: 2`` and the type's fields: an
  account has JetStream only when ``limits.mem_storage`` or ``limits.disk_storage`` is not 0,
  and ``revocations: {USER_PUBLIC_KEY: unix_time}`` revokes that user's JWTs issued at or
  before that time;
- a ``.creds`` file holds the user JWT and the user's seed between ``-----BEGIN NATS USER
  JWT-----`` / ``------END NATS USER JWT------`` and ``-----BEGIN USER NKEY SEED-----`` /
  ``------END USER NKEY SEED------`` lines (the END lines have six dashes), as ``nsc`` writes it.

The server trusts the operator (``operator:``) and learns the accounts from
``resolver: MEMORY`` + ``resolver_preload``; nothing is fetched over the network.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nkeys
from nacl.signing import VerifyKey  # nkeys' own dependency

__all__ = ["Key", "Operator", "claims_id", "creds_text", "jwt_decode", "jwt_encode"]

_HEADER = {"typ": "JWT", "alg": "ed25519-nkey"}
# ClaimsData's fields in Go's declaration order: json.Marshal keeps it, and jti hashes it.
_STANDARD = ("aud", "exp", "jti", "iat", "iss", "name", "nbf", "sub")
_UNLIMITED = {"subs": -1, "data": -1, "payload": -1}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


@dataclass(frozen=True)
class Key:
    """An nkey pair of one kind (operator, account or user)."""

    seed: bytes

    @classmethod
    def new(cls, prefix: int) -> Key:
        return cls(nkeys.encode_seed(os.urandom(32), prefix))

    @property
    def public(self) -> str:
        return str(nkeys.from_seed(bytearray(self.seed)).public_key.decode())

    def sign(self, data: bytes) -> bytes:
        return bytes(nkeys.from_seed(bytearray(self.seed)).sign(data))


def claims_id(data: dict[str, Any]) -> str:
    """The ``jti`` of claims *data* (given in Go's field order, without ``jti``):
    unpadded base32 of the SHA-512/256 of their compact JSON (``ClaimsData.hash()``)."""
    digest = hashlib.new("sha512_256", _json(data)).digest()
    return base64.b32encode(digest).decode().rstrip("=")


def jwt_encode(issuer: Key, sub: str, name: str, nats: dict[str, Any], **std: Any) -> str:
    """A JWT v2 for subject *sub*, signed by *issuer*; *std* adds standard claims (``exp``)."""
    claims: dict[str, Any] = {"iat": int(time.time()), "iss": issuer.public, "name": name}
    claims.update(sub=sub, **std)
    data = {k: claims[k] for k in _STANDARD if claims.get(k)}
    data["jti"] = claims_id(data)
    body = {k: data[k] for k in _STANDARD if k in data}
    body["nats"] = {**nats, "version": 2}
    signed = f"{_b64(_json(_HEADER))}.{_b64(_json(body))}"
    return f"{signed}.{_b64(issuer.sign(signed.encode()))}"


def jwt_decode(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(header, claims) of *token*, after checking its signature against its ``iss`` key."""
    head, body, sig = token.split(".")
    pad = lambda part: base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))  # noqa: E731
    header, claims = json.loads(pad(head)), json.loads(pad(body))
    # A public nkey: base32 of (prefix byte, 32-byte ed25519 key, CRC-16 little-endian).
    raw = base64.b32decode(claims["iss"] + "=" * (-len(claims["iss"]) % 8))
    assert nkeys.crc16_checksum(raw[:-2]) == raw[-2:], claims["iss"]
    VerifyKey(raw[1:-2]).verify(f"{head}.{body}".encode(), pad(sig))  # BadSignatureError
    return header, claims


def creds_text(user_jwt: str, user: Key) -> str:
    """A ``.creds`` file's text, byte for byte the layout ``nsc generate creds`` writes."""
    return (
        f"-----BEGIN NATS USER JWT-----\n{user_jwt}\n------END NATS USER JWT------\n\n"
        "************************* IMPORTANT *************************\n"
        "NKEY Seed printed below can be used to sign and prove identity.\n"
        "NKEYs are sensitive and should be treated as secrets.\n\n"
        f"-----BEGIN USER NKEY SEED-----\n{user.seed.decode()}\n------END USER NKEY SEED------\n\n"
        "*************************************************************\n"
    )


class Operator:
    """An operator, its system account and accounts (JetStream enabled, no other limit)."""

    def __init__(self) -> None:
        self.key = Key.new(nkeys.PREFIX_BYTE_OPERATOR)
        self.accounts: dict[str, Key] = {}
        self.revoked: dict[str, dict[str, int]] = {}
        self.jetstream: dict[str, bool] = {}
        self.system = self.account("SYS", jetstream=False)

    def account(self, name: str, *, jetstream: bool = True) -> Key:
        key = Key.new(nkeys.PREFIX_BYTE_ACCOUNT)
        self.accounts[name] = key
        self.revoked[name] = {}
        self.jetstream[name] = jetstream
        return key

    def account_jwt(self, name: str) -> str:
        limits: dict[str, Any] = {**_UNLIMITED, "imports": -1, "exports": -1, "wildcards": True}
        limits.update(conn=-1, leaf=-1)
        if self.jetstream[name]:
            limits.update(mem_storage=-1, disk_storage=-1, streams=-1, consumer=-1)
        nats: dict[str, Any] = {"limits": limits, "type": "account"}
        if self.revoked[name]:
            nats["revocations"] = self.revoked[name]
        return jwt_encode(self.key, self.accounts[name].public, name, nats)

    def user(self, account: str, name: str, **std: Any) -> tuple[Key, str]:
        """A new user of *account*: (its key, its JWT signed by the account)."""
        user = Key.new(nkeys.PREFIX_BYTE_USER)
        nats = {"pub": {}, "sub": {}, **_UNLIMITED, "type": "user"}
        return user, jwt_encode(self.accounts[account], user.public, name, nats, **std)

    def revoke(self, account: str, user: Key, at: int) -> None:
        """Revoke *user*'s JWTs issued at or before *at* (the account JWT carries it)."""
        self.revoked[account][user.public] = at

    def server_config(self) -> str:
        """nats-server configuration text: trust this operator, preload every account."""
        op = jwt_encode(self.key, self.key.public, "inwatch-test-operator", {
            "system_account": self.system.public, "type": "operator"})  # fmt: skip
        preload = "".join(
            f'  {k.public}: "{self.account_jwt(n)}"\n' for n, k in self.accounts.items()
        )
        return (
            f'operator: "{op}"\nsystem_account: {self.system.public}\n'
            f"resolver: MEMORY\nresolver_preload: {{\n{preload}}}\n"
        )

    def write_creds(self, path: Path, account: str, name: str, **std: Any) -> Key:
        """A ``.creds`` file (mode 0600) for a new user of *account*; the user's key."""
        user, token = self.user(account, name, **std)
        path.write_text(creds_text(token, user))
        path.chmod(0o600)
        return user
