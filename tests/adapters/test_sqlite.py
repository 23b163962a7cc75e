"""SqliteLedgerStore: what only SQLite does; the shared rules are in the contract."""

from __future__ import annotations

import contextlib
import datetime as dt
import multiprocessing
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pendulum
import pytest
from hypothesis import given
from hypothesis import strategies as st

from orderkit._time import to_utc
from orderkit.adapters import SystemClock
from orderkit.adapters import _sqlite_ledger as ledger_module
from orderkit.adapters import _sqlite_ledger_rows as rows_module
from orderkit.adapters._micros import from_us, to_us
from orderkit.adapters.sqlite import (
    SCHEMA_VERSION,
    SqliteLedgerStore,
    SqliteUnitOfWork,
    holds_orders,
)
from orderkit.errors import (
    InsufficientStock,
    InvalidQuantity,
    StoreError,
    UnknownSku,
    ValidationError,
)
from orderkit.inventory import (
    Balance,
    HoldState,
    MovementKind,
    Plan,
    Receipt,
    StockLine,
)
from orderkit.inventory import _planning as planning
from orderkit.services import Ledger
from orderkit.testing import FrozenClock
from orderkit.testing.strategies import instants


START = pendulum.datetime(2026, 11, 11, 0, 0)
WEIRD = [
    "TEA-'oolong'",
    'MUG-"big"',
    "x'; DROP TABLE orderkit_balances; --",
    "100%_off",
    "🎁-gift",
    "礼盒-北京",
    "Robert'); DELETE FROM orderkit_holds; --",
    "back\\slash",
]


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "ledger.db"


@pytest.fixture
def store(path: Path) -> Iterator[SqliteLedgerStore]:
    with SqliteLedgerStore(path) as opened:
        yield opened


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


@pytest.fixture
def ledger(store: SqliteLedgerStore, clock: FrozenClock) -> Ledger:
    return Ledger(store, clock)


def _plan(key: str, owner: str, quantity: int, sku: str = "TEA-01") -> Plan:
    return planning.reserve(
        planning.Stamp(key, START),
        owner,
        [StockLine(sku, "W1", quantity)],
        START.add(minutes=15),
    )


def _traced(conn: sqlite3.Connection) -> list[str]:
    statements: list[str] = []
    conn.set_trace_callback(statements.append)
    return statements


def _table_names(conn: sqlite3.Connection) -> set[str]:
    rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
    return {name for (name,) in rows}


