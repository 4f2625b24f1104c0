"""Older spelling of :mod:`inwatch.inotify.wire` (the inotify parser) and :mod:`inwatch.event`."""

from __future__ import annotations

from .event import Event
from .inotify.wire import HEADER_SIZE, RawEvent, pack_event, parse_events, parse_records

__all__ = ["HEADER_SIZE", "Event", "RawEvent", "pack_event", "parse_events", "parse_records"]
