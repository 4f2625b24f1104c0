"""The pyinotify 0.9.6 surface without the kernel: names, codes, event text
forms, dispatch, handlers, errors. Compared with pyinotify itself."""

from __future__ import annotations

import io
import logging
import subprocess
import sys
import types
import warnings
from pathlib import Path
from typing import Any

import pytest

import inwatch
from inwatch import pyinotify as ours

pyinotify = pytest.importorskip("pyinotify")

# Loop variables and optional imports left in pyinotify's namespace.
LEFTOVERS = {"attrname", "flagc", "name", "val", "valc", "reduce", "inotify_syscalls"}


def _public_names() -> list[str]:
    names = []
    for name, value in vars(pyinotify).items():
        if name.startswith("_") or name in LEFTOVERS or isinstance(value, types.ModuleType):
            continue
        module = getattr(value, "__module__", "pyinotify")
        if isinstance(value, (type, types.FunctionType)) and module != "pyinotify":
            continue  # deque, datetime, reduce...: pyinotify's own imports
        names.append(name)
    return sorted(names)


def test_every_public_name_of_pyinotify_exists() -> None:
    names = _public_names()
    assert len(names) > 50
    missing = [n for n in names if not hasattr(ours, n)]
    assert missing == []


def test_constants_and_version() -> None:
    assert ours.__version__ == "0.9.6"
    for name in _public_names():
        value = getattr(pyinotify, name)
        if isinstance(value, int):
            assert getattr(ours, name) == value, name
    assert ours.EventsCodes.FLAG_COLLECTIONS == pyinotify.EventsCodes.FLAG_COLLECTIONS
    assert ours.EventsCodes.ALL_FLAGS == pyinotify.EventsCodes.ALL_FLAGS
    assert ours.EventsCodes.ALL_VALUES == pyinotify.EventsCodes.ALL_VALUES
    assert ours.EventsCodes.OP_FLAGS == pyinotify.EventsCodes.OP_FLAGS
    for value in pyinotify.EventsCodes.ALL_VALUES:
        for mask in (value, value | pyinotify.IN_ISDIR):
            try:
                expected = pyinotify.EventsCodes.maskname(mask)
            except KeyError:
                with pytest.raises(KeyError):
                    ours.EventsCodes.maskname(mask)
                continue
            assert ours.EventsCodes.maskname(mask) == expected


PYINOTIFY_AT_TOP = (
    "ALL_EVENTS",
    "AsyncioNotifier",
    "ChainIfTrue",
    "ExcludeFilter",
    "Notifier",
    "PrintAllEvents",
    "ProcessEvent",
    "Stats",
    "ThreadedNotifier",
    "WatchManager",
    "WatchManagerError",
)


def test_top_level_names_still_reach_the_pyinotify_layer() -> None:
    """The 11 pyinotify names `inwatch` exported keep working for one release,
    served by its module __getattr__ with a DeprecationWarning."""
    for name in PYINOTIFY_AT_TOP:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            value = getattr(inwatch, name)
        assert value is getattr(ours, name)
        assert name not in vars(inwatch) and name not in inwatch.__all__
        assert [w.category for w in caught] == [DeprecationWarning], name
        text = str(caught[0].message)
        assert f"inwatch.{name}" in text and "inwatch.pyinotify" in text, text
    for name in ("IN_CREATE", "IN_DELETE", "IN_MODIFY", "IN_ISDIR", "IN_Q_OVERFLOW"):
        assert getattr(inwatch, name) == getattr(pyinotify, name)


def test_compat_is_a_deprecated_alias() -> None:
    code = (
        "import warnings\n"
        "warnings.simplefilter('error', DeprecationWarning)\n"
        "import inwatch, inwatch.pyinotify as p\n"
        "import inwatch.compat as c\n"
        "try:\n"
        "    c.WatchManager\n"
        "except DeprecationWarning as w:\n"
        "    print('warned:', w)\n"
        "warnings.simplefilter('ignore')\n"
        "from inwatch.compat import Notifier\n"
        "print(Notifier is p.Notifier)\n"
    )
    assert _python(code).splitlines() == [
        "warned: inwatch.compat is deprecated and goes in the next release: "
        "use inwatch.pyinotify.WatchManager",
        "True",
    ]


