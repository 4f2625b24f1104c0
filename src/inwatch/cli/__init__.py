"""The ``inwatch`` command line.

:func:`main` takes the arguments and returns the exit status; :func:`console` is
the console-script entry point. Module map:

- ``registry`` -- the command table (name -> module) and the parser built from it;
- ``args`` -- the parser class, number types, the shared watch options;
- ``session`` -- the shared options -> a started Watcher, and the event filter;
- ``wait`` -- the one wait: signals, a deadline, a condition, a readable fd;
- ``output`` -- stdout that fails loudly, the writer thread, the error rule;
- ``events`` (``-e`` names), ``format`` (pure output functions), ``_common``
  (error lines, ``--fromfile``, progress);
- one module per command: ``watch`` (and ``classic``), ``stats``, ``run`` (with
  ``changes``: what the command is told, and ``runner``: the child process),
  ``limits``.
"""

from __future__ import annotations

import sys

from .registry import COMMANDS, build_parser, load

__all__ = ["console", "main"]


def _command_named(argv: list[str]) -> str | None:
    """The command *argv* names (its first word that is not an option), if any."""
    for word in argv:
        if not word.startswith("-"):
            return word if word in COMMANDS else None
        if word == "--":
            return None
    return None


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
    parser = build_parser(only=_command_named(args_list))
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


def console() -> None:
    """Console-script entry point: ``sys.exit(main())`` (not named ``run``: the
    ``run`` command's module would replace that attribute once imported)."""
    sys.exit(main())
