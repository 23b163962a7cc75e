"""`SqliteUnitOfWork`: every SQLite store on one connection, in one transaction."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Self, TypeVar, final

from orderkit.adapters._documents import Documents
from orderkit.adapters._sqlite_cursors import SqliteCursorStore
from orderkit.adapters._sqlite_detector import SqliteDetectorStore
from orderkit.adapters._sqlite_keys import SqliteKeyStore
from orderkit.adapters._sqlite_ledger import SqliteLedgerStore
from orderkit.adapters._sqlite_limits import SqliteLimitStore
from orderkit.adapters._sqlite_orders import SqliteAuditLog, SqliteOrderStore
from orderkit.adapters._sqlite_outbox import SqliteInbox, SqliteOutbox
from orderkit.adapters._sqlite_session import (
    DEFAULT_TIMEOUT,
    FAILURES,
    STORE,
    SessionStore,
    store_error,
    use_wal,
)
from orderkit.adapters._unit_messages import OPEN_ALREADY
from orderkit.errors import StoreError


T = TypeVar("T")


def _nothing(_cur: sqlite3.Cursor) -> None:
    return None


@final
class SqliteUnitOfWork:
    """A `UnitOfWork` over the SQLite stores: one connection, one transaction.

    The unit of work keeps one connection and one store of each kind on it
    (`SqliteOrderStore`, `SqliteAuditLog`, `SqliteOutbox`, `SqliteInbox`,
    `SqliteLedgerStore`, `SqliteKeyStore`, `SqliteLimitStore`,
    `SqliteDetectorStore`, `SqliteCursorStore`), creating their tables on
    opening. `with uow:` begins a `BEGIN IMMEDIATE` transaction: the stores
    join it, each call in its own `SAVEPOINT` (a failed call undoes only its
    own writes), and `commit()` commits them all at once. Leaving the block
    without committing, or with an exception, rolls back. Other connections
    see nothing of an open unit; a second writer, in any process, waits for
    the write lock up to `timeout` seconds, then gets `StoreError`.

    After `commit()` the unit goes on in a new transaction, begun by its next
    store call, so writes after it are rolled back on leaving unless
    committed again. Should SQLite roll the unit's transaction back itself (a
    full disk, an I/O error), every later call in the unit raises
    `StoreError` rather than write on its own: leave the unit.

    Units of one `SqliteUnitOfWork` run one at a time: threads sharing it
    wait their turn. Give each process its own (SQLite serialises writers
    across processes anyway).

    Args:
        target: A file path, or an open `sqlite3.Connection` in autocommit
            mode (`isolation_level=None`) that the unit of work uses as is
            and never closes (`":memory:"` databases go this way).
        converter: Writes the order and audit documents;
            `orderkit.serialization.make_converter()` by default.
        timeout: Seconds to wait for another process's write lock (paths only).

    Raises:
        StoreError: The file cannot be opened, is not a database, or holds a
            schema from a newer orderkit.

    .. versionadded:: 0.1.0
    """

    def __init__(
        self,
        target: str | os.PathLike[str] | sqlite3.Connection,
        *,
        converter: Documents | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        """Open the connection and the stores on it, creating their tables."""
        self._lock = threading.Lock()
        self._owner: int | None = None
        if isinstance(target, sqlite3.Connection):
            self._owned = False
            self._conn = target
        else:
            self._owned = True
            try:
                self._conn = sqlite3.connect(
                    target,
                    timeout=timeout,
                    isolation_level=None,
                    check_same_thread=False,
                )
            except sqlite3.Error as exc:
                raise store_error("open", exc) from exc
            try:
                use_wal(self._conn, timeout)
            except sqlite3.Error as exc:
                self._conn.close()
                raise store_error("open", exc) from exc
        conn = self._conn
        try:
            self._orders = SqliteOrderStore(conn, converter=converter)
            self._audit = SqliteAuditLog(conn, converter=converter)
            self._outbox = SqliteOutbox(conn)
            self._inbox = SqliteInbox(conn)
            self._ledger = SqliteLedgerStore(conn)
            self._keys = SqliteKeyStore(conn)
            self._limits = SqliteLimitStore(conn)
            self._detector = SqliteDetectorStore(conn)
            self._cursors = SqliteCursorStore(conn)
            stores: tuple[SessionStore, ...] = (
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
            # Outside a transaction each store creates or checks its tables
            # now, once, instead of on every call inside the units.
            for store in stores:
                store._session.read("open", _nothing)  # noqa: SLF001 - the stores' shared session
            self._stores = stores
            # After a commit or rollback the next transaction begins with the
            # unit's next call, so that a COMMIT that succeeded never reports
            # the failure of a BEGIN after it.
            self._due = False
            # A store kept past its unit must not write on its own.
            self._join(self._outside)
        except BaseException:
            if self._owned:
                self._conn.close()
            raise

    @property
    def orders(self) -> SqliteOrderStore:
        """The unit's orders."""
        return self._open("orders", self._orders)

    @property
    def audit(self) -> SqliteAuditLog:
        """The unit's audit trail."""
        return self._open("audit", self._audit)

    @property
    def outbox(self) -> SqliteOutbox:
        """The unit's outbox."""
        return self._open("outbox", self._outbox)

    @property
    def inbox(self) -> SqliteInbox:
        """The unit's inbox."""
        return self._open("inbox", self._inbox)

    @property
    def ledger(self) -> SqliteLedgerStore:
        """The unit's inventory ledger."""
        return self._open("ledger", self._ledger)

    @property
    def keys(self) -> SqliteKeyStore:
        """The unit's idempotency keys."""
        return self._open("keys", self._keys)

    @property
    def limits(self) -> SqliteLimitStore:
        """The unit's purchase-limit counts."""
        return self._open("limits", self._limits)

    @property
    def detector(self) -> SqliteDetectorStore:
        """The unit's duplicate-detector records and review queue."""
        return self._open("detector", self._detector)

    @property
    def cursors(self) -> SqliteCursorStore:
        """The unit's feed cursors."""
        return self._open("cursors", self._cursors)

    def __enter__(self) -> Self:
        """Open a unit: wait for this object's lock, then `BEGIN IMMEDIATE`.

        Raises:
            StoreError: This thread has a unit open on it already, the
                connection is inside another transaction, or SQLite failed
                (another process kept the write lock past `timeout`).
        """
        if self._owner == threading.get_ident():
            raise StoreError(STORE, "begin", OPEN_ALREADY)
        self._lock.acquire()
        try:
            self._begin()
        except BaseException:
            self._lock.release()
            raise
        self._owner = threading.get_ident()
        self._due = False
        self._join(self._in_unit)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Roll back what was not committed and let the next unit in."""
        if self._owner != threading.get_ident():
            return
        try:
            self._rollback()
        finally:
            self._join(self._outside)
            self._due = False
            self._owner = None
            self._lock.release()

    def commit(self) -> None:
        """Commit everything written since the unit opened or last committed.

        Raises:
            StoreError: No unit is open in this thread, or SQLite failed to
                commit (everything since the last commit is rolled back).
        """
        self._check("commit")
        if self._due:
            return  # nothing written since the last commit
        if not self._in_transaction():
            raise StoreError(STORE, "commit", "SQLite rolled the transaction back")
        try:
            self._execute("commit", "COMMIT")
        except StoreError:
            self._rollback()
            raise
        finally:
            self._due = True

    def rollback(self) -> None:
        """Undo everything written since the unit opened or last committed.

        Raises:
            StoreError: No unit is open in this thread, or SQLite failed.
        """
        self._check("rollback")
        self._rollback()
        self._due = True

    def close(self) -> None:
        """Close the unit of work's own connection; a given one stays open.

        Closing twice is harmless; a unit opened after closing raises
        `StoreError`.

        Raises:
            StoreError: This thread has a unit open on it: leave it first
                (waiting for the unit's own lock would never end).
        """
        if self._owner == threading.get_ident():
            raise StoreError(STORE, "close", "a unit of work is open: leave it first")
        with self._lock:
            if self._owned:
                self._conn.close()

    def _begin(self) -> None:
        try:
            busy = self._conn.in_transaction
        except FAILURES as exc:  # a closed connection
            raise store_error("begin", exc) from exc
        if busy:
            raise StoreError(
                STORE, "begin", "the connection is inside a transaction already"
            )
        self._execute("begin", "BEGIN IMMEDIATE")

    def _outside(self) -> None:
        """Before a call of a store kept past its unit: refused.

        Raises:
            StoreError: Always: the unit's stores are used inside `with`.
        """
        raise StoreError(STORE, "call", "no unit of work is open: use `with unit:`")

    def _join(self, joined: Callable[[], None] | None) -> None:
        for store in self._stores:
            store._session.joined = joined  # noqa: SLF001 - the stores' shared session

    def _in_unit(self) -> None:
        """Before each store call in the unit: the unit's transaction, open.

        Raises:
            StoreError: SQLite failed to begin the next transaction after a
                commit or rollback (another process kept the write lock), or
                rolled the unit's transaction back itself (a full disk, an I/O
                error): nothing more is written in this unit; leave it.
        """
        if self._owner != threading.get_ident():
            # Another thread's unit: a store taken in one thread and kept
            # must not write into the transaction another thread opened.
            self._outside()
        if self._conn.in_transaction:
            return
        if not self._due:
            raise StoreError(
                STORE,
                "write",
                "SQLite rolled the unit's transaction back: leave the unit",
            )
        self._execute("begin", "BEGIN IMMEDIATE")
        self._due = False

    def _execute(self, operation: str, statement: str) -> None:
        try:
            self._conn.execute(statement)
        except FAILURES as exc:
            raise store_error(operation, exc) from exc

    def _in_transaction(self) -> bool:
        try:
            return self._conn.in_transaction
        except FAILURES as exc:  # a closed connection
            raise store_error("commit", exc) from exc

    def _rollback(self) -> None:
        # SQLite may have rolled back already (a failed COMMIT, a full disk);
        # a closed connection has nothing left to roll back.
        with contextlib.suppress(sqlite3.Error):
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")

    def _check(self, operation: str) -> None:
        if self._owner != threading.get_ident():
            raise StoreError(STORE, operation, "no unit of work is open: use `with`")

    def _open(self, operation: str, store: T) -> T:
        self._check(operation)
        return store
