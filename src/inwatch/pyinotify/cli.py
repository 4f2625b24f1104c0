"""pyinotify's command line: ``python -m inwatch.pyinotify [-r] [-a] [-g]
[-e EVENTS] [-s] [-V] [-f] [-c CMD] [-v] [path ...]``."""

from __future__ import annotations

import sys
from typing import Any

from . import _state
from .codes import ALL_EVENTS, EventsCodes
from .events import ColoredOutputFormat
from .handlers import PrintAllEvents, Stats
from .manager import WatchManager
from .notifiers import Notifier

__all__ = ["command_line"]


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
        print("0.9.6")
        return 0
    if options.verbose:
        import logging

        log = _state.log()
        if not log.handlers:
            log.addHandler(logging.StreamHandler())
        log.setLevel(10)
    if not options.raw_format:
        _state.set_output_format(ColoredOutputFormat())

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
