"""``inwatch COMMAND …`` for the journal's commands, built from their modules with
the registry protocol (HELP, add_parser(sub), run(args)), so the tests can run
them in a subprocess before the CLI registry lists them."""

from __future__ import annotations

import argparse
import importlib
import sys

COMMANDS = ["record", "query", "history", "check", "journal"]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="inwatch")
    sub = parser.add_subparsers(dest="command", required=True)
    modules = {}
    for name in COMMANDS:
        mod = importlib.import_module(f"inwatch.cli.{name}")
        mod.add_parser(sub)
        modules[name] = mod
    args = parser.parse_args(argv)
    return int(modules[args.command].run(args))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
