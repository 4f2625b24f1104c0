"""The C dispatch loop against the Python one, on the fake kernel.

The same random scenario (new directories, files created, written, renamed,
deleted, bursts over a batch, overflows, our own listings' echo, a root with
filters) runs twice in one process: once with ``inwatch.inotify.core.native``
set to None (the Python loop), once with the accelerator. The events (every
slot but ``time``) and the core's state afterwards must be the same. The real
kernel runs the C loop in the contract suite (``INWATCH_ACCEL=1``, .ci/run) and
in tests/unit/test_accel.py.
"""

from __future__ import annotations

import contextlib
import gc
import tracemalloc
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import inwatch.inotify.core as core_module
from inwatch import Event, EventParseError
from inwatch.inotify.core import InotifyCore
from inwatch.inotify.wire import pack_event

from .accel_bound import bound_accelerator
from .fake_kernel import FakeKernel

ROOT = "/r"
DELETE, Q_OVERFLOW = 0x200, 0x4000


_native = bound_accelerator


@pytest.fixture(scope="module")
def native() -> ModuleType:
    return _native()


@contextlib.contextmanager
def path_of(module: ModuleType | None) -> Iterator[None]:
    """Run the core's dispatch on *module* (None: the Python loop)."""
    saved = core_module.native
    core_module.native = module
    try:
        yield
    finally:
        core_module.native = saved


# The root's options: the defaults; an exclusion (its events filtered one by
# one, emit_one); a mask that leaves out MODIFY, ATTRIB, MOVED_FROM and DELETE (filtered
# by Root.narrow on the hot path); both.
ROOTS = {
    "default": (0xFFF, None),
    "exclude": (0xFFF, ["*.tmp"]),
    "mask": (0xFFF & ~(0x2 | 0x4 | 0x40 | 0x200), None),
    "mask+exclude": (0xFFF & ~(0x2 | 0x4 | 0x40 | 0x200), ["*.tmp"]),
}


def make(special: bool | str, echo: bool, narrow: bool = True) -> tuple[FakeKernel, InotifyCore]:
    """A core over a fake tree; *special*: a key of ROOTS (True: "exclude").
    With *narrow* False, a mask-only root is filtered as any other (emit_one)."""
    fk = FakeKernel()
    fk.echo = echo
    fk.mkdir(ROOT)
    fk.mkdir(f"{ROOT}/a")
    fk.create(f"{ROOT}/a/old")
    core = InotifyCore(port=fk)
    if isinstance(special, bool):
        special = "exclude" if special else "default"
    mask, exclude = ROOTS[special]
    wd = core.add_root(
        ROOT,
        mask,
        recursive=True,
        exclude=exclude,
        follow_symlinks=False,
        auto_add=None,
        onerror=None,
        as_bytes=False,
    )
    if not narrow:
        core.roots[wd].narrow = 0
    return fk, core


def entries(fk: FakeKernel) -> list[str]:
    return sorted(fk.tree(ROOT))


def unlink(fk: FakeKernel, path: str) -> None:
    """rm of a file (the fake kernel has no unlink): DELETE on its directory's watch."""
    parent, name = fk._split(path)
    del parent.children[name]
    fk._queue(parent, DELETE, name=name)


def apply(fk: FakeKernel, core: InotifyCore, op: tuple[Any, ...], out: list[Event[Any]]) -> None:
    kind, i, j = op
    here = entries(fk)
    dirs = [ROOT] + [p.rstrip("/") for p in here if p.endswith("/")]
    files = [p for p in here if not p.endswith("/")]
    d = dirs[i % len(dirs)]
    if kind == "mkdir":
        if f"{d}/d{j}/" not in here and f"{d}/d{j}" not in here:
            fk.mkdir(f"{d}/d{j}")
    elif kind == "create":
        name = f"{d}/f{j}" + (".tmp" if j % 5 == 0 else "")
        if name not in here and name + "/" not in here:
            fk.create(name)
    elif kind == "burst":  # more than a batch (BATCH) in one read
        for k in range(300):
            if f"{d}/b{k}" not in here:
                fk.create(f"{d}/b{k}")
    elif kind == "modify" and files:
        fk.modify(files[i % len(files)])
    elif kind == "attrib" and files:
        fk.attrib(files[i % len(files)])
    elif kind == "unlink" and files:
        unlink(fk, files[i % len(files)])
    elif kind == "rename":
        src = (files + dirs[1:])[i % len(files + dirs[1:])] if files or dirs[1:] else None
        dst_dir = dirs[j % len(dirs)]
        if src is not None and not (dst_dir + "/").startswith(src + "/"):
            dst = f"{dst_dir}/m{j}"
            if dst not in here and dst + "/" not in here:
                fk.rename(src, dst)
    elif kind == "rmdir" and dirs[1:]:
        victim = dirs[1:][i % len(dirs[1:])]
        if not any(p.startswith(victim + "/") for p in here):
            fk.rmdir(victim)
    elif kind == "overflow":
        fk.queue.append(pack_event(-1, Q_OVERFLOW))
    elif kind == "stale":  # a record of a watch already dropped
        fk.queue.append(pack_event(9999, 0x2, 0, b"x"))
    elif kind == "read":
        core.read_raw()
        out.extend(core.process())


def settle(fk: FakeKernel, core: InotifyCore, out: list[Event[Any]]) -> None:
    for _ in range(200):
        core.read_raw()
        out.extend(core.process())
        if not fk.queue and core.deadline() is None and not core.backlog:
            return
    raise AssertionError("the core never settled")


