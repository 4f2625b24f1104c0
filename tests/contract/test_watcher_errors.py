"""Errors while adding a tree: the watch limit (in a user namespace) and a
subdirectory without permission (as an unprivileged user). Both run in a child
process, with the driver of the test, and check that the Watcher still works
after the error."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
j = os.path.join

# Run in the child: sets up the harness of argv[1] and prints a JSON report.
PRELUDE = f"""
import json, os, sys
sys.path.insert(0, {HERE!r})
from contract_harness import HarnessFactory as MakeHarness
from contract_harness import Harness, seen, touch
from inwatch import WatchLimitError
driver, top = sys.argv[1], sys.argv[2]
out = {{}}

def kernel_watches(w):
    with open(f"/proc/self/fdinfo/{{w.fileno()}}") as f:
        return sum(1 for line in f if line.startswith("inotify wd:"))
"""


def _run(argv: list[str], code: str, driver: str, top: str) -> dict[str, object]:
    done = subprocess.run(
        [*argv, sys.executable, "-c", PRELUDE + textwrap.dedent(code), driver, top],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _make_tree(top: str, dirs: list[str]) -> None:
    for d in dirs:
        os.makedirs(j(top, d), exist_ok=True)


LIMIT_CHILD = """
limit = 5
with open("/proc/sys/user/max_inotify_watches", "w") as f:  # this namespace only
    f.write(str(limit))
h = Harness(driver)
try:
    h.w.add(os.path.join(top, "big"), recursive=True)
except WatchLimitError as exc:
    out.update(error=True, needed=exc.needed, limit=exc.limit, filename=exc.filename,
               message=str(exc))
out["watches_after"] = len(h.w.watches)
out["kernel_after"] = kernel_watches(h.w)
# Still usable: a tree that fits.
small = os.path.join(top, "small")
h.w.add(small, recursive=True)
h.settle(small)
touch(os.path.join(small, "s1", "f"))
h.collect_until(seen(os.path.join(small, "s1", "f")))
out["works"] = True
# At the limit, a directory appearing at run time cannot be watched: the error
# is kept in w.errors (and warned), its CREATE is still delivered.
fill = os.path.join(top, "fill")
h.w.add(fill, recursive=True)
out["watches_at_limit"] = len(h.w.watches)
import warnings
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    os.mkdir(os.path.join(small, "s1", "late"))
    h.sync(small)
out["runtime_errors"] = [(type(e).__name__, e.filename) for e in h.w.errors]
out["warned"] = [str(w.category.__name__) for w in caught]
h.close()
print(json.dumps(out))
"""


@pytest.mark.needs("watch_limit")
def test_watch_limit_in_user_namespace_rolls_back(driver: str, backend: str, scratch: str) -> None:
    """``unshare -U -r`` then a lowered ``/proc/sys/user/max_inotify_watches``
    (the namespace's own knob; /proc/sys/fs/inotify is never written)."""
    if shutil.which("unshare") is None:
        pytest.skip("unshare(1) is not installed")
    big = ["big/a/b/c", "big/a/d", "big/e/f", "big/g"]  # 8 directories with big/
    _make_tree(scratch, [*big, "small/s1", "fill/x/y"])
    probe = subprocess.run(["unshare", "-U", "-r", "true"], capture_output=True, timeout=30)
    if probe.returncode != 0:
        pytest.skip(f"no user namespaces here: {probe.stderr.decode().strip()}")
    out = _run(["unshare", "-U", "-r"], LIMIT_CHILD, driver, scratch)
    assert out.get("error"), out
    assert out["needed"] == 8
    assert out["limit"] == 5
    assert out["filename"] == j(scratch, "big")
    assert out["watches_after"] == 0 and out["kernel_after"] == 0, out
    assert out["works"]
    assert out["watches_at_limit"] == 5
    assert out["runtime_errors"] == [["WatchLimitError", j(scratch, "small", "s1", "late")]], out
    if driver != "threaded":  # the warning is issued in the reader thread there
        assert "RuntimeWarning" in out["warned"], out


EACCES_CHILD = """
os.setgroups([])
os.setgid(65534)
os.setuid(65534)
h = Harness(driver)
try:
    h.w.add(top, recursive=True)
except PermissionError as exc:
    out.update(raised=True, filename=exc.filename)
out["watches_after_raise"] = len(h.w.watches)
out["kernel_after_raise"] = kernel_watches(h.w)
errors = []
h.w.add(top, recursive=True, onerror=errors.append)
out["errors"] = [(type(e).__name__, e.filename) for e in errors]
out["watched"] = sorted(h.w.watches.values())
h.settle(top)
touch(os.path.join(top, "ok", "deep", "f"))
h.collect_until(seen(os.path.join(top, "ok", "deep", "f")))
out["works"] = True
h.close()
print(json.dumps(out))
"""


@pytest.mark.needs("listing_errors")
def test_unreadable_subdirectory_is_reported(driver: str, backend: str, scratch: str) -> None:
    """EACCES needs an unprivileged process: the tree is made as root, then a
    child drops to nobody (65534) before adding it."""
    if os.geteuid() != 0:
        pytest.skip("needs root to prepare the tree and drop privileges")
    top = j(scratch, "t")
    _make_tree(top, ["ok/deep", "locked/inner", "ok2"])
    os.chmod(scratch, 0o755)
    for d in (top, j(top, "ok"), j(top, "ok", "deep"), j(top, "ok2")):
        os.chmod(d, 0o777)
    os.chmod(j(top, "locked"), 0o000)
    out = _run([], EACCES_CHILD, driver, top)
    locked = j(top, "locked")
    assert out.get("raised") and out["filename"] == locked, out
    assert out["watches_after_raise"] == 0 and out["kernel_after_raise"] == 0, out
    assert out["errors"] == [["PermissionError", locked]]
    assert out["watched"] == sorted([top, j(top, "ok"), j(top, "ok", "deep"), j(top, "ok2")])
    assert out["works"]
