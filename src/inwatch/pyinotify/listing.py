"""pyinotify's walk of a tree, told to a blocking Notifier without the kernel queue.

pyinotify's recursive ``add_watch`` walks the tree with ``os.walk`` (top-down,
each directory listed just before it is watched), so every subdirectory's
listing is reported on its parent's watch: IN_OPEN, IN_ACCESS (the kernel
merges those of consecutive getdents calls) and IN_CLOSE_NOWRITE, each with
IN_ISDIR and the subdirectory's name, in walk order, when the mask asks for
them. That is 3 events a directory: a 50,000-directory tree queues 150,000,
nine times the default kernel queue (``max_queued_events``, 16,384). Letting
the kernel report them (the Watcher's ``listing_events``) therefore overflowed
the queue on any large tree: pyinotify 0.9.6 itself loses the rest of them and
everything else queued meanwhile; the layer lost nothing but paid a rescan of
the whole tree (issue 15: 38 µs a watch against the native Watcher's 16).

So, for a manager read by plain blocking Notifiers (which read only when the
program asks them to: check_events / read_events), the walk is the Watcher's
quiet one and those events are made here, lazily, from the watches the walk
added, in the same order and at the same place in the stream:

- *Before*: whatever the kernel had queued before the walk is read first
  (:func:`drain`) and queued ahead of the listing, as it was ahead of it in
  the kernel's queue.
- *After*: whatever is read later (happened during or after the walk) is
  queued behind it (the notifier's ``_queue_events``).

Notifiers driven by a thread, an event loop or the fd itself (ThreadedNotifier,
AsyncioNotifier, the fd notifiers) and Notifiers with a ``threshold`` keep the
kernel route: they wake on the fd, which the events made here would not.
"""

from __future__ import annotations

import time
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from ..event import Event as _NativeEvent
from .codes import IN_ACCESS, IN_CLOSE_NOWRITE, IN_ISDIR, IN_OPEN

__all__ = ["drain", "events", "preorder"]

# The timeout of a Watcher read that must not wait (see notifiers._NO_WAIT).
_NO_WAIT = 1e-9


def preorder(kids: Callable[[int], Sequence[int]], top: int) -> array[int]:
    """The wds below *top*, in os.walk's top-down order: depth first, each
    directory's children in listing order (the order the Watcher's walk, a
    stack, registered them in). An array: 4 bytes a wd, where a list of
    ints would cost 40 (the table stores children as runs, so each int is a
    new object)."""
    out: array[int] = array("i")
    stack = list(reversed(kids(top)))
    pop, push, append = stack.pop, stack.extend, out.append
    while stack:
        wd = pop()
        append(wd)
        below = kids(wd)
        if below:
            push(reversed(below))
    return out


def drain(watcher: Any, into: Any) -> bool:
    """Read everything queued in the kernel (and read but not handed out) now,
    onto *into* (a deque of iterators), in order: it comes before the listing
    about to be made. False if another thread is inside the Watcher's read (a
    Notifier waiting in check_events while add_watch is called from elsewhere):
    then the kernel must report the listing itself, behind what was taken."""
    while True:
        try:
            batch = watcher.read(timeout=_NO_WAIT)
        except RuntimeError:  # "read() from two threads at once"
            return False
        if batch:
            into.append(iter(batch))
        if not batch or not watcher.backlog:
            return True


def events(
    root_path: Any, root_wd: int, walked: Iterable[tuple[Any, int]], mask: int
) -> Iterator[Any]:
    """The events pyinotify's walk made the kernel queue: for each directory
    of *walked* (``(path, wd)`` in walk order; paths as the walk found them, below
    *root_path*), on its parent's watch, OPEN, ACCESS and CLOSE_NOWRITE (those
    *mask* asks for) with ISDIR and its name. Made as they are consumed, a few
    hundred at a time: never the whole tree's worth at once."""
    bits = [b | IN_ISDIR for b in (IN_OPEN, IN_ACCESS, IN_CLOSE_NOWRITE) if mask & b]
    if not bits:
        return
    sep: Any = b"/" if isinstance(root_path, bytes) else "/"
    now = time.time()
    # (path, wd) of the directories from the root down to the last one made.
    stack: list[tuple[Any, int]] = [(root_path, root_wd)]
    event = _NativeEvent
    for path, wd in walked:
        cut = path.rfind(sep)
        parent = path[:cut]
        while stack and stack[-1][0] != parent:
            stack.pop()
        if not stack:  # not below the root (cannot happen: the walk joined it)
            stack.append((root_path, root_wd))
            continue
        pwd = stack[-1][1]
        name = path[cut + 1 :]
        for m in bits:
            yield event(pwd, m, 0, name, parent, None, "scan", now, None, path)
        stack.append((path, wd))
