"""`PostgresUnitOfWork`: every PostgreSQL store on one connection, one transaction."""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager
from types import TracebackType
from typing import ClassVar, Self, TypeVar, final

import psycopg

from orderkit.adapters._documents import Documents
from orderkit.adapters._postgres_clock import DEFAULT_AHEAD
from orderkit.adapters._postgres_cursors import PostgresCursorStore
from orderkit.adapters._postgres_detector import PostgresDetectorStore
from orderkit.adapters._postgres_keys import PostgresKeyStore
from orderkit.adapters._postgres_ledger import PostgresLedgerStore
from orderkit.adapters._postgres_limits import PostgresLimitStore
from orderkit.adapters._postgres_orders import PostgresAuditLog, PostgresOrderStore
from orderkit.adapters._postgres_outbox import PostgresInbox, PostgresOutbox
from orderkit.adapters._postgres_session import (
    DEFAULT_ATTEMPTS,
    RETRYABLE,
    STORE,
    Connection,
    ConnectionPool,
    Cursor,
    SessionStore,
    conflict,
    in_transaction,
    store_error,
)
from orderkit.adapters._unit_messages import OPEN_ALREADY
from orderkit.errors import StoreError


T = TypeVar("T")


def _nothing(_cur: Cursor) -> None:
    return None


@final
class _UnitConnection:
    """What the unit's stores connect through: the open unit's connection.

    It has a pool's shape, so the stores need no other way to connect: each
    call borrows the unit's connection and, finding it inside the unit's
    transaction, writes in a savepoint of it.
    """

    __slots__ = ("conn", "thread")
    opens_later: ClassVar[bool] = True
    """No connection until a unit opens: a store reads nothing on taking it."""

    def __init__(self) -> None:
        self.conn: Connection | None = None
        self.thread: int | None = None

    def lend(self, conn: Connection) -> None:
        """Serve `conn` to the calling thread's store calls, and no other's."""
        self.conn, self.thread = conn, threading.get_ident()

    def connection(self) -> AbstractContextManager[Connection]:
        # A store taken in one thread and kept must not write into the
        # transaction another thread opened (nor share its connection).
        if self.conn is None or self.thread != threading.get_ident():
            raise StoreError(STORE, "connect", "no unit of work is open: use `with`")
        return contextlib.nullcontext(self.conn)


