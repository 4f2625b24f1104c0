"""The neutral Event: one set of fields, however it is built."""

from __future__ import annotations

import os
import tempfile

from inwatch import Event, Watcher
from inwatch.event import ORIGINS, Actor


def test_constructor_defaults_and_synthetic() -> None:
    ev = Event(3, 0x100, 0, "f", "/w")
    assert ev.pathname == "/w/f" and ev.src_pathname is None
    assert ev.origin == "kernel" and not ev.synthetic and ev.actor is None
    scan = Event(3, 0x100, 0, "f", "/w", None, "scan", 1.5)
    assert scan.synthetic and scan.time == 1.5
    assert ORIGINS == ("kernel", "scan", "rescan", "offline")
    who = Actor(12, 0, 0, "touch", "/usr/bin/touch", "ok")
    assert Event(-1, 0x100, 0, "f", "/w", actor=who).actor == who
    assert Event(1, 0x100, 0, b"f", b"/").pathname == b"/f"


def test_the_hot_path_sets_every_slot_as_the_constructor_does() -> None:
    """The dispatcher inlines Event(...) as slot stores: each must be set."""
    with tempfile.TemporaryDirectory(dir="/dev/shm") as d, Watcher() as w:
        w.add(d)
        os.mknod(os.path.join(d, "plain"))  # the plain-file fast path
        os.chmod(d, 0o755)  # an event with no name (the other inlined path)
        events = w.read(5)
        while len(events) < 2:
            events += w.read(5)
    for ev in events:
        for slot in Event.__slots__:
            getattr(ev, slot)  # AttributeError if the hot path forgot one
        assert ev.origin == "kernel" and ev.actor is None and ev.time > 0
