"""The undo journal a memory store keeps while a `MemoryUnitOfWork` unit is open.

A memory store used on its own keeps no journal: its `_journal` is `None`,
and each write costs one `is not None` check more. A store a unit of work
owns refuses every call outside that unit's thread while it is open, and
every call when no unit is open (`Journaled._in_unit`). While a unit is open,
every write first records how to undo itself (the old value of a dict key
or an attribute, "absent", a list's length, the heap slots a push or pop
moves), so that `commit()` costs dropping the journal and a rollback
replays it backwards: both O(what the unit wrote), however much the stores
hold. Replaying every record backwards, from the last, puts each structure
back exactly as it was, down to the layout of its heaps. A unit's stores
share one journal: a commit clears one list, and a rollback replays one.

A record is a tuple, `(undo, *arguments)`: one object where a
`functools.partial` would be two, for the garbage collector to track.
"""

from __future__ import annotations

import heapq
import threading
from collections.abc import Callable, MutableMapping
from typing import Any, Final, TypeVar, final

from orderkit.errors import StoreError


H = TypeVar("H", bound="tuple[Any, ...]")
"""A heap's item: a tuple, compared as heapq compares it."""
K = TypeVar("K")
V = TypeVar("V")
_STORE: Final = "memory"
ABSENT: Final[Any] = object()
"""What a journal records for a key that was not in its dict."""


def put(mapping: MutableMapping[Any, Any], key: object, old: object) -> None:
    """Give `mapping[key]` its `old` value back, or take the key out if `ABSENT`."""
    if old is ABSENT:
        mapping.pop(key, None)
    else:
        mapping[key] = old


def _truncate(items: list[Any], length: int) -> None:
    del items[length:]


def _put_whole(items: list[Any], old: list[Any]) -> None:
    items[:] = old


def _put_slots(heap: list[Any], length: int, slots: list[tuple[int, Any]]) -> None:
    """Give `heap` its old length back, then its old values in `slots`."""
    if len(heap) > length:
        del heap[length:]
    else:
        # A pop took the last slot away: it is among `slots`.
        heap.extend([None] * (length - len(heap)))
    for index, value in slots:
        heap[index] = value


@final
class Journal:
    """Undo records, newest last; replayed backwards to roll back."""

    __slots__ = ("undo",)

    def __init__(self) -> None:
        self.undo: list[tuple[Any, ...]] = []
        """Each record is `(undo, *arguments)`: `undo(*arguments)` rolls it back."""

    def record(self, undo: Callable[..., object], *arguments: object) -> None:
        """Keep `undo(*arguments)`, to be called on rollback."""
        self.undo.append((undo, *arguments))

    def item(self, mapping: MutableMapping[Any, Any], key: object) -> None:
        """Before `mapping[key]` is set or deleted: keep its value, or absent."""
        self.undo.append((put, mapping, key, mapping.get(key, ABSENT)))

    def attr(self, owner: object, name: str) -> None:
        """Before `owner.name` is set: keep its value."""
        self.undo.append((setattr, owner, name, getattr(owner, name)))

    def length(self, items: list[Any]) -> None:
        """Before `items` grows at its end only: keep its length."""
        self.undo.append((_truncate, items, len(items)))

    def whole(self, items: list[Any]) -> None:
        """Before `items` is rewritten at large: keep a copy (O(len(items)))."""
        self.undo.append((_put_whole, items, items[:]))

    def added(self, members: set[Any], member: object) -> None:
        """Before `member` is added to `members`: undo it if it is new."""
        if member not in members:
            self.undo.append((members.discard, member))

    def push(self, heap: list[Any], item: Any) -> None:  # noqa: ANN401 - any heap item
        """`heapq.heappush(heap, item)`, undone exactly in O(log n).

        A push moves the slots from the new leaf up, as long as `item` is
        less than the slot's parent, no others: the slots it will move are
        found first, by the very comparisons `heapq` makes. Most pushes (a
        later expiry) move none: `item` is appended, as `heapq` would leave
        it, and their undo is a truncation.
        """
        slots = []
        index = length = len(heap)
        while index > 0:
            index = (index - 1) >> 1
            parent = heap[index]
            if not item < parent:
                break
            slots.append((index, parent))
        if slots:
            self.undo.append((_put_slots, heap, length, slots))
            heapq.heappush(heap, item)
        else:
            self.undo.append((_truncate, heap, length))
            heap.append(item)

    def pop(self, heap: list[H]) -> H:
        """`heapq.heappop(heap)`, undone exactly in O(log n).

        A pop takes the last slot and moves the slots on one path from the
        root down (following the smaller child, the right one on a tie, as
        `heapq` does), and no others: the path is found before popping.
        """
        end = len(heap) - 1
        slots = [(end, heap[end])] if end >= 0 else []
        index = 0
        while index < end:
            slots.append((index, heap[index]))
            child = 2 * index + 1
            if child >= end:
                break
            right = child + 1
            if right < end and not heap[child] < heap[right]:
                child = right
            index = child
        self.undo.append((_put_slots, heap, len(heap), slots))
        return heapq.heappop(heap)

    def replay(self) -> None:
        """Undo every record, newest first, and forget them.

        A record whose undo raises does not stop the others: stopping would
        keep every older write of the unit, in every store, where only that
        record's write is left. The first error is raised once all are done.
        """
        undo = self.undo
        failed: BaseException | None = None
        while undo:
            call, *arguments = undo.pop()
            try:
                call(*arguments)
            except BaseException as exc:  # noqa: BLE001 - re-raised below
                failed = exc if failed is None else failed
        if failed is not None:
            raise failed

    def clear(self) -> None:
        """Forget every record: what they undo is kept."""
        self.undo.clear()


