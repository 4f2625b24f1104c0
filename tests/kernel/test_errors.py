"""What the kernel refuses, as exceptions that name the path and, for limits, the
knob and the fix.

The limit tests run a child Python in a new user namespace (``unshare -U -r``)
and lower ``/proc/sys/user/max_inotify_{watches,instances}`` there: those knobs
bind only inside that namespace. ``/proc/sys/fs/inotify/*`` is never written.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from inwatch import Inotify, InotifyLimitError, InstanceLimitError, Mask, WatchLimitError

USERNS_WATCHES = "/proc/sys/user/max_inotify_watches"
USERNS_INSTANCES = "/proc/sys/user/max_inotify_instances"


def _run_child(code: str, *prefix: str) -> dict[str, Any]:
    """Run *code* in a child Python (after *prefix*, e.g. unshare); it prints JSON."""
    result = subprocess.run(
        [*prefix, sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    parsed: dict[str, Any] = json.loads(result.stdout)
    return parsed


def _userns_available() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(
        ["unshare", "-U", "-r", "true"], capture_output=True, timeout=30, check=False
    )
    return probe.returncode == 0


needs_userns = pytest.mark.skipif(
    not _userns_available(), reason="unshare -U -r (user namespaces) not available"
)


# --- ENOENT ------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["str", "bytes", "path"])
def test_missing_path_is_file_not_found_naming_the_path(
    ino: Inotify, tmp_path: Path, kind: str
) -> None:
    missing = tmp_path / "missing" / "x"
    given: str | bytes | Path = {
        "str": str(missing),
        "bytes": os.fsencode(missing),
        "path": missing,
    }[kind]
    with pytest.raises(FileNotFoundError) as err:
        ino.add_watch(given, Mask.ALL_EVENTS)
    assert err.value.errno == errno.ENOENT
    # As os.stat does: the path as given (str for str and PathLike, bytes for bytes).
    assert err.value.filename == os.fspath(given)
    assert str(missing) in str(err.value)


def test_rm_watch_of_an_unknown_wd_is_einval(ino: Inotify) -> None:
    with pytest.raises(OSError) as err:
        ino.rm_watch(12345)
    assert err.value.errno == errno.EINVAL
    assert "12345" in str(err.value)


# --- EACCES: a dropped privilege in a child -----------------------------------


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A directory everyone may traverse (tmp_path's parents are root-only)."""
    path = Path(tempfile.mkdtemp(prefix="inwatch-eacces-"))
    try:
        path.chmod(0o755)
        yield path
    finally:
        shutil.rmtree(path)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to drop to another user")
def test_no_read_permission_is_permission_error(shared_dir: Path) -> None:
    (shared_dir / "public").touch(mode=0o644)
    (shared_dir / "secret").touch(mode=0o600)
    (shared_dir / "private").mkdir(mode=0o700)
    (shared_dir / "private" / "inner").touch(mode=0o644)
    code = f"""
        import json, os
        from inwatch import Inotify, Mask
        os.setgroups([])
        os.setgid(65534)
        os.setuid(65534)  # root bypasses permission checks: drop it
        out = {{}}
        with Inotify() as ino:
            for name in ("public", "secret", "private", "private/inner"):
                path = os.path.join({str(shared_dir)!r}, name)
                try:
                    out[name] = ["ok", ino.add_watch(path, Mask.ALL_EVENTS)]
                except OSError as e:
                    out[name] = [type(e).__name__, e.errno, e.filename, str(e)]
        print(json.dumps(out))
    """
    out = _run_child(code)
    assert out["public"][0] == "ok"
    for name in ("secret", "private", "private/inner"):
        path = str(shared_dir / name)
        kind, err, filename, message = out[name]
        assert (kind, err, filename) == ("PermissionError", errno.EACCES, path), name
        assert path in message


# --- limits, in a user namespace ----------------------------------------------


@needs_userns
def test_watch_limit_in_a_user_namespace_is_watch_limit_error(tmp_path: Path) -> None:
    for i in range(8):
        (tmp_path / f"d{i}").mkdir()
    code = f"""
        import errno, json, os
        from inwatch import Inotify, Mask, WatchLimitError, limits
        # Inside the new namespace nothing is watched yet: 3 watches fit.
        with open({USERNS_WATCHES!r}, "w") as f:
            f.write("3")
        out = {{"added": 0}}
        with Inotify() as ino:
            try:
                for i in range(8):
                    ino.add_watch(os.path.join({str(tmp_path)!r}, f"d{{i}}"), Mask.CREATE)
                    out["added"] += 1
            except WatchLimitError as e:
                out.update(
                    is_oserror=isinstance(e, OSError), errno=e.errno, message=str(e),
                    filename=e.filename, limit=e.limit, knob=e.knob, in_use=e.in_use,
                    fix=e.fix, watch_limit=limits().watch_limit,
                )
        print(json.dumps(out))
    """
    out = _run_child(code, "unshare", "-U", "-r")
    assert out["added"] == 3
    assert out["is_oserror"] and out["errno"] == errno.ENOSPC
    assert out["filename"] == str(tmp_path / "d3")
    assert (out["limit"], out["knob"]) == (3, USERNS_WATCHES)
    assert out["watch_limit"] == 3
    assert isinstance(out["in_use"], int) and out["in_use"] >= 0
    assert out["fix"] and "user.max_inotify_watches=" in out["fix"]
    message = out["message"]
    assert USERNS_WATCHES in message and "= 3" in message and out["fix"] in message
    assert str(tmp_path / "d3") in message