class TestTargets:
    """A path, `:memory:` or an open connection: the same ledger."""

    @pytest.mark.parametrize("as_text", [True, False], ids=["str", "pathlike"])
    def test_a_file_keeps_the_ledger_between_stores(
        self, path: Path, clock: FrozenClock, as_text: bool
    ) -> None:
        target = str(path) if as_text else path
        with SqliteLedgerStore(target) as first:
            Ledger(first, clock).receive("TEA-01", "W1", 12, reason="PO-7781")
        with SqliteLedgerStore(target) as again:
            ledger = Ledger(again, clock)
            assert Balance("TEA-01", "W1", 12) == ledger.balance("TEA-01", "W1")
            assert ["PO-7781"] == [m.reason for m in ledger.movements()]

    @pytest.mark.usefixtures("store")
    def test_a_file_is_in_wal_mode(self, path: Path) -> None:
        with sqlite3.connect(path) as other:
            (mode,) = other.execute("PRAGMA journal_mode").fetchone()
        other.close()
        assert "wal" == mode

    def test_a_new_file_gets_small_pages_and_a_long_wal(self, path: Path) -> None:
        unit = SqliteUnitOfWork(path)
        own = unit._conn  # the pragma is the connection's own
        (checkpoint,) = own.execute("PRAGMA wal_autocheckpoint").fetchone()
        unit.close()
        with sqlite3.connect(path) as other:
            (page_size,) = other.execute("PRAGMA page_size").fetchone()
        other.close()
        assert (1024, 16_000) == (page_size, checkpoint)

    def test_an_existing_file_keeps_its_page_size_and_rows(
        self, path: Path, clock: FrozenClock
    ) -> None:
        host = sqlite3.connect(path, isolation_level=None)
        host.execute("PRAGMA page_size = 8192")
        host.execute("CREATE TABLE host_notes (note TEXT)")
        host.execute("INSERT INTO host_notes VALUES ('kept')")
        host.close()
        with SqliteLedgerStore(path) as store:
            Ledger(store, clock).receive("TEA-01", "W1", 5)
        with sqlite3.connect(path) as other:
            (page_size,) = other.execute("PRAGMA page_size").fetchone()
            notes = other.execute("SELECT note FROM host_notes").fetchall()
        other.close()
        assert (8192, [("kept",)]) == (page_size, notes)

    def test_memory_is_private_to_its_store(self, clock: FrozenClock) -> None:
        with (
            SqliteLedgerStore(":memory:") as one,
            SqliteLedgerStore(":memory:") as two,
        ):
            Ledger(one, clock).receive("TEA-01", "W1", 3)
            assert 1 == len(one.balances(START))
            assert [] == list(two.balances(START))

    def test_a_connection_outside_a_transaction_gets_its_own_commits(
        self, path: Path, clock: FrozenClock
    ) -> None:
        host = sqlite3.connect(path, isolation_level=None)
        ledger = Ledger(SqliteLedgerStore(host), clock)
        ledger.receive("TEA-01", "W1", 4)
        assert not host.in_transaction
        with SqliteLedgerStore(path) as other:
            assert [Balance("TEA-01", "W1", 4)] == list(other.balances(START))
        host.close()

    def test_close_leaves_a_given_connection_open(self, path: Path) -> None:
        host = sqlite3.connect(path)
        with SqliteLedgerStore(host) as store:
            store.balances(START)
        assert [(1,)] == host.execute("SELECT 1").fetchall()  # still usable
        host.close()

    def test_a_closed_store_raises_store_error(self, path: Path) -> None:
        store = SqliteLedgerStore(path)
        store.close()
        with pytest.raises(StoreError) as error:
            store.balances(START)
        assert isinstance(error.value.__cause__, sqlite3.Error)


class TestSchema:
    """Created on first use, versioned, checked once per connection."""

    @pytest.mark.usefixtures("store")
    def test_every_table_is_created_and_prefixed(self, path: Path) -> None:
        with sqlite3.connect(path) as other:
            names = _table_names(other)
            (version,) = other.execute(
                "SELECT value FROM orderkit_meta WHERE name = 'schema_version'"
            ).fetchone()
        other.close()
        assert {
            "orderkit_balances",
            "orderkit_holds",
            "orderkit_mark",
            "orderkit_meta",
            "orderkit_movements",
            "orderkit_policies",
            "orderkit_receipts",
        } == names
        assert SCHEMA_VERSION == version

    def test_reopening_creates_nothing_and_keeps_the_data(self, path: Path) -> None:
        with SqliteLedgerStore(path) as first:
            first.set_safety_stock("TEA-01", "W1", 2)
        with SqliteLedgerStore(path) as again:
            statements = _traced(again._session.conn)
            assert [Balance("TEA-01", "W1", safety_stock=2)] == list(
                again.balances(START)
            )
        assert not [s for s in statements if "CREATE" in s]

    def test_the_schema_is_checked_once_per_connection(
        self, path: Path, clock: FrozenClock
    ) -> None:
        host = sqlite3.connect(path, isolation_level=None)
        statements = _traced(host)
        ledger = Ledger(SqliteLedgerStore(host), clock)
        ledger.receive("TEA-01", "W1", 5)
        assert any("orderkit_meta" in s for s in statements)  # the first use
        statements.clear()
        ledger.reserve("cart-1", [("TEA-01", "W1", 1)])
        ledger.balance("TEA-01", "W1")
        assert not [s for s in statements if "orderkit_meta" in s]
        host.close()

    def test_a_database_from_a_newer_orderkit_is_refused(
        self, store: SqliteLedgerStore, path: Path
    ) -> None:
        store.close()
        with sqlite3.connect(path) as other:
            other.execute(
                "UPDATE orderkit_meta SET value = ? WHERE name = 'schema_version'",
                (SCHEMA_VERSION + 1,),
            )
        other.close()
        with pytest.raises(StoreError) as error:
            SqliteLedgerStore(path)
        assert ("sqlite", "open") == (error.value.store, error.value.operation)
        assert f"version {SCHEMA_VERSION + 1}" in str(error.value)

    def test_a_newer_schema_in_a_host_connection_is_refused_on_first_use(
        self, store: SqliteLedgerStore, path: Path
    ) -> None:
        store.close()
        host = sqlite3.connect(path, isolation_level=None)
        host.execute("UPDATE orderkit_meta SET value = 99")
        with pytest.raises(StoreError, match="newer"):
            SqliteLedgerStore(host).balances(START)
        host.close()

    def test_the_host_keeps_its_own_tables(self, path: Path) -> None:
        host = sqlite3.connect(path, isolation_level=None)
        host.execute("CREATE TABLE orders (id TEXT PRIMARY KEY)")
        SqliteLedgerStore(host).balances(START)
        assert "orders" in _table_names(host)
        host.close()


