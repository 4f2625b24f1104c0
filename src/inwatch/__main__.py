"""``python -m inwatch``: the command line."""

from inwatch.cli import run

if __name__ == "__main__":
    run()
