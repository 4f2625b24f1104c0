"""Shared helpers of the pyinotify-compat tests: draining a Notifier with bounded
waits, and a guard that every test leaves no fd or thread behind."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator

import pytest


def _fds() -> set[int]:
    return {int(n) for n in os.listdir("/proc/self/fd")}


@pytest.fixture(autouse=True)
def no_leaks() -> Iterator[None]:
    fds = _fds()
    threads = set(threading.enumerate())
    yield
    import gc

    gc.collect()
    leaked = {fd for fd in _fds() - fds if os.path.exists(f"/proc/self/fd/{fd}")}
    leaked_fds = {fd: os.readlink(f"/proc/self/fd/{fd}") for fd in leaked}
    assert not leaked_fds, f"leaked fds: {leaked_fds}"
    extra = [t for t in threading.enumerate() if t not in threads and t.is_alive()]
    assert not extra, f"leaked threads: {extra}"
