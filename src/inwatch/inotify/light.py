"""Does the next ``process()`` need file-system I/O? (for the asyncio driver)

The asyncio driver processes on the event loop itself when it can: a hop to a
worker thread and back costs the loop two wake-ups per event (a thread's
futex and the loop's self-pipe). It may not when processing lists directories
(a new directory with 50,000 subdirectories is a second of listing and
watching) or rescans a tree after an overflow. This module answers, from the
records the next ``process()`` call dispatches and the core's pending state,
whether that call stays in memory: then it costs microseconds an event, and
never more than a batch (``core.BATCH`` events).

What needs I/O (see ``core.py``): a directory that arrives (``CREATE`` or
``MOVED_TO`` with ``ISDIR``: watch, then list) or leaves (``DELETE``,
``MOVED_FROM``: a subtree dropped, or followed by a listing's sighting), an
overflow (rescan everything), an unmount, a root's ``MOVE_SELF`` (where did it
go: ``/proc/self/fd``), ``IGNORED`` (rare; kept off the loop to stay simple),
news of mounts, and every kind of held or pending work (findings of a listing
waiting for a read, a rename waiting for its pair, directories to relist).
The answer is conservative: "no" only sends the work to the worker thread.
"""

from __future__ import annotations

from functools import reduce
from operator import length_hint, or_
from typing import TYPE_CHECKING

from ..flags import (
    IN_CREATE,
    IN_DELETE,
    IN_IGNORED,
    IN_ISDIR,
    IN_MOVE_SELF,
    IN_MOVED_FROM,
    IN_MOVED_TO,
    IN_Q_OVERFLOW,
    IN_UNMOUNT,
)
from .wire import parse_flat

if TYPE_CHECKING:
    from .core import InotifyCore

__all__ = ["io_free"]


_HEAVY = IN_MOVE_SELF | IN_UNMOUNT | IN_Q_OVERFLOW | IN_IGNORED
_DIR_CHANGE = IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE
_ANY = _HEAVY | IN_ISDIR

# A read not parsed yet is parsed here to be looked at, and again by the
# dispatcher: worth it for the small reads of events coming one at a time
# (the latency path), not for a storm's 64 KiB reads (those go to the worker
# for their first batch; once parsed, the rest of them is looked at in place).
PEEK_MAX = 4096


def _light(masks: list[int]) -> bool:
    """None of *masks* needs I/O (one OR over all of them in the common case).

    Over the distinct masks: a burst's are a handful of values, and set() is
    one C pass where reduce() calls or_ once a mask (~100 instructions an
    event of async for's burst, callgrind)."""
    if not reduce(or_, set(masks), 0) & _ANY:
        return True
    return not any(mask & _HEAVY or (mask & IN_ISDIR and mask & _DIR_CHANGE) for mask in masks)


def io_free(core: InotifyCore, batch: int) -> bool:
    """True if the next ``core.process()`` (up to *batch* events) does no
    file-system I/O; call it with nothing else processing (the caller owns
    processing: no other thread is in ``process()``)."""
    recent = core.recent
    if (
        core._mounted
        or core.moves._pending
        or recent._items
        or recent._echo
        or core.pending
        or core.unlisted
        or core.relisted
        or core.closed
    ):
        return False
    left = batch
    if core._records is not None:
        flat = core._flat
        rest = length_hint(core._it)  # flat items not dispatched yet
        start = len(flat) - rest
        masks = flat[start + 1 : start + 1 + 4 * batch : 4]
        if not _light(masks):
            return False
        left -= len(masks)
    # (A reader thread only appends: a copy is enough to walk.)
    for data, _started in list(core._chunks):
        if left <= 0:
            break
        if len(data) > PEEK_MAX:
            return False
        masks = parse_flat(data)[1::4]
        if not _light(masks):
            return False
        left -= len(masks)
    return True
