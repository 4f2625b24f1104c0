""":class:`WatchManager`: pyinotify's watch table, on one :class:`~inwatch.Watcher`.

It is not a second core: the fd, the kernel watches, recursion, ``auto_add``,
move pairing and the rewriting of paths after renames all belong to the
Watcher, used through its public methods only. What lives here is what
pyinotify programs see on top of it: :class:`~.watch.Watch` objects keyed by
wd, in the order events are processed (those of a recursive add_watch made
only when asked for: until then its directories share one
:class:`~.watch.Group`, and the dict has no entry for them: see groups.py);
return codes (-1 failed, -2 excluded, -3 not a path) and
``WatchManagerError`` texts ending with the errno name, as programs parse
them; and the events pyinotify's own walk of a tree caused.
"""

from __future__ import annotations

import errno as _errno
import glob
import os
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from itertools import pairwise
from typing import Any

from ..inotify.core import InotifyCore
from ..watcher import Watcher
from . import _state, listing
from ._state import PathT
from .added import Added
from .codes import IN_CREATE, IN_DELETE, LISTING
from .errors import WatchManagerError, shown, str_errno
from .groups import Groups
from .handlers import ChainIfTrue
from .watch import OWN, Group, Watch, as_list, dir_excluder, never
from .wdtable import WatchTable

__all__ = ["WatchManager"]