EVENT_DICTS: list[dict[str, Any]] = [
    {"wd": 1, "mask": 0x100, "path": "/w", "name": "f", "dir": False},
    {"wd": 3, "mask": 0x40000100, "path": "/w/", "name": "d", "dir": True},
    {"wd": 1, "mask": 0x400, "path": "/w", "name": "", "dir": True},
    {"wd": 1, "mask": 0x40, "path": "/w", "name": "f", "dir": False, "cookie": 7},
    {"wd": 1, "mask": 0x80, "path": "/w", "name": "g", "dir": False, "cookie": 7,
     "src_pathname": "/w/f"},
    {"mask": 0x4000},
    {"wd": 2, "mask": 0x8000, "path": "rel/dir", "name": "", "dir": False},
]  # fmt: skip


@pytest.mark.parametrize("d", EVENT_DICTS)
def test_event_text_form(d: dict[str, Any]) -> None:
    theirs = pyinotify.Event(dict(d))
    mine = ours.Event(dict(d))
    assert str(mine) == str(theirs)
    assert repr(mine) == repr(theirs)
    for attr in ("maskname", "pathname"):
        assert getattr(mine, attr, None) == getattr(theirs, attr, None)


def test_event_text_form_literal() -> None:
    ev = ours.Event({"wd": 1, "mask": 0x100, "path": "/w", "name": "f", "dir": False})
    assert str(ev) == (
        "<Event dir=False mask=0x100 maskname=IN_CREATE name=f path=/w pathname=/w/f wd=1 >"
    )
    with pytest.raises(KeyError):
        ours.Event({"mask": 0x3})


def _recording_handler(base: type) -> type:
    class Handler(base):  # type: ignore[misc, valid-type]
        def my_init(self, log: list[str]) -> None:
            self.log = log

        def process_IN_CREATE(self, event: Any) -> None:
            self.log.append("IN_CREATE")

        def process_IN_CLOSE(self, event: Any) -> None:
            self.log.append("IN_CLOSE:" + event.maskname)

        def process_IN_MOVED(self, event: Any) -> None:
            self.log.append("IN_MOVED:" + event.maskname)

        def process_IN_DELETE(self, event: Any) -> None:
            self.log.append("IN_DELETE:" + event.maskname)

        def process_default(self, event: Any) -> None:
            self.log.append("default:" + event.maskname)

    return Handler


DISPATCHED = [0x1, 0x2, 0x4, 0x8, 0x10, 0x20, 0x40, 0x80, 0x100, 0x200, 0x400, 0x800,
              0x2000, 0x8000, 0x40000100, 0x40000200, 0x40000010]  # fmt: skip


def test_dispatch_order_matches() -> None:
    theirs: list[str] = []
    mine: list[str] = []
    h_theirs = _recording_handler(pyinotify.ProcessEvent)(log=theirs)
    h_mine = _recording_handler(ours.ProcessEvent)(log=mine)
    for mask in DISPATCHED:
        d = {"wd": 1, "mask": mask, "path": "/w", "name": "n", "dir": False}
        h_theirs(pyinotify.Event(dict(d)))
        h_mine(ours.Event(dict(d)))
    assert mine == theirs
    assert "IN_DELETE:IN_DELETE_SELF" in mine and "IN_CLOSE:IN_CLOSE_NOWRITE" in mine
    with pytest.raises(ours.ProcessEventError, match="Unknown mask 0x00000003"):
        h_mine(types.SimpleNamespace(mask=0x3))


