"""The randomized ground-truth test (issue 10): every driver, every pacing.

Each test runs seeded random operation sequences on a real tree on /dev/shm --
mkdir, mkdir -p, create/append/truncate, chmod, renames inside the tree and
across its border, rm -rf, hard links, symbolic links (to directories, and
loops), names with spaces, newlines and non-UTF-8 bytes -- in this process,
while the driver watches from another one; then replays the events over the
starting tree and compares with the real final tree (see ``replay.py`` for the
divergence classes). Pacings: back to back, 5 ms apart, and with the watcher
not reading while they run. ``test_overflow_*`` adds a storm that overflows the
kernel queue while the watcher does not read: the rescan must make the replay
converge all the same.

A failure lists, per diverging seed, the starting tree, the operations, the
divergences and the delivered events. ``bench/groundtruth.py`` runs many more
sequences, reports the rate per driver and pacing, and shrinks the examples.
"""

from __future__ import annotations

import pytest

from .drivers import DRIVERS
from .harness import PACINGS, Result, run

SEEDS = range(5)  # per driver and pacing: the whole file takes about 40 s
N_OPS = 30
STORM = 4500  # files created and deleted: 4 events each, over the 16384 default queue


def _check(results: list[Result]) -> None:
    bad = [r for r in results if r.divergences]
    if bad:
        pytest.fail(
            f"{len(bad)} of {len(results)} sequences diverge:\n"
            + "\n\n".join(r.report() + "\n  events:\n" + r.show_events() for r in bad),
            pytrace=False,
        )


@pytest.mark.parametrize("pacing", PACINGS)
@pytest.mark.parametrize("driver", DRIVERS)
def test_replay_matches_the_tree(driver: str, pacing: str) -> None:
    results = [run(1000 * i + 7, driver, pacing, n_ops=N_OPS) for i in SEEDS]
    assert all(r.events > 0 for r in results)  # the sentinel at least
    _check(results)


@pytest.mark.parametrize("driver", DRIVERS)
def test_overflow_replay_converges(driver: str) -> None:
    result = run(4242, driver, "held", n_ops=N_OPS, storm=STORM)
    assert result.overflows >= 1, "the storm did not overflow the kernel queue"
    _check([result])
