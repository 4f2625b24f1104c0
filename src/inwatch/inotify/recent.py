"""What our own listings found, held back until the kernel has caught up (pure).

Listing a directory tells us its state *now*, but the kernel queue still holds
events that happened before the listing: a rename that brought an entry in,
the CREATE of an entry made after the directory's watch was added. Reporting
the listing at once would put its entries ahead of the events that explain
them (replayed in order, a tree built from the events would then be wrong), or
report an entry twice.

So a listing's findings are *held*: each is a synthetic event keyed by the wd
of the directory it is in and the entry's name, stamped with the
``time.monotonic()`` at which the listing ended. Every event queued before the
listing ended is read by a ``read(2)`` that started after it at the latest, so
once a read that started after that stamp has been processed, the findings are
released, at the path their directory has *then* (renames processed meanwhile
included). Until then, a kernel event about the same entry settles it first:

- a CREATE or MOVED_TO of the entry: the kernel's report stands, the held
  CREATE (or MODIFY) is dropped (no duplicate);
- a DELETE or MOVED_FROM of it: a held DELETE is dropped (the kernel's
  stands); a held CREATE or MODIFY is released first, then the kernel's event;
- any other event about it, or about anything inside a held directory: the
  held events it depends on are released first.

The same stamp bounds the *echo* of a listing: listing a directory makes its
parent's watch report OPEN/ACCESS/CLOSE_NOWRITE of it, which are our own work.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["Held", "Recent"]

_CREATE = 0x100
_DELETE = 0x200
_MOVED_FROM = 0x40
_MOVED_TO = 0x80
_ARRIVALS = _CREATE | _MOVED_TO
_DEPARTURES = _DELETE | _MOVED_FROM


class Held(NamedTuple):
    """One synthetic event waiting for its release."""

    wd: int  # the directory the entry is in
    name: str
    mask: int
    origin: str  # "scan" or "rescan"
    until: float  # monotonic time the listing ended
    child: int | None  # the entry's own wd, for a watched directory


class Recent:
    """The held findings and the echo windows of our recent listings."""

    __slots__ = ("_by_child", "_by_key", "_echo", "_items", "_seq")

    def __init__(self) -> None:
        self._items: dict[int, Held] = {}  # seq -> item, in the order found
        self._by_key: dict[tuple[int, str], list[int]] = {}
        self._by_child: dict[int, int] = {}  # a held directory's wd -> its seq
        self._echo: dict[tuple[int, bytes], float] = {}
        self._seq = 0

    def __bool__(self) -> bool:
        return bool(self._items) or bool(self._echo)

    # --- recording -----------------------------------------------------------------

    def hold(
        self,
        wd: int,
        name: str,
        mask: int,
        origin: str,
        until: float,
        child: int | None = None,
    ) -> None:
        self._seq += 1
        seq = self._seq
        self._items[seq] = Held(wd, name, mask, origin, until, child)
        self._by_key.setdefault((wd, name), []).append(seq)
        if child is not None:
            self._by_child[child] = seq

    def adopt(self, wd: int, name: str, child: int) -> None:
        """The held directory *name* in *wd* got its own watch *child*.

        A directory can be held under two names: listed at its first, renamed,
        then found again by a listing of its new parent (the rename's events
        still queued). What the kernel queued inside it before the rename
        happened at the first name, so that finding stays the one its contents
        depend on: a later one never takes its place."""
        anchored = self._by_child.get(child)
        for seq in self._by_key.get((wd, name), ()):
            item = self._items[seq]
            # A held DELETE of that name (the directory a mount hid, say) is
            # about what was there before: never the anchor of what is there.
            if item.child is None and not item.mask & _DEPARTURES:
                self._items[seq] = item._replace(child=child)
                if anchored is None or anchored not in self._items:
                    self._by_child[child] = anchored = seq

    def quiet(self, wd: int, name: bytes, until: float) -> None:
        """Drop OPEN/ACCESS/CLOSE_NOWRITE of *name* on *wd* until *until* is passed."""
        self._echo[(wd, name)] = until

    def carry_echo(self, wd: int, name: bytes, to_wd: int, to_name: bytes) -> None:
        """The directory *name* in *wd* was renamed to *to_name* in *to_wd*: the
        rest of our listing's echo names it there (the kernel names an entry by
        its name at the time of each event, and a rename can fall between the
        OPEN and the CLOSE_NOWRITE of our listing)."""
        until = self._echo.get((wd, name))
        if until is not None:
            self._echo[(to_wd, to_name)] = until

    def held_in(self, wds: set[int]) -> set[tuple[int, str]]:
        """(wd, name) of every finding held in the directories *wds*."""
        return {(item.wd, item.name) for item in self._items.values() if item.wd in wds}

    def is_echo(self, wd: int, name: bytes) -> bool:
        return (wd, name) in self._echo

    # --- settling against kernel events ----------------------------------------------

    def settle(self, wd: int, name: str, mask: int) -> list[Held]:
        """A kernel event (*mask*) about *name* in *wd* is being processed: return
        the held findings to deliver before it, forgetting those it replaces."""
        out: list[Held] = []
        if wd in self._by_child:
            out.extend(self._release_chain(self._by_child[wd]))
        seqs = self._by_key.get((wd, name))
        if not seqs:
            return out
        for seq in list(seqs):
            item = self._items.get(seq)
            if item is None:
                continue
            if mask & _ARRIVALS and not item.mask & _DEPARTURES:
                self._forget(seq)  # the kernel reports this arrival itself
            elif mask & _DEPARTURES and item.mask & _DEPARTURES:
                self._forget(seq)  # likewise this departure
            else:
                out.extend(self._release_chain(seq))
        return out

    def inside(self, wd: int) -> list[Held]:
        """A kernel event about the directory *wd* itself (or without a name in it):
        release what its existence depends on."""
        seq = self._by_child.get(wd)
        return [] if seq is None else self._release_chain(seq)

    # --- releasing -------------------------------------------------------------------

    def due(self, horizon: float) -> list[Held]:
        """Release every finding (and end every echo window) stamped before
        *horizon*: the start of a read whose events are all processed."""
        if self._echo:
            for key in [k for k, until in self._echo.items() if until < horizon]:
                del self._echo[key]
        out: list[Held] = []
        for seq in [s for s, item in self._items.items() if item.until < horizon]:
            if seq in self._items:
                out.extend(self._release_chain(seq))
        return out

    def release_all(self) -> list[Held]:
        self._echo.clear()
        out = list(self._items.values())
        self._items.clear()
        self._by_key.clear()
        self._by_child.clear()
        return out

    def drop_dirs(self, wds: set[int]) -> None:
        """The directories *wds* left the watched set: forget what is held in them."""
        self.drop_held(wds)
        for key in [k for k in self._echo if k[0] in wds]:
            del self._echo[key]

    def drop_held(self, wds: set[int]) -> None:
        """The directories *wds* stay watched but are listed again (or later):
        forget the findings held in them, keep their echo windows. The echo of
        an earlier listing of their subdirectories is in the kernel queue
        already, on these same wds, whatever happens to the table meanwhile
        (a rename can put the ACCESS and CLOSE_NOWRITE of a listing after the
        events that make us list the tree again: ground truth, seed 48): it
        stays ours until a read that started after that listing is processed."""
        for seq in [s for s, item in self._items.items() if item.wd in wds]:
            self._forget(seq)

    def _release_chain(self, seq: int) -> list[Held]:
        """Release *seq*, after what its own directory's existence depends on."""
        chain: list[int] = []
        while seq in self._items and seq not in chain:
            chain.append(seq)
            parent = self._by_child.get(self._items[seq].wd)
            if parent is None:
                break
            seq = parent
        # Earlier findings about the same entry go first (a DELETE before the
        # CREATE of what replaced it).
        ordered: list[int] = []
        for s in reversed(chain):
            found = self._items[s]
            ordered.extend(e for e in self._by_key.get((found.wd, found.name), ()) if e < s)
            ordered.append(s)
        out = []
        for s in ordered:
            item = self._items.get(s)
            if item is not None:
                self._forget(s)
                out.append(item)
        return out

    def _forget(self, seq: int) -> None:
        item = self._items.pop(seq)
        key = (item.wd, item.name)
        seqs = self._by_key.get(key)
        if seqs is not None:
            seqs.remove(seq)
            if not seqs:
                del self._by_key[key]
        if item.child is not None and self._by_child.get(item.child) == seq:
            del self._by_child[item.child]
