"""fanotify's bits, as documented in fanotify(7), fanotify_init(2) and fanotify_mark(2).

Each member says what the kernel does with it and the Linux version that added
it (the uapi header ``<linux/fanotify.h>``). Values are the kernel's; nothing
here is computed. The version matters: asking an older kernel for a bit it does
not know fails with EINVAL, which :mod:`inwatch.fanotify._sys` turns into an
error naming the bit.
"""

from __future__ import annotations

from enum import IntEnum, IntFlag

__all__ = [
    "FANOTIFY_METADATA_VERSION",
    "FAN_EPIDFD",
    "FAN_NOFD",
    "FAN_NOPIDFD",
    "FanInit",
    "FanMark",
    "FanMask",
    "InfoType",
]

FANOTIFY_METADATA_VERSION = 3
"""``fanotify_event_metadata.vers`` every kernel since 4.20 writes (3 since 4.20;
the layout has not changed since 2.6.37 apart from the version number)."""
FAN_NOFD = -1
"""``metadata.fd`` of an event without a file descriptor (FID groups, overflow)."""
FAN_NOPIDFD = -1
"""The PIDFD record's value when the process had exited before the read (5.15)."""
FAN_EPIDFD = -2
"""The PIDFD record's value when creating the pidfd failed (5.15)."""


class FanMask(IntFlag):
    """Event bits: what ``fanotify_mark`` asks for and what ``metadata.mask`` reports."""

    ACCESS = 0x00000001
    """A file was read (2.6.37)."""
    MODIFY = 0x00000002
    """A file was written (2.6.37)."""
    ATTRIB = 0x00000004
    """Metadata changed: permissions, owner, timestamps, link count, xattrs (5.1;
    needs a FID-reporting group)."""
    CLOSE_WRITE = 0x00000008
    """A file opened for writing was closed (2.6.37)."""
    CLOSE_NOWRITE = 0x00000010
    """A file or directory opened read-only was closed (2.6.37)."""
    OPEN = 0x00000020
    """A file or directory was opened (2.6.37)."""
    MOVED_FROM = 0x00000040
    """An entry was moved out of a directory (5.1; FID groups)."""
    MOVED_TO = 0x00000080
    """An entry was moved into a directory (5.1; FID groups)."""
    CREATE = 0x00000100
    """An entry was created in a directory (5.1; FID groups)."""
    DELETE = 0x00000200
    """An entry was deleted from a directory (5.1; FID groups)."""
    DELETE_SELF = 0x00000400
    """The marked (or, on a filesystem mark, any) object itself was deleted (5.1)."""
    MOVE_SELF = 0x00000800
    """The marked (or, on a filesystem mark, any) object itself was moved (5.1)."""
    OPEN_EXEC = 0x00001000
    """A file was opened to be executed: by ``execve`` (the program, then its ELF
    interpreter) or ``uselib`` (5.0). Reported with the pid of the process that
    executes, before the new program runs."""
    Q_OVERFLOW = 0x00004000
    """The group's queue overflowed: events were lost (2.6.37). Never asked for:
    the kernel queues it once when ``max_queued_events`` is reached."""
    FS_ERROR = 0x00008000
    """A filesystem reported an error (5.16; FID groups, filesystem marks; comes
    with an ERROR info record)."""
    OPEN_PERM = 0x00010000
    """Permission event before an open (2.6.37; FAN_CLASS_CONTENT or higher)."""
    ACCESS_PERM = 0x00020000
    """Permission event before a read (2.6.37; FAN_CLASS_CONTENT or higher)."""
    OPEN_EXEC_PERM = 0x00040000
    """Permission event before an open for execution (5.0)."""
    PRE_ACCESS = 0x00100000
    """Pre-content permission event before a range is accessed (6.14;
    FAN_CLASS_PRE_CONTENT)."""
    MNT_ATTACH = 0x01000000
    """A mount was attached to a watched mount namespace (6.15; FAN_REPORT_MNT)."""
    MNT_DETACH = 0x02000000
    """A mount was detached from a watched mount namespace (6.15; FAN_REPORT_MNT)."""
    EVENT_ON_CHILD = 0x08000000
    """Report events on the direct children of a marked directory (2.6.37);
    implied for filesystem and mount marks."""
    RENAME = 0x10000000
    """One event per rename with the old and the new directory and name (5.17;
    needs FAN_REPORT_DFID_NAME): OLD_DFID_NAME and NEW_DFID_NAME records."""
    ONDIR = 0x40000000
    """Report events on directories too (2.6.37); in a reported mask: the
    subject is a directory (FID groups)."""

    CLOSE = CLOSE_WRITE | CLOSE_NOWRITE
    """Either close."""
    MOVE = MOVED_FROM | MOVED_TO
    """Either half of a move."""