@needs_userns
def test_instance_limit_in_a_user_namespace_is_instance_limit_error() -> None:
    code = f"""
        import json
        from inwatch import Inotify, InstanceLimitError
        with open({USERNS_INSTANCES!r}, "w") as f:
            f.write("2")
        out = {{"opened": 0}}
        opened = []
        try:
            for _ in range(5):
                opened.append(Inotify())
                out["opened"] += 1
        except InstanceLimitError as e:
            out.update(
                is_oserror=isinstance(e, OSError), errno=e.errno, message=str(e),
                limit=e.limit, knob=e.knob, in_use=e.in_use, fix=e.fix,
            )
        finally:
            for ino in opened:
                ino.close()
        print(json.dumps(out))
    """
    out = _run_child(code, "unshare", "-U", "-r")
    assert out["opened"] == 2
    assert out["is_oserror"] and out["errno"] == errno.EMFILE
    assert (out["limit"], out["knob"]) == (2, USERNS_INSTANCES)
    assert isinstance(out["in_use"], int)
    assert USERNS_INSTANCES in out["message"] and "= 2" in out["message"]
    assert out["fix"] and "user.max_inotify_instances=" in out["fix"]
    assert out["fix"] in out["message"]


def test_limit_errors_are_oserrors_with_the_documented_errnos() -> None:
    assert issubclass(WatchLimitError, InotifyLimitError)
    assert issubclass(InstanceLimitError, InotifyLimitError)
    assert issubclass(InotifyLimitError, OSError)
    e = WatchLimitError(errno.ENOSPC, "msg", "/x", limit=1, in_use=1, knob="k", fix="f")
    assert (e.errno, e.filename, e.limit, e.in_use, e.knob, e.fix) == (
        errno.ENOSPC,
        "/x",
        1,
        1,
        "k",
        "f",
    )


def test_process_fd_limit_is_a_plain_emfile_not_an_instance_limit() -> None:
    code = """
        import json, os, resource
        from inwatch import Inotify, InstanceLimitError
        used = len(os.listdir("/proc/self/fd"))
        resource.setrlimit(resource.RLIMIT_NOFILE, (used + 2, resource.getrlimit(
            resource.RLIMIT_NOFILE)[1]))
        fds = []
        try:
            while True:
                fds.append(os.open("/", os.O_RDONLY))
        except OSError:
            pass
        try:
            Inotify().close()
            out = {"error": None}
        except OSError as e:
            out = {"error": type(e).__name__, "errno": e.errno, "message": str(e),
                   "instance": isinstance(e, InstanceLimitError)}
        for fd in fds:
            os.close(fd)
        print(json.dumps(out))
    """
    out = _run_child(code)
    assert out["error"] == "OSError" and out["errno"] == errno.EMFILE
    assert not out["instance"]
    assert "ulimit -n" in out["message"]


def test_embedded_nul_in_a_path_is_refused_not_cut(ino: Inotify, tmp_path: Path) -> None:
    # ctypes passes char* : without a check "dir\0x" would silently watch "dir".
    for bad in (f"{tmp_path}\0x", os.fsencode(tmp_path) + b"\0x"):
        with pytest.raises(ValueError, match="null byte"):
            ino.add_watch(bad, Mask.CREATE)
    assert ino.read(timeout=0) == []


def test_out_of_range_mask_and_wd_are_refused_not_truncated(ino: Inotify, tmp_path: Path) -> None:
    with pytest.raises(OverflowError):
        ino.add_watch(tmp_path, (1 << 32) | Mask.CREATE)  # would be CREATE alone
    with pytest.raises(OverflowError):
        ino.add_watch(tmp_path, -1)
    wd = ino.add_watch(tmp_path, Mask.CREATE)
    with pytest.raises(OverflowError):
        ino.rm_watch((1 << 32) | wd)  # would remove wd
    (tmp_path / "still-watched").touch()
    assert [e.name for e in ino.read(timeout=1)] == [b"still-watched"]
