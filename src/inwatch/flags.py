"""The inotify bits, as the kernel defines them (``<sys/inotify.h>``, inotify(7)).

`Mask` is an :class:`enum.IntFlag` so that ``Mask.CREATE | Mask.ISDIR`` prints as
names; the hot path never builds one (events carry a plain ``int`` mask and
build a `Mask` only when asked). The ``IN_*`` module constants are plain ints with
the kernel's values, as C code and pyinotify programs spell them.
"""

from __future__ import annotations

import enum

__all__ = [
    "IN_ACCESS",
    "IN_ALL_EVENTS",
    "IN_ATTRIB",
    "IN_CLOEXEC",
    "IN_CLOSE",
    "IN_CLOSE_NOWRITE",
    "IN_CLOSE_WRITE",
    "IN_CREATE",
    "IN_DELETE",
    "IN_DELETE_SELF",
    "IN_DONT_FOLLOW",
    "IN_EXCL_UNLINK",
    "IN_IGNORED",
    "IN_ISDIR",
    "IN_MASK_ADD",
    "IN_MASK_CREATE",
    "IN_MODIFY",
    "IN_MOVE",
    "IN_MOVED_FROM",
    "IN_MOVED_TO",
    "IN_MOVE_SELF",
    "IN_NONBLOCK",
    "IN_ONESHOT",
    "IN_ONLYDIR",
    "IN_OPEN",
    "IN_Q_OVERFLOW",
    "IN_UNMOUNT",
    "InitFlags",
    "Mask",
    "mask_names",
]


class Mask(enum.IntFlag):
    """Event and watch bits of ``inotify_add_watch(2)`` and ``struct inotify_event``."""

    # --- events that can be asked for and are reported -----------------------
    ACCESS = 0x00000001
    """File was accessed (read(2), execve(2))."""
    MODIFY = 0x00000002
    """File was modified (write(2), truncate(2))."""
    ATTRIB = 0x00000004
    """Metadata changed: permissions, timestamps, extended attributes, link count,
    user/group id (chmod, touch, setxattr, link, unlink of a hard link...)."""
    CLOSE_WRITE = 0x00000008
    """File opened for writing was closed."""
    CLOSE_NOWRITE = 0x00000010
    """File or directory not opened for writing was closed."""
    OPEN = 0x00000020
    """File or directory was opened."""
    MOVED_FROM = 0x00000040
    """Generated for the directory containing the old name when a file is renamed;
    its ``cookie`` pairs it with the matching MOVED_TO."""
    MOVED_TO = 0x00000080
    """Generated for the directory containing the new name when a file is renamed."""
    CREATE = 0x00000100
    """File or directory created in a watched directory (open O_CREAT, mkdir, link,
    symlink, bind on a UNIX socket)."""
    DELETE = 0x00000200
    """File or directory deleted from a watched directory."""
    DELETE_SELF = 0x00000400
    """The watched file or directory itself was deleted (or moved to another
    filesystem). An IGNORED follows."""
    MOVE_SELF = 0x00000800
    """The watched file or directory itself was moved."""
    EXEC = 0x00001000
    """fanotify only (FAN_OPEN_EXEC, Linux 5.0): a file was opened to be executed.
    inotify has no such bit and never sets it; do not pass it to an inotify watch."""

    # --- events the kernel sends whatever the mask ----------------------------
    UNMOUNT = 0x00002000
    """The filesystem holding the watched object was unmounted. An IGNORED follows."""
    Q_OVERFLOW = 0x00004000
    """The event queue overflowed (``wd`` is -1): events were lost."""
    IGNORED = 0x00008000
    """The watch was removed: explicitly (inotify_rm_watch), because the object was
    deleted, or because its filesystem was unmounted. The ``wd`` may be reused."""

    # --- watch options (inotify_add_watch mask only) --------------------------
    ONLYDIR = 0x01000000
    """Watch the path only if it is a directory (else ENOTDIR)."""
    DONT_FOLLOW = 0x02000000
    """Don't dereference the path if it is a symbolic link."""
    EXCL_UNLINK = 0x04000000
    """Stop reporting events for children after they are unlinked from the
    watched directory (by default, an open unlinked file still reports)."""
    MASK_CREATE = 0x10000000
    """Only create a new watch: fail with EEXIST if the path is already watched."""
    MASK_ADD = 0x20000000
    """OR the mask into an existing watch's mask instead of replacing it."""

    # --- bits set in the event's mask ----------------------------------------
    ISDIR = 0x40000000
    """The subject of this event is a directory."""
    ONESHOT = 0x80000000
    """Watch option: report one event, then remove the watch (IGNORED follows)."""

    # --- aliases ------------------------------------------------------------
    CLOSE = CLOSE_WRITE | CLOSE_NOWRITE
    """Either close event."""
    MOVE = MOVED_FROM | MOVED_TO
    """Either half of a rename."""
    ALL_EVENTS = (
        ACCESS
        | MODIFY
        | ATTRIB
        | CLOSE_WRITE
        | CLOSE_NOWRITE
        | OPEN
        | MOVED_FROM
        | MOVED_TO
        | CREATE
        | DELETE
        | DELETE_SELF
        | MOVE_SELF
    )
    """Every event that can be asked for (not UNMOUNT, Q_OVERFLOW, IGNORED: those
    come unasked)."""


