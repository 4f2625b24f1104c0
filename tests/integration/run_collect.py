"""``inwatch collect ARGS`` for a subprocess, through the command module itself (the registry
entry is added at merge; then ``python -m inwatch collect`` is the same)."""

from __future__ import annotations

import argparse
import sys

from inwatch.cli import collect

parser = argparse.ArgumentParser(prog="inwatch")
collect.add_parser(parser.add_subparsers(dest="command"))
sys.exit(collect.run(parser.parse_args(["collect", *sys.argv[1:]])))