def test_overflow_goes_to_its_own_method(caplog: pytest.LogCaptureFixture) -> None:
    seen: list[str] = []

    class H(ours.ProcessEvent):
        def process_default(self, event: Any) -> None:
            seen.append(event.maskname)

    with caplog.at_level(logging.WARNING, logger="pyinotify"):
        H()(ours.Event({"mask": ours.IN_Q_OVERFLOW}))
    assert seen == []
    assert "Event queue overflowed." in caplog.text


def test_pevent_chaining_and_chain_if_true() -> None:
    calls: list[str] = []

    class H(ours.ProcessEvent):
        def process_default(self, event: Any) -> None:
            calls.append(event.name)

    ev_a = ours.Event({"wd": 1, "mask": 0x100, "path": "/w", "name": "a"})
    ev_b = ours.Event({"wd": 1, "mask": 0x100, "path": "/w", "name": "b"})
    h = H(pevent=lambda e: e.name == "a")  # a true result stops the chain
    h(ev_a)
    h(ev_b)
    assert calls == ["b"]
    assert h.nested_pevent() is not None
    only_a = H(ours.ChainIfTrue(func=lambda e: e.name == "a"))
    only_a(ev_a)
    only_a(ev_b)
    assert calls == ["b", "a"]
    for mod in (pyinotify, ours):
        c = mod.ChainIfTrue(func=lambda e: e.name == "a")
        assert (c(ev_a), c(ev_b)) == (False, True)
    assert repr(ours.ProcessEvent()) == repr(pyinotify.ProcessEvent()) == "<ProcessEvent>"


def test_my_init_receives_keywords() -> None:
    got: dict[str, Any] = {}

    class H(ours.ProcessEvent):
        def my_init(self, **kargs: Any) -> None:
            got.update(kargs)

    H(x=1, y="z")
    assert got == {"x": 1, "y": "z"}


def test_print_all_events_and_stats_match() -> None:
    events = [dict(d) for d in EVENT_DICTS if "path" in d]
    outs = []
    stats = []
    for mod in (pyinotify, ours):
        out = io.StringIO()
        printer = mod.PrintAllEvents(out=out)
        st = mod.Stats()
        for d in events:
            printer(mod.Event(dict(d)))
            st(mod.Event(dict(d)))
        outs.append(out.getvalue())
        stats.append((repr(st), str(st)))
    assert outs[0] == outs[1]
    assert stats[0] == stats[1]
    assert repr(ours.Stats()) == "<Stats ElapsedTime=0sec >"
    assert str(ours.Stats()) == ""


def test_stats_dump(tmp_path: Path) -> None:
    st = ours.Stats()
    st(ours.Event({"wd": 1, "mask": 0x100, "path": "/w", "name": "a"}))
    st.dump(str(tmp_path / "stats"))
    assert (tmp_path / "stats").read_text() == str(st)
    with pytest.raises(FileExistsError):
        st.dump(str(tmp_path / "stats"))


def test_exclude_filter(tmp_path: Path) -> None:
    lst = tmp_path / "patterns.lst"
    lst.write_text("# comment\n^/etc/rc.*\n\n  /etc/hostname  \n")
    for arg in (["^/etc/rc.*", "/etc/hostname"], str(lst)):
        for mod in (pyinotify, ours):
            f = mod.ExcludeFilter(arg)
            assert f("/etc/rc.local") and f("/etc/hostname")
            assert not f("/var/etc/rc.d") and not f("/etc/passwd")
    with pytest.raises(TypeError):
        ours.ExcludeFilter(42)  # type: ignore[arg-type]
    assert ours.ExcludeFilter(["^/x"])(b"/x/y")


def test_watch_text_form() -> None:
    args = (1, "/tmp", 2, None, False, None)
    assert repr(ours.Watch(*args)) == repr(pyinotify.Watch(*args))


def test_proc_knobs() -> None:
    for name in ("max_queued_events", "max_user_instances", "max_user_watches"):
        knob = getattr(ours, name)
        with open(f"/proc/sys/fs/inotify/{name}") as f:
            assert knob.value == int(f.read())
        assert repr(knob) == repr(getattr(pyinotify, name))