class InitFlags(enum.IntFlag):
    """Flags of ``inotify_init1(2)``."""

    NONBLOCK = 0o4000
    """O_NONBLOCK on the new file descriptor."""
    CLOEXEC = 0o2000000
    """O_CLOEXEC on the new file descriptor."""


IN_ACCESS = 0x00000001
IN_MODIFY = 0x00000002
IN_ATTRIB = 0x00000004
IN_CLOSE_WRITE = 0x00000008
IN_CLOSE_NOWRITE = 0x00000010
IN_OPEN = 0x00000020
IN_MOVED_FROM = 0x00000040
IN_MOVED_TO = 0x00000080
IN_CREATE = 0x00000100
IN_DELETE = 0x00000200
IN_DELETE_SELF = 0x00000400
IN_MOVE_SELF = 0x00000800
IN_UNMOUNT = 0x00002000
IN_Q_OVERFLOW = 0x00004000
IN_IGNORED = 0x00008000
IN_ONLYDIR = 0x01000000
IN_DONT_FOLLOW = 0x02000000
IN_EXCL_UNLINK = 0x04000000
IN_MASK_CREATE = 0x10000000
IN_MASK_ADD = 0x20000000
IN_ISDIR = 0x40000000
IN_ONESHOT = 0x80000000
IN_CLOSE = IN_CLOSE_WRITE | IN_CLOSE_NOWRITE
IN_MOVE = IN_MOVED_FROM | IN_MOVED_TO
IN_ALL_EVENTS = 0x00000FFF
IN_NONBLOCK = 0o4000
IN_CLOEXEC = 0o2000000

# Single bits in the order the kernel numbers them, for naming masks.
_SINGLE_BITS: tuple[tuple[int, str], ...] = tuple(
    (m.value, m.name) for m in Mask if m.name and m.value & (m.value - 1) == 0
)
_names_cache: dict[int, tuple[str, ...]] = {}


def mask_names(mask: int) -> tuple[str, ...]:
    """Names of the single bits set in *mask*, lowest first: ``("CREATE", "ISDIR")``.

    Bits no kernel defines are named in hex (``"0x8"`` style) so nothing is hidden.
    Memoised: a program sees a few dozen distinct masks.
    """
    names = _names_cache.get(mask)
    if names is None:
        found = [name for bit, name in _SINGLE_BITS if mask & bit]
        rest = mask & ~sum(bit for bit, _ in _SINGLE_BITS)
        if rest:
            found.append(hex(rest))
        names = tuple(found)
        if len(_names_cache) < 4096:
            _names_cache[mask] = names
    return names
