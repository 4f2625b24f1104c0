"""One journal row on the wire and in the central store: column order, message id, subject, payload.

A row is shipped as one JetStream message: a JSON object (readable by any consumer, not just
inwatch), one key per column. Byte columns (``path``, ``src_path``, ``digest``) go as text when they
are valid UTF-8 and as ``<name>_b64`` (base64) otherwise, so a non-UTF-8 file name survives the trip
byte for byte. The stable id ``<host>:<journal_id>:<seq>`` is the JetStream message id (the server
drops a resend inside the stream's duplicate window) and the central store's unique key.

A gap of the journal (a window in which events may be missing: downtime, crash, overflow, disk
full, rows pruned before shipping) travels on the same subject, so JetStream keeps it in order
with the events, as a JSON object with ``"type": "gap"`` and the columns of :class:`GapRow`. Its id
is ``<host>:<journal_id>:gap:<gap_id>:<end_ns>``: an overflow gap grows while the rescan after it
runs (its ``end_ns`` moves), and each version is shipped once; readers take the latest.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import operator
import re
from typing import Any, NamedTuple

from .schema import JournalRow

__all__ = [
    "BYTES_COLUMNS",
    "COLUMNS",
    "FORMAT",
    "GAP_COLUMNS",
    "SUBJECT_WILDCARD",
    "GapRow",
    "WireError",
    "decode",
    "decode_any",
    "encode",
    "encode_gap",
    "gap_msg_id",
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


class GapRow(NamedTuple):
    """One row of a journal's ``gaps`` table, as shipped: ``gap_id`` is its id in that journal."""

    host: str
    journal_id: str
    gap_id: int
    start_ns: int
    end_ns: int
    kind: str
    detail: str


GAP_COLUMNS: tuple[str, ...] = GapRow._fields


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


def gap_msg_id(gap: GapRow) -> str:
    return f"{gap.host}:{gap.journal_id}:gap:{gap.gap_id}:{gap.end_ns}"


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


def encode_gap(gap: GapRow) -> bytes:
    obj: dict[str, Any] = dict(zip(GAP_COLUMNS, gap, strict=True))
    obj["type"] = "gap"
    obj["v"] = FORMAT
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _load(payload: bytes) -> dict[str, Any]:
    try:
        obj = json.loads(payload)
    except (ValueError, UnicodeDecodeError) as exc:
        raise WireError(f"not JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise WireError("not a JSON object")
    if obj.get("v") != FORMAT:
        raise WireError(f"format {obj.get('v')!r}, this inwatch reads format {FORMAT}")
    return obj


def decode(payload: bytes) -> Values:
    """Values in COLUMNS order; WireError if the payload is not a row this version understands."""
    obj = _load(payload)
    if obj.get("type", "event") != "event":
        raise WireError(f"a {obj.get('type')!r} message, not an event row")
    return _event(obj)


def decode_any(payload: bytes) -> Values | GapRow:
    """An event row's values (COLUMNS order) or a :class:`GapRow`; WireError if neither."""
    obj = _load(payload)
    kind = obj.get("type", "event")
    if kind == "event":
        return _event(obj)
    if kind != "gap":
        raise WireError(f"unknown message type {kind!r}")
    values: list[Any] = [obj.get(name) for name in GAP_COLUMNS]
    missing = [n for n, v in zip(GAP_COLUMNS, values, strict=True) if v is None]
    if missing:
        raise WireError(f"gap without {', '.join(missing)}")
    if not all(isinstance(v, int) for v in values[2:5]) or not all(
        isinstance(v, str) for v in (values[0], values[5], values[6])
    ):
        raise WireError("gap_id, start_ns and end_ns must be integers; host, kind, detail text")
    values[1] = str(values[1])
    return GapRow(*values)


def _event(obj: dict[str, Any]) -> Values:
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