class TestJoinedSession:
    """Inside a host's open transaction the store joins it and never commits."""

    @pytest.fixture
    def host(self, path: Path) -> Iterator[sqlite3.Connection]:
        # The stdlib's default (legacy) mode: a DML statement opens a
        # transaction implicitly, as most host code does it.
        conn = sqlite3.connect(path)
        # WAL, as any host sharing the file with other connections would.
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE orders (id TEXT PRIMARY KEY, total INTEGER)")
        conn.commit()
        yield conn
        conn.close()

    def test_the_host_rolling_back_undoes_the_stores_writes(
        self, host: sqlite3.Connection, clock: FrozenClock
    ) -> None:
        ledger = Ledger(SqliteLedgerStore(host), clock)
        host.execute("INSERT INTO orders VALUES ('order-1', 100)")
        ledger.receive("TEA-01", "W1", 5)
        ledger.reserve("order-1", [("TEA-01", "W1", 2)])
        assert host.in_transaction  # the store did not commit
        assert 3 == ledger.balance("TEA-01", "W1").available  # sees its own writes
        host.rollback()
        assert [] == list(ledger.balances())
        assert [] == list(ledger.movements())
        assert [] == host.execute("SELECT * FROM orders").fetchall()

    def test_the_host_committing_makes_the_stores_writes_visible(
        self, host: sqlite3.Connection, path: Path, clock: FrozenClock
    ) -> None:
        ledger = Ledger(SqliteLedgerStore(host), clock)
        assert [] == list(ledger.balances())  # outside a transaction: schema committed
        host.execute("INSERT INTO orders VALUES ('order-1', 100)")
        ledger.receive("TEA-01", "W1", 5)
        with SqliteLedgerStore(path) as outside:
            assert [] == list(outside.balances(START))  # not committed yet
            host.commit()
            assert [Balance("TEA-01", "W1", 5)] == list(outside.balances(START))

    def test_a_refused_apply_leaves_the_hosts_writes_intact(
        self, host: sqlite3.Connection, clock: FrozenClock
    ) -> None:
        ledger = Ledger(SqliteLedgerStore(host), clock)
        host.execute("INSERT INTO orders VALUES ('order-1', 100)")
        ledger.receive("TEA-01", "W1", 5)
        with pytest.raises(InsufficientStock):
            ledger.reserve("order-1", [("TEA-01", "W1", 6)])
        assert host.in_transaction  # the rollback is the host's call
        host.commit()
        assert [("order-1", 100)] == host.execute("SELECT * FROM orders").fetchall()
        assert Balance("TEA-01", "W1", 5) == ledger.balance("TEA-01", "W1")

    def test_a_failed_write_undoes_only_itself(
        self, host: sqlite3.Connection, clock: FrozenClock
    ) -> None:
        store = SqliteLedgerStore(host)
        ledger = Ledger(store, clock)
        ledger.receive("TEA-01", "W1", 5)
        host.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON orderkit_movements"
            " WHEN new.kind = 'hold' BEGIN SELECT RAISE(ABORT, 'disk on fire'); END"
        )
        host.execute("INSERT INTO orders VALUES ('order-1', 100)")
        with pytest.raises(StoreError) as error:
            ledger.reserve("order-1", [("TEA-01", "W1", 2)])
        assert isinstance(error.value.__cause__, sqlite3.Error)
        assert host.in_transaction
        host.execute("DROP TRIGGER refuse")
        host.commit()
        assert [("order-1", 100)] == host.execute("SELECT * FROM orders").fetchall()
        assert Balance("TEA-01", "W1", 5) == ledger.balance("TEA-01", "W1")
        assert [] == list(store.holds())
        assert [MovementKind.RECEIVE] == [m.kind for m in ledger.movements()]

    def test_apply_many_joins_too(
        self, host: sqlite3.Connection, clock: FrozenClock
    ) -> None:
        store = SqliteLedgerStore(host)
        Ledger(store, clock).receive("TEA-01", "W1", 5)
        host.commit()
        host.execute("INSERT INTO orders VALUES ('order-1', 100)")
        results = store.apply_many([_plan("k1", "cart-1", 2), _plan("k2", "c2", 9)])
        assert [Receipt, InsufficientStock] == [type(r) for r in results]
        assert host.in_transaction
        host.rollback()
        assert 5 == store.balances(START)[0].available  # the batch went with it


