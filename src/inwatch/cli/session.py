"""Setting up a :class:`~inwatch.Watcher` from the command line, and the event
filter every command applies (``-e``, ``--exclude``, the regexes).

``--exclude GLOB`` is matched with :func:`fnmatch.fnmatchcase` against the
entry's name, against its path relative to the watched root, and against each
leading part of that relative path (so ``--exclude .git`` hides ``.git/objects/x``
too). It is given to the Watcher, so excluded directories are never watched, and
applied again to the events, so excluded files in a watched directory are not
shown either.
"""

from __future__ import annotations

import errno
import os
import re
import sys
from collections.abc import Callable, Sequence
from fnmatch import fnmatchcase
from typing import Any

from ..flags import IN_IGNORED, Mask
from ._common import Progress, error_line
from .args import CliError
from .events import ALWAYS_SHOWN, UnknownEventError, parse_events_option
from .format import EventLike

__all__ = ["EventFilter", "Roots", "event_mask", "open_watches"]


def event_mask(values: list[str] | None, default: int = int(Mask.ALL_EVENTS)) -> tuple[int, int]:
    """``(watch mask, shown mask)`` for the ``-e`` values.

    Without ``-e`` every event is watched and shown (IGNORED included). With
    ``-e`` the named events are shown, plus Q_OVERFLOW and UNMOUNT, which mean
    events were lost or a watch went away and are never hidden.
    """
    try:
        mask = parse_events_option(values)
    except UnknownEventError as exc:
        raise CliError(str(exc)) from None
    if mask is None:
        return default, default | ALWAYS_SHOWN | IN_IGNORED
    watch = mask & int(Mask.ALL_EVENTS)
    if not watch:  # only unasked-for events named: the kernel needs one real bit
        watch = int(Mask.DELETE_SELF)
    return watch, mask | ALWAYS_SHOWN


class Roots:
    """The watched roots, as the Watcher names them: relative paths and ``%w``.

    A PATH that is a symbolic link is watched as its target (its real path)
    unless *dereference* is false (``-P``: the link itself is watched).
    """

    def __init__(self, paths: Sequence[str], dereference: bool = True) -> None:
        self.paths = [
            os.path.realpath(p) if dereference and os.path.islink(p) else os.path.normpath(p)
            for p in paths
        ]
        self.files = frozenset(p for p in self.paths if os.path.islink(p) or not os.path.isdir(p))

    def relative(self, pathname: str) -> str | None:
        for root in self.paths:
            if pathname == root:
                return ""
            prefix = root if root.endswith("/") else root + "/"
            if pathname.startswith(prefix):
                return pathname[len(prefix) :]
        return None


def glob_excluded(globs: Sequence[str], name: str, rel: str | None) -> bool:
    """Whether *name* / the relative path *rel* matches one of *globs*."""
    if not globs:
        return False
    candidates = [name] if name else []
    if rel:
        parts = rel.split("/")
        candidates.extend(parts)
        candidates.extend("/".join(parts[: i + 1]) for i in range(1, len(parts)))
    return any(fnmatchcase(c, g) for g in globs for c in candidates)


class EventFilter:
    """Which events a command shows."""

    def __init__(
        self,
        shown: int,
        roots: Roots,
        globs: Sequence[str] = (),
        excluded_paths: Sequence[str] = (),
        exclude_regex: str | None = None,
        include_regex: str | None = None,
    ) -> None:
        self.shown = shown
        self.roots = roots
        self.globs = list(globs)
        self.excluded_paths = [p.rstrip("/") for p in excluded_paths]
        try:
            self.exclude_re = re.compile(exclude_regex) if exclude_regex else None
            self.include_re = re.compile(include_regex) if include_regex else None
        except re.error as exc:
            raise CliError(f"bad regular expression {exc.pattern!r}: {exc}") from None

    def path_excluded(self, pathname: str) -> bool:
        """The path-only part of the filter (what the Watcher is given)."""
        for p in self.excluded_paths:
            if pathname == p or pathname.startswith(p + "/"):
                return True
        rel = self.roots.relative(pathname)
        return glob_excluded(self.globs, os.path.basename(pathname), rel)

    def __call__(self, ev: EventLike) -> bool:
        if not ev.mask & self.shown:
            return False
        if ev.mask & Mask.Q_OVERFLOW:
            return True
        pathname = _s(ev.pathname)
        if self.path_excluded(pathname):
            return False
        if self.exclude_re is not None and self.exclude_re.search(pathname):
            return False
        return not (self.include_re is not None and not self.include_re.search(pathname))


def _s(value: str | bytes) -> str:
    return os.fsdecode(value) if isinstance(value, bytes) else value


def warn_error(exc: OSError) -> None:
    """A directory that appeared while watching and cannot be watched (no
    permission, the watch limit): one line on stderr, and the watch goes on."""
    sys.stderr.write(f"inwatch: warning: {error_line(exc)}\n")
    sys.stderr.flush()


def setup_error(exc: OSError) -> None:
    """A subdirectory met while setting up: a warning, except the watch limit,
    which ends the command (with how many watches the tree needs)."""
    if exc.errno == errno.ENOSPC:
        raise exc
    warn_error(exc)


def open_watches(
    watcher: Any,
    paths: Sequence[str],
    mask: int,
    recursive: bool,
    exclude: Callable[[str], bool] | None,
    quiet: bool,
) -> None:
    """Add every PATH to *watcher*, with ``Setting up watches.``, progress, and
    ``Watches established.`` on stderr (unless *quiet*). Errors propagate.

    *paths* are :attr:`Roots.paths`; links met inside a tree are never followed.
    """
    if not quiet:
        sys.stderr.write("Setting up watches.\n")
        sys.stderr.flush()
    progress = Progress(lambda: len(watcher.watches), enabled=not quiet and recursive)
    try:
        for path in paths:
            if not os.path.lexists(path):
                raise FileNotFoundError(errno.ENOENT, "no such file or directory to watch", path)
            watcher.add(
                path,
                mask=mask,
                recursive=recursive,
                exclude=exclude,
                follow_symlinks=False,
                onerror=setup_error,
            )
    finally:
        progress.close()
    if not quiet:
        sys.stderr.write("Watches established.\n")
        sys.stderr.flush()
