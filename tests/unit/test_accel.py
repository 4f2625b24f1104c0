"""The accelerator's loader: which path is in use, and that it is really used.

``INWATCH_ACCEL`` (unset/auto, 0, 1) is read once at import, so the choices are
checked in fresh interpreters; the path of this process is checked against the
environment it was started with (the suite runs once with 0, the default of
tests/conftest.py, and once with 1 in .ci/run).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import inwatch.inotify.core as core_module
from inwatch import EventParseError, Mask, Watcher, accel
from inwatch.event import Event
from inwatch.inotify import wire

from .accel_bound import bound_accelerator

SOURCES = sorted((Path(__file__).resolve().parents[2] / "src" / "inwatch" / "inotify").glob("*.c"))


def built() -> bool:
    try:
        from inwatch.inotify import _accel  # type: ignore[attr-defined]  # noqa: F401
    except ImportError:
        if os.environ.get("INWATCH_ACCEL") == "1":
            raise
        return False
    return True


def fresh(code: str, accel_env: str | None, **extra: str) -> subprocess.CompletedProcess[str]:
    """*code* run by a new interpreter with INWATCH_ACCEL=*accel_env* (None: unset)."""
    env = {k: v for k, v in os.environ.items() if k != "INWATCH_ACCEL"}
    if accel_env is not None:
        env["INWATCH_ACCEL"] = accel_env
    env.update(extra)
    return subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )


def test_this_process_runs_the_path_its_environment_asked_for() -> None:
    if os.environ.get("INWATCH_ACCEL") == "1":
        # The C functions are the ones in use: the parser, and the dispatcher's loop.
        from inwatch.inotify import _accel  # type: ignore[attr-defined]

        assert accel.ACTIVE == "accelerator: C"
        assert accel.native is _accel
        assert wire.parse_flat is _accel.parse_flat
        assert core_module.native is _accel
        assert type(_accel.parse_flat).__name__ == "builtin_function_or_method"
        assert Path(_accel.__file__).suffix == ".so"
    elif os.environ.get("INWATCH_ACCEL") == "0":
        assert accel.ACTIVE == "pure Python: INWATCH_ACCEL=0"
        assert accel.native is None
        assert wire.parse_flat is wire.parse_flat_py
        assert core_module.native is None
    else:
        pytest.skip("INWATCH_ACCEL is neither 0 nor 1 here")


class Counting:
    """The accelerator, with its dispatch and its takers counted (to see that
    the core calls them)."""

    def __init__(self, module: ModuleType) -> None:
        self.module = module
        self.calls = 0
        self.takers = 0

    def dispatch(self, *args: Any) -> None:
        self.calls += 1
        self.module.dispatch(*args)

    def Taker(self, *args: Any) -> Any:
        self.takers += 1
        return self.module.Taker(*args)


def test_the_core_dispatches_real_kernel_events_through_c(tmp_path: Path) -> None:
    counting = Counting(bound_accelerator())
    saved = core_module.native
    core_module.native = counting  # type: ignore[assignment]
    try:
        with Watcher() as w:
            # take(), the latency path, is the C Taker (over the real kernel)
            assert type(w._core.take).__name__ == "Taker"  # type: ignore[attr-defined]
            w.add(str(tmp_path), recursive=True)
            (tmp_path / "sub").mkdir()
            (tmp_path / "sub" / "f").write_bytes(b"x")  # CREATE (kernel or scan)
            (tmp_path / "h").write_bytes(b"x")
            (tmp_path / "g").touch()
            os.unlink(tmp_path / "g")
            want = {
                ("CREATE|ISDIR", str(tmp_path / "sub")),
                ("CREATE", str(tmp_path / "sub" / "f")),
                ("CREATE", str(tmp_path / "h")),
                ("CLOSE_WRITE", str(tmp_path / "h")),
                ("CREATE", str(tmp_path / "g")),
                ("DELETE", str(tmp_path / "g")),
            }
            got: list[Event[Any]] = []
            for _ in range(50):  # each read waits up to 0.1 s: a 5 s deadline
                got += w.read(timeout=0.1)
                names = {(e.maskname.replace("IN_", ""), e.pathname) for e in got}
                if want <= names:
                    break
            assert want <= names, got
    finally:
        core_module.native = saved
    assert counting.takers == 1
    assert counting.calls > 0
    for e in got:
        assert type(e) is Event and type(e.pathname) is str and type(e.time) is float


class _ClosedProperty(core_module.InotifyCore):
    """A core whose ``_closed`` is a property: Python reads it from the class,
    not from the instance's ``__dict__``, where the Taker would look."""

    @property
    def _closed(self) -> bool:  # type: ignore[override]
        return False

    @_closed.setter
    def _closed(self, value: bool) -> None:
        pass


