"""Fixtures of the contract suite: the driver parameter, the harness factory and
a scratch directory on tmpfs. Leaked threads and fds fail a test through the
autouse ``_no_leaks`` of tests/conftest.py; the ``tmpfs`` mount comes from there
too."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator

import pytest
from contract_harness import DRIVERS, HarnessFactory


@pytest.fixture(params=DRIVERS)
def driver(request: pytest.FixtureRequest) -> str:
    return str(request.param)


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
