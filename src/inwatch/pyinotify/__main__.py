"""``python -m inwatch.pyinotify``: pyinotify's command line."""

import sys

from .cli import command_line

sys.exit(command_line())
