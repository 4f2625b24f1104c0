"""Fixtures of the contract suite: the driver parameter, the harness factory, a
scratch directory on tmpfs, and the leak checks (threads and fds)."""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from contract_harness import DRIVERS, Harness


def _fds() -> dict[str, str]:
    out = {}
    for fd in os.listdir("/proc/self/fd"):
        try:
            out[fd] = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            pass  # the fd of the listing itself, closed by now
    return out


@pytest.fixture(autouse=True)
def no_leaks() -> Iterator[None]:
    """Fail the test if it leaves a thread or a file descriptor behind."""
    threads = set(threading.enumerate())
    fds = _fds()
    yield
    extra = [t for t in threading.enumerate() if t not in threads]
    for t in extra:
        t.join(2)
    alive = [t for t in extra if t.is_alive()]
    leaked = {fd: target for fd, target in _fds().items() if fds.get(fd) != target}
    assert not alive, f"threads left behind: {alive}"
    assert not leaked, f"file descriptors left behind: {leaked}"


@pytest.fixture(params=DRIVERS)
def driver(request: pytest.FixtureRequest) -> str:
    return str(request.param)


class HarnessFactory:
    """``harness(**watcher_kwargs)`` -> a :class:`Harness` of this test's driver."""

    def __init__(self, driver: str) -> None:
        self.driver = driver
        self.made: list[Harness] = []

    def __call__(self, **kwargs: Any) -> Harness:
        h = Harness(self.driver, **kwargs)
        self.made.append(h)
        return h


@pytest.fixture
def harness(driver: str, scratch: str) -> Iterator[HarnessFactory]:
    """A :class:`HarnessFactory`; every harness it made is stopped and closed at
    teardown (before ``scratch`` is removed)."""
    factory = HarnessFactory(driver)
    yield factory
    for h in factory.made:
        h.close()


@pytest.fixture
def scratch() -> Iterator[str]:
    """A fresh directory on tmpfs (fast, and removed at teardown)."""
    base = "/dev/shm" if os.path.isdir("/dev/shm") else None
    path = tempfile.mkdtemp(prefix="inwatch-contract-", dir=base)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