def child(
    journal: Journal | None, mapping: dict[K, V], key: K, new: Callable[[], V]
) -> V:
    """`mapping.setdefault(key, new())`, journaled when a unit is open."""
    found = mapping.get(key)
    if found is None:
        if journal is not None:
            journal.item(mapping, key)
        found = mapping[key] = new()
    return found


def push(journal: Journal | None, heap: list[Any], item: object) -> None:
    """`heapq.heappush`, journaled when a unit is open."""
    if journal is None:
        heapq.heappush(heap, item)
    else:
        journal.push(heap, item)


def pop(journal: Journal | None, heap: list[H]) -> H:
    """`heapq.heappop`, journaled when a unit is open."""
    if journal is None:
        return heapq.heappop(heap)
    return journal.pop(heap)


class Journaled:
    """What `MemoryUnitOfWork` calls on each memory store it owns.

    A store sets `_lock` and, in `__init__`, `_journal = None`; it records
    every write in `_journal` when that is not `None`. Every public method
    of a store starts with `if self._owned: self._in_unit(name)`, so that
    a store kept past its unit, or used from a thread other than the one
    whose unit is open, is refused with `StoreError` before it reads or
    writes anything, as the SQLite unit's stores are. A store used on its
    own (not owned) pays that one attribute check and nothing more.

    The unit commits and rolls back the journal it hands its stores itself:
    while it is open, no thread but its own gets past `_in_unit`, so a
    replay needs none of the stores' locks.
    """

    _lock: threading.Lock
    _journal: Journal | None
    # Class defaults: a store created on its own is not owned, so its
    # `__init__` need not know about units at all.
    _owned: bool = False
    """Set by the `MemoryUnitOfWork` that created the store."""
    _thread: int | None = None
    """The thread whose unit is open (set by `_begin`), else `None`."""

    def _own(self) -> None:
        """Belong to a unit of work: every call needs its unit open from now on."""
        self._owned = True

    def _in_unit(self, operation: str) -> None:
        """Before a call of an owned store: its unit is open in this thread.

        Checked without the store's lock: only the thread whose unit is open
        can close it, so when this passes the unit stays open for the call.

        Raises:
            StoreError: No unit is open, or another thread's unit is: the
                store was kept past its unit. Nothing was read or written.
        """
        if self._journal is None or self._thread != threading.get_ident():
            raise StoreError(
                _STORE, operation, "no unit of work is open: use `with unit:`"
            )

    # Nor do `_begin` and `_end` take the lock: they run in the unit's own
    # thread, and `_thread` only ever holds that thread or `None`, so a call
    # from any other thread is refused whatever they have set so far.

    def _begin(self, journal: Journal | None = None) -> None:
        """Start journaling in `journal` (a new one if `None`): a unit opened here."""
        self._journal = Journal() if journal is None else journal
        self._thread = threading.get_ident()

    def _end(self) -> None:
        """Stop journaling: the unit closed (after committing or rolling back)."""
        self._journal = None
        self._thread = None

    def _rolled_back(self) -> None:
        """Mend what a replay cannot (the order of a dict), after the unit's replay."""


def hooked(store: Journaled) -> bool:
    """Whether `store` does more than `Journaled` when its unit opens or closes.

    A unit of work sets `_journal` and `_thread` itself on the stores that
    do not (what `_begin` and `_end` would set: a call each is most of an
    empty unit's cost), and calls the hooks of the others.
    """
    kind = type(store)
    begins = kind._begin is not Journaled._begin  # noqa: SLF001 - the hooks compared
    return begins or kind._end is not Journaled._end  # noqa: SLF001