class FanInit(IntFlag):
    """``fanotify_init(2)`` flags."""

    CLOEXEC = 0x00000001
    """Close the group's fd on exec (2.6.37)."""
    NONBLOCK = 0x00000002
    """``read`` returns EAGAIN instead of blocking (2.6.37)."""
    CLASS_NOTIF = 0x00000000
    """Notification only, no permission decisions (2.6.37); the only class an
    unprivileged process may create (5.13)."""
    CLASS_CONTENT = 0x00000004
    """Permission events after content is available (2.6.37; CAP_SYS_ADMIN)."""
    CLASS_PRE_CONTENT = 0x00000008
    """Permission events before content is available (2.6.37; CAP_SYS_ADMIN)."""
    UNLIMITED_QUEUE = 0x00000010
    """No ``max_queued_events`` cap on the queue (2.6.37; CAP_SYS_ADMIN)."""
    UNLIMITED_MARKS = 0x00000020
    """No ``max_user_marks`` cap (2.6.37; CAP_SYS_ADMIN)."""
    ENABLE_AUDIT = 0x00000040
    """Permission decisions may be audited (4.15; CAP_AUDIT_WRITE)."""
    REPORT_PIDFD = 0x00000080
    """Each event carries a PIDFD record: a pidfd of the process, or FAN_NOPIDFD
    when it had exited before the read (5.15; CAP_SYS_ADMIN)."""
    REPORT_TID = 0x00000100
    """``metadata.pid`` is the thread id, not the process id (4.20; CAP_SYS_ADMIN)."""
    REPORT_FID = 0x00000200
    """Identify objects by file handle (FID record) instead of an open fd (5.1);
    allowed without privilege (5.13)."""
    REPORT_DIR_FID = 0x00000400
    """Report the parent directory's handle (DFID record) (5.9)."""
    REPORT_NAME = 0x00000800
    """With REPORT_DIR_FID: also the entry name (DFID_NAME record) (5.9)."""
    REPORT_TARGET_FID = 0x00001000
    """With REPORT_DFID_NAME|REPORT_FID: directory-entry events also carry the
    handle of the child they name (5.17)."""
    REPORT_FD_ERROR = 0x00002000
    """``metadata.fd`` holds an errno instead of FAN_NOFD when opening failed (6.13)."""
    REPORT_MNT = 0x00004000
    """Report mount ids (MNT record) for mount-namespace marks (6.15)."""

    REPORT_DFID_NAME = REPORT_DIR_FID | REPORT_NAME
    """Directory handle and entry name (5.9)."""
    REPORT_DFID_NAME_TARGET = REPORT_DFID_NAME | REPORT_FID | REPORT_TARGET_FID
    """Directory handle and name, plus the child's own handle (5.17)."""


class FanMark(IntFlag):
    """``fanotify_mark(2)`` flags."""

    ADD = 0x00000001
    """Add the mask to the mark (2.6.37)."""
    REMOVE = 0x00000002
    """Remove the mask from the mark (2.6.37)."""
    DONT_FOLLOW = 0x00000004
    """Do not follow a final symlink (2.6.37)."""
    ONLYDIR = 0x00000008
    """Fail unless the path is a directory (2.6.37)."""
    MOUNT = 0x00000010
    """Mark the mount containing the path (2.6.37). A mount mark cannot report
    directory-entry events (create, delete, move, attrib, rename): EINVAL."""
    IGNORED_MASK = 0x00000020
    """The mask is an ignore mask (2.6.37; legacy, see IGNORE)."""
    IGNORED_SURV_MODIFY = 0x00000040
    """The ignore mask survives modification of the object (2.6.37)."""
    FLUSH = 0x00000080
    """Remove every mark of the given kind (2.6.37)."""
    FILESYSTEM = 0x00000100
    """Mark the whole filesystem containing the path (4.20): every object on it,
    through every mount, with one mark."""
    EVICTABLE = 0x00000200
    """An inode mark that does not pin the inode in the cache (5.19)."""
    IGNORE = 0x00000400
    """Ignore mask with well-defined semantics for directories and ONDIR (6.0)."""
    MNTNS = 0x00000110
    """Mark a mount namespace, for MNT_ATTACH/MNT_DETACH (6.15)."""

    INODE = 0x00000000
    """Mark the inode itself (the default, 2.6.37)."""


class InfoType(IntEnum):
    """``fanotify_event_info_header.info_type``: the records after the metadata."""

    FID = 1
    """The object's file handle (5.1)."""
    DFID_NAME = 2
    """The parent directory's handle and the entry name (5.9)."""
    DFID = 3
    """The parent directory's handle (5.9)."""
    PIDFD = 4
    """A pidfd of the process (5.15)."""
    ERROR = 5
    """An FS_ERROR's errno and count (5.16)."""
    RANGE = 6
    """The file range of a PRE_ACCESS event (6.14)."""
    MNT = 7
    """A mount id (6.15)."""
    OLD_DFID_NAME = 10
    """A FAN_RENAME's source directory and name (5.17)."""
    NEW_DFID_NAME = 12
    """A FAN_RENAME's target directory and name (5.17)."""
