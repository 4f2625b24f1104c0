"""Fixtures of the contract suite: the driver and backend parameters, the
harness factory and a scratch directory on tmpfs. Leaked threads and fds fail a
test through the autouse ``_no_leaks`` of tests/conftest.py; the ``tmpfs`` mount
comes from there too.

Every test that takes ``harness`` (or ``backend``) runs on both backends.
fanotify's scratch directories live on one tmpfs mounted for the session (its
filesystem mark then sees only the tests' own activity), unmounted at the end.
A test that needs what a backend documents it cannot do
(``inwatch.fanotify.backend.CANNOT``) says so with ``@pytest.mark.needs(NAME)``
and is skipped there with the documented reason; so are the tests of
test_races_kernel.py listed in :data:`NEEDS` (that file belongs to another
issue's tests)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator

import pytest
from contract_harness import BACKENDS, DRIVERS, HarnessFactory, cannot

from inwatch.fanotify.backend import ENV

NEEDS = {
    "test_unmount_inside_a_tree_uncovers_the_directory": ("mounts",),
    "test_mount_over_a_watched_directory_is_seen": ("mounts",),
    "test_renamed_root_follows_its_new_path": ("watch_table",),
}
"""Capabilities needed by tests of files this suite does not own."""


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "needs(*capabilities): what the backend must be able to do (see CANNOT)"
    )


@pytest.fixture(params=DRIVERS)
def driver(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def fanotify_mount() -> Iterator[str]:
    """A tmpfs for the session's fanotify tests (skipped if fanotify or the
    mount cannot be had); unmounted at the end."""
    from inwatch.fanotify.backend import availability

    if os.geteuid() != 0:
        pytest.skip("a fanotify filesystem mark on a tmpfs of our own needs root")
    mnt = tempfile.mkdtemp(prefix="inwatch-contract-fan-")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256m", "inwatch-contract", mnt],
        capture_output=True,
        text=True,
        timeout=30,
    )
    if done.returncode != 0:
        os.rmdir(mnt)
        pytest.skip(f"cannot mount a tmpfs: {done.stderr.strip()}")
    try:
        ok, why = availability(mnt)
        if not ok:
            pytest.skip(why)
        yield mnt
    finally:
        if subprocess.run(["umount", mnt], capture_output=True, timeout=30).returncode:
            subprocess.run(["umount", "-l", mnt], capture_output=True, timeout=30)
        os.rmdir(mnt)


@pytest.fixture(
    params=[*BACKENDS, ("fanotify", "no-rename")],
    ids=[*BACKENDS, "fanotify-halves"],
)
def backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The backend of this run; skips what it documents it cannot do.
    ``fanotify-halves``: fanotify pairing FAN_MOVED_FROM/FAN_MOVED_TO as on
    kernels before 5.17 (forced here: this kernel has FAN_RENAME)."""
    name, option = (request.param, "") if isinstance(request.param, str) else request.param
    needs = [c for m in request.node.iter_markers("needs") for c in m.args]
    needs += NEEDS.get(request.node.originalname, ())
    for capability in needs:
        why = cannot(name).get(capability)
        if why:
            pytest.skip(f"{name} cannot: {why}")
    if name == "fanotify":
        request.getfixturevalue("fanotify_mount")
        # The tests act in-process; the Watcher must not drop its own changes.
        words = ["report-own", option, os.environ.get(ENV, "")]
        monkeypatch.setenv(ENV, ",".join(filter(None, words)))
    return name


@pytest.fixture
def harness(driver: str, backend: str, scratch: str) -> Iterator[HarnessFactory]:
    """A :class:`HarnessFactory`; every harness it made is stopped and closed at
    teardown (before ``scratch`` is removed)."""
    factory = HarnessFactory(driver, backend)
    yield factory
    for h in factory.made:
        h.close()


@pytest.fixture
def scratch(request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh directory on tmpfs (fast, and removed at teardown): the
    session's fanotify mount when the test runs on fanotify."""
    base = "/dev/shm" if os.path.isdir("/dev/shm") else None
    if "backend" in request.fixturenames and request.getfixturevalue("backend") == "fanotify":
        base = request.getfixturevalue("fanotify_mount")
    path = tempfile.mkdtemp(prefix="inwatch-contract-", dir=base)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