class TestVerbatim:
    """Names are data: quotes, semicolons, percent signs, emoji, Chinese."""

    @pytest.mark.parametrize("name", WEIRD)
    def test_every_field_round_trips(self, ledger: Ledger, name: str) -> None:
        ledger.receive(name, name, 3, reason=name, actor=name, key=f"{name}-in")
        first = ledger.reserve(name, [(name, name, 2)], key=name, reason=name)
        again = ledger.reserve(name, [(name, name, 2)], key=name, reason=name)
        assert again.replayed
        assert first.holds == again.holds
        assert first.movements == again.movements
        (hold,) = ledger.holds(owner=name, sku=name)
        assert (hold.hold_id, hold.owner, hold.sku, hold.location) == (
            f"{name}/0",
            name,
            name,
            name,
        )
        assert Balance(name, name, 3, 2) == ledger.balance(name, name)
        assert {name} == {m.reason for m in ledger.movements()}
        assert [] == list(ledger.holds(owner=f"{name}%"))

    def test_a_wildcard_owner_matches_only_itself(self, ledger: Ledger) -> None:
        ledger.receive("TEA-01", "W1", 5)
        ledger.reserve("cart_1", [("TEA-01", "W1", 1)])
        ledger.reserve("cartX1", [("TEA-01", "W1", 1)])
        assert ["cart_1"] == [h.owner for h in ledger.holds(owner="cart_1")]


