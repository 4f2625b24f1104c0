"""The ``inwatch`` command line.

:func:`main` takes the arguments and returns the exit status; :func:`run` is the
console-script entry point. Module map:

- ``registry`` -- the command table (name -> module) and the parser built from it;
- ``args`` -- the parser class, number types, the shared watch options;
- ``session`` -- the shared options -> a started Watcher, and the event filter;
- ``wait`` -- the one wait: signals, a deadline, a condition poked by a thread;
- ``output`` -- stdout that fails loudly, batches writes, ends quietly on a broken pipe;
- ``events`` (``-e`` names), ``format`` (pure output functions), ``_common``
  (error lines, ``--fromfile``, progress);
- one module per command: ``watch`` (``classic``), ``stats``, ``run``, ``limits``.
"""

from __future__ import annotations

import sys

from .registry import COMMANDS, build_parser, load

__all__ = ["main", "run"]


def _split_trailing(argv: list[str]) -> tuple[list[str], list[str] | None]:
    """``inwatch run P -- CMD ARGS`` -> (``run P``, ``CMD ARGS``) for a command
    module with ``TRAILING_COMMAND``; the rest untouched."""
    for i, word in enumerate(argv):
        if word.startswith("-"):
            continue  # an option before the command name (--version, --help)
        if word in COMMANDS and getattr(load(word), "TRAILING_COMMAND", False) and "--" in argv:
            cut = argv.index("--", i)
            return argv[:cut], argv[cut + 1 :]
        break
    return argv, None


def main(argv: list[str] | None = None) -> int:
    """Run ``inwatch`` with *argv* (default ``sys.argv[1:]``); return the exit status."""
    args_list, trailing = _split_trailing(list(sys.argv[1:] if argv is None else argv))
    parser = build_parser()
    try:
        ns = parser.parse_args(args_list)
    except SystemExit as exc:  # --help, --version, usage errors (already printed)
        return exc.code if isinstance(exc.code, int) else 1
    if ns.command is None:
        parser.print_help(sys.stderr)
        return 1
    ns.argv = trailing or []
    from .output import run_guarded

    return run_guarded(ns.command, lambda: int(load(ns.command).run(ns)))


def run() -> None:
    """Console-script entry point: ``sys.exit(main())``."""
    sys.exit(main())
