"""A drop-in for pyinotify 0.9.6: ``import inwatch.pyinotify as pyinotify``.

Every public name of pyinotify 0.9.6, on inwatch's core (see
:mod:`inwatch.compat`, which this module re-exports). ``asyncore`` is imported
only when ``AsyncNotifier`` is used. ``python -m inwatch.pyinotify [options]
[path ...]`` is pyinotify's command line (``-r -a -g -e EVENTS -s -V -f -c CMD
-v``).
"""

from __future__ import annotations

import sys
from typing import Any

from . import compat as _compat
from .compat import (
    ALL_EVENTS,
    AsyncioNotifier,
    ChainIfTrue,
    ColoredOutputFormat,
    Event,
    EventsCodes,
    ExcludeFilter,
    InotifyBindingNotFoundError,
    INotifyWrapper,
    Notifier,
    NotifierError,
    PrintAllEvents,
    ProcessEvent,
    ProcessEventError,
    ProcINotify,
    PyinotifyError,
    RawOutputFormat,
    Stats,
    ThreadedNotifier,
    TornadoAsyncNotifier,
    UnsupportedPythonVersionError,
    Watch,
    WatchManager,
    WatchManagerError,
    compatibility_mode,
    log,
    logger_init,
    max_queued_events,
    max_user_instances,
    max_user_watches,
)
from .flags import (
    IN_ACCESS,
    IN_ATTRIB,
    IN_CLOSE_NOWRITE,
    IN_CLOSE_WRITE,
    IN_CREATE,
    IN_DELETE,
    IN_DELETE_SELF,
    IN_DONT_FOLLOW,
    IN_EXCL_UNLINK,
    IN_IGNORED,
    IN_ISDIR,
    IN_MASK_ADD,
    IN_MODIFY,
    IN_MOVE_SELF,
    IN_MOVED_FROM,
    IN_MOVED_TO,
    IN_ONESHOT,
    IN_ONLYDIR,
    IN_OPEN,
    IN_Q_OVERFLOW,
    IN_UNMOUNT,
)

__version__ = "0.9.6"
__author__ = "inwatch developers (API of pyinotify by Sebastien Martini)"

__all__ = [
    "ALL_EVENTS",
    "COMPATIBILITY_MODE",  # noqa: F822  (module __getattr__)
    "IN_ACCESS",
    "IN_ATTRIB",
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
    "IN_MODIFY",
    "IN_MOVED_FROM",
    "IN_MOVED_TO",
    "IN_MOVE_SELF",
    "IN_ONESHOT",
    "IN_ONLYDIR",
    "IN_OPEN",
    "IN_Q_OVERFLOW",
    "IN_UNMOUNT",
    "AsyncioNotifier",
    "ChainIfTrue",
    "ColoredOutputFormat",
    "Event",
    "EventsCodes",
    "ExcludeFilter",
    "INotifyWrapper",
    "InotifyBindingNotFoundError",
    "Notifier",
    "NotifierError",
    "PrintAllEvents",
    "ProcINotify",
    "ProcessEvent",
    "ProcessEventError",
    "PyinotifyError",
    "RawOutputFormat",
    "Stats",
    "ThreadedNotifier",
    "TornadoAsyncNotifier",
    "UnsupportedPythonVersionError",
    "Watch",
    "WatchManager",
    "WatchManagerError",
    "command_line",
    "compatibility_mode",
    "log",
    "logger_init",
    "max_queued_events",
    "max_user_instances",
    "max_user_watches",
    "output_format",  # noqa: F822
]


def __getattr__(name: str) -> Any:
    # State that lives in inwatch.compat (switched by compatibility_mode() and
    # command_line()), and AsyncNotifier, built (importing asyncore) on first use.
    if name in ("COMPATIBILITY_MODE", "output_format"):
        return getattr(_compat, name)
    if name == "AsyncNotifier":
        return _compat._make_async_notifier()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


def command_line(argv: list[str] | None = None) -> int:
    """pyinotify's command line: print the events under the given paths (default
    ``/tmp``) until Ctrl-C. Returns the exit status."""
    import optparse
    import subprocess

    parser = optparse.OptionParser(
        usage="usage: %prog [options] [path1] [path2] [pathn]", prog="python -m inwatch.pyinotify"
    )
    parser.add_option("-v", "--verbose", action="store_true", dest="verbose", help="Verbose mode")
    parser.add_option(
        "-r", "--recursive", action="store_true", dest="recursive", help="Add watches recursively"
    )
    parser.add_option(
        "-a",
        "--auto_add",
        action="store_true",
        dest="auto_add",
        help="Automatically add watches on new directories",
    )
    parser.add_option("-g", "--glob", action="store_true", dest="glob", help="Treat paths as globs")
    parser.add_option(
        "-e",
        "--events-list",
        metavar="EVENT[,...]",
        dest="events_list",
        help="A comma-separated list of events to watch for (defaults to everything)",
    )
    parser.add_option(
        "-s", "--stats", action="store_true", dest="stats", help="Display dummy statistics"
    )
    parser.add_option(
        "-V", "--version", action="store_true", dest="version", help="Pyinotify version"
    )
    parser.add_option(
        "-f",
        "--raw-format",
        action="store_true",
        dest="raw_format",
        help="Disable enhanced output format.",
    )
    parser.add_option(
        "-c", "--command", action="store", dest="command", help="Shell command to run upon event"
    )
    options, args = parser.parse_args(argv)

    if options.version:
        print(__version__)
        return 0
    if options.verbose:
        import logging

        if not log.handlers:
            log.addHandler(logging.StreamHandler())
        log.setLevel(10)
    if not options.raw_format:
        _compat.output_format = ColoredOutputFormat()

    mask = 0
    if options.events_list:
        for ev in options.events_list.split(","):
            code = EventsCodes.ALL_FLAGS.get(ev, 0)
            if not code:
                parser.error(f"The event '{ev}' specified with option -e is not valid")
            mask |= code
    else:
        mask = ALL_EVENTS

    wm = WatchManager()
    notifier: Notifier
    if options.stats:
        notifier = Notifier(wm, default_proc_fun=Stats(), read_freq=5)
    else:
        notifier = Notifier(wm, default_proc_fun=PrintAllEvents())

    callback = None
    if options.stats:

        def callback(n: Notifier) -> None:
            sys.stdout.write(repr(n.proc_fun()) + "\n" + str(n.proc_fun()) + "\n")
            sys.stdout.flush()

    if options.command:
        command = options.command

        def callback(n: Notifier) -> None:
            subprocess.Popen(command, shell=True)

    paths: Any = args or "/tmp"
    wm.add_watch(
        paths,
        mask,
        rec=bool(options.recursive),
        auto_add=bool(options.auto_add),
        do_glob=bool(options.glob),
    )
    notifier.loop(callback=callback)
    return 0


if __name__ == "__main__":
    sys.exit(command_line())