class TestStoreErrors:
    """Driver failures become StoreError with the driver's error as cause."""

    def test_a_file_that_is_not_a_database(self, path: Path) -> None:
        path.write_bytes(b"this is a spreadsheet, honestly " * 200)
        with pytest.raises(StoreError) as error:
            SqliteLedgerStore(path)
        assert ("sqlite", "open") == (error.value.store, error.value.operation)
        assert isinstance(error.value.__cause__, sqlite3.DatabaseError)

    def test_a_directory_that_does_not_exist(self, tmp_path: Path) -> None:
        with pytest.raises(StoreError) as error:
            SqliteLedgerStore(tmp_path / "no" / "such" / "ledger.db")
        assert isinstance(error.value.__cause__, sqlite3.OperationalError)

    def test_a_read_only_connection(
        self, store: SqliteLedgerStore, path: Path, clock: FrozenClock
    ) -> None:
        Ledger(store, clock).receive("TEA-01", "W1", 5)
        reader = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        ledger = Ledger(SqliteLedgerStore(reader), clock)
        assert 5 == ledger.balance("TEA-01", "W1").available  # reads work
        with pytest.raises(StoreError) as error:
            ledger.reserve("cart-1", [("TEA-01", "W1", 1)])
        assert "apply" == error.value.operation
        assert isinstance(error.value.__cause__, sqlite3.OperationalError)
        assert not reader.in_transaction  # rolled back
        reader.close()

    def test_a_table_dropped_behind_the_stores_back(
        self, ledger: Ledger, path: Path
    ) -> None:
        ledger.receive("TEA-01", "W1", 5)
        with sqlite3.connect(path) as other:
            other.execute("DROP TABLE orderkit_holds")
        other.close()
        with pytest.raises(StoreError) as error:
            ledger.reserve("cart-1", [("TEA-01", "W1", 1)])
        assert isinstance(error.value.__cause__, sqlite3.OperationalError)
        assert "orderkit_holds" in str(error.value)

    def test_a_write_failing_midway_leaves_nothing_half_written(
        self, ledger: Ledger, store: SqliteLedgerStore, path: Path
    ) -> None:
        ledger.receive("TEA-01", "W1", 5)
        before = (list(store.balances(START)), list(store.movements()))
        with sqlite3.connect(path) as other:
            # The balance and the hold are written before the movements.
            other.execute(
                "CREATE TRIGGER refuse BEFORE INSERT ON orderkit_movements"
                " BEGIN SELECT RAISE(ABORT, 'disk on fire'); END"
            )
        other.close()
        with pytest.raises(StoreError) as error:
            ledger.reserve("cart-1", [("TEA-01", "W1", 2)])
        assert isinstance(error.value.__cause__, sqlite3.IntegrityError)
        assert before == (list(store.balances(START)), list(store.movements()))
        assert [] == list(store.holds())
        assert not store._session.conn.in_transaction

    def test_a_figure_beyond_64_bits(self, ledger: Ledger) -> None:
        # Refused by the plan, as every store refuses it, before SQLite's
        # OverflowError could.
        ledger.receive("TEA-01", "W1", 2**63 - 1)
        with pytest.raises(InvalidQuantity):
            ledger.receive("TEA-01", "W1", 1)
        assert 2**63 - 1 == ledger.balance("TEA-01", "W1").on_hand

    def test_text_no_store_can_hold_is_refused_before_the_store(
        self, ledger: Ledger
    ) -> None:
        ledger.receive("TEA-01", "W1", 1)
        with pytest.raises(ValidationError) as error:
            ledger.receive("TEA-01", "W1", 1, reason="half a \ud83c surrogate")
        assert error.value.field == "reason"
        assert 1 == ledger.balance("TEA-01", "W1").on_hand

    def test_orderkit_errors_pass_unchanged_and_roll_back(
        self, ledger: Ledger, store: SqliteLedgerStore
    ) -> None:
        ledger.receive("TEA-01", "W1", 1)
        with pytest.raises(InsufficientStock):
            ledger.reserve("cart-1", [("TEA-01", "W1", 2)])
        assert not store._session.conn.in_transaction
        with pytest.raises(UnknownSku):
            ledger.reserve("cart-1", [("MUG-02", "W1", 1)])
        assert not store._session.conn.in_transaction
        ledger.reserve("cart-1", [("TEA-01", "W1", 1)])  # the lock was released


class TestApplyMany:
    """Each plan alone, all in one BEGIN IMMEDIATE transaction."""

    def test_each_plan_succeeds_or_fails_alone(
        self, ledger: Ledger, store: SqliteLedgerStore
    ) -> None:
        ledger.receive("TEA-01", "W1", 5)
        results = store.apply_many(
            [
                _plan("k1", "cart-1", 2),
                _plan("k2", "cart-2", 4),  # 3 left: refused
                _plan("k3", "cart-3", 3),
                _plan("k1", "cart-1", 2),  # a repeat within the batch
                _plan("k4", "cart-4", 1, sku="MUG-99"),
            ]
        )
        assert [Receipt, InsufficientStock, Receipt, Receipt, UnknownSku] == [
            type(r) for r in results
        ]
        first, _, _, repeat, _ = results
        assert isinstance(first, Receipt)
        assert isinstance(repeat, Receipt)
        assert repeat.replayed
        assert first.holds == repeat.holds
        assert Balance("TEA-01", "W1", 5, 5) == ledger.balance("TEA-01", "W1")
        assert ["cart-1", "cart-3"] == [h.owner for h in store.holds()]
        assert ledger.audit() == ()

    def test_one_transaction_for_the_batch(
        self, ledger: Ledger, store: SqliteLedgerStore
    ) -> None:
        ledger.receive("TEA-01", "W1", 100)
        statements = _traced(store._session.conn)
        store.apply_many([_plan(f"k{i}", f"cart-{i}", 1) for i in range(20)])
        assert 1 == statements.count("BEGIN IMMEDIATE")
        assert 1 == statements.count("COMMIT")

    def test_a_plan_failing_in_sqlite_gets_a_store_error_in_its_slot(
        self, ledger: Ledger, store: SqliteLedgerStore
    ) -> None:
        ledger.receive("TEA-01", "W1", 5)
        ledger.receive("MUG-02", "W1", 5)
        store._session.conn.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON orderkit_movements"
            " WHEN new.sku = 'MUG-02' BEGIN SELECT RAISE(ABORT, 'no mugs'); END"
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
        assert isinstance(failed.__cause__, sqlite3.IntegrityError)
        assert Balance("MUG-02", "W1", 5) == ledger.balance("MUG-02", "W1")
        assert Balance("TEA-01", "W1", 5, 2) == ledger.balance("TEA-01", "W1")
        assert ledger.audit() == ()

    def test_an_empty_batch_does_nothing(self, store: SqliteLedgerStore) -> None:
        assert [] == store.apply_many([])


