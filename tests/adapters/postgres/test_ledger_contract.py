"""The PostgreSQL ledger runs the ledger contract, and what only it does.

Each store lives in a schema of its own; racers are processes, each opening
its own store on the schema's DSN.
"""

from __future__ import annotations

import functools
import multiprocessing
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pendulum
import psycopg
import pytest
from psycopg_pool import ConnectionPool

from orderkit.adapters._micros import to_us
from orderkit.adapters._postgres_ledger import PostgresLedgerStore
from orderkit.adapters._postgres_ledger_rows import PostgresRows
from orderkit.errors import (
    IdempotencyConflict,
    InsufficientStock,
    InvalidQuantity,
    OrderkitError,
    StoreError,
    UnknownSku,
    ValidationError,
)
from orderkit.inventory import (
    Balance,
    HoldState,
    Movement,
    MovementKind,
    Plan,
    Receipt,
    StockLine,
)
from orderkit.inventory import _planning as planning
from orderkit.services import Ledger
from orderkit.testing import FrozenClock, check_ledger_laws
from orderkit.testing.contracts import LedgerStoreContract


R = TypeVar("R")
VICTIM = "orderkit_holds"
# Stores the state machine opened and no test uses any more are closed as
# new ones open, so a long run never holds a connection per example.
_KEEP_OPEN = 2


# --------------------------------------------------------------------------
# The contract


class TestPostgresLedger(LedgerStoreContract):
    """PostgresLedgerStore: racers are processes, each with its own store."""

    @pytest.fixture(autouse=True)
    def _schemas(self, pg_schemas: Callable[[], str]) -> Iterator[None]:
        self.schemas = pg_schemas
        self.dsns: dict[int, str] = {}
        self.opened: list[PostgresLedgerStore] = []
        yield
        for store in self.opened:
            store.close()

    def make_store(self) -> PostgresLedgerStore:
        dsn = self.schemas()
        store = PostgresLedgerStore(dsn)
        # The first store may be the test's `store` fixture: it stays open.
        for old in self.opened[1:-_KEEP_OPEN]:
            old.close()
        self.opened.append(store)
        self.dsns[id(store)] = dsn
        return store

    def connect(self, store: object) -> Callable[[], PostgresLedgerStore]:
        return functools.partial(PostgresLedgerStore, self.dsns[id(store)])

    def break_store(self, store: object) -> bool:
        # Another connection drops a table behind the store's back.
        with psycopg.connect(self.dsns[id(store)], autocommit=True) as other:
            other.execute(f"DROP TABLE {VICTIM}")
        return True


# --------------------------------------------------------------------------
# What only PostgreSQL does


START = pendulum.datetime(2026, 11, 11, 0, 0)


class _UnlockedRows(PostgresRows):
    """The rows with their balance lock removed: deliberately broken."""

    locking = False


class _UnlockedLedger(PostgresLedgerStore):
    """A ledger that reads balances unlocked: it must be caught overselling."""

    rows_class = _UnlockedRows


@pytest.fixture
def store(pg_dsn: str) -> Iterator[PostgresLedgerStore]:
    with PostgresLedgerStore(pg_dsn) as opened:
        yield opened


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


@pytest.fixture
def ledger(store: PostgresLedgerStore, clock: FrozenClock) -> Ledger:
    return Ledger(store, clock)


@pytest.fixture
def host(pg_dsn: str, store: PostgresLedgerStore) -> Iterator[psycopg.Connection[Any]]:
    """A host's autocommit connection, its own table beside the (created) ledger."""
    store.balances(START)  # the tables exist before any host transaction
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE orders (id text PRIMARY KEY, total integer)")
        yield conn


def _joined(host: psycopg.Connection[Any], clock: FrozenClock) -> Ledger:
    """A ledger on the host's connection, its schema checked outside any transaction."""
    joined = PostgresLedgerStore(host)
    joined.balances(START)
    return Ledger(joined, clock)


