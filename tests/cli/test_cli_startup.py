"""Start-up cost: a command line that names a command loads that command alone.

Importing every command module (the journal's SQLite, PostgreSQL and NATS
layers among them) cost ~90 ms of CPU at every start of ``inwatch watch``, a
microsecond per event of an 80,000-event storm (bench/cli_storm.py).
"""

from __future__ import annotations

import subprocess
import sys

import pytest

PROBE = """
import contextlib, io, sys
from inwatch.cli import main
with contextlib.redirect_stdout(io.StringIO()) as out:
    status = main(sys.argv[1:])
loaded = sorted(m for m in sys.modules if m.startswith(("inwatch.cli.", "inwatch.journal")))
print(status, out.getvalue().count("\\n") > 3, " ".join(loaded))
"""


def _probe(*argv: str) -> tuple[str, str, set[str]]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *argv], capture_output=True, text=True, timeout=60
    )
    status, printed, *loaded = done.stdout.split()
    return status, printed, set(loaded)


@pytest.mark.parametrize("command", ["watch", "stats", "limits"])
def test_a_command_loads_only_its_own_module(command: str) -> None:
    status, printed, loaded = _probe(command, "--help")
    assert (status, printed) == ("0", "True")
    assert f"inwatch.cli.{command}" in loaded
    others = {"watch", "stats", "run", "record", "query", "collect"} - {command}
    assert not {f"inwatch.cli.{c}" for c in others} & loaded
    assert not any(m.startswith("inwatch.journal") for m in loaded)


def test_help_and_a_misspelled_command_still_see_every_command() -> None:
    status, printed, loaded = _probe("--help")
    assert (status, printed) == ("0", "True")
    assert {"inwatch.cli.watch", "inwatch.cli.record", "inwatch.cli.collect"} <= loaded
    done = subprocess.run(
        [sys.executable, "-m", "inwatch", "wach", "x"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1
    assert "invalid choice: 'wach'" in done.stderr and "'record'" in done.stderr


WATCH_PROBE = """
import sys
from inwatch.cli import main
status = main(sys.argv[1:])
print(status, " ".join(m for m in ("json", "csv", "datetime", "shutil") if m in sys.modules))
"""


@pytest.mark.parametrize("mode", [["--json"], ["--format", "%w%f %e"], ["--csv"]])
def test_watch_starts_without_modules_it_does_not_use(mode: list[str], tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Every module imported costs every start (each ms is 0.0125 us/event of an
    80,000-event storm): argparse's formatter without shutil, the output modes
    without json, csv and datetime (the escaping and time-stamp paths import
    them when they run)."""
    done = subprocess.run(
        [sys.executable, "-c", WATCH_PROBE, "watch", "-q", "-t", "0.01", *mode, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.stdout.split() == ["2"], (done.stdout, done.stderr)