class TestTime:
    """Instants are stored as integer microseconds: exact, never a float."""

    @given(
        st.datetimes(
            min_value=dt.datetime(1, 1, 2),  # noqa: DTZ001 - hypothesis bounds are naive
            max_value=dt.datetime(9999, 12, 30),  # noqa: DTZ001
            timezones=st.just(dt.UTC),
        )
    )
    def test_the_codec_is_exact_over_the_whole_range(self, value: dt.datetime) -> None:
        instant = to_utc(value, "value")
        back = from_us(to_us(instant))
        assert instant == back
        assert isinstance(back, pendulum.DateTime)
        assert back.tzinfo is pendulum.UTC

    @given(instants(), st.integers(min_value=1, max_value=10**9))
    def test_times_round_trip_through_the_store(
        self, at: pendulum.DateTime, ttl_us: int
    ) -> None:
        with SqliteLedgerStore(":memory:") as store:
            ledger = Ledger(store, FrozenClock(at))
            ledger.receive("TEA-01", "W1", 1)
            receipt = ledger.reserve(
                "cart-1", [("TEA-01", "W1", 1)], ttl=dt.timedelta(microseconds=ttl_us)
            )
            (hold,) = store.holds()
            assert receipt.holds[0] == hold
            assert (at, at + dt.timedelta(microseconds=ttl_us)) == (
                hold.placed_at,
                hold.expires_at,
            )
            assert [at, at] == [m.at for m in store.movements()]

    def test_a_hold_expires_at_its_exact_microsecond(self, ledger: Ledger) -> None:
        ledger.receive("TEA-01", "W1", 1)
        ttl = dt.timedelta(seconds=1, microseconds=1)
        ledger.reserve("cart-1", [("TEA-01", "W1", 1)], ttl=ttl)
        assert [] == list(ledger.expire_due(START + ttl - dt.timedelta(microseconds=1)))
        (swept,) = ledger.expire_due(START + ttl)
        assert swept.kind is MovementKind.EXPIRE


class TestIndexes:
    """Expiry and balances read live holds through partial indexes."""

    def test_the_sweep_and_balances_search_the_live_indexes(
        self, store: SqliteLedgerStore
    ) -> None:
        conn = store._session.conn
        sweep = conn.execute(
            f"EXPLAIN QUERY PLAN {rows_module._DUE}", (0, -1)
        ).fetchall()
        assert any("orderkit_holds_live_due" in row[3] for row in sweep)
        query = ledger_module._BALANCES + ledger_module._BALANCES_END
        plan = conn.execute(
            f"EXPLAIN QUERY PLAN {query}", {"now": 0, "sku": None, "location": None}
        ).fetchall()
        assert any("orderkit_holds_live_row" in row[3] for row in plan)

    def test_due_but_unswept_holds_do_not_count_as_reserved(
        self, ledger: Ledger, clock: FrozenClock, store: SqliteLedgerStore
    ) -> None:
        ledger.receive("TEA-01", "W1", 3)
        ledger.reserve("cart-1", [("TEA-01", "W1", 2)])
        clock.advance(minutes=15)
        assert Balance("TEA-01", "W1", 3) == ledger.balance("TEA-01", "W1")
        assert [HoldState.LIVE] == [h.state for h in store.holds()]  # not swept


# The flash sale ------------------------------------------------------------

FLASH_STOCK = 50
FLASH_PROCESSES = 4
FLASH_ATTEMPTS = 3_000


