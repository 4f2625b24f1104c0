"""The fanotify backend: who did it, on a whole filesystem with one mark.

::

    from inwatch.fanotify import FanotifyBackend, availability

    ok, why = availability("/srv")          # may this process use it here?
    with FanotifyBackend() as b:             # CAP_SYS_ADMIN for actors; see below
        b.add("/srv", recursive=True, exclude=["*.tmp"])
        while True:                          # or hand it to the shared drivers
            select.select([b], [], [])
            for e in b.process(b.read_raw()):
                print(e.maskname, e.pathname, e.actor)

Events are :class:`inwatch.Event` objects as under inotify (``wd``: the id
``add`` returned for the tree; ``cookie`` on a rename's pair), plus ``actor``
(:class:`inwatch.event.Actor`). What it cannot do as inotify does is listed,
with the reason, in :data:`.backend.CANNOT`. Choices, where the kernel leaves
room:

- One FAN_MARK_FILESYSTEM mark per filesystem; paths outside the watched trees
  are dropped in user space, and excluded directories and the listener's own
  files by the kernel (ignore marks, :mod:`.ignores`). Adding a tree costs one
  mark, not a walk.
- Renames as inotify gives them: inside the trees MOVED_FROM then MOVED_TO
  (``src_pathname``), one cookie; moved out, MOVED_FROM; moved in, MOVED_TO.
  From one FAN_RENAME record (5.17), or before 5.17 (and with
  ``rename=False``) from the FAN_MOVED_FROM/FAN_MOVED_TO halves, paired
  (:mod:`.moves`). Linux 5.9 is the minimum (FAN_REPORT_DFID_NAME).
- The kernel merges events of one object while unread: a merged record is
  expanded in life order (create, open, exec, read, write, attrib, close,
  moved away, deleted); repeats are lost, so counts are lower bounds.
- ``*_SELF`` events are delivered for directories and file roots only, as
  inotify would; ``Mask`` bit 0x1000 (:data:`.core.EXEC`) is an exec
  (FAN_OPEN_EXEC), fanotify only.
- The listener's own activity is never delivered (``ignore_own=False`` to
  turn that off, for tests).
- After FAN_Q_OVERFLOW: ``Q_OVERFLOW``, then a rescan: names diffed against a
  snapshot with ``add(..., snapshot=True)``, else entries changed since we went
  blind (ctime) as MODIFY.
- Actors are never wrong, sometimes incomplete: see :mod:`.actors`. Without
  CAP_SYS_ADMIN (a tmpfs in your own user namespace) no pidfd and no proc
  connector: other processes' events carry ``Actor(0, ..., "hidden")``.

Modules, leaves first: ``flags`` (the kernel's bits), ``errors``, ``_sys`` (the
only ctypes), ``wire`` (the pure parser), ``fd`` (the group's fd), ``handles``
(handle -> path), ``proc`` (the proc connector), ``actors`` (pid -> Actor,
pidfd-safe), ``rescan`` (tree diff after an overflow), ``roots`` (what one
``add`` watches), ``moves`` (rename halves paired), ``ignores`` (in-kernel
ignore marks), ``core`` (records -> :class:`inwatch.Event`), ``backend`` (the
backend), ``buffered`` (its :class:`inwatch.drivers.Backend` for the drivers)
and ``limits``.
"""

from __future__ import annotations

from .backend import FanotifyBackend, availability
from .errors import (
    FanotifyError,
    FanotifyParseError,
    FanotifyPermissionError,
    NoFileHandlesError,
    UnsupportedEventError,
)
from .flags import FanInit, FanMark, FanMask
from .limits import FanotifyLimits, limits

__all__ = [
    "FanInit",
    "FanMark",
    "FanMask",
    "FanotifyBackend",
    "FanotifyError",
    "FanotifyLimits",
    "FanotifyParseError",
    "FanotifyPermissionError",
    "NoFileHandlesError",
    "UnsupportedEventError",
    "availability",
    "limits",
]
