"""`PostgresLedgerStore`: the ledger in PostgreSQL, shared by any number of processes.

Most plans are one call of a server-side function (`_postgres_ledger_fast`);
the rest run the shared engine, which reads and writes through
`PostgresRows`, locking the plan's balances first. This module adds the
settings, the batched path and the retries; the reads are
`_postgres_ledger_reads`.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Sequence
from typing import ClassVar, Final, TypeVar

import pendulum
import psycopg
from psycopg import errors as pg_errors

from orderkit._time import to_utc
from orderkit.adapters import _ledger_engine as engine
from orderkit.adapters import _postgres_ledger_fast as fast
from orderkit.adapters._micros import to_us
from orderkit.adapters._postgres_clock import (
    DEFAULT_AHEAD,
    SERVER_TIME,
    ServerClock,
    ahead_limit,
)
from orderkit.adapters._postgres_ledger_reads import UNSENDABLE, LedgerReads
from orderkit.adapters._postgres_ledger_rows import PostgresRows
from orderkit.adapters._postgres_ledger_tables import (
    DROP_POLICY,
    LEDGER,
    SET_POLICY,
    SET_SAFETY,
)
from orderkit.adapters._postgres_session import (
    DEFAULT_ATTEMPTS,
    Cursor,
    Target,
    store_error,
)
from orderkit.errors import OrderkitError, StoreError
from orderkit.inventory import (
    Backorder,
    Movement,
    Plan,
    Preorder,
    Receipt,
    StockPolicy,
    Swept,
)


T = TypeVar("T")

# How many times a plan runs again after losing a race on a unique key (its
# receipt's, or a hold's or movement's): the next run finds the winner's
# receipt and replays it, so a second loss takes a storm of such races.
_DUPLICATE_ATTEMPTS: Final = 4
_RETRYABLE: Final = (pg_errors.SerializationFailure, pg_errors.DeadlockDetected)
# The transaction-level lock every batch that creates balances takes, and
# holds to its end.
_CREATING_BATCH: Final = "SELECT pg_advisory_xact_lock(7525474117427127138)"


class PostgresLedgerStore(LedgerReads):
    """A `LedgerStore` in PostgreSQL: any number of processes and machines.

    `target` is a DSN, an open `psycopg.Connection` (a backend session,
    such as the one a unit of work shares) or a host's connection pool
    (`psycopg_pool.ConnectionPool`: one connection per call).

    **Transactions.** Each write (`apply`, `apply_many`, `expire_due`, the
    settings) is one transaction at the connection's isolation level (READ
    COMMITTED by default), and never commits a host's. Before it reads
    anything, `apply` locks every balance the plan touches (one by one in
    (sku, location) order), so that plans sharing a balance run one after
    the other and multi-line reservations never deadlock; balances a plan
    creates are inserted with `ON CONFLICT DO NOTHING` first, so two plans
    creating one wait for each other too. A hold resolved by id (release,
    commit, extend) is read again under its balance's lock and compared
    with what the plan expected. Plans on different balances never wait for each other:
    nothing every plan writes is shared (see the mark below). A refused
    plan rolls back and writes nothing. Deadlocks and serialization
    failures (READ COMMITTED has them only in corner cases) run the
    transaction again, up to `attempts` times, then raise
    `ConcurrencyConflict`; a plan that loses a race on its key's receipt
    (two plans under one key on different balances) runs again too, finds
    the first's receipt and replays it. `retries` counts those runs.

    **Round trips.** A plan that needs only arithmetic (new holds only, as
    reserving, receiving and transfers make; every balance already there; no
    hold of its balances due, nor the superseded owner's) is one statement:
    a call of `orderkit_ledger_apply` that locks its balances by adding its
    deltas (`UPDATE`), checks it and writes it, all on the server, its
    locks held for that one statement. On an autocommit connection outside
    any transaction the call is its own transaction, without BEGIN and
    COMMIT; in a host's, a savepoint's. Any other plan, and one that would
    take a figure below zero, the call leaves as it found it and the shared
    engine applies it in four: BEGIN, `orderkit_ledger_read` (lock, create,
    then read, each statement with a snapshot of its own),
    `orderkit_ledger_write`, COMMIT. Every read is one statement too. The
    functions, created with the tables, plan their statements once per
    connection, whatever the connection's settings.

    **Time.** Holds expire by the plan's `now` and the stored high-water
    mark, never the server's clock. The mark is the greatest time any
    write has worked at: each connection keeps its own row in
    `orderkit_marks` and raises it only when its time moved on; the mark is
    the maximum over the rows, read after the balance locks, so a plan
    that waited sees the time of the one it waited for. So one host whose
    clock runs ahead would expire every host's holds early, for good: a
    write whose `now` runs more than `max_clock_ahead` ahead of the
    server's clock is refused (`ClockAhead`) before anything is written.
    The store reads the server's clock once a minute (and again before it
    refuses), not per call.

    **Movement numbers** come from a sequence: unique and increasing within
    a receipt, with gaps (refused plans, rollbacks). Concurrent transactions
    may commit out of number order, so a reader paging with
    `movements(after=seq)` while plans commit may later see a lower number
    appear behind its cursor; a feed should read movements only once the
    writers are past them.

    **Joined sessions.** Given a connection that is inside a transaction,
    the store joins it: it neither begins nor commits, and its reads see
    the host's uncommitted writes. Each write runs in a savepoint, so a
    failed `apply` undoes only its own writes and leaves the host's intact;
    the error propagates and rolling back or committing stays the host's
    decision. A deadlock inside a host's transaction is raised at once as
    `ConcurrencyConflict` with the driver's error as its cause: only the
    call's savepoint is rolled back, but the host's transaction still holds
    the locks that met in the circle, so the host runs it again. The store
    never changes a given connection's or pool's settings and never closes
    them.

    **Threads.** A DSN store has one connection behind a lock: threads may
    share it and take turns. A pool store lends each call its own
    connection. Give each process its own store.

    **Schema.** Tables are created on first use, under an advisory lock (so
    processes starting at once create them once), and versioned by the
    `schema_version` row of `orderkit_meta`; a database written by a newer
    orderkit is refused. Every name is prefixed `orderkit_`. Primary keys
    start with (sku, location) where a row belongs to a balance, so the
    tables can be partitioned by location or distributed by SKU. Times are
    stored as bigint microseconds since the Unix epoch (UTC), exactly.

    **Errors.** Every `psycopg.Error` becomes `StoreError("postgres",
    operation, detail)` with the driver's error as its cause, after rolling
    back; so do values PostgreSQL cannot hold (NUL in text, a lone
    surrogate, integers beyond 64 bits). orderkit's own errors propagate
    unchanged, also after rolling back.

    Args:
        target: A DSN, an open connection, or a connection pool.
        attempts: How many times a transaction runs before a deadlock or
            serialization failure is raised.
        max_clock_ahead: How far ahead of the server's clock a write's
            `now` may run (five minutes by default); `None` for no limit,
            as for a test's clock in the future.

    Raises:
        StoreError: The server cannot be reached, or holds a schema from a
            newer orderkit.
        ConfigurationError: `max_clock_ahead` is not a timedelta of at
            least zero, or `None`.

    .. versionadded:: 0.1.0
    """

    _component = LEDGER
    rows_class: ClassVar[type[PostgresRows]] = PostgresRows
    """The engine's rows; a test may swap in a deliberately broken subclass."""

    def __init__(
        self,
        target: Target,
        *,
        attempts: int = DEFAULT_ATTEMPTS,
        max_clock_ahead: dt.timedelta | None = DEFAULT_AHEAD,
    ) -> None:
        """Open the store on `target`, creating or migrating its tables."""
        limit = ahead_limit(max_clock_ahead)
        self._server_clock = ServerClock(limit)
        super().__init__(target, attempts=attempts)
        if not getattr(target, "opens_later", False):
            # Now, so that a plan's call stays one round trip; a unit of
            # work's store is measured by the unit as it opens.
            self.measure_clock()
        self._counting = threading.Lock()
        self.retries = 0
        """How many times a transaction ran again (deadlock, serialization
        failure, or a lost race on a unique key), since the store opened."""

    # writes

    def apply(self, plan: Plan) -> Receipt:
        """Apply `plan` all or nothing (see `orderkit.ports.LedgerStore`).

        Raises:
            ConcurrencyConflict: Every attempt deadlocked, or a hold moved.
            ClockAhead: The plan's `now` runs more than `max_clock_ahead`
                ahead of the server's clock; nothing was written.
            StoreError: PostgreSQL failed; nothing was written.
        """
        self._check_clock(plan.now)
        call = fast.prepare(plan, locking=self.rows_class.locking)
        if call is not None:
            receipt = self._transact("apply", call.run, single=True)
            if receipt is not None:
                return receipt
            # Left to the engine, the call having written nothing.

        def work(cur: Cursor) -> Receipt:
            rows = self.rows_class(cur, plan)
            return rows.renumber(engine.apply_plan(rows, plan))

        return self._transact("apply", work)

    def apply_many(self, plans: Sequence[Plan]) -> list[Receipt | OrderkitError]:
        """Apply each plan on its own, all in one transaction: the batched fast path.

        Each plan succeeds or fails alone, as if applied by `apply` in turn
        (each in a savepoint of the batch's transaction); the successes
        commit together. A plan's key seen earlier in the same batch replays
        that receipt. Every balance of the batch is locked first, in key
        order, so concurrent batches never deadlock on them.

        Returns:
            One entry per plan, in order: its `Receipt`, or the
            `OrderkitError` that refused it (which wrote nothing).

        Raises:
            ClockAhead: A plan's `now` runs more than `max_clock_ahead` ahead
                of the server's clock; nothing of the batch was written.
            ConcurrencyConflict: Every attempt of the batch deadlocked.
            StoreError: PostgreSQL failed in a way that lost the transaction,
                or could not commit it; nothing of the batch was written.

        Anything else a plan raises (a bug, not a refusal) rolls the whole
        batch back and propagates.
        """
        if not plans:
            return []
        self._check_clock(max(plan.now for plan in plans))

        def work(cur: Cursor) -> list[Receipt | OrderkitError]:
            every = (row for plan in plans for row in plan.touched())
            if not self.rows_class(cur, None).lock(every):
                # Its plans create balances one plan at a time, in plan order,
                # and a new row's insert blocks until its transaction ends:
                # two such batches could wait for each other in a circle.
                # Batches that create balances take turns instead.
                cur.execute(_CREATING_BATCH)
            return [self._batched(cur, plan) for plan in plans]

        return self._transact("apply_many", work)

    def _batched(self, cur: Cursor, plan: Plan) -> Receipt | OrderkitError:
        """One plan of a batch, in its own savepoint."""
        attempt = 0
        while True:
            attempt += 1
            rows = self.rows_class(cur, plan, undoable=True)
            try:
                receipt = engine.apply_plan(rows, plan)
            except OrderkitError as exc:
                if not rows.undo():
                    raise
                return exc
            except _RETRYABLE:
                raise
            except (psycopg.Error, *UNSENDABLE) as exc:
                if not rows.undo():
                    raise
                duplicate = isinstance(exc, pg_errors.UniqueViolation)
                if duplicate and attempt < _DUPLICATE_ATTEMPTS:
                    self._count(1)
                    continue
                return store_error("apply_many", exc)
            rows.done()
            return rows.renumber(receipt)

    def expire_due(
        self, now: pendulum.DateTime, *, limit: int | None = None
    ) -> Sequence[Movement]:
        """Expire live holds due by `now`, oldest first, at the store's time.

        Reads only the due holds, through an index of live holds by expiry,
        and locks their balances (in key order) before expiring them; a
        hold that a concurrent plan resolved meanwhile is left alone.

        Raises:
            ClockAhead: `now` runs more than `max_clock_ahead` ahead of the
                server's clock; nothing was written.
            StoreError: PostgreSQL failed; nothing was written.
        """
        now = to_utc(now, "now")
        self._check_clock(now)
        bound = None if limit is None else max(limit, 0)

        def work(cur: Cursor) -> Swept:
            rows = self.rows_class(cur, None, now=now, limit=bound)
            swept = engine.expire_due(rows, now, rows.due)
            return Swept(rows.written, swept.signals)  # with the stored numbers

        return self._transact("expire_due", work)

    def set_policy(self, sku: str, policy: StockPolicy) -> None:
        """Set the SKU's stock policy for every location.

        Raises:
            StoreError: PostgreSQL failed; nothing was written.
        """

        def work(cur: Cursor) -> None:
            if isinstance(policy, Backorder):
                cur.execute(SET_POLICY, (sku, "backorder", policy.limit, None))
            elif isinstance(policy, Preorder):
                values = (sku, "preorder", policy.cap, to_us(policy.ends_at))
                cur.execute(SET_POLICY, values)
            else:
                cur.execute(DROP_POLICY, (sku,))

        self._transact("set_policy", work)

    def set_safety_stock(self, sku: str, location: str, quantity: int) -> None:
        """Set the safety stock of one balance (created empty if new).

        Raises:
            StoreError: PostgreSQL failed; nothing was written.
        """
        self._transact(
            "set_safety_stock",
            lambda cur: cur.execute(SET_SAFETY, (sku, location, quantity)),
        )

    # transactions

    def measure_clock(self) -> None:
        """Read the server's clock now, for the check of a write's `now`."""
        if self._server_clock.limited:
            self._server_clock.measure(self._server_time)

    def _server_time(self) -> float:
        row = self._session.read(
            "clock", lambda cur: cur.execute(SERVER_TIME).fetchone()
        )
        return float(row[0]) if row is not None else time.time()

    def _check_clock(self, now: pendulum.DateTime) -> None:
        self._server_clock.check(now, self._server_time)

    def _transact(
        self, operation: str, work: Callable[[Cursor], T], *, single: bool = False
    ) -> T:
        """Run `work` in the session's transaction; count and make the runs again.

        The session reruns deadlocks and serialization failures itself; a
        lost race on a unique key is rerun here, a bounded number of times.
        """
        runs = 0

        def counted(cur: Cursor) -> T:
            nonlocal runs
            runs += 1
            return work(cur)

        try:
            for attempt in range(1, _DUPLICATE_ATTEMPTS + 1):
                try:
                    return self._session.transact(operation, counted, single=single)
                except StoreError as exc:
                    duplicate = isinstance(exc.__cause__, pg_errors.UniqueViolation)
                    if not duplicate or attempt == _DUPLICATE_ATTEMPTS:
                        raise
                except UNSENDABLE as exc:
                    raise store_error(operation, exc) from exc
            raise AssertionError("unreachable")  # pragma: no cover
        finally:
            self._count(runs - 1)

    def _count(self, retries: int) -> None:
        if retries > 0:
            with self._counting:
                self.retries += retries
