"""What ``inwatch run`` tells its command about the changes: a :class:`Batch`
and the environment built from it.

The environment of one run:

- ``INWATCH_EVENT``: the event names seen, comma separated (``INITIAL`` at start);
- ``INWATCH_CHANGED_FILE``: a file of the changed paths, each followed by a NUL
  byte (names may hold newlines; NUL is the one byte no path holds). Always set;
- ``INWATCH_CHANGES_JSON``: a file holding a JSON list, one object per changed
  path in the order first seen: ``{"path": P, "events": [...]}`` plus
  ``"from": OLD`` for a rename whose source was seen. Always set;
- ``INWATCH_CHANGED``: the changed paths, one per line, only when that text is
  under 64 KiB. Linux refuses an environment string above 128 KiB
  (MAX_ARG_STRLEN: execve fails with E2BIG, "Argument list too long"), and a
  few thousand paths of a ``git checkout`` pass it; above 64 KiB it is left out,
  ``INWATCH_CHANGED_TRUNCATED=1`` is set, and the command should read the file.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable

__all__ = ["ENV_LIMIT", "Batch", "ChangeFiles"]

#: Largest INWATCH_CHANGED passed in the environment (bytes, UTF-8).
ENV_LIMIT = 64 * 1024


class Batch:
    """The changes collected for the next run (pure bookkeeping)."""

    def __init__(self) -> None:
        self.paths: dict[str, list[str]] = {}  # path -> event names, in order seen
        self.sources: dict[str, str] = {}  # renamed path -> where it came from
        self.events: dict[str, None] = {}
        self.first = 0.0
        self.last = 0.0
        self.overflow = False

    def __bool__(self) -> bool:
        return bool(self.events)

    def add(
        self,
        pathname: str | None,
        names: Iterable[str],
        now: float,
        src_pathname: str | None = None,
    ) -> None:
        """Record a change; *pathname* is None for a queue overflow (paths unknown)."""
        if not self.events:
            self.first = now
        self.last = now
        kinds = [n for n in names if n != "ISDIR"]
        if pathname is None:
            self.overflow = True
        else:
            seen = self.paths.setdefault(pathname, [])
            seen.extend(k for k in kinds if k not in seen)
            if src_pathname is not None:
                self.sources[pathname] = src_pathname
        for n in kinds:
            self.events.setdefault(n, None)

    def due(self, debounce: float, cap: float) -> float:
        """When to run: quiet for *debounce*, or *cap* after the first change."""
        return min(self.last + debounce, self.first + cap)

    def key(self) -> tuple[tuple[str, tuple[str, ...]], ...]:
        """What the loop detector compares: every path with its event kinds."""
        return tuple((p, tuple(k)) for p, k in self.paths.items())

    def changed_text(self) -> str:
        return "\n".join(self.paths)

    def json_text(self) -> str:
        items = []
        for path, kinds in self.paths.items():
            item: dict[str, object] = {"path": path, "events": kinds}
            if path in self.sources:
                item["from"] = self.sources[path]
            items.append(item)
        return _json(items)

    def env(self) -> dict[str, str]:
        """The variables that fit in the environment (no files)."""
        out = {"INWATCH_EVENT": ",".join(self.events)}
        text = self.changed_text()
        if len(text.encode("utf-8", "surrogateescape")) < ENV_LIMIT:
            out["INWATCH_CHANGED"] = text
        else:
            out["INWATCH_CHANGED_TRUNCATED"] = "1"
        return out


def _json(obj: object) -> str:
    # ensure_ascii: a name that is not UTF-8 (a lone surrogate after
    # surrogateescape) is written as a \udcXX escape, still valid JSON text.
    return json.dumps(obj, ensure_ascii=True)


class ChangeFiles:
    """The per-run files, in a private directory removed at :meth:`close`.

    Each run's files are written whole, then renamed into place, so a command
    never reads half a list."""

    def __init__(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="inwatch-run-")
        self.changed = os.path.join(self.dir, "changed")
        self.json = os.path.join(self.dir, "changes.json")

    def write(self, batch: Batch) -> dict[str, str]:
        """Write *batch*'s files; return the whole environment of the run."""
        nul = b"".join(os.fsencode(p) + b"\0" for p in batch.paths)
        self._put(self.changed, nul)
        self._put(self.json, batch.json_text().encode("ascii"))
        env = batch.env()
        env["INWATCH_CHANGED_FILE"] = self.changed
        env["INWATCH_CHANGES_JSON"] = self.json
        return env

    def _put(self, path: str, data: bytes) -> None:
        tmp = path + ".tmp"
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)

    def close(self) -> None:
        for p in (self.changed, self.json, self.changed + ".tmp", self.json + ".tmp"):
            try:
                os.unlink(p)
            except FileNotFoundError:
                pass
        try:
            os.rmdir(self.dir)
        except OSError:
            pass
