"""Fixtures of the fanotify tests: a backend on a fresh tmpfs, and a poll loop."""

from __future__ import annotations

import os
import select
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from inwatch import Event
from inwatch.fanotify.backend import FanotifyBackend, availability

WAIT = 10.0


def collect(
    b: FanotifyBackend,
    until: Callable[[list[Event[Any]]], bool],
    timeout: float = WAIT,
) -> list[Event[Any]]:
    """Read and process until *until(events so far)* holds; fail on timeout."""
    got: list[Event[Any]] = []
    deadline = time.monotonic() + timeout
    while not until(got):
        left = deadline - time.monotonic()
        if left <= 0:
            pytest.fail(f"timed out waiting; got {got}", pytrace=False)
        select.select([b], [], [], min(left, 0.2))
        got.extend(b.process(b.read_raw()))
    return got


def quiet(b: FanotifyBackend, seconds: float = 0.3) -> list[Event[Any]]:
    """Everything that arrives within *seconds* (to check that nothing more does)."""
    got: list[Event[Any]] = []
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        select.select([b], [], [], left)
        got.extend(b.process(b.read_raw()))
    return got


def has(where: Path | str, mask: int, **fields: Any) -> Callable[[list[Event[Any]]], bool]:
    """Some event has pathname *where*, exactly *mask*, and these attributes."""
    p = str(where)

    def check(events: list[Event[Any]]) -> bool:
        return any(
            e.pathname == p
            and e.mask == mask
            and all(getattr(e, k) == v for k, v in fields.items())
            for e in events
        )

    return check


@pytest.fixture
def fan_tmpfs(tmpfs: Path) -> Path:
    ok, why = availability(tmpfs)
    if not ok:
        pytest.skip(why)
    root = tmpfs / "w"
    root.mkdir()
    os.chmod(root, 0o777)
    return root


@pytest.fixture
def fan(fan_tmpfs: Path) -> Iterator[FanotifyBackend]:
    """A backend watching ``fan_tmpfs`` recursively, reporting our own actions."""
    b = FanotifyBackend(ignore_own=False)
    try:
        b.add(str(fan_tmpfs), recursive=True)
        yield b
    finally:
        b.close()
