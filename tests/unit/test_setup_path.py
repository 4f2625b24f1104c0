"""The set-up walk's shortcuts must stay what they stand for.

``Roots.walk`` registers a default root's directories with ``table.add``
alone: the hundreds of thousands of watches of a big tree do not each pay for
asking the root whether it is special (see roots.walk). That is only right while
``register`` does nothing else for such a root: if ``register`` learns more
bookkeeping, this test fails and the shortcut must learn it too.
"""

from __future__ import annotations

from typing import Any

from inwatch.filters import DEFAULT_ROOT, Root
from inwatch.inotify.core import InotifyCore

from .fake_kernel import FakeKernel


def _state(core: InotifyCore) -> dict[str, Any]:
    skip = {
        "port",
        "lock",
        "onerror",
        "_read_lock",
        "_records",
        "_it",
        "recent",
        "moves",
        "last_read",
    }
    out: dict[str, Any] = {}
    for name, value in vars(core).items():
        if name in skip:
            continue
        if name == "table":
            value = (value.paths, value.children, value.wds, value.roots)
        out[name] = value
    return out


def test_register_of_a_default_root_is_table_add_alone() -> None:
    root = Root("/w", DEFAULT_ROOT.mask, True, None, False, False)
    assert root.is_default
    by_register = InotifyCore(port=FakeKernel())
    by_table = InotifyCore(port=FakeKernel())
    for core in (by_register, by_table):
        core.table.add(1, "/w", None)
    by_register.register(2, "/w/a", root, 1)
    by_table.table.add(2, "/w/a", 1)
    by_register.register(3, "/w/a/b", root, 2)
    by_table.table.add(3, "/w/a/b", 2)
    assert _state(by_register) == _state(by_table)


def test_register_of_a_special_root_does_more() -> None:
    """The test above can fail: for a root that filters, register keeps more."""
    root = Root("/w", 0x100, True, None, False, False)
    assert not root.is_default
    by_register = InotifyCore(port=FakeKernel())
    by_table = InotifyCore(port=FakeKernel())
    by_register.register(2, "/w/a", root, None)
    by_table.table.add(2, "/w/a", None)
    assert _state(by_register) != _state(by_table)
