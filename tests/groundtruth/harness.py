"""One ground-truth run, and the shrinking of a diverging one.

A run (:func:`run`): build the seed's starting tree twice (a scratch copy and
the real one, on /dev/shm), draw the operations on the scratch copy (see
:mod:`.ops`), start the driver on the real ``root`` (:mod:`.drivers`), do the
operations in this process at the pacing asked, create the sentinel, collect
the events, replay them over the starting tree and compare with the real final
tree (:mod:`.replay`).

Pacings: ``b2b`` (back to back), ``5ms`` (5 ms between operations), ``held``
(the watcher does not read while they run: the widest race window).

:func:`shrink` drops operations while the run still shows the same divergence
class (delta debugging; each candidate is tried a few times, races being races).
"""

from __future__ import annotations

import os
import random
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field

from . import ops as O
from .drivers import SENTINEL, Outcome, Session
from .replay import Divergence, Rec, replay

PACINGS = ("b2b", "5ms", "held")
GAP = {"b2b": 0.0, "5ms": 0.005, "held": 0.0}
SHM = b"/dev/shm" if os.path.isdir("/dev/shm") else os.fsencode(tempfile.gettempdir())


class HarnessError(AssertionError):
    """The harness contradicts itself (never a finding about the watcher)."""


@dataclass
class Result:
    seed: int
    driver: str
    pacing: str
    initial: O.Tree
    ops: list[O.Op]
    divergences: list[Divergence] = field(default_factory=list)
    overflows: int = 0
    events: int = 0
    warnings: list[str] = field(default_factory=list)
    delivered: list[Rec] = field(default_factory=list)
    trace: list[str] = field(default_factory=list)  # see drivers._trace_port

    @property
    def classes(self) -> list[str]:
        return sorted({d.kind for d in self.divergences})

    def show_events(self, root: bytes | None = None, limit: int = 40) -> str:
        """The delivered events, paths relative to the root."""
        lines = []
        for ev in self.delivered[:limit]:
            rel = _rel(ev.pathname)
            src = f" from {_rel(ev.src)!r}" if ev.src is not None else ""
            lines.append(f"    {_names(ev.mask)} {rel!r}{src} [{ev.origin}]")
        if len(self.delivered) > limit:
            lines.append(f"    ... and {len(self.delivered) - limit} more")
        return "\n".join(lines)

    def report(self, limit: int = 12) -> str:
        lines = [
            f"seed {self.seed} driver {self.driver} pacing {self.pacing}: "
            f"{', '.join(self.classes) or 'exact'} ({self.events} events, "
            f"{self.overflows} overflows)",
            f"  start: {O.describe_tree(self.initial)}",
        ]
        lines += [f"  {O.shell(op)}" for op in self.ops]
        lines += [f"  -> {d}" for d in self.divergences[:limit]]
        if len(self.divergences) > limit:
            lines.append(f"  -> ... and {len(self.divergences) - limit} more")
        lines += [f"  warning: {w}" for w in self.warnings[:3]]
        return "\n".join(lines)


