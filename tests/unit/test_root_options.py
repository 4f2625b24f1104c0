"""Which root's options a watch has: one per-watch dict entry, not two (the
memory of a large tree with a non-default mask), and the last registration of
a wd wins, as when the options lived in one dict."""

from __future__ import annotations

from inwatch.filters import DEFAULT_ROOT, Root
from inwatch.inotify.core import InotifyCore

from .fake_kernel import FakeKernel

_ALL = 0xFFF


def _core() -> InotifyCore:
    fk = FakeKernel()
    fk.makedirs("/r/a/b")
    return InotifyCore(port=fk)


def _add(core: InotifyCore, mask: int, auto_add: bool = True) -> None:
    core.add_root(
        "/r",
        mask,
        recursive=True,
        exclude=None,
        follow_symlinks=False,
        auto_add=auto_add,
        onerror=None,
        as_bytes=False,
    )


def test_a_filtering_root_puts_each_watch_in_special_only() -> None:
    core = _core()
    _add(core, _ALL & ~0x20)  # no OPEN: its events are filtered one by one
    wds = set(core.table.paths)
    assert len(wds) == 3
    assert set(core.special) == wds and not core.options
    assert all(core.root_of(wd).mask == _ALL & ~0x20 for wd in wds)


def test_a_root_that_only_does_not_add_new_directories_is_in_options_only() -> None:
    core = _core()
    _add(core, _ALL, auto_add=False)
    wds = set(core.table.paths)
    assert set(core.options) == wds and not core.special
    assert all(core.root_of(wd).auto_add is False for wd in wds)
    core.set_auto_add(min(wds))
    assert all(core.root_of(wd).auto_add for wd in wds)  # one Root, shared


def test_the_default_root_is_in_neither() -> None:
    core = _core()
    _add(core, _ALL)
    assert not core.options and not core.special
    assert all(core.root_of(wd) is DEFAULT_ROOT for wd in core.table.paths)


def test_the_last_registration_of_a_wd_wins_either_way() -> None:
    core = _core()
    filtering = Root("/r", _ALL & ~0x20, True, None, False, False)
    plain = Root("/r", _ALL, False, None, False, False)
    core.register(1, "/r", filtering, None)
    assert core.root_of(1) is filtering
    core.register(1, "/r", plain, None)
    assert core.root_of(1) is plain
    assert core.special[1] is filtering  # its events are still filtered, as before
    core.register(1, "/r", filtering, None)
    assert core.root_of(1) is filtering and 1 not in core.options
    core.forget(1)
    assert core.root_of(1) is DEFAULT_ROOT