def seen(ev: Event[Any]) -> tuple[Any, ...]:
    # Every slot but time (stamped from the wall clock), and the types of the strings.
    return (
        ev.wd,
        ev.mask,
        ev.cookie,
        ev.name,
        ev.path,
        ev.pathname,
        ev.src_pathname,
        ev.origin,
        ev.actor,
        type(ev.name),
        type(ev.pathname),
        type(ev.time),
    )


def run_once(
    module: ModuleType | None, ops: list[Any], special: bool | str, echo: bool, narrow: bool = True
) -> Any:
    with path_of(module):
        fk, core = make(special, echo, narrow)
        out: list[Event[Any]] = []
        try:
            for op in ops:
                apply(fk, core, op, out)
            settle(fk, core, out)
            state = (
                dict(core.table.paths),
                {wd: set(names) for wd, names in core.files.items()},
                {wd: set(names) for wd, names in core.unwatched.items()},
            )
        finally:
            core.close()
        return [seen(e) for e in out], state


ops = st.lists(
    st.tuples(
        st.sampled_from(
            [
                *("mkdir", "create", "create", "modify", "attrib", "unlink", "rename", "rmdir"),
                *("read", "read", "burst", "overflow", "stale"),
            ]
        ),
        st.integers(0, 50),
        st.integers(0, 50),
    ),
    max_size=30,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops, st.sampled_from(sorted(ROOTS)), st.booleans())
def test_c_loop_delivers_what_the_python_loop_delivers(
    native: ModuleType, ops: list[Any], special: str, echo: bool
) -> None:
    pure = run_once(None, ops, special, echo)
    fast = run_once(native, ops, special, echo)
    assert fast == pure


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops, st.booleans(), st.booleans())
def test_a_mask_only_root_on_the_hot_path_delivers_what_emit_one_delivers(
    native: ModuleType, ops: list[Any], echo: bool, accelerated: bool
) -> None:
    # Root.narrow: the hot path's one AND must deliver, and keep in the
    # baseline, exactly what the slow path (_slow, emit_one, Root.passes) does.
    module = native if accelerated else None
    reference = run_once(module, ops, "mask", echo, narrow=False)
    hot = run_once(module, ops, "mask", echo)
    assert hot == reference


def test_a_burst_over_a_batch_is_delivered_in_batches_by_both(native: ModuleType) -> None:
    ops = [("burst", 0, 0), ("read", 0, 0)]
    pure, _ = run_once(None, ops, False, False)
    fast, _ = run_once(native, ops, False, False)
    assert fast == pure
    assert sum(1 for e in fast if e[1] == 0x100) == 300


def test_a_corrupt_read_raises_before_any_of_its_records_is_dispatched(
    native: ModuleType,
) -> None:
    for module in (None, native):
        with path_of(module):
            fk, core = make(False, False)
            try:
                settle(fk, core, [])
                wd = core.wd_of(ROOT)
                assert wd is not None
                good = pack_event(wd, 0x100, 0, b"new")
                fk.queue.append(good + good[:-4])
                core.read_raw()
                with pytest.raises(EventParseError, match="runs past the end"):
                    core.process()
                assert "new" not in core.files.get(wd, set())
                assert core.backlog == 0  # out of the backlog: not dispatched later
            finally:
                core.close()


class Failing(InotifyCore):
    """A core whose slow path fails at the third call (a bug, a concurrent close)."""

    calls = 0

    def _slow(self, *args: Any) -> None:
        self.calls += 1
        if self.calls == 3:
            raise RuntimeError("boom")
        super()._slow(*args)


def test_an_error_in_a_callback_propagates_at_the_same_record(native: ModuleType) -> None:
    results = []
    for module in (None, native):
        with path_of(module):
            fk = FakeKernel()
            fk.mkdir(ROOT)
            core = Failing(port=fk)
            core.add_root(
                ROOT,
                0xFFF,
                recursive=True,
                exclude=None,
                follow_symlinks=False,
                auto_add=None,
                onerror=None,
                as_bytes=False,
            )
            try:
                for k in range(5):
                    fk.create(f"{ROOT}/f{k}")
                    fk.rename(f"{ROOT}/f{k}", f"{ROOT}/g{k}")  # MOVED_*: the slow path
                core.read_raw()
                with pytest.raises(RuntimeError, match="boom"):
                    core.process()
                # Where the read's iterator stopped: right after the failing record.
                results.append((core.calls, len(core._flat), core._it.__length_hint__()))
            finally:
                core.close()
    assert results[0] == results[1]


def test_the_c_path_leaks_no_reference(native: ModuleType) -> None:
    # A reference kept too many keeps its object alive: every Event (tracked by
    # the garbage collector) and every str, bytes and int (traced by tracemalloc)
    # the C code made would pile up, run after run.
    ops = [
        *[("burst", 0, 0), ("read", 0, 0), ("mkdir", 0, 1), ("create", 1, 2)],
        *[("rename", 0, 3), ("modify", 0, 0), ("unlink", 0, 0), ("overflow", 0, 0)],
        *[("stale", 0, 0), ("attrib", 1, 0)],
    ]
    parse = native.parse_flat
    data = b"".join(pack_event(k, 0x100, k, b"name%d" % k) for k in range(2000))

    def events_alive() -> int:
        gc.collect()
        return sum(1 for o in gc.get_objects() if type(o) is Event)

    run_once(native, ops, True, True)  # warm up (caches, interned strings)
    parse(data)
    alive = events_alive()
    tracemalloc.start()
    try:
        run_once(native, ops, True, True)
        parse(data)
        gc.collect()
        base = tracemalloc.get_traced_memory()[0]
        for _ in range(10):
            assert len(run_once(native, ops, True, True)[0]) > 300
            assert len(parse(data)) == 8000
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()
    assert events_alive() == alive
    # One leaked name per event would be ~50 kB a run here; allow for caches.
    assert grown < 30_000, grown
