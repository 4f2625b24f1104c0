"""The ``inwatch`` command: ``watch``, ``stats``, ``run``, ``limits``.

:func:`main` takes the arguments and returns the exit status; :func:`run` is the
console-script entry point. Layout: ``args`` (parsers, ``--help`` examples),
``events`` (``-e`` names), ``format`` (pure output functions), and one module per
command driving the library.
"""

from __future__ import annotations

import contextlib
import os
import sys

from .args import CliError, build_parser

__all__ = ["main", "run"]


def main(argv: list[str] | None = None) -> int:
    """Run ``inwatch`` with *argv* (default ``sys.argv[1:]``); return the exit status."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    command: list[str] = []
    if args_list[:1] == ["run"] and "--" in args_list:
        cut = args_list.index("--")
        args_list, command = args_list[:cut], args_list[cut + 1 :]
    parser = build_parser()
    try:
        ns = parser.parse_args(args_list)
    except SystemExit as exc:  # --help, --version, usage errors (already printed)
        return exc.code if isinstance(exc.code, int) else 1
    try:
        if ns.command == "watch":
            from .watch import watch

            return watch(ns)
        if ns.command == "stats":
            from .stats import stats

            return stats(ns)
        if ns.command == "run":
            from .run import run_command

            if not command:
                raise CliError("no command to run: give it after '--' (inwatch run PATH -- CMD)")
            return run_command(ns, command)
        if ns.command == "limits":
            from .limits import limits_command

            return limits_command(ns)
        parser.print_help(sys.stderr)
        return 1
    except BrokenPipeError:
        # The reader went away (`| head`): stop quietly, as cat does.
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)
        except (OSError, ValueError):
            pass
        return 0
    except (CliError, OSError) as exc:
        from ._common import error_line

        with contextlib.suppress(OSError, ValueError):
            sys.stdout.flush()
        sys.stderr.write(f"inwatch {ns.command}: {error_line(exc)}\n")
        return 1


def run() -> None:
    """Console-script entry point: ``sys.exit(main())``."""
    sys.exit(main())