def test_watch_manager_error_keeps_partial_result() -> None:
    err = ours.WatchManagerError("msg", {"/a": 1})
    assert err.wmd == {"/a": 1} and str(err) == "msg"
    assert not isinstance(err, ours.PyinotifyError)  # as in pyinotify
    assert issubclass(ours.NotifierError, ours.PyinotifyError)
    assert issubclass(ours.ProcessEventError, ours.PyinotifyError)


def _python(code: str) -> str:
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    return out.stdout.strip()


def test_import_installs_no_handler_and_no_asyncore() -> None:
    code = (
        "import logging, sys\n"
        "import inwatch.pyinotify as p\n"
        "from inwatch.pyinotify import WatchManager\n"
        "lg = logging.getLogger('pyinotify')\n"
        "print(lg.handlers, lg.level, 'asyncore' in sys.modules, p.log is lg)\n"
    )
    assert _python(code) == "[] 0 False True"


def test_async_notifier_without_asyncore_says_what_to_do() -> None:
    code = (
        "import sys\n"
        "sys.modules['asyncore'] = None\n"
        "import inwatch.pyinotify as p\n"
        "try:\n"
        "    p.AsyncNotifier\n"
        "except ImportError as e:\n"
        "    print('ImportError', e)\n"
    )
    out = _python(code)
    assert out.startswith("ImportError") and "pyasyncore" in out and "AsyncioNotifier" in out


def test_async_notifier_with_asyncore(tmp_path: Path) -> None:
    pytest.importorskip("asyncore")
    code = (
        "import asyncore, os, sys, io\n"
        "import inwatch.pyinotify as p\n"
        "wm = p.WatchManager()\n"
        f"wm.add_watch({str(tmp_path)!r}, p.IN_CREATE)\n"
        "out = io.StringIO()\n"
        "n = p.AsyncNotifier(wm, p.PrintAllEvents(out=out))\n"
        f"open({str(tmp_path / 'f')!r}, 'w').close()\n"
        "asyncore.loop(timeout=5, count=1)\n"
        "print(out.getvalue().strip())\n"
        "n.close(); wm.close()\n"
    )
    out = _python("import warnings; warnings.simplefilter('ignore')\n" + code)
    assert out == (
        f"<Event dir=False mask=0x100 maskname=IN_CREATE name=f path={tmp_path} "
        f"pathname={tmp_path}/f wd=1 >"
    )


def test_compatibility_mode() -> None:
    code = (
        "import inwatch.pyinotify as p\n"
        "p.compatibility_mode()\n"
        "e = p.Event({'wd': 1, 'mask': 0x100, 'path': '/w', 'name': 'n', 'dir': False})\n"
        "print(p.COMPATIBILITY_MODE, p.EventsCodes.IN_CREATE, p.EventsCodes.ALL_EVENTS)\n"
        "print(e)\n"
    )
    assert _python(code).splitlines() == [
        "True 256 4095",
        "<Event dir=False event_name=IN_CREATE mask=0x100 maskname=IN_CREATE name=n path=/w "
        "pathname=/w/n wd=1 >",
    ]


def test_replaced_log_is_used(caplog: pytest.LogCaptureFixture) -> None:
    mine = logging.getLogger("inwatch-test-replacement")
    old = ours.__dict__.get("log")
    ours.log = mine
    try:
        with caplog.at_level(logging.ERROR, logger=mine.name):
            wm = ours.WatchManager()
            wm.del_watch(12345)
            wm.close()
        assert "Cannot delete unknown watch descriptor 12345" in caplog.text
    finally:
        ours.log = old


def test_output_format_assigned_by_a_program() -> None:
    ev = ours.Event({"wd": 1, "mask": 0x100, "path": "/w", "name": "f", "dir": False})
    old = ours.output_format
    ours.output_format = ours.ColoredOutputFormat()
    try:
        assert str(ev).startswith("\033[0m<\033[0m\033[31m\033[1mEvent")
    finally:
        ours.output_format = old
    assert str(ev).startswith("<Event dir=False")