class WatchManager(WatchTable):
    """Watches, as pyinotify's ``WatchManager``, on one :class:`~inwatch.Watcher`.

    ``exclude_filter(path) -> bool`` is the default for :meth:`add_watch`: a
    directory it returns true for is not watched. :meth:`get_fd` is the
    Watcher's fd (close-on-exec); :meth:`close` closes it, and so does garbage
    collection.
    """

    def __init__(self, exclude_filter: Callable[[Any], bool] = never) -> None:
        self._ignore_events = False
        self._exclude_filter = exclude_filter
        # wd -> its Watch. The directories of a recursive add_watch have no
        # entry until their Watch is asked for (get_watch): their Group stands
        # for them (_groups, looked up by wd). Every wd we hold is in exactly
        # one of the two.
        self._wmd: dict[int, Watch] = {}
        self._groups = Groups()
        # Set once a program got _wmd itself (the watches property): it may
        # keep the dict and read it later, so from then on every wd's entry
        # is its Watch from the start (no Group) — it sees nothing else.
        self._shown = False
        # pyinotify's API is inotify's (wds, per-directory watches, IN_* masks).
        self._watcher = Watcher(backend="inotify", onerror=self._runtime_error)
        self._table: Mapping[int, str] = self._watcher.watches
        self._fd: int | None = self._watcher.fileno()
        # Set when an event processed may mean the Watcher dropped watches
        # silently (see _sync_dropped).
        self._maybe_dropped = False
        # wds the program removed (rm_watch, del_watch): events of theirs still
        # queued are not theirs to adopt again (pyinotify drops them too).
        self._removed: set[int] = set()
        # Directories announced (IN_CREATE|IN_ISDIR processed) under a path the
        # Watcher no longer has (renamed or gone since it read the event): their
        # parent Watch, by that path, for their events to come (see _unknown).
        self._announced_at: dict[str, Watch | Group] = {}
        # Called after add_watch added a watch: a ThreadedNotifier or an
        # AsyncioNotifier whose driver ended (no watch was left) starts it again.
        self._on_add: list[Callable[[], None]] = []
        # A watch was added with a relative path: its events' pathnames must be
        # made absolute (the notifiers then present events as _RelativeEvent).
        self._relative = False
        # Events to hand out before anything read from now on: what the kernel
        # queued before a walk, then its listing events (listing.py, _attach).
        self._feeds: deque[Iterator[Any]] = deque()
        self._plain_readers = 0
        self._other_readers = 0
        self._reader: int | None = None  # the thread of the last check/read_events
        self._lock = threading.RLock()  # add/rm_watch; a notifier processing
        # Watches made from their Group (get_watch): held only while making
        # them, never around anything that calls out (handlers, the kernel).
        self._making = threading.Lock()

    def _attach(self, plain: bool) -> None:
        """A notifier reads this manager; *plain*: it reads only when asked."""
        if plain:
            self._plain_readers += 1
        else:
            self._other_readers += 1

    @staticmethod
    def _runtime_error(err: OSError) -> None:
        """A directory the Watcher could not watch as it appeared (auto_add):
        logged as pyinotify logs a failed add_watch."""
        where = shown(err.filename) if err.filename is not None else "?"
        _state.log().error(f"add_watch: cannot watch {where} WD=-1, {str_errno(err.errno)}")

    # --- the fd ---------------------------------------------------------------

    def get_fd(self) -> int | None:
        """The inotify fd (poll it for reading); None once closed."""
        return self._fd

    def close(self) -> None:
        """Close the fd: every watch goes. The manager cannot be used after."""
        self._fd = None
        self._feeds.clear()
        self._watcher.close()

    def __del__(self) -> None:
        # pyinotify programs rarely close their manager: do it quietly for them.
        watcher = getattr(self, "_watcher", None)
        if watcher is not None:
            watcher.close()

    # --- adding ---------------------------------------------------------------

    def add_watch(
        self,
        path: Any,
        mask: int,
        proc_fun: Any = None,
        rec: bool = False,
        auto_add: bool = False,
        do_glob: bool = False,
        quiet: bool = True,
        exclude_filter: Callable[[Any], bool] | None = None,
    ) -> dict[Any, int]:
        """Watch *path* (or each path of a list) for *mask*; return ``{path: wd}``.

        ``rec`` watches every subdirectory too; ``auto_add`` watches the
        directories created later (and reports what they already hold as
        IN_CREATE, exactly once), and adds IN_CREATE to *mask*. ``do_glob``
        expands patterns. A wd of -1 means the kernel refused (logged, or
        :class:`WatchManagerError` with ``quiet=False``), -2 that
        ``exclude_filter`` excluded the path, -3 that it is not a path.
        ``str``, ``bytes`` and ``os.PathLike`` paths are accepted; events of a
        bytes watch carry bytes paths.
        """
        ret = Added()  # (a tree's entries are filled in when it is read: see there)
        if exclude_filter is None:
            exclude_filter = self._exclude_filter
        if auto_add:
            mask |= IN_CREATE
        with self._lock:  # no notifier processes events of half-added watches
            for npath in as_list(path):
                if not isinstance(npath, (str, bytes, os.PathLike)):
                    ret.put(npath, -3)
                    continue
                npath = os.fspath(npath)
                found: Iterable[Any] = glob.iglob(npath) if do_glob else [npath]
                for apath in found:
                    self._add_one(apath, mask, proc_fun, rec, auto_add, quiet, exclude_filter, ret)
        # (its own entries only, the roots among them: a tree is not filled in)
        if self._on_add and any(isinstance(wd, int) and wd >= 0 for wd in dict.values(ret)):
            for hook in list(self._on_add):
                hook()
        return ret

    def _add_one(
        self,
        apath: PathT,
        mask: int,
        proc_fun: Any,
        rec: bool,
        auto_add: bool,
        quiet: bool,
        exclude_filter: Callable[[Any], bool],
        ret: Added,
    ) -> None:
        if exclude_filter(apath):
            ret.put(apath, -2)
            return
        excluded: list[str] = []
        failed: list[OSError] = []
        is_link = os.path.islink(apath)
        recursive = rec and not is_link and os.path.isdir(apath)
        # The walk's listing events made here, not by the kernel (listing.py),
        # for readers that wake on nothing but their own calls, on their thread.
        made_here = bool(recursive and mask & LISTING and self._fd is not None)
        made_here = made_here and self._plain_readers > 0 and not self._other_readers
        made_here = made_here and self._reader in (None, threading.get_ident())
        try:
            if made_here:
                made_here = listing.drain(self._watcher, self._feeds)
            wd = self._add_root(
                apath,
                mask,
                recursive=recursive,
                exclude=None if exclude_filter is never else dir_excluder(exclude_filter, excluded),
                follow_symlinks=is_link,
                auto_add=auto_add,
                onerror=failed.append,
                listing_events=bool(mask & LISTING) and not made_here,
            )
        except OSError as err:
            ret.put(apath, -1)
            self._fail(f"add_watch: cannot watch {shown(apath)} WD=-1", err, quiet, ret)
            return
        as_bytes = isinstance(apath, bytes)
        table = self._table
        ret.put(apath, wd)
        if not os.path.isabs(apath):
            self._relative = True
        with self._making:
            self._wmd[wd] = Watch(wd, apath, mask, proc_fun, auto_add, exclude_filter, table=table)
            if self._groups:
                self._groups.leave(wd, OWN)  # (a directory of a tree, watched again)
        self._removed.discard(wd)
        if recursive:
            core = self._watcher._core
            assert isinstance(core, InotifyCore)
            # os.walk's order (pyinotify's return dict is in it), not the table's;
            # as 4-byte items, not int objects (32 bytes each, a watch).
            wds = listing.preorder(core.table.kids, wd)
            paths = [table[sub_wd] for sub_wd in wds]
            removed = self._removed
            # The kernel hands out wds in increasing order (idr_alloc_cyclic)
            # and the walk registered the directories in this order, so the
            # Group's wds are ascending and bisectable; if not (a directory
            # watched before, by another call; the wds wrapped around), or if
            # a program holds our dict, every directory gets its Watch now,
            # as without Groups.
            grouped = bool(wds) and all(a < b for a, b in pairwise(wds))
            group = None
            with self._making:  # (get_watch, the watches property: see there)
                if grouped and not self._shown:
                    group = Group(
                        wds,
                        paths,
                        mask,
                        proc_fun,
                        auto_add,
                        exclude_filter,
                        table=table,
                        as_bytes=as_bytes,
                    )
                    self._replace_own(group)
                    if not group.live or not self._groups.add(group):
                        group = None
                if group is not None:
                    # Its entries, read from what the Group keeps, when ret is read.
                    ret.add_tree(paths, group.wds_all(), as_bytes)
                else:
                    self._watch_each(
                        wds, paths, mask, proc_fun, auto_add, exclude_filter, ret, as_bytes
                    )
                if group is not None and removed:
                    removed.difference_update(wds)
            if made_here and paths:
                top: PathT = os.fsencode(table[wd]) if as_bytes else table[wd]
                walked = zip(
                    (os.fsencode(p) for p in paths) if as_bytes else paths, wds, strict=True
                )
                self._feeds.append(listing.events(top, wd, walked, mask))
            for p in excluded:
                ret.put(os.fsencode(p) if as_bytes else p, -2, default=True)
            for failure in failed:
                where = failure.filename if failure.filename is not None else apath
                ret.put(os.fsencode(where) if as_bytes else where, -1)
                self._fail(f"add_watch: cannot watch {shown(where)} WD=-1", failure, quiet, ret)

    def _replace_own(self, group: Group) -> None:
        """Members that have a Watch of their own already (a directory watched
        before, by a call that made it its Watch): the kernel gave this call
        the same wd, and pyinotify replaces the entry with this call's Watch."""
        wmd = self._wmd
        # (whichever is shorter: usually the dict, which holds the roots)
        if len(wmd) < group.live:
            found = [(i, wd) for wd in list(wmd) if (i := group.index(wd)) >= 0]
        else:
            found = [(i, wd) for i, wd in enumerate(group.wds_all()) if wd in wmd]
        for i, sub_wd in found:
            wmd[sub_wd] = group.watch(sub_wd)
            group.leave(i, OWN)

    def _watch_each(
        self,
        wds: Sequence[int],
        paths: list[str],
        mask: int,
        proc_fun: Any,
        auto_add: bool,
        exclude_filter: Callable[[Any], bool],
        ret: Added,
        as_bytes: bool,
    ) -> None:
        """A tree's directories, each its own Watch at once (no Group)."""
        for sub_wd, path in zip(wds, paths, strict=True):
            sub: PathT = os.fsencode(path) if as_bytes else path
            ret.put(sub, sub_wd)  # (one int object for ret and ours)
            self._removed.discard(sub_wd)
            if self._groups:
                self._groups.leave(sub_wd, OWN)
            self._wmd[sub_wd] = Watch(
                sub_wd,
                sub,
                mask,
                proc_fun,
                auto_add,
                exclude_filter,
                table=self._table,
                is_dir=True,
            )

    def _add_root(self, apath: PathT, mask: int, **options: Any) -> int:
        """Watcher.add, asking for pyinotify's view of its own walk.

        pyinotify's walk listed each directory (os.walk, top-down) just before
        watching it, so a program saw, on each parent's watch, IN_OPEN, IN_ACCESS
        (the kernel merges those of consecutive getdents calls) and
        IN_CLOSE_NOWRITE, with IN_ISDIR and the subdirectory's name, when its
        mask asks for them, and nothing on the directories' own watches; some
        programs count those events. The Watcher's walk lists quietly unless
        asked (listing_events, see inotify/roots.py: same cost a directory);
        _add_one asks unless it makes them itself (listing.py)."""
        self._watcher._check_open()
        core = self._watcher._core
        assert isinstance(core, InotifyCore)  # Watcher(backend="inotify"), see __init__
        if apath in ("", b""):
            raise FileNotFoundError(2, "No such file or directory", apath)
        return core.add_root(
            os.fsdecode(apath), int(mask), as_bytes=isinstance(apath, bytes), **options
        )

    @staticmethod
    def _fail(what: str, err: OSError, quiet: bool, ret: dict[Any, Any]) -> None:
        msg = f"{what}, {str_errno(err.errno)}"
        if not quiet:
            raise WatchManagerError(msg, ret) from err
        _state.log().error(msg)

    # --- changing and removing ------------------------------------------------

    def update_watch(
        self,
        wd: Any,
        mask: int | None = None,
        proc_fun: Any = None,
        rec: bool = False,
        auto_add: bool = False,
        quiet: bool = True,
    ) -> dict[int, bool]:
        """Change the mask, handler or ``auto_add`` of *wd* (or each wd of a
        list; with ``rec``, of every watch below too). ``Watch.mask`` follows
        the new mask. Returns ``{wd: bool}``."""
        lwd = as_list(wd)
        if rec:
            lwd = self._with_subtrees(lwd)
        ret: dict[int, bool] = {}
        for awd in lwd:
            watch = self.get_watch(awd) if isinstance(awd, int) else None
            if watch is None or awd < 0:
                msg = f"update_watch: invalid WD={awd}"
                if not quiet:
                    raise WatchManagerError(msg, ret)
                _state.log().error(msg)
                continue
            new_mask = None
            if mask:
                new_mask = mask
            if auto_add and not (new_mask or watch.mask) & IN_CREATE:
                new_mask = (new_mask or watch.mask) | IN_CREATE
            if new_mask is not None:
                try:
                    self._watcher.set_mask(awd, new_mask)
                except OSError as err:
                    ret[awd] = False
                    what = f"update_watch: cannot update {shown(watch.path)} WD=-1"
                    self._fail(what, err, quiet, ret)
                    continue
                watch.mask = new_mask
            if proc_fun:
                watch.proc_fun = proc_fun
            if auto_add:
                watch.auto_add = True
                self._watcher.set_auto_add(awd)
            ret[awd] = True
        return ret

    def _with_subtrees(self, lwd: list[Any]) -> list[Any]:
        out: list[Any] = []
        seen: set[Any] = set()
        for wd in lwd:
            subs = self._watcher.subtree(wd) if isinstance(wd, int) else []
            for sub_wd in subs or [wd]:
                if sub_wd not in seen:
                    seen.add(sub_wd)
                    out.append(sub_wd)
        return out

    def rm_watch(self, wd: Any, rec: bool = False, quiet: bool = True) -> dict[int, bool]:
        """Remove watch *wd* (an int, a list, or any iterable such as
        ``add_watch(...).values()``); with ``rec``, every watch below it too.
        Returns ``{wd: bool}``; a wd the kernel does not know is False (or
        :class:`WatchManagerError` with ``quiet=False``, ending in ``(EINVAL)``)."""
        lwd = as_list(wd)
        if rec:
            lwd = self._with_subtrees(lwd)
        with self._lock:
            return self._rm_watches(lwd, quiet)

    def _rm_watches(self, lwd: list[Any], quiet: bool) -> dict[int, bool]:
        ret: dict[int, bool] = {}
        for awd in lwd:
            try:
                if not isinstance(awd, int) or awd < 0:
                    raise OSError(_errno.EINVAL, os.strerror(_errno.EINVAL))
                self._watcher.unwatch(awd)
            except OSError as err:
                ret[awd] = False
                self._fail(f"rm_watch: cannot remove WD={awd}", err, quiet, ret)
                continue
            self._forget(awd)
            self._removed.add(awd)
            ret[awd] = True
        return ret

    def watch_transient_file(self, filename: Any, mask: int, proc_class: Any) -> dict[Any, int]:
        """Watch a file that comes and goes (a pid file): its directory is
        watched, and only events named like the file reach ``proc_class``
        (a ProcessEvent subclass, instantiated here)."""
        filename = os.fspath(filename)
        dirname = os.path.dirname(filename)
        if not dirname:
            return {}
        basename = os.path.basename(filename)
        mask |= IN_CREATE | IN_DELETE

        def cmp_name(event: Any) -> bool:
            return bool(getattr(event, "name", None) == basename)

        return self.add_watch(
            dirname,
            mask,
            proc_fun=proc_class(ChainIfTrue(func=cmp_name)),
            rec=False,
            auto_add=False,
            do_glob=False,
            exclude_filter=never,
        )

    def get_ignore_events(self) -> bool:
        return self._ignore_events

    def set_ignore_events(self, nval: bool) -> None:
        self._ignore_events = nval

    ignore_events = property(
        get_ignore_events, set_ignore_events, doc="Drop events instead of processing them."
    )