def test_the_taker_refuses_a_core_whose_state_is_not_in_its_dict() -> None:
    # The Taker reads and writes the core's per-read attributes in its
    # __dict__; a data descriptor of the same name would make Python see
    # other values than C. It must refuse at once, naming the attribute.
    saved = core_module.native
    core_module.native = bound_accelerator()  # type: ignore[assignment]
    try:
        with pytest.raises(TypeError, match=r"_ClosedProperty\._closed is a data descriptor"):
            _ClosedProperty()
        core = core_module.InotifyCore()  # the real class is accepted
        try:
            assert type(core.take).__name__ == "Taker"
        finally:
            core.close()
    finally:
        core_module.native = saved


def test_choices_in_fresh_interpreters() -> None:
    show = "import inwatch.accel as a, inwatch.inotify.wire as w; print(a.ACTIVE, w.parse_flat)"
    pure = fresh(show, "0")
    assert pure.returncode == 0, pure.stderr
    assert pure.stdout.startswith("pure Python: INWATCH_ACCEL=0 <function parse_flat_py")
    bad = fresh(show, "yes")
    assert bad.returncode != 0
    assert "INWATCH_ACCEL='yes': use auto, 0 (pure Python) or 1 (C)" in bad.stderr
    if built():
        for choice in (None, "auto", "1", " AUTO "):
            r = fresh(show, choice)
            assert r.returncode == 0, r.stderr
            assert r.stdout.startswith("accelerator: C <built-in function parse_flat>"), choice


def test_an_accelerator_that_is_not_there(tmp_path: Path) -> None:
    # The package as a machine without a compiler installs it: no extension.
    import inwatch

    shutil.copytree(
        Path(inwatch.__file__).parent,
        tmp_path / "inwatch",
        ignore=shutil.ignore_patterns("*.so", "__pycache__"),
    )
    show = "import inwatch.accel as a; print(a.ACTIVE, a.__file__)"
    auto = fresh(show, "auto", PYTHONPATH=str(tmp_path))
    assert auto.returncode == 0, auto.stderr
    assert auto.stdout.strip() == (
        "pure Python: the accelerator was not built (no C compiler at install time?) "
        + str(tmp_path / "inwatch" / "accel.py")
    )
    required = fresh(show, "1", PYTHONPATH=str(tmp_path))
    assert required.returncode != 0
    assert (
        "ImportError: INWATCH_ACCEL=1 but the C accelerator cannot be used: "
        "the accelerator was not built" in required.stderr
    )


def test_an_accelerator_that_is_built_but_broken(tmp_path: Path) -> None:
    # An extension that fails to load (here a stand-in module raising as a
    # wrong-ABI build would): auto falls back loudly, 1 refuses.
    import inwatch

    shutil.copytree(
        Path(inwatch.__file__).parent,
        tmp_path / "inwatch",
        ignore=shutil.ignore_patterns("*.so", "__pycache__"),
    )
    (tmp_path / "inwatch" / "inotify" / "_accel.py").write_text(
        "raise ImportError('undefined symbol: PyFoo')\n"
    )
    show = "import inwatch.accel as a; print(a.ACTIVE)"
    auto = fresh(show, "auto", PYTHONPATH=str(tmp_path))
    assert auto.returncode == 0, auto.stderr
    assert auto.stdout.strip() == "pure Python: undefined symbol: PyFoo"
    assert (
        "RuntimeWarning: inwatch: the C accelerator is built but cannot be used "
        "(undefined symbol: PyFoo); running pure Python" in auto.stderr
    )
    required = fresh(show, "1", PYTHONPATH=str(tmp_path))
    assert required.returncode != 0
    assert "cannot be used: undefined symbol: PyFoo" in required.stderr


def test_version_names_the_path() -> None:
    code = "import sys; sys.argv = ['inwatch', '--version']; from inwatch.cli import console; "
    r = fresh(code + "console()", "0")
    assert r.stdout.strip() == "inwatch 0.1.0 (pure Python: INWATCH_ACCEL=0)", r.stderr
    if built():
        r = fresh(code + "console()", "1")
        assert r.stdout.strip() == "inwatch 0.1.0 (accelerator: C)", r.stderr


