"""``inwatch ARGS`` with the journal's commands registered, for tests and bench
runs in a subprocess: the registry (inwatch.cli.registry.COMMANDS) is given the
five entries the integrator adds at merge, then the real ``inwatch.cli.main``
runs. Once the registry lists them, this is exactly ``python -m inwatch``."""

from __future__ import annotations

import sys

from inwatch.cli import main
from inwatch.cli.registry import COMMANDS

JOURNAL_COMMANDS = {
    name: f"inwatch.cli.{name}" for name in ("record", "query", "history", "check", "journal")
}

if __name__ == "__main__":
    for name, module in JOURNAL_COMMANDS.items():
        COMMANDS.setdefault(name, module)
    sys.exit(main(sys.argv[1:]))
