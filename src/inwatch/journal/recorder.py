"""Recording on its own thread: events handed over by a Watcher are committed in
batches (every *commit_ms* or *max_batch* events, whichever first), so a slow disk
never stalls the thread that drains the kernel queue.

The hand-over (:meth:`Recorder.put`) only appends to a list under a lock. The
writer thread takes what is queued, stats it (outside any transaction: a stat of
a busy file system must not hold the database), and commits it with the run's
heartbeat in one transaction. If the writer falls further behind than
*max_pending* events, ``put`` blocks: the Watcher's own queue then fills, and an
overflow there is reported and recovered by a rescan, never lost silently.

A run (:meth:`Recorder.begin`) is a row in ``runs``: its ``last_commit_ns`` is
updated with every batch and its ``stopped_ns`` set by :meth:`Recorder.close`.
At the next start, a run without ``stopped_ns`` means the process was killed:
the window from its last commit to now becomes a ``crash`` gap (the batch it had
not committed is lost); a clean stop leaves a ``downtime`` gap from the stop.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Callable
from typing import Any

from .errors import JournalError
from .retention import Retention
from .sqlite import Journal
from .store import prepare_batch

__all__ = ["Recorder"]


def _take_lock(path: str) -> int:
    """``flock`` ``PATH.lock`` (0600) without waiting; JournalError naming the holder."""
    lock = path + ".lock"
    fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
        os.close(fd)
        raise JournalError(
            path, f"already being recorded by another process (pid {holder}; lock {lock})"
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


class Recorder:
    """The batching writer thread of a :class:`Journal`."""

    def __init__(
        self,
        journal: Journal,
        *,
        commit_ms: float = 100.0,
        max_batch: int = 10_000,
        max_pending: int = 2_000_000,
        on_error: Callable[[JournalError], object] | None = None,
        retention: Retention | None = None,
        on_commit: Callable[[], object] | None = None,
    ) -> None:
        self.journal = journal
        self.commit_s = commit_ms / 1000.0
        self.max_batch = max_batch
        self.max_pending = max_pending
        self.on_error = on_error
        self.on_commit = on_commit  # after each committed batch (shippers wake up)
        self.retention = retention
        self.error: JournalError | None = None
        self.error_ns: int | None = None  # when the first batch could not be committed
        self.committed = 0  # events committed by this recorder
        self.lost = 0  # events taken but never committed (after an error)
        self.last_seq = 0
        self.run_id: int | None = None
        self._queue: list[Any] = []
        self._busy = False
        self._closing = False
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._lock_fd: int | None = None

    # -- runs -------------------------------------------------------------------

    def begin(self) -> None:
        """Take the journal's recorder lock, close the books of the previous run
        (a ``crash`` or ``downtime`` gap) and open this one.

        One recorder per journal: a second one would take the first's run for a
        crashed one, and both would diff the same roots. The lock is an
        ``flock`` on ``JOURNAL.lock`` (holding the recorder's pid), released by
        the kernel when the process dies however it dies."""
        self._lock_fd = _take_lock(self.journal.path)
        now = time.time_ns()
        with self.journal.transaction() as conn:
            last = conn.execute(
                "SELECT id, pid, last_commit_ns, stopped_ns FROM runs ORDER BY id DESC LIMIT 1"
            ).fetchone()
            if last is not None:
                _, pid, last_commit, stopped = last
                if stopped is None:
                    kind, start = "crash", last_commit
                    detail = (
                        f"record (pid {pid}) ended without stopping: events after its last"
                        " commit are missing (offline changes were diffed at restart)"
                    )
                else:
                    kind, start = "downtime", stopped
                    detail = "nothing recorded (offline changes were diffed at restart)"
                conn.execute(
                    "INSERT INTO gaps (start_ns, end_ns, kind, detail) VALUES (?, ?, ?, ?)",
                    (start, now, kind, detail),
                )
            cur = conn.execute(
                "INSERT INTO runs (pid, started_ns, last_commit_ns) VALUES (?, ?, ?)",
                (os.getpid(), now, now),
            )
            self.run_id = cur.lastrowid

    # -- the thread ---------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="inwatch-journal", daemon=True)
        self._thread.start()

    def put(self, events: list[Any]) -> None:
        """Queue *events* (a Watcher's batch callback). Never does I/O."""
        with self._cond:
            if self.error is not None:
                self.lost += len(events)
                return
            while len(self._queue) > self.max_pending and self.error is None:
                self._cond.wait(0.5)
            self._queue.extend(events)
            self._cond.notify_all()

    def flush(self, timeout: float) -> bool:
        """Wait until everything queued so far is committed (True) or *timeout*."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._queue or self._busy:
                if self.error is not None:
                    return False
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return self.error is None

    def close(self, timeout: float = 30.0) -> None:
        """Commit what is queued, stop the thread, and mark the run stopped
        (not after an error: the next start then records the window as lost)."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)
        if self.error is None and self.run_id is not None:
            with self.journal.transaction() as conn:
                conn.execute(
                    "UPDATE runs SET stopped_ns = ? WHERE id = ?", (time.time_ns(), self.run_id)
                )
        if self._lock_fd is not None and self.error is None:
            os.close(self._lock_fd)  # after a disk-full error the caller still records the gap
            self._lock_fd = None

    def release(self) -> None:
        """Drop the recorder lock (after :meth:`close`, once nothing more is written)."""
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def _take(self) -> list[Any] | None:
        """The next batch: wait for a first event, then up to commit_s for more."""
        with self._cond:
            while not self._queue and not self._closing:
                wait = self._idle_wait()
                if wait is not None and wait <= 0:
                    return []  # idle and pruning is due
                self._cond.wait(wait)
            if not self._queue:
                return None
            deadline = time.monotonic() + self.commit_s
            while len(self._queue) < self.max_batch and not self._closing:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            batch = self._queue[: self.max_batch]
            del self._queue[: self.max_batch]
            self._busy = True
            self._cond.notify_all()  # a put() blocked on max_pending may go on
            return batch

    def _idle_wait(self) -> float | None:
        return self.retention.due_in() if self.retention is not None else None

    def _loop(self) -> None:
        hash_max = self.journal.hash_max
        while True:
            batch = self._take()
            if batch is None:
                return
            try:
                if batch:
                    items = prepare_batch(batch, hash_max)
                    with self.journal.transaction() as conn:
                        self.last_seq = self.journal.store.write(items) or self.last_seq
                        conn.execute(
                            "UPDATE runs SET last_commit_ns = ? WHERE id = ?",
                            (time.time_ns(), self.run_id),
                        )
                    self.committed += len(items)
                    if self.on_commit is not None:
                        self.on_commit()
                if self.retention is not None:
                    self.retention.maybe_prune(self.journal)
            except Exception as exc:  # any failure stops recording, loudly
                err = (
                    exc
                    if isinstance(exc, JournalError)
                    else JournalError(
                        self.journal.path, f"the writer failed: {type(exc).__name__}: {exc}"
                    )
                )
                with self._cond:
                    self.error = err
                    self.error_ns = time.time_ns()
                    self.lost += len(batch) + len(self._queue)
                    self._queue.clear()
                    self._busy = False
                    self._cond.notify_all()
                if self.on_error is not None:
                    self.on_error(err)
                return
            with self._cond:
                self._busy = False
                self._cond.notify_all()