def _in_thread(call: Callable[[], object]) -> tuple[threading.Thread, list[object]]:
    """Start `call` in a thread; the list gets what it returned or raised."""
    outcome: list[object] = []

    def run() -> None:
        try:
            outcome.append(call())
        except Exception as exc:  # noqa: BLE001 - handed to the test to inspect
            outcome.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


def _pid(store: PostgresLedgerStore) -> int:
    """The server process of a DSN store's one connection."""
    found = store._session.read(
        "pid", lambda cur: cur.execute("SELECT pg_backend_pid()").fetchone()
    )
    assert found is not None
    return int(found[0])


def _waits_for_a_lock(dsn: str, pid: int) -> bool:
    """Whether the server process `pid` comes to wait for a lock within 30 s."""
    deadline = time.monotonic() + 30
    with psycopg.connect(dsn, autocommit=True) as admin:
        while time.monotonic() < deadline:
            found = admin.execute(
                "SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", (pid,)
            ).fetchone()
            if found is not None and found[0] == "Lock":
                return True
            time.sleep(0.01)
    return False


def _table(dsn: str, query: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(query).fetchall()


class TestJoinedSession:
    """A store given a connection inside a transaction joins it."""

    def test_the_host_rolling_back_undoes_the_stores_writes(
        self, host: psycopg.Connection[Any], ledger: Ledger, clock: FrozenClock
    ) -> None:
        joined = _joined(host, clock)
        with host.transaction(force_rollback=True):
            host.execute("INSERT INTO orders VALUES ('order-1', 100)")
            joined.receive("TEA-01", "W1", 5)
            joined.reserve("order-1", [("TEA-01", "W1", 2)])
            assert Balance("TEA-01", "W1", 5, 2) == joined.balance("TEA-01", "W1")
            assert [] == list(ledger.balances())  # not committed: invisible
        assert [] == list(joined.balances())
        assert [] == list(ledger.movements())
        assert [] == host.execute("SELECT * FROM orders").fetchall()

    def test_a_refused_apply_leaves_the_hosts_writes_intact(
        self, host: psycopg.Connection[Any], ledger: Ledger, clock: FrozenClock
    ) -> None:
        ledger.receive("TEA-01", "W1", 5)
        joined = _joined(host, clock)
        with host.transaction():
            host.execute("INSERT INTO orders VALUES ('order-1', 100)")
            with pytest.raises(InsufficientStock):
                joined.reserve("order-1", [("TEA-01", "W1", 6)])
            joined.receive("MUG-02", "W1", 1)
            with pytest.raises(UnknownSku):
                joined.reserve("order-1", [("CUP-03", "W1", 1)])
        assert [("order-1", 100)] == host.execute("SELECT * FROM orders").fetchall()
        assert [Balance("MUG-02", "W1", 1), Balance("TEA-01", "W1", 5)] == list(
            ledger.balances()
        )

    def test_a_failed_write_undoes_only_itself(
        self, host: psycopg.Connection[Any], ledger: Ledger, clock: FrozenClock
    ) -> None:
        ledger.receive("TEA-01", "W1", 5)
        joined = _joined(host, clock)
        host.execute(
            "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS"
            " $$ BEGIN RAISE EXCEPTION 'disk on fire'; END $$;"
            " CREATE TRIGGER refuse BEFORE INSERT ON orderkit_movements"
            " FOR EACH ROW WHEN (new.kind = 'hold') EXECUTE FUNCTION refuse()"
        )
        with host.transaction():
            host.execute("INSERT INTO orders VALUES ('order-1', 100)")
            with pytest.raises(StoreError) as error:
                joined.reserve("order-1", [("TEA-01", "W1", 2)])
            assert isinstance(error.value.__cause__, psycopg.errors.RaiseException)
        assert [("order-1", 100)] == host.execute("SELECT * FROM orders").fetchall()
        assert Balance("TEA-01", "W1", 5) == ledger.balance("TEA-01", "W1")
        assert [] == list(ledger.holds())

    def test_apply_many_joins_too(
        self, host: psycopg.Connection[Any], ledger: Ledger
    ) -> None:
        ledger.receive("TEA-01", "W1", 5)
        joined = PostgresLedgerStore(host)
        joined.balances(START)  # its schema checked outside the transaction
        with host.transaction(force_rollback=True):
            results = joined.apply_many([_plan("k1", "cart-1", 2), _plan("k2", "c", 9)])
            assert [Receipt, InsufficientStock] == [type(r) for r in results]
        assert Balance("TEA-01", "W1", 5) == ledger.balance("TEA-01", "W1")

    def test_close_leaves_a_given_connection_open(
        self, host: psycopg.Connection[Any]
    ) -> None:
        joined = PostgresLedgerStore(host)
        joined.close()
        assert not host.closed
        with pytest.raises(StoreError, match="closed"):
            joined.balances(START)


def test_a_store_on_a_pool_lends_a_connection_per_call(
    pg_dsn: str, clock: FrozenClock
) -> None:
    with ConnectionPool(pg_dsn, min_size=1, max_size=2, open=True) as pool:
        with PostgresLedgerStore(pool) as pooled:
            ledger = Ledger(pooled, clock)
            ledger.receive("TEA-01", "W1", 5)
            hold = ledger.reserve("cart-1", [("TEA-01", "W1", 2)]).holds[0]
            assert ledger.commit(hold.hold_id).changed
            assert Balance("TEA-01", "W1", 5, 0, 2) == ledger.balance("TEA-01", "W1")
        with pool.connection() as conn:  # the pool outlives the store
            assert conn.execute("SELECT 1").fetchone() == (1,)


def test_the_store_changes_no_connection_setting(
    host: psycopg.Connection[Any], ledger: Ledger, store: PostgresLedgerStore
) -> None:
    """Its functions plan their statements once for themselves, not for the host."""
    ledger.receive("TEA-01", "W1", 5)
    mode = "SELECT current_setting('plan_cache_mode')"
    assert [("auto",)] == store._session.read(
        "mode", lambda cur: cur.execute(mode).fetchall()
    )
    Ledger(PostgresLedgerStore(host), FrozenClock(START)).reserve(
        "c", [("TEA-01", "W1", 1)]
    )
    assert [("auto",)] == host.execute(mode).fetchall()


# --------------------------------------------------------------------------
# Concurrency


def _plan(key: str, owner: str, quantity: int, sku: str = "TEA-01") -> Plan:
    return planning.reserve(
        planning.Stamp(key, START),
        owner,
        [StockLine(sku, "W1", quantity)],
        START.add(minutes=15),
    )


@pytest.mark.parametrize(
    "store_class", [PostgresLedgerStore, _UnlockedLedger], ids=["locked", "broken"]
)
def test_a_waiter_sees_the_plan_it_waited_for(
    pg_dsn: str,
    host: psycopg.Connection[Any],
    ledger: Ledger,
    clock: FrozenClock,
    store_class: type[PostgresLedgerStore],
) -> None:
    """The last unit, reserved in an open transaction: a second buyer waits for it.

    The deliberately broken store (balances read unlocked) sells it twice,
    which shows the test can see an oversell.
    """
    ledger.receive("TEA-01", "W1", 1)
    other = store_class(pg_dsn)
    pid = _pid(other)
    joined = _joined(host, clock)
    with host.transaction():
        joined.reserve("cart-1", [("TEA-01", "W1", 1)])
        thread, outcome = _in_thread(
            lambda: Ledger(other, clock).reserve("cart-2", [("TEA-01", "W1", 1)])
        )
        # Locked: waiting to lock the row. Broken: waiting to write over it.
        assert _waits_for_a_lock(pg_dsn, pid)
    thread.join(30)
    other.close()
    live = ledger.holds(state=HoldState.LIVE)
    if store_class is _UnlockedLedger:
        assert isinstance(outcome[0], Receipt)
        assert sum(h.quantity for h in live) == 2  # 2 units held of 1
    else:
        assert isinstance(outcome[0], InsufficientStock)
        assert [1] == [h.quantity for h in live]
        assert Balance("TEA-01", "W1", 1, 1) == ledger.balance("TEA-01", "W1")


def test_plans_on_other_balances_never_wait_for_each_other(
    pg_dsn: str, host: psycopg.Connection[Any], ledger: Ledger, clock: FrozenClock
) -> None:
    """No row every plan writes: the high-water mark is one row per connection."""
    ledger.receive("TEA-01", "W1", 5)
    ledger.receive("MUG-02", "W1", 5)
    joined = _joined(host, clock)
    later = FrozenClock(START.add(minutes=20))
    with PostgresLedgerStore(pg_dsn) as other, host.transaction():
        clock.advance(minutes=10)
        # Its connection's mark moves on, uncommitted.
        joined.reserve("cart-1", [("TEA-01", "W1", 1)])
        thread, outcome = _in_thread(
            lambda: Ledger(other, later).reserve("cart-2", [("MUG-02", "W1", 1)])
        )
        thread.join(10)
        assert not thread.is_alive()
        assert isinstance(outcome[0], Receipt)
    rows = _table(pg_dsn, "SELECT count(*), max(high_water) FROM orderkit_marks")
    assert [(3, to_us(START.add(minutes=20)))] == rows  # receive's, ours, other's


def test_two_plans_creating_one_balance_both_count(
    pg_dsn: str,
    host: psycopg.Connection[Any],
    store: PostgresLedgerStore,
    ledger: Ledger,
    clock: FrozenClock,
) -> None:
    pid = _pid(store)
    joined = _joined(host, clock)
    with host.transaction():
        joined.receive("TEA-01", "W9", 3)  # a new balance, not yet committed
        thread, outcome = _in_thread(lambda: ledger.receive("TEA-01", "W9", 4))
        assert _waits_for_a_lock(pg_dsn, pid)
    thread.join(30)
    assert isinstance(outcome[0], Receipt)
    assert Balance("TEA-01", "W9", 7) == ledger.balance("TEA-01", "W9")
    assert ledger.audit() == ()


def test_a_duplicate_key_on_other_balances_replays_the_first(
    pg_dsn: str, host: psycopg.Connection[Any], clock: FrozenClock
) -> None:
    """Two plans under one key racing on different balances: one applies, once.

    The store replays the first's receipt to the second, which waited for
    the key; the ledger refuses it, since it asked for other stock.
    """
    with PostgresLedgerStore(pg_dsn) as other:
        ledger = Ledger(other, clock)
        ledger.receive("TEA-01", "W1", 5)
        ledger.receive("MUG-02", "W1", 5)
        pid = _pid(other)
        joined = _joined(host, clock)
        with host.transaction():
            first = joined.reserve("cart-1", [("TEA-01", "W1", 1)], key="cb-1")
            thread, outcome = _in_thread(
                lambda: ledger.reserve("cart-1", [("MUG-02", "W1", 1)], key="cb-1")
            )
            assert _waits_for_a_lock(pg_dsn, pid)  # on the receipt's key
        thread.join(30)
        again = outcome[0]
        assert isinstance(again, IdempotencyConflict)
        assert again.key == "cb-1"
        assert first.key == "cb-1"
        assert other.retries == 1
        assert [("TEA-01", 1)] == [(h.sku, h.quantity) for h in ledger.holds()]
        assert ledger.audit() == ()


def _reserve_pairs(
    dsn: str, order: tuple[str, str], rounds: int, barrier: Any
) -> tuple[int, int, int]:
    """Reserve one unit of each SKU, lines in `order`; count the outcomes."""
    with PostgresLedgerStore(dsn) as opened:
        ledger = Ledger(opened, FrozenClock(START))
        barrier.wait(timeout=120)
        granted = refused = 0
        for i in range(rounds):
            try:
                ledger.reserve(f"{order[0]}-{i}", [(sku, "W1", 1) for sku in order])
            except InsufficientStock:
                refused += 1
            else:
                granted += 1
        return granted, refused, opened.retries


def _reserve_once(dsn: str, barrier: Any) -> tuple[bool, tuple[Movement, ...]]:
    with PostgresLedgerStore(dsn) as opened:
        ledger = Ledger(opened, FrozenClock(START))
        barrier.wait(timeout=120)
        receipt = ledger.reserve("cart-1", [("TEA-01", "W1", 2)], key="cb-7781")
        return receipt.replayed, receipt.movements


def _processes(work: Callable[..., R], calls: list[tuple[Any, ...]]) -> list[R]:
    """Run `work(*call, barrier)` for each call in a spawned process of its own."""
    context = multiprocessing.get_context("spawn")
    barrier = context.Manager().Barrier(len(calls))
    with context.Pool(len(calls)) as pool:
        pending = [pool.apply_async(work, (*call, barrier)) for call in calls]
        return [p.get(timeout=180) for p in pending]


def test_two_line_reservations_in_opposite_orders_never_deadlock(
    pg_dsn: str, ledger: Ledger
) -> None:
    """Balances are locked in one key order whatever the lines' order."""
    ledger.receive("TEA-01", "W1", 50)
    ledger.receive("MUG-02", "W1", 50)
    orders = [("TEA-01", "MUG-02"), ("MUG-02", "TEA-01")]
    found = _processes(_reserve_pairs, [(pg_dsn, order, 40) for order in orders])
    assert 50 == sum(granted for granted, _, _ in found)
    assert 30 == sum(refused for _, refused, _ in found)
    assert [0, 0] == [retries for _, _, retries in found]  # no deadlock to retry
    for sku in ("TEA-01", "MUG-02"):
        assert Balance(sku, "W1", 50, 50) == ledger.balance(sku, "W1")
    assert ledger.audit() == ()


def test_a_concurrent_duplicate_key_applies_once(pg_dsn: str, ledger: Ledger) -> None:
    ledger.receive("TEA-01", "W1", 5)
    found = _processes(_reserve_once, [(pg_dsn,)] * 4)
    assert [False, True, True, True] == sorted(replayed for replayed, _ in found)
    assert len({movements for _, movements in found}) == 1
    assert Balance("TEA-01", "W1", 5, 2) == ledger.balance("TEA-01", "W1")
    assert 1 == len(ledger.holds())


# --------------------------------------------------------------------------
# Batches, numbers, errors


class TestApplyMany:
    def test_each_plan_succeeds_or_fails_alone(
        self, ledger: Ledger, store: PostgresLedgerStore
    ) -> None:
        ledger.receive("TEA-01", "W1", 5)
        bad = Plan(
            key="bad",
            now=START,
            movements=[
                Movement(
                    key="bad",
                    kind=MovementKind.ADJUST,
                    sku="NEW-1",
                    location="W7",
                    on_hand=-2,
                    at=START,
                )
            ],
        )
        results = store.apply_many(
            [
                _plan("k1", "cart-1", 2),
                _plan("k2", "cart-2", 4),  # 3 left: refused
                bad,  # creates a balance, then fails: the balance goes too
                _plan("k3", "cart-3", 3),
                _plan("k1", "cart-1", 2),  # a repeat within the batch
                _plan("k4", "cart-4", 1, sku="MUG-99"),
            ]
        )
        kinds = [type(r) for r in results]
        assert [Receipt, InsufficientStock, InvalidQuantity, Receipt] == kinds[:4]
        assert [Receipt, UnknownSku] == kinds[4:]
        first, repeat = results[0], results[4]
        assert isinstance(first, Receipt)
        assert isinstance(repeat, Receipt)
        assert repeat.replayed
        assert first.movements == repeat.movements
        assert [Balance("TEA-01", "W1", 5, 5)] == list(ledger.balances())
        assert ["cart-1", "cart-3"] == [h.owner for h in store.holds()]
        assert ledger.audit() == ()

    def test_a_plan_failing_in_postgres_gets_a_store_error_in_its_slot(
        self, ledger: Ledger, store: PostgresLedgerStore, pg_dsn: str
    ) -> None:
        ledger.receive("TEA-01", "W1", 5)
        ledger.receive("MUG-02", "W1", 5)
        with psycopg.connect(pg_dsn, autocommit=True) as admin:
            admin.execute(
                "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS"
                " $$ BEGIN RAISE EXCEPTION 'no mugs'; END $$;"
                " CREATE TRIGGER refuse BEFORE INSERT ON orderkit_movements"
                " FOR EACH ROW WHEN (new.sku = 'MUG-02') EXECUTE FUNCTION refuse()"
            )
        results = store.apply_many(
            [
                _plan("k1", "cart-1", 1),
                _plan("k2", "cart-2", 1, sku="MUG-02"),
                _plan("k3", "cart-3", 1),
            ]
        )
        assert [Receipt, StoreError, Receipt] == [type(r) for r in results]
        failed = results[1]
        assert isinstance(failed, StoreError)
        assert isinstance(failed.__cause__, psycopg.errors.RaiseException)
        assert Balance("MUG-02", "W1", 5) == ledger.balance("MUG-02", "W1")
        assert Balance("TEA-01", "W1", 5, 2) == ledger.balance("TEA-01", "W1")
        assert ledger.audit() == ()

    def test_an_empty_batch_does_nothing(self, store: PostgresLedgerStore) -> None:
        assert [] == store.apply_many([])


def test_receipts_carry_the_stored_movement_numbers(
    ledger: Ledger, store: PostgresLedgerStore, clock: FrozenClock
) -> None:
    ledger.receive("TEA-01", "W1", 5)
    ledger.reserve("cart-1", [("TEA-01", "W1", 2)])
    clock.advance(minutes=20)
    receipt = ledger.reserve("cart-2", [("TEA-01", "W1", 1)], key="cb-2")
    assert [MovementKind.EXPIRE, MovementKind.HOLD] == [
        m.kind for m in receipt.movements
    ]
    stored = store.receipt("cb-2")
    assert stored is not None
    assert stored.movements == receipt.movements
    assert list(receipt.movements) == list(ledger.movements())[-2:]
    seqs = [m.seq for m in ledger.movements()]
    assert seqs == sorted(set(seqs))


def test_a_sweep_takes_the_oldest_due_holds_first(
    ledger: Ledger, store: PostgresLedgerStore, clock: FrozenClock
) -> None:
    ledger.receive("TEA-01", "W1", 5)
    ledger.receive("MUG-02", "W2", 5)
    held = []
    for i, sku in enumerate(["TEA-01", "MUG-02", "TEA-01"]):
        where = "W1" if sku == "TEA-01" else "W2"
        held.append(ledger.reserve(f"cart-{i}", [(sku, where, 1)]).holds[0].hold_id)
        clock.advance(minutes=1)
    clock.advance(minutes=30)
    first = store.expire_due(clock.now(), limit=2)
    assert held[:2] == [m.hold_id for m in first]
    assert [held[2]] == [m.hold_id for m in store.expire_due(clock.now())]
    assert [] == list(store.expire_due(clock.now(), limit=0))
    assert ledger.audit() == ()


class TestStoreErrors:
    def test_a_table_dropped_behind_the_stores_back(
        self, ledger: Ledger, pg_dsn: str
    ) -> None:
        ledger.receive("TEA-01", "W1", 5)
        with psycopg.connect(pg_dsn, autocommit=True) as admin:
            admin.execute("DROP TABLE orderkit_movements")
        with pytest.raises(StoreError, match="postgres store failed during apply"):
            ledger.receive("TEA-01", "W1", 5)

    def test_text_postgres_cannot_hold_is_refused_by_every_store(
        self, ledger: Ledger, store: PostgresLedgerStore
    ) -> None:
        """NUL: PostgreSQL text cannot hold it, so no store takes it (a typed error)."""
        name = "NUL\x00byte"
        ledger.receive("TEA-01", "W1", 5)
        before = LedgerStoreContract.snapshot(store)
        with pytest.raises(ValidationError) as error:
            ledger.receive("TEA-01", "W1", 1, reason=name)
        assert error.value.field == "reason"
        with pytest.raises(ValidationError) as error:
            ledger.reserve(name, [("TEA-01", "W1", 1)])
        assert error.value.field == "owner"
        assert LedgerStoreContract.snapshot(store) == before

    def test_text_no_store_can_hold_is_refused_before_the_store(
        self, ledger: Ledger, store: PostgresLedgerStore
    ) -> None:
        ledger.receive("TEA-01", "W1", 5)
        before = LedgerStoreContract.snapshot(store)
        with pytest.raises(ValidationError) as error:
            ledger.receive("TEA-01", "W1", 1, reason="lone-\udc80-surrogate")
        assert error.value.field == "reason"
        assert LedgerStoreContract.snapshot(store) == before

    def test_a_figure_beyond_64_bits(
        self, ledger: Ledger, store: PostgresLedgerStore
    ) -> None:
        # Refused by the plan, as every store refuses it, before the server's
        # NumericValueOutOfRange could.
        ledger.receive("TEA-01", "W1", 2**63 - 1)
        before = LedgerStoreContract.snapshot(store)
        with pytest.raises(InvalidQuantity):
            ledger.receive("TEA-01", "W1", 1)
        assert LedgerStoreContract.snapshot(store) == before


def test_every_table_is_keyed_for_partitioning(pg_dsn: str) -> None:
    PostgresLedgerStore(pg_dsn).close()
    keys = dict(
        _table(
            pg_dsn,
            "SELECT c.relname, array_agg(a.attname ORDER BY k.ord)::text"
            " FROM pg_index AS i JOIN pg_class AS c ON c.oid = i.indrelid"
            " CROSS JOIN unnest(i.indkey) WITH ORDINALITY AS k (attnum, ord)"
            " JOIN pg_attribute AS a ON a.attrelid = c.oid AND a.attnum = k.attnum"
            " WHERE i.indisprimary AND c.relnamespace = current_schema()::regnamespace"
            " GROUP BY c.relname",
        )
    )
    assert keys == {
        "orderkit_balances": "{sku,location}",
        # Digests of the hold's id and the receipt's key (schema version 6):
        # a btree row holds 2704 bytes, the longest id and key 16 KB.
        "orderkit_holds": "{sku,location,hold_digest}",
        "orderkit_movements": "{sku,location,seq}",
        "orderkit_receipts": "{key_digest}",
        "orderkit_policies": "{sku}",
        "orderkit_marks": "{backend}",
        "orderkit_meta": "{name}",
    }


def test_batches_creating_balances_in_opposite_orders_never_deadlock(
    pg_dsn: str,
) -> None:
    """Batches whose plans create the same new balances in opposite orders take turns.

    With one attempt only, a deadlock would surface as `ConcurrencyConflict`.
    """
    PostgresLedgerStore(pg_dsn).close()
    now = pendulum.datetime(2026, 11, 11)
    failures: list[str] = []

    def receive_batches(reverse: bool) -> None:
        store = PostgresLedgerStore(pg_dsn, attempts=1)
        for batch in range(40):
            rows = [(f"NEW-{batch}-{i}", "WH") for i in range(6)]
            if reverse:
                rows.reverse()
            plans = [
                planning.receive(
                    planning.Stamp(f"{reverse}-{batch}-{sku}", now),
                    MovementKind.RECEIVE,
                    StockLine(sku, location, 1),
                )
                for sku, location in rows
            ]
            try:
                store.apply_many(plans)
            except OrderkitError as exc:
                failures.append(repr(exc))
        store.close()

    racers = [
        threading.Thread(target=receive_batches, args=(r,)) for r in (False, True)
    ]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join(timeout=120)
    assert failures == []
    with PostgresLedgerStore(pg_dsn) as store:
        balances = store.balances(now)
    assert len(balances) == 40 * 6
    assert {b.on_hand for b in balances} == {2}


def test_the_ledger_laws_hold_on_postgres(pg_schemas: Callable[[], str]) -> None:
    """The laws a host runs, each run on a store of a schema of its own.

    The memory and SQLite stores run them too (`tests/testing/test_laws.py`):
    each judged against the same model, the three stores agree.
    """
    check_ledger_laws(lambda: PostgresLedgerStore(pg_schemas()), runs=4)
