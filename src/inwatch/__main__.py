"""``python -m inwatch``: the command line."""

import sys

from inwatch.cli import main

if __name__ == "__main__":
    sys.exit(main())