@final
class PostgresUnitOfWork:
    """A `UnitOfWork` over the PostgreSQL stores: one connection, one transaction.

    The unit of work keeps one store of each kind (`PostgresOrderStore`,
    `PostgresAuditLog`, `PostgresOutbox`, `PostgresInbox`,
    `PostgresLedgerStore`, `PostgresKeyStore`, `PostgresLimitStore`,
    `PostgresDetectorStore`, `PostgresCursorStore`), creating or migrating
    their tables on opening. `with uow:` takes a connection and begins a
    transaction (READ COMMITTED): the stores join it, each call in its own
    savepoint (a failed call undoes only its own writes), and `commit()`
    commits them all at once. Leaving the block without committing, or with
    an exception, rolls back. Other connections see nothing of an open unit.

    Units on one order queue up rather than fail: inside a unit, reading an
    order locks its row until the unit ends, and the ledger locks the
    balances a plan touches, in (SKU, location) order within each call. A
    `Ledger` with this unit's outbox takes each SKU's `sellable` stream
    before its balances, SKUs in code point order. The locks last to the
    unit's end, so a unit that makes several ledger calls should make them
    in SKU order too (the order desk commits and releases an order's holds
    so). Units that take locks in crossed orders may deadlock; the server
    breaks the tie and the loser's store call raises `ConcurrencyConflict`
    with the driver's error as its cause. Run the unit again.

    After `commit()` the unit goes on in a new transaction, so writes after
    it are rolled back on leaving unless committed again.

    Units of one `PostgresUnitOfWork` run one at a time: threads sharing it
    wait their turn. For parallel units, give each thread or process its own,
    or give them one pool.

    Args:
        target: A DSN (the unit of work opens and owns one connection), an
            open `psycopg.Connection` that it uses as is and never closes, or
            a host's pool (`psycopg_pool.ConnectionPool`), from which each
            unit borrows one connection and gives it back on leaving.
        converter: Writes the order and audit documents;
            `orderkit.serialization.make_converter()` by default.
        attempts: How often a store call outside any unit retries a
            serialization failure (inside a unit, a conflict ends the call).
        max_clock_ahead: How far ahead of the server's clock the ledger
            takes a caller's time (see `PostgresLedgerStore`); `None` for
            no limit, as for a test's clock in the future.

    Raises:
        StoreError: The server cannot be reached, or holds a schema from a
            newer orderkit.

    .. versionadded:: 0.1.0
    """

    def __init__(
        self,
        target: str | Connection | ConnectionPool,
        *,
        converter: Documents | None = None,
        attempts: int = DEFAULT_ATTEMPTS,
        max_clock_ahead: dt.timedelta | None = DEFAULT_AHEAD,
    ) -> None:
        """Connect, and create or migrate every store's tables."""
        self._lock = threading.Lock()
        self._owner: int | None = None
        self._dsn: str | None = None
        self._conn: Connection | None = None
        self._pool: ConnectionPool | None = None
        self._lent: contextlib.ExitStack | None = None
        self._tx: AbstractContextManager[psycopg.Transaction] | None = None
        self._closed = False
        if isinstance(target, str):
            self._dsn = target
            self._conn = self._connect()
        elif isinstance(target, psycopg.Connection):
            self._conn = target
        else:
            self._pool = target
        self._unit = unit = _UnitConnection()
        try:
            self._orders = PostgresOrderStore(
                unit, converter=converter, attempts=attempts
            )
            self._audit = PostgresAuditLog(unit, converter=converter, attempts=attempts)
            self._outbox = PostgresOutbox(unit, attempts=attempts)
            self._inbox = PostgresInbox(unit, attempts=attempts)
            self._ledger = PostgresLedgerStore(
                unit, attempts=attempts, max_clock_ahead=max_clock_ahead
            )
            self._keys = PostgresKeyStore(unit, attempts=attempts)
            self._limits = PostgresLimitStore(unit, attempts=attempts)
            self._detector = PostgresDetectorStore(unit, attempts=attempts)
            self._cursors = PostgresCursorStore(unit, attempts=attempts)
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
            # now, once, instead of on a unit's first call to it.
            with self._borrowed("open") as conn:
                unit.lend(conn)
                try:
                    for store in stores:
                        store._session.read("open", _nothing)  # noqa: SLF001 - the stores' shared session
                    self._ledger.measure_clock()
                finally:
                    unit.conn = None
        except BaseException:
            self.close()
            raise

    @property
    def orders(self) -> PostgresOrderStore:
        """The unit's orders."""
        return self._open("orders", self._orders)

    @property
    def audit(self) -> PostgresAuditLog:
        """The unit's audit trail."""
        return self._open("audit", self._audit)

    @property
    def outbox(self) -> PostgresOutbox:
        """The unit's outbox."""
        return self._open("outbox", self._outbox)

    @property
    def inbox(self) -> PostgresInbox:
        """The unit's inbox."""
        return self._open("inbox", self._inbox)

    @property
    def ledger(self) -> PostgresLedgerStore:
        """The unit's inventory ledger."""
        return self._open("ledger", self._ledger)

    @property
    def keys(self) -> PostgresKeyStore:
        """The unit's idempotency keys."""
        return self._open("keys", self._keys)

    @property
    def limits(self) -> PostgresLimitStore:
        """The unit's purchase-limit counts."""
        return self._open("limits", self._limits)

    @property
    def detector(self) -> PostgresDetectorStore:
        """The unit's duplicate-detector records and review queue."""
        return self._open("detector", self._detector)

    @property
    def cursors(self) -> PostgresCursorStore:
        """The unit's feed cursors."""
        return self._open("cursors", self._cursors)

    def __enter__(self) -> Self:
        """Open a unit: wait for this object's lock, take a connection, begin.

        Raises:
            StoreError: This thread has a unit open on it already, the unit
                of work is closed, a given connection is inside another
                transaction, or the server failed.
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
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Roll back what was not committed, return the connection, let the next in."""
        if self._owner != threading.get_ident():
            return
        try:
            self._end(commit=False)
        finally:
            self._unit.conn = None
            lent, self._lent = self._lent, None
            self._owner = None
            try:
                if lent is not None:
                    lent.close()
            finally:
                self._lock.release()

    def commit(self) -> None:
        """Commit everything written since the unit opened or last committed.

        Raises:
            StoreError: No unit is open in this thread, or the server failed
                to commit (everything since the last commit is rolled back).
            ConcurrencyConflict: The server refused the commit to keep
                transactions serializable; nothing was committed.
        """
        self._check("commit")
        self._end_then_start(commit=True)

    def rollback(self) -> None:
        """Undo everything written since the unit opened or last committed.

        Raises:
            StoreError: No unit is open in this thread, or the server failed.
        """
        self._check("rollback")
        self._end_then_start(commit=False)

    def close(self) -> None:
        """Close the unit of work's own connection; a given one or a pool stays open.

        Closing twice is harmless; a unit opened after closing raises
        `StoreError`.
        """
        self._closed = True
        if self._dsn is not None and self._conn is not None:
            self._conn.close()

    # ----------------------------------------------------------------------

    def _connect(self) -> Connection:
        assert self._dsn is not None  # noqa: S101 - only owned connections are opened here
        try:
            return psycopg.connect(self._dsn, autocommit=True)
        except psycopg.Error as exc:
            raise store_error("open", exc) from exc

    @contextlib.contextmanager
    def _borrowed(self, operation: str) -> Iterator[Connection]:
        with contextlib.ExitStack() as lent:
            yield self._take(operation, lent)

    def _take(self, operation: str, lent: contextlib.ExitStack) -> Connection:
        """A connection for one unit; `lent` gives a pool's back when closed."""
        if self._closed:
            raise StoreError(STORE, operation, "the unit of work is closed")
        if self._pool is not None:
            try:
                return lent.enter_context(self._pool.connection())
            except Exception as exc:  # the pool's own timeout is no psycopg error
                raise store_error(operation, exc) from exc
        conn = self._conn
        assert conn is not None  # noqa: S101 - set in __init__ for these targets
        if conn.closed or conn.broken:
            if self._dsn is None:
                raise StoreError(STORE, operation, "the given connection is closed")
            conn = self._conn = self._connect()
        return conn

    def _begin(self) -> None:
        lent = contextlib.ExitStack()
        try:
            self._open_on(self._take("begin", lent))
        except BaseException:
            self._unit.conn = None
            lent.close()
            raise
        self._lent = lent

    def _open_on(self, conn: Connection) -> None:
        if in_transaction(conn):
            raise StoreError(
                STORE, "begin", "the connection is inside a transaction already"
            )
        self._unit.lend(conn)
        try:
            self._start()
        except StoreError as exc:
            # The server may have dropped an idle owned connection since the
            # last unit; nothing is lost yet, so connect again once. psycopg
            # may not know yet: the socket closed under BEGIN itself.
            dropped = conn.broken or isinstance(exc.__cause__, psycopg.OperationalError)
            if self._dsn is None or not dropped:
                raise
            conn.close()
            self._conn = self._connect()
            self._unit.lend(self._conn)
            self._start()

    def _start(self) -> None:
        conn = self._unit.conn
        assert conn is not None  # noqa: S101 - only called with a unit open
        tx = conn.transaction()
        try:
            tx.__enter__()
        except psycopg.Error as exc:
            raise store_error("begin", exc) from exc
        self._tx = tx

    def _end_then_start(self, *, commit: bool) -> None:
        """End the unit's transaction and begin its next; the end's error wins.

        A connection that broke under COMMIT fails the BEGIN after it too:
        raised in its place, that error would hide which call failed.
        """
        try:
            self._end(commit=commit)
        except BaseException:
            with contextlib.suppress(StoreError):
                self._start()
            raise
        self._start()

    def _end(self, *, commit: bool) -> None:
        tx, self._tx = self._tx, None
        if tx is None:
            return
        try:
            if commit:
                tx.__exit__(None, None, None)
            else:
                tx.__exit__(psycopg.Rollback, psycopg.Rollback(), None)
        except RETRYABLE as exc:
            raise conflict("commit", exc) from exc
        except psycopg.Error as exc:
            if not commit:
                return  # a broken connection has nothing left to roll back
            raise store_error("commit", exc) from exc

    def _check(self, operation: str) -> None:
        if self._owner != threading.get_ident():
            raise StoreError(STORE, operation, "no unit of work is open: use `with`")

    def _open(self, operation: str, store: T) -> T:
        self._check(operation)
        return store
