"""One journal row on the wire and in the central store: column order, message id, subject, payload.

A row is shipped as one JetStream message: a JSON object (readable by any consumer, not just
inwatch), one key per column. Byte columns (``path``, ``src_path``, ``digest``) go as text when they
are valid UTF-8 and as ``<name>_b64`` (base64) otherwise, so a non-UTF-8 file name survives the trip
byte for byte. The stable id ``<host>:<journal_id>:<seq>`` is the JetStream message id (the server
drops a resend inside the stream's duplicate window) and the central store's unique key.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import operator
import re
from typing import Any

from .schema import JournalRow

__all__ = [
    "BYTES_COLUMNS",
    "COLUMNS",
    "FORMAT",
    "SUBJECT_WILDCARD",
    "WireError",
    "decode",
    "encode",
    "msg_id",
    "row_values",
    "subject_for",
]

#: The columns of a journal row, in the order of ``inwatch.journal.schema.JournalRow``.
COLUMNS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(JournalRow))
BYTES_COLUMNS = frozenset({"path", "src_path", "digest"})
_REQUIRED = ("host", "journal_id", "seq", "time_ns", "op", "path")
#: Payload format version (the payload's ``v``).
FORMAT = "1"
#: Every host's subject: ``inwatch.<host>.events``.
SUBJECT_WILDCARD = "inwatch.*.events"

Values = tuple[Any, ...]


class WireError(ValueError):
    """A message that is not an inwatch row of a format this version reads."""


_GET_ALL = operator.attrgetter(*COLUMNS)  # one C call per row on the shipping hot path


def row_values(row: Any) -> Values:
    """The values of a JournalRow (or any object with the same attributes) in COLUMNS order."""
    values: Values = _GET_ALL(row)
    return values


def msg_id(host: str, journal_id: object, seq: int) -> str:
    return f"{host}:{journal_id}:{seq}"


# NATS subject tokens are separated by "." and "*"/">" are wildcards: a host name such as
# "web1.example.com" must stay one token, so those characters (and white space) become "_".
_SUBJECT_UNSAFE = re.compile(r"[.*>\s]")


def subject_for(host: str) -> str:
    return f"inwatch.{_SUBJECT_UNSAFE.sub('_', host)}.events"


def encode(values: Values) -> bytes:
    obj: dict[str, Any] = {}
    for name, value in zip(COLUMNS, values, strict=True):
        if value is None:
            continue
        if name in BYTES_COLUMNS:
            try:
                obj[name] = value.decode("utf-8")
            except UnicodeDecodeError:
                obj[name + "_b64"] = base64.b64encode(value).decode("ascii")
        else:
            obj[name] = value
    obj["v"] = FORMAT
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def decode(payload: bytes) -> Values:
    """Values in COLUMNS order; WireError if the payload is not a row this version understands."""
    try:
        obj = json.loads(payload)
    except (ValueError, UnicodeDecodeError) as exc:
        raise WireError(f"not JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise WireError("not a JSON object")
    if obj.get("v") != FORMAT:
        raise WireError(f"format {obj.get('v')!r}, this inwatch reads format {FORMAT}")
    out: list[Any] = []
    for name in COLUMNS:
        value = obj.get(name)
        if name in BYTES_COLUMNS:
            if value is not None:
                value = str(value).encode("utf-8")
            elif name + "_b64" in obj:
                try:
                    value = base64.b64decode(obj[name + "_b64"], validate=True)
                except ValueError as exc:
                    raise WireError(f"{name}_b64: {exc}") from None
        out.append(value)
    missing = [n for n, v in zip(COLUMNS, out, strict=True) if n in _REQUIRED and v is None]
    if missing:
        raise WireError(f"missing {', '.join(missing)}")
    if not isinstance(out[2], int) or not isinstance(out[3], int):
        raise WireError("seq and time_ns must be integers")
    return tuple(out)