def test_bind_refuses_an_event_class_it_cannot_fill() -> None:
    if not built():
        pytest.skip("the C accelerator is not built")
    from inwatch.inotify import _accel  # type: ignore[attr-defined]

    class Fewer:
        __slots__ = ("mask", "wd")

    class Renamed:
        __slots__ = (*tuple(s for s in Event.__slots__ if s != "actor"), "who")

    class Inherited(Event):  # type: ignore[type-arg]  # the slots belong to its base
        __slots__ = ()

    Inherited.__slots__ = Event.__slots__  # (the names only: no slot of its own)

    for cls in (Fewer, Renamed):
        with pytest.raises(TypeError, match=r"Event.__slots__ is .* the accelerator stores"):
            _accel.bind(EventParseError, cls)
    with pytest.raises(TypeError, match="not a plain object slot of Event itself"):
        _accel.bind(EventParseError, Inherited)
    with pytest.raises(TypeError, match="must be an exception class"):
        _accel.bind(object, Event)
    _accel.bind(EventParseError, Event)  # the real one, bound again: still fine
    assert _accel.parse_flat(wire.pack_event(1, 2)) == [1, 2, 0, b""]


def test_the_c_source_compiles_without_a_warning(tmp_path: Path) -> None:
    cc = shutil.which("cc") or shutil.which("gcc")
    include = sysconfig.get_paths()["include"]
    if cc is None or not os.path.exists(os.path.join(include, "Python.h")):
        pytest.skip("no C compiler or Python headers here")
    assert [p.name for p in SOURCES] == [
        "_accel.c",
        "_accel_aio.c",
        "_accel_dispatch.c",
        "_accel_parse.c",
        "_accel_take.c",
        "_accel_watch.c",
    ]
    for source in SOURCES:
        flags = ["-Wall", "-Wextra", "-Werror", "-O2", "-fPIC", "-I", include]
        r = subprocess.run(
            [cc, *flags, "-c", str(source), "-o", str(tmp_path / (source.stem + ".o"))],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert r.returncode == 0, r.stderr


def _drain(w: Watcher, want: int) -> list[tuple[str, str, str, bool]]:
    """Read until *want* events came (5 s at most); then one more read finds none."""
    got: list[tuple[str, str, str, bool]] = []
    deadline = 50  # reads of up to 0.1 s each
    while len(got) < want and deadline:
        deadline -= 1
        got += [(e.maskname, e.pathname, e.origin, bool(e.cookie)) for e in w.read(timeout=0.1)]
    got += [(e.maskname, e.pathname, e.origin, bool(e.cookie)) for e in w.read(timeout=0.05)]
    return got


def test_take_in_c_gives_what_take_in_python_gives(tmp_path: Path) -> None:
    """Two Watchers on one tree, one taking in C (the Taker), one in Python
    (core.take itself): the kernel queues the same records for both, and each
    phase is read after it is done, so both streams must be equal: single
    events (the Taker's plain case), a burst of more records than a batch in
    one read (its hand-over to _dispatch), a new directory (the slow path and
    its listing), a rename (the move pairer) and a deletion."""
    accelerator = bound_accelerator()
    saved = core_module.native
    core_module.native = accelerator
    try:
        with Watcher() as c_side, Watcher() as py_side:
            py_side._core.__dict__.pop("take")  # type: ignore[attr-defined]
            assert type(c_side._core.take).__name__ == "Taker"  # type: ignore[attr-defined]
            assert type(py_side._core.take).__name__ == "method"  # type: ignore[attr-defined]
            # Without OPEN, ACCESS and CLOSE_NOWRITE: each side's listings
            # of a new directory would show in the other's stream, in an
            # order neither controls.
            quiet = Mask.ALL_EVENTS & ~(Mask.OPEN | Mask.ACCESS | Mask.CLOSE_NOWRITE)
            for w in (c_side, py_side):
                w.add(str(tmp_path), quiet, recursive=True)
            phases: list[tuple[int, Any]] = [
                (2, lambda: (tmp_path / "one").write_bytes(b"")),  # CREATE, then CLOSE_WRITE
                (600, lambda: [(tmp_path / f"b{i}").mkdir() for i in range(600)]),
                # d (the kernel), then d/e and d/f (its listing)
                (
                    3,
                    lambda: [
                        (tmp_path / "d" / "e").mkdir(parents=True),
                        (tmp_path / "d" / "f").touch(),
                    ],
                ),
                (2, lambda: os.rename(tmp_path / "one", tmp_path / "two")),
                (1, lambda: os.unlink(tmp_path / "two")),
            ]
            for want, act in phases:
                act()
                c_got = _drain(c_side, want)
                py_got = _drain(py_side, want)
                assert len(c_got) == want, c_got
                assert c_got == py_got
    finally:
        core_module.native = saved