def flash_buyer(path: str, process: int, attempts: int) -> tuple[int, int]:
    """Try to reserve one unit `attempts` times: (granted, refused)."""
    with SqliteLedgerStore(path) as store:
        ledger = Ledger(store, SystemClock())
        granted = refused = 0
        for i in range(attempts):
            try:
                ledger.reserve(f"buyer-{process}-{i}", [("HOT-1", "W1", 1)])
            except InsufficientStock:
                refused += 1
            else:
                granted += 1
        return granted, refused


class TestFlashSale:
    """12,000 attempts from 4 processes at 50 units of one SKU: exactly 50 sold."""

    def test_the_12000_order_flash_sale(self, path: Path) -> None:
        with SqliteLedgerStore(path) as store:
            Ledger(store, SystemClock()).receive("HOT-1", "W1", FLASH_STOCK)
        context = multiprocessing.get_context("spawn")
        with context.Pool(FLASH_PROCESSES) as pool:
            outcomes = pool.starmap(
                flash_buyer,
                [(str(path), p, FLASH_ATTEMPTS) for p in range(FLASH_PROCESSES)],
            )
        assert FLASH_STOCK == sum(granted for granted, _ in outcomes)
        assert FLASH_PROCESSES * FLASH_ATTEMPTS - FLASH_STOCK == sum(
            refused for _, refused in outcomes
        )
        with SqliteLedgerStore(path) as store:
            ledger = Ledger(store, SystemClock())
            assert Balance("HOT-1", "W1", FLASH_STOCK, FLASH_STOCK) == ledger.balance(
                "HOT-1", "W1"
            )
            available = 0
            for movement in ledger.movements(limit=10_000):
                available += movement.on_hand - movement.reserved - movement.allocated
                assert available >= 0  # at every step of the log, not only at the end
            assert ledger.audit() == ()


def test_holds_orders_looks_without_creating(tmp_path: Path) -> None:
    """`holds_orders` tells an orderkit database apart, and changes no file."""
    store = tmp_path / "orders.db"
    SqliteUnitOfWork(store).close()
    other = tmp_path / "other.db"
    with contextlib.closing(sqlite3.connect(other)) as db:
        db.execute("CREATE TABLE notes (text)")
        db.commit()
    before = other.read_bytes()
    text = tmp_path / "notes.txt"
    text.write_text("not a database", encoding="utf-8")
    assert holds_orders(store)
    assert not holds_orders(other)
    assert not holds_orders(text)
    assert not holds_orders(tmp_path / "missing.db")
    assert other.read_bytes() == before
    assert not (tmp_path / "missing.db").exists()


@pytest.mark.parametrize("opened", [SqliteUnitOfWork, SqliteLedgerStore])
def test_opening_a_file_another_writer_holds_waits_for_it(
    tmp_path: Path, opened: type[SqliteUnitOfWork | SqliteLedgerStore]
) -> None:
    """Switching a file to WAL is busy at once while another writes: it waits instead.

    As when two processes open a new file together, or a host writes its own
    tables in the file (not in WAL mode yet) while orderkit opens it.
    """
    path = tmp_path / "shared.db"
    writing = threading.Event()

    def host() -> None:
        with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as db:
            db.execute("BEGIN IMMEDIATE")
            db.execute("CREATE TABLE host_notes (text)")
            writing.set()
            time.sleep(0.3)
            db.execute("COMMIT")

    writer = threading.Thread(target=host)
    writer.start()
    try:
        assert writing.wait(10)
        opened(path, timeout=5.0).close()
    finally:
        writer.join(10)


def test_a_store_kept_past_its_unit_is_refused(tmp_path: Path) -> None:
    """Neither alone, nor inside the unit another thread has open on the object."""
    unit = SqliteUnitOfWork(tmp_path / "kept.db")
    try:
        with unit as uow:
            kept = uow.ledger
        with pytest.raises(StoreError):
            kept.receipt("op-1")
        inside = threading.Event()
        leave = threading.Event()

        def other_thread() -> None:
            with unit:
                inside.set()
                leave.wait(10)

        other = threading.Thread(target=other_thread)
        other.start()
        try:
            assert inside.wait(10)
            with pytest.raises(StoreError):
                kept.receipt("op-1")
        finally:
            leave.set()
            other.join(10)
    finally:
        unit.close()