def draw(seed: int, n_ops: int, storm: int = 0) -> tuple[list[O.Op], list[O.Op]]:
    """The seed's starting tree (as operations) and *n_ops* operations; with
    *storm*, one of them creates and deletes that many files (a queue overflow
    when nobody reads: each file is 4 events, the default queue 16384)."""
    rng = random.Random(seed)
    scratch = tempfile.mkdtemp(prefix=b"gt-draw-", dir=SHM)
    try:
        gen = O.Generator(rng, scratch)
        init = gen.initial()
        O.execute_all(scratch, init)
        ops: list[O.Op] = []
        storm_at = rng.randrange(n_ops) if storm and n_ops else -1
        for i in range(n_ops):
            op = gen.storm(storm) if i == storm_at else gen.next()
            try:
                O.execute(scratch, op)
            except OSError:
                pass
            gen.note(op)
            ops.append(op)
        return init, ops
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def dry_run(init: Sequence[O.Op], ops: Sequence[O.Op]) -> tuple[O.Tree, set[bytes], O.Tree]:
    """(starting tree, every path the tree ever held, final tree), relative to root."""
    scratch = tempfile.mkdtemp(prefix=b"gt-dry-", dir=SHM)
    try:
        O.execute_all(scratch, init)
        root = os.path.join(scratch, O.ROOT)
        start = O.walk(root)
        ever = set(start)
        for op in ops:
            try:
                extra = O.execute(scratch, op)
            except OSError:
                extra = []
            ever.update(O.walk(root))
            ever.update(p[len(O.ROOT) + 1 :] for p in extra if p.startswith(O.ROOT + b"/"))
        ever.add(SENTINEL)
        final = O.walk(root)
        final[SENTINEL] = "f"
        return start, ever, final
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def run(
    seed: int,
    driver: str,
    pacing: str,
    n_ops: int = 30,
    storm: int = 0,
    ops: Sequence[O.Op] | None = None,
    init: Sequence[O.Op] | None = None,
) -> Result:
    """One sequence (the seed's, or *ops* over *init*) watched by *driver*."""
    if ops is None or init is None:
        init, ops = draw(seed, n_ops, storm)
    start, ever, expected = dry_run(init, ops)
    base = tempfile.mkdtemp(prefix=b"gt-", dir=SHM)
    scratch = tempfile.mkdtemp(prefix=b"gt-out-", dir=SHM)
    try:
        O.execute_all(base, init)
        root = os.path.join(base, O.ROOT)
        if O.walk(root) != start:
            raise HarnessError(f"seed {seed}: the starting tree is not reproducible")
        session = Session(driver, root, scratch, held=pacing == "held")
        session.start()
        try:
            O.execute_all(base, ops, GAP[pacing])
            O.execute(base, ("create", os.path.join(O.ROOT, SENTINEL)))
        finally:
            outcome: Outcome = session.finish()
        final = O.walk(root)
        if final != expected:
            raise HarnessError(
                f"seed {seed}: the real final tree differs from the dry run's: "
                f"{sorted(set(final.items()) ^ set(expected.items()))[:5]}"
            )
        divergences, overflows = replay(root, start, outcome.events, final, ever, SENTINEL)
        if outcome.hang:
            divergences.append(Divergence("hang", root, "the sentinel never came"))
        if outcome.crash:
            divergences.append(Divergence("crash", root, outcome.crash))
        return Result(
            seed,
            driver,
            pacing,
            start,
            list(ops),
            divergences,
            overflows,
            len(outcome.events),
            outcome.warnings,
            outcome.events,
            outcome.trace,
        )
    finally:
        shutil.rmtree(base, ignore_errors=True)
        shutil.rmtree(scratch, ignore_errors=True)


def shrink(result: Result, target: str | None = None, tries: int = 3, budget: int = 200) -> Result:
    """The shortest operation list (over the same starting tree) found that still
    shows the divergence class *target* (default: *result*'s first); at most
    *budget* runs."""
    target = target or result.classes[0]
    init, _ = draw(result.seed, 0)
    best = result
    ops = list(result.ops)
    runs = 0

    def still(candidate: list[O.Op]) -> Result | None:
        nonlocal runs
        for _ in range(tries):
            runs += 1
            r = run(result.seed, result.driver, result.pacing, ops=candidate, init=init)
            if target in r.classes:
                return r
        return None

    chunk = max(1, len(ops) // 2)
    while chunk >= 1 and runs < budget:
        i = 0
        shrunk = False
        while i < len(ops) and runs < budget:
            candidate = ops[:i] + ops[i + chunk :]
            r = still(candidate) if candidate else None
            if r is not None:
                ops, best, shrunk = candidate, r, True
            else:
                i += chunk
        if not shrunk:
            chunk //= 2
    return best


def _rel(path: bytes | None) -> bytes | None:
    if path is None:
        return None
    _, sep, rest = path.partition(b"/" + O.ROOT + b"/")
    return rest if sep else path


def _names(mask: int) -> str:
    from inwatch import mask_names

    return "|".join(mask_names(mask))
