"""`MemoryUnitOfWork`: all or nothing over the memory stores, one unit at a time."""

from __future__ import annotations

import threading
from types import TracebackType
from typing import Final, Self, TypeVar, final

from orderkit.adapters._memory_cursors import MemoryCursorStore
from orderkit.adapters._memory_detector import MemoryDetectorStore
from orderkit.adapters._memory_journal import Journal, Journaled, hooked
from orderkit.adapters._memory_keys import MemoryKeyStore
from orderkit.adapters._memory_ledger import MemoryLedgerStore
from orderkit.adapters._memory_limits import MemoryLimitStore
from orderkit.adapters._memory_orders import MemoryAuditLog, MemoryOrderStore
from orderkit.adapters._memory_outbox import MemoryInbox, MemoryOutbox
from orderkit.adapters._unit_messages import OPEN_ALREADY
from orderkit.errors import StoreError


_STORE = "memory"
T = TypeVar("T")


@final
class MemoryUnitOfWork:
    """A `UnitOfWork` over memory stores of its own: the reference semantics.

    The unit of work owns one store of each kind, created empty. `with uow:`
    takes the unit of work's lock (so units run one at a time, and threads
    sharing it wait their turn) and has every store journal its writes in
    the unit's one journal: each write first records how to undo itself.
    `commit()` keeps what the unit wrote and drops the journal; leaving the
    block without committing, or with an exception, replays the journal
    backwards, putting every store back as it was at the last commit, all
    at once. A unit costs O(what it writes), however much the stores hold
    (a rollback that took a message or a suspicion off its queue also
    re-sorts that queue). Nothing survives the process.

    The stores are the unit's: read them through `uow.orders` and the like
    inside the block. Outside a unit the properties raise `StoreError`. So
    does every call of a store kept past its unit (taken inside the block,
    called after it), reads included, and every call from a thread other
    than the one whose unit is open: such a call reads and writes nothing,
    as with `SqliteUnitOfWork`. Stores created on their own (not by a unit
    of work) work from any thread, with no unit, as before.

    .. versionadded:: 0.1.0
    """

    def __init__(self) -> None:
        """Create a unit of work over empty stores."""
        self._lock = threading.Lock()
        self._owner: int | None = None
        # Every store journals here while a unit is open: empty between units.
        self._journal = Journal()
        self._orders = MemoryOrderStore()
        self._audit = MemoryAuditLog()
        self._outbox = MemoryOutbox()
        self._inbox = MemoryInbox()
        self._ledger = MemoryLedgerStore()
        self._keys = MemoryKeyStore()
        self._limits = MemoryLimitStore()
        self._detector = MemoryDetectorStore()
        self._cursors = MemoryCursorStore()
        self._all: tuple[Journaled, ...] = (
            self._orders,
            self._audit,
            self._outbox,
            self._inbox,
            self._ledger,
            self._keys,
            self._limits,
            self._detector,
            self._cursors,
        )
        for store in self._all:
            store._own()  # noqa: SLF001 - a kept store must not write on its own
        # Opened and closed by setting what `Journaled._begin` and `_end` set,
        # but for the stores with hooks of their own (see `hooked`).
        self._plain = tuple(store for store in self._all if not hooked(store))
        self._hooked = tuple(store for store in self._all if hooked(store))

    @property
    def orders(self) -> MemoryOrderStore:
        """The unit's orders."""
        return self._open("orders", self._orders)

    @property
    def audit(self) -> MemoryAuditLog:
        """The unit's audit trail."""
        return self._open("audit", self._audit)

    @property
    def outbox(self) -> MemoryOutbox:
        """The unit's outbox."""
        return self._open("outbox", self._outbox)

    @property
    def inbox(self) -> MemoryInbox:
        """The unit's inbox."""
        return self._open("inbox", self._inbox)

    @property
    def ledger(self) -> MemoryLedgerStore:
        """The unit's inventory ledger."""
        return self._open("ledger", self._ledger)

    @property
    def keys(self) -> MemoryKeyStore:
        """The unit's idempotency keys."""
        return self._open("keys", self._keys)

    @property
    def limits(self) -> MemoryLimitStore:
        """The unit's purchase-limit counts."""
        return self._open("limits", self._limits)

    @property
    def detector(self) -> MemoryDetectorStore:
        """The unit's duplicate-detector records and review queue."""
        return self._open("detector", self._detector)

    @property
    def cursors(self) -> MemoryCursorStore:
        """The unit's feed cursors."""
        return self._open("cursors", self._cursors)

    def __enter__(self) -> Self:
        """Open a unit: wait for the lock, then start every store's journal.

        Raises:
            StoreError: This thread has a unit open on it already.
        """
        thread = _ident()
        if self._owner == thread:
            raise StoreError(_STORE, "begin", OPEN_ALREADY)
        self._lock.acquire()
        try:
            journal = self._journal
            for plain in self._plain:
                plain._journal = journal  # noqa: SLF001 - what `_begin` sets
                plain._thread = thread  # noqa: SLF001
            for store in self._hooked:
                store._begin(journal)  # noqa: SLF001 - the stores' hooks
        except BaseException:
            self._end()
            self._lock.release()
            raise
        self._owner = thread
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Put back what was not committed and let the next unit in."""
        if self._owner != _ident():
            return
        try:
            self._put_back()
        finally:
            self._end()
            self._owner = None
            self._lock.release()

    def commit(self) -> None:
        """Keep everything written since the unit opened or last committed.

        Raises:
            StoreError: No unit is open in this thread.
        """
        self._check("commit")
        self._journal.clear()

    def rollback(self) -> None:
        """Undo everything written since the unit opened or last committed.

        Raises:
            StoreError: No unit is open in this thread.
        """
        self._check("rollback")
        self._put_back()

    def _put_back(self) -> None:
        # Most units end committed: their journal is empty, nothing to mend.
        if self._journal.undo:
            try:
                self._journal.replay()
            finally:
                # Mended even when a record failed: the others were replayed.
                for store in self._all:
                    store._rolled_back()  # noqa: SLF001 - the stores' rollback hooks

    def _end(self) -> None:
        for plain in self._plain:
            plain._journal = None  # noqa: SLF001 - what `_end` sets
            plain._thread = None  # noqa: SLF001
        for store in self._hooked:
            store._end()  # noqa: SLF001 - the stores' rollback hooks
        # Empty already, unless a replay failed: no record outlives its unit.
        self._journal.clear()

    def _check(self, operation: str) -> None:
        if self._owner != _ident():
            raise _closed(operation)

    def _open(self, operation: str, store: T) -> T:
        self._check(operation)
        return store


_ident: Final = threading.get_ident


def _closed(operation: str) -> StoreError:
    """The error of a call that needs the unit open in this thread."""
    return StoreError(_STORE, operation, "no unit of work is open: use `with`")
