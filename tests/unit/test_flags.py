"""Mask, InitFlags, the IN_* constants and mask_names()."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

import inwatch
from inwatch import InitFlags, Mask, mask_names

# <linux/inotify.h>, the kernel's values.
KERNEL = {
    "ACCESS": 0x00000001,
    "MODIFY": 0x00000002,
    "ATTRIB": 0x00000004,
    "CLOSE_WRITE": 0x00000008,
    "CLOSE_NOWRITE": 0x00000010,
    "OPEN": 0x00000020,
    "MOVED_FROM": 0x00000040,
    "MOVED_TO": 0x00000080,
    "CREATE": 0x00000100,
    "DELETE": 0x00000200,
    "DELETE_SELF": 0x00000400,
    "MOVE_SELF": 0x00000800,
    "UNMOUNT": 0x00002000,
    "Q_OVERFLOW": 0x00004000,
    "IGNORED": 0x00008000,
    "ONLYDIR": 0x01000000,
    "DONT_FOLLOW": 0x02000000,
    "EXCL_UNLINK": 0x04000000,
    "MASK_CREATE": 0x10000000,
    "MASK_ADD": 0x20000000,
    "ISDIR": 0x40000000,
    "ONESHOT": 0x80000000,
    "CLOSE": 0x00000018,
    "MOVE": 0x000000C0,
    "ALL_EVENTS": 0x00000FFF,
}


@pytest.mark.parametrize("name", sorted(KERNEL))
def test_mask_members_and_in_constants_have_the_kernel_values(name: str) -> None:
    assert Mask[name] == KERNEL[name]
    constant = getattr(inwatch, f"IN_{name}")
    assert type(constant) is int and constant == KERNEL[name]
    assert f"IN_{name}" in inwatch.__all__


def test_every_single_bit_member_is_a_kernel_bit() -> None:
    """inotify's bits, plus EXEC: fanotify's exec, the one bit the neutral Event
    carries that inotify does not have (0x1000 is free in inotify)."""
    singles = {m.name for m in Mask if m.value & (m.value - 1) == 0}
    assert singles == {n for n, v in KERNEL.items() if v & (v - 1) == 0} | {"EXEC"}
    assert "EXEC" not in KERNEL and Mask.EXEC == 0x1000


def test_values_match_the_installed_header() -> None:
    header = Path("/usr/include/linux/inotify.h")
    if not header.exists():
        pytest.skip("no <linux/inotify.h> installed")
    defined = dict(re.findall(r"#define\s+IN_(\w+)\s+(0x[0-9a-fA-F]+)", header.read_text()))
    assert len(defined) >= 22
    for name, value in defined.items():
        assert Mask[name] == int(value, 16), name


def test_init_flags_are_the_open_flags() -> None:
    assert InitFlags.NONBLOCK == inwatch.IN_NONBLOCK == os.O_NONBLOCK
    assert InitFlags.CLOEXEC == inwatch.IN_CLOEXEC == os.O_CLOEXEC


def test_aliases_are_unions() -> None:
    assert Mask.CLOSE == Mask.CLOSE_WRITE | Mask.CLOSE_NOWRITE
    assert Mask.MOVE == Mask.MOVED_FROM | Mask.MOVED_TO
    assert Mask.ALL_EVENTS & (Mask.UNMOUNT | Mask.Q_OVERFLOW | Mask.IGNORED) == 0


def test_mask_names_lowest_bit_first() -> None:
    assert mask_names(0) == ()
    assert mask_names(Mask.CREATE) == ("CREATE",)
    assert mask_names(Mask.CREATE | Mask.ISDIR) == ("CREATE", "ISDIR")
    assert mask_names(Mask.ISDIR | Mask.CREATE) == ("CREATE", "ISDIR")
    assert mask_names(0x80000000 | 0x1) == ("ACCESS", "ONESHOT")
    assert mask_names(Mask.CLOSE) == ("CLOSE_WRITE", "CLOSE_NOWRITE")  # aliases unfold
    assert len(mask_names(Mask.ALL_EVENTS)) == 12
    assert mask_names(Mask.Q_OVERFLOW) == ("Q_OVERFLOW",)


def test_mask_names_shows_unknown_bits_in_hex() -> None:
    assert mask_names(0x08000000) == ("0x8000000",)
    assert mask_names(0x1000 | 0x08000000 | Mask.OPEN) == ("OPEN", "EXEC", "0x8000000")


def test_mask_names_accepts_plain_ints_and_is_memoised() -> None:
    first = mask_names(0x40000100)
    assert first == ("CREATE", "ISDIR")
    assert mask_names(0x40000100) is first
    # Many distinct masks do not grow the cache without bound.
    for mask in range(1, 10_000):
        mask_names(mask << 12)
    assert len(inwatch.flags._names_cache) <= 4096


def test_mask_is_an_intflag_printing_names() -> None:
    flag = Mask(0x40000100)
    assert flag == 0x40000100 and isinstance(flag, int)
    assert Mask.CREATE in flag and Mask.ISDIR in flag
    assert "CREATE" in repr(flag) and "ISDIR" in repr(flag)
