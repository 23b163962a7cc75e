"""The PostgreSQL order store runs the order store contract, and what only it does.

The contract runs twice: on a DSN, the store owning its connection, and on
a host's pool; racers are processes, each opening its own store on the
schema's DSN.
"""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Callable, Iterator
from typing import Any

import attrs
import psycopg
import pytest
from hypothesis import given, settings
from psycopg_pool import ConnectionPool
from tests.adapters import _dated_upgrade as dated
from tests.adapters._foreign_documents import FOREIGN_DOCUMENTS
from tests.adapters._read_once import Counting, ReadOnce

from orderkit.adapters._micros import to_us
from orderkit.adapters._postgres_orders import (
    _LIST,
    _LIST_PLACED,
    _LIST_RECORDED,
    _LIST_STATUS,
    _LIST_WAITING,
    AUDIT,
    INSTANT_FUNCTION,
    ORDERS,
    WAITS_FUNCTION,
    PostgresAuditLog,
    PostgresOrderStore,
)
from orderkit.adapters._postgres_session import Session
from orderkit.adapters._postgres_uow import PostgresUnitOfWork
from orderkit.errors import ConcurrencyConflict, StoreError, StructureError
from orderkit.money import Money
from orderkit.orders import Order, OrderLine, OrderStatus, waits
from orderkit.serialization import make_converter
from orderkit.testing._contract_base import START, Barrier
from orderkit.testing._order_store_contract import (
    _with_desk_fields,
    paid,
    sample_order,
    sample_record,
)
from orderkit.testing.contracts import OrderStoreContract, with_converter
from orderkit.testing.strategies import orders


VICTIM = "orderkit_orders"


class _Hooks:
    """One schema per store; closes every store and pool a test opened."""

    @pytest.fixture(autouse=True)
    def _schemas(self, pg_schemas: Callable[[], str]) -> Iterator[None]:
        self.schemas = pg_schemas
        self.dsns: dict[int, str] = {}
        self.opened: list[PostgresOrderStore | ConnectionPool] = []
        yield
        for opened in self.opened:
            opened.close()

    def connect(self, store: object) -> Callable[[], PostgresOrderStore]:
        return functools.partial(
            with_converter, PostgresOrderStore, self.dsns[id(store)]
        )

    def break_store(self, store: object) -> bool:
        # Another connection drops the table behind the store's back.
        with psycopg.connect(self.dsns[id(store)], autocommit=True) as other:
            other.execute(f"DROP TABLE {VICTIM}")
        return True


class TestPostgresOrders(_Hooks, OrderStoreContract):
    """PostgresOrderStore on a DSN: racers are processes, each with its own store."""

    def make_store(self) -> PostgresOrderStore:
        dsn = self.schemas()
        store = PostgresOrderStore(dsn, converter=make_converter())
        self.opened.append(store)
        self.dsns[id(store)] = dsn
        return store

    # Races of the contract's kind, on what only PostgreSQL does.

    def test_units_that_read_then_save_one_order_all_win(
        self, store: PostgresOrderStore
    ) -> None:
        """Host transactions reading one order queue up on its row: none loses."""
        store.save(sample_order(), None)
        dsn = self.dsns[id(store)]
        versions = self._race(store, [functools.partial(_bump, dsn)] * 4)
        assert sorted(versions) == [2, 3, 4, 5]  # none lost, none repeated
        found = store.get("douyin", "DY-1001")
        assert found is not None
        assert found.version == 5

    def test_racing_appends_store_a_record_once(
        self, store: PostgresOrderStore
    ) -> None:
        """Three identical records and a different one: one kind is stored."""
        dsn = self.dsns[id(store)]
        PostgresAuditLog(dsn, converter=make_converter()).close()
        actors = ["buyer", "buyer", "buyer", "seller"]
        racers = [functools.partial(_append_race, dsn, actor) for actor in actors]
        outcomes = sorted(self._race(store, racers))
        # The seller's record lost or won against the buyers' identical ones.
        assert outcomes in (
            [("buyer", "conflict")] * 3 + [("seller", "stored")],
            [("buyer", "stored")] * 3 + [("seller", "conflict")],
        )
        with PostgresAuditLog(dsn, converter=make_converter()) as log:
            (record,) = log.records("douyin", "DY-1001")
        assert record.actor == ("seller" if outcomes[-1][1] == "stored" else "buyer")


def _bump(dsn: str, _factory: object, barrier: Barrier) -> int:
    """In a host transaction: read the order, save it one version on.

    Returns the version saved, or 0 if the save lost.
    """
    with psycopg.connect(dsn, autocommit=True) as conn:
        store = PostgresOrderStore(conn, converter=make_converter())
        # Tables checked outside the transaction: the units wait for the row only.
        store.get("douyin", "DY-1001")
        barrier.wait(timeout=120)
        try:
            with conn.transaction():
                order = store.get("douyin", "DY-1001")
                assert order is not None
                changed = attrs.evolve(
                    order, version=order.version + 1, status=OrderStatus.PAID
                )
                store.save(changed, order.version)
        except ConcurrencyConflict:
            return 0  # the read did not hold the order
    return changed.version


def _append_race(
    dsn: str, actor: str, _factory: object, barrier: Barrier
) -> tuple[str, str]:
    """Append the record of `actor`; say whether it was stored or conflicted."""
    with PostgresAuditLog(dsn, converter=make_converter()) as log:
        barrier.wait(timeout=120)
        try:
            log.append("douyin", [sample_record(actor=actor)])
        except ConcurrencyConflict:
            return actor, "conflict"
    return actor, "stored"


class TestPostgresOrdersPool(_Hooks, OrderStoreContract):
    """PostgresOrderStore on a host's pool: every read locks, in its own transaction."""

    def make_store(self) -> PostgresOrderStore:
        dsn = self.schemas()
        pool = ConnectionPool(dsn, min_size=1, max_size=2, open=True)
        self.opened.append(pool)
        store = PostgresOrderStore(pool, converter=make_converter())
        self.opened.append(store)
        self.dsns[id(store)] = dsn
        return store


# --------------------------------------------------------------------------
# What only PostgreSQL does


def _row(dsn: str, query: str, *params: object) -> tuple[Any, ...]:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(query, params).fetchone()
    assert row is not None
    return row


class TestDocuments:
    """An order is one document, the converter's bytes verbatim, beside its keys."""

    def test_a_reopened_store_keeps_the_order(self, pg_dsn: str) -> None:
        with PostgresOrderStore(pg_dsn, converter=make_converter()) as first:
            first.save(paid(sample_order()), None)
        with PostgresOrderStore(pg_dsn, converter=make_converter()) as again:
            assert again.get("douyin", "DY-1001") == paid(sample_order())
            with pytest.raises(ConcurrencyConflict):
                again.save(paid(sample_order(), version=3), 1)

    def test_the_row_holds_the_document_and_its_keys(self, pg_dsn: str) -> None:
        converter = make_converter()
        # Amounts whose decimal text a float or a numeric cast would change.
        line = OrderLine("L2", "GIFT-BOX", 3, Money("0.10", "CNY"), "礼盒\x00")
        order = paid(sample_order(lines=[*sample_order().lines, line]))
        with PostgresOrderStore(pg_dsn, converter=converter) as store:
            store.save(order, None)
            assert store.get("douyin", "DY-1001") == order
        row = _row(
            pg_dsn,
            "SELECT channel, order_id, version, status, document FROM orderkit_orders",
        )
        assert row[:4] == ("douyin", "DY-1001", 2, "paid")
        assert row[4] == converter.dumps(order)
        assert b'"amount":"0.10"' in row[4]

    def test_an_unreadable_document_raises_structure_error(self, pg_dsn: str) -> None:
        with PostgresOrderStore(pg_dsn, converter=make_converter()) as store:
            store.save(sample_order(), None)
            with psycopg.connect(pg_dsn, autocommit=True) as other:
                other.execute(
                    "UPDATE orderkit_orders SET document = %s", (b'{"lines": []}',)
                )
            with pytest.raises(StructureError):
                store.get("douyin", "DY-1001")

    def test_a_schema_from_a_newer_orderkit_is_refused(self, pg_dsn: str) -> None:
        PostgresOrderStore(pg_dsn, converter=make_converter()).close()
        with psycopg.connect(pg_dsn, autocommit=True) as conn:
            conn.execute(
                "UPDATE orderkit_meta SET value = 99"
                " WHERE name = 'orders_schema_version'"
            )
        with pytest.raises(StoreError, match="order schema version 99 is newer"):
            PostgresOrderStore(pg_dsn, converter=make_converter())

    def test_the_order_id_leads_the_keys(self, pg_dsn: str) -> None:
        PostgresOrderStore(pg_dsn, converter=make_converter()).close()
        PostgresAuditLog(pg_dsn, converter=make_converter()).close()
        keys = {
            table: _row(
                pg_dsn,
                "SELECT pg_get_indexdef(indexrelid) FROM pg_index"
                " WHERE indrelid = %s::regclass AND indisprimary",
                table,
            )[0]
            for table in ("orderkit_orders", "orderkit_audit")
        }
        assert keys["orderkit_orders"].endswith("(order_id, channel)")
        assert keys["orderkit_audit"].endswith("(order_id, channel, version)")

    def test_listing_reads_the_indexes(self, pg_dsn: str) -> None:
        with PostgresOrderStore(pg_dsn, converter=make_converter()) as store:
            store.save(sample_order(), None)
        plans = []
        with psycopg.connect(pg_dsn) as conn:
            # A table of one row is scanned whole unless told otherwise.
            conn.execute("SET LOCAL enable_seqscan = off")
            for query, values in [
                (_LIST, ("", "", 10)),
                (_LIST_STATUS, ("paid", "", "", 10)),
                (_LIST_WAITING, ("", "", 10)),
            ]:
                rows = conn.execute(f"EXPLAIN {query}", values).fetchall()
                plans.append(" ".join(row[0] for row in rows))
        assert "orderkit_orders_listing" in plans[0]
        assert "orderkit_orders_status" in plans[1]
        assert "orderkit_orders_waiting" in plans[2]

    def test_the_listing_sorts_by_code_point(self, pg_dsn: str) -> None:
        keys = [("douyin", "b"), ("douyin", "B"), ("douyin", "é"), ("douyin", "z")]
        with PostgresOrderStore(pg_dsn, converter=make_converter()) as store:
            for channel, order_id in keys:
                store.save(sample_order(order_id=order_id, channel=channel), None)
            listed = [(o.channel, o.order_id) for o in store.orders()]
        assert listed == sorted(keys)


def _drawn_orders(count: int) -> list[Order]:
    """`count` orders drawn in every status, every other one with a saga."""
    drawn: list[Order] = []

    @settings(max_examples=count, database=None, deadline=None)
    @given(orders())
    def draw(order: Order) -> None:
        drawn.append(_with_desk_fields(order) if len(drawn) % 2 else order)

    draw()
    return drawn


class TestWaitingColumn:
    """The second migration's `waiting` column: kept by `save`, filled from JSON."""

    def test_the_migration_reads_what_waits_as_waits_does(self, pg_dsn: str) -> None:
        """Its JSON test of each document agrees with `waits` on the order."""
        converter = make_converter()
        drawn = _drawn_orders(40)
        with psycopg.connect(pg_dsn) as conn:
            conn.execute(WAITS_FUNCTION)
            found = [
                _one(conn, "SELECT pg_temp.orderkit_waits(%s)", converter.dumps(o))
                for o in drawn
            ]
        assert found == [waits(o) for o in drawn]

    def test_a_version_1_table_is_migrated_from_its_documents(
        self, pg_dsn: str
    ) -> None:
        """Opened by this orderkit, its orders that wait are listed; none is lost."""
        converter = make_converter()
        # A NUL in a title: JSON text that jsonb would refuse, read all the same.
        line = OrderLine("L2", "GIFT-BOX", 1, Money("0.10", "CNY"), "礼盒\x00")
        stored = {
            "DY-1": paid(sample_order(order_id="DY-1")),
            "DY-2": _with_desk_fields(paid(sample_order(order_id="DY-2"))),
            "DY-3": sample_order(order_id="DY-3", lines=[*sample_order().lines, line]),
        }
        documents = [(k, converter.dumps(o)) for k, o in stored.items()]
        # A host's converter whose documents are not JSON: listed, to be safe.
        documents.append(("DY-4", b"\x81\xa7msgpack"))
        # One whose JSON is not shaped as orderkit writes an order: listed too.
        documents.append(("DY-5", b'{"kind": "order", "data": {"saga": {}}}'))
        Session(
            pg_dsn, attrs.evolve(ORDERS, migrations=ORDERS.migrations[:1]), attempts=1
        ).close()
        with psycopg.connect(pg_dsn) as conn:
            conn.cursor().executemany(
                "INSERT INTO orderkit_orders (channel, order_id, version, status,"
                " document) VALUES ('douyin', %s, 1, 'paid', %s)",
                documents,
            )
        with PostgresOrderStore(pg_dsn, converter=make_converter()) as store:
            # DY-4's document is past what this converter reads.
            listed = [o.order_id for o in store.waiting(limit=1)]
            kept = [o.order_id for o in store.orders(limit=3)]
        assert listed == ["DY-2"]
        assert kept == ["DY-1", "DY-2", "DY-3"]
        with psycopg.connect(pg_dsn) as conn:
            rows = conn.execute(
                "SELECT order_id, waiting FROM orderkit_orders ORDER BY order_id"
            ).fetchall()
        assert rows == [
            ("DY-1", False),
            ("DY-2", True),
            ("DY-3", False),
            ("DY-4", True),
            ("DY-5", True),
        ]
        assert _row(
            pg_dsn,
            "SELECT value FROM orderkit_meta WHERE name = 'orders_schema_version'",
        ) == (len(ORDERS.migrations),)

    def test_an_older_orderkit_cannot_insert_into_a_migrated_table(
        self, pg_dsn: str
    ) -> None:
        """A process of the older orderkit, still running, has its new orders refused.

        It inserts without the `waiting` column: stored, its order would
        never be listed by `waiting()`, its sagas never resumed.
        """
        PostgresOrderStore(pg_dsn, converter=make_converter()).close()
        with (
            psycopg.connect(pg_dsn) as conn,
            pytest.raises(psycopg.errors.NotNullViolation),
        ):
            conn.execute(
                "INSERT INTO orderkit_orders (channel, order_id, version, status,"
                " document) VALUES ('douyin', 'DY-2', 1, 'paid', '\\x7b7d')"
            )

    @pytest.mark.parametrize("document", FOREIGN_DOCUMENTS)
    def test_a_document_orderkit_did_not_shape_counts_as_waiting(
        self, pg_dsn: str, document: bytes
    ) -> None:
        """A host converter's document may hide a saga: the migration lists it."""
        with psycopg.connect(pg_dsn) as conn:
            conn.execute(WAITS_FUNCTION)
            assert _one(conn, "SELECT pg_temp.orderkit_waits(%s)", document) is True


_COLUMNS = (
    "SELECT o.order_id, o.placed_at, a.recorded_at FROM orderkit_orders"
    " AS o JOIN orderkit_audit AS a USING (channel, order_id) ORDER BY o.order_id"
)


class TestInstantColumns:
    """The orders' `placed_at` and the records' `recorded_at`, from the migrations."""

    def test_the_migration_reads_an_instant_as_the_converter_writes_it(
        self, pg_dsn: str
    ) -> None:
        """From the JSON text, the microseconds `save` writes, exactly."""
        instants = [o.placed_at for o in _drawn_orders(40)] + [
            START,
            START.add(microseconds=1),
            START.replace(year=1, month=1, day=1),
            START.replace(year=300, month=3, day=1),
        ]
        converter = make_converter()
        # A NUL in a title, every other order: JSON text read all the same.
        line = OrderLine("L2", "GIFT-BOX", 1, Money("0.10", "CNY"), "礼盒\x00")
        lines = [[*sample_order().lines], [*sample_order().lines, line]]
        with psycopg.connect(pg_dsn) as conn:
            conn.execute(INSTANT_FUNCTION)
            found = [
                _one(
                    conn,
                    "SELECT pg_temp.orderkit_instant(%s, 'placed_at')",
                    converter.dumps(
                        sample_order(placed_at=instant, lines=lines[i % 2])
                    ),
                )
                for i, instant in enumerate(instants)
            ]
        assert found == [to_us(instant) for instant in instants]

    @pytest.mark.parametrize("document", FOREIGN_DOCUMENTS)
    def test_a_document_orderkit_did_not_shape_is_left_undated(
        self, pg_dsn: str, document: bytes
    ) -> None:
        with psycopg.connect(pg_dsn) as conn:
            conn.execute(INSTANT_FUNCTION)
            query = "SELECT pg_temp.orderkit_instant(%s, 'placed_at')"
            assert _one(conn, query, document) is None

    @pytest.mark.parametrize("text", dated.UNREAD_INSTANTS)
    def test_an_instant_orderkit_would_not_read_is_left_undated(
        self, pg_dsn: str, text: str
    ) -> None:
        """Text the server would roll over into another instant: left undated."""
        document = json.dumps({"placed_at": text}).encode()
        with psycopg.connect(pg_dsn) as conn:
            conn.execute(INSTANT_FUNCTION)
            query = "SELECT pg_temp.orderkit_instant(%s, 'placed_at')"
            assert _one(conn, query, document) is None

    def test_older_tables_are_migrated_and_list_by_instant(self, pg_dsn: str) -> None:
        """Opened by this orderkit, orders and records are listed by their instants.

        A document the migration cannot date (a host converter's envelope)
        is listed all the same, read whole, until it is saved again.
        """
        Session(
            pg_dsn, attrs.evolve(ORDERS, migrations=ORDERS.migrations[:2]), attempts=1
        ).close()
        Session(
            pg_dsn, attrs.evolve(AUDIT, migrations=AUDIT.migrations[:1]), attempts=1
        ).close()
        with psycopg.connect(pg_dsn) as conn:
            conn.cursor().executemany(
                "INSERT INTO orderkit_orders (channel, order_id, version, status,"
                " document, waiting) VALUES ('douyin', %s, 1, 'pending', %s, false)",
                dated.order_documents().items(),
            )
            conn.cursor().executemany(
                "INSERT INTO orderkit_audit (channel, order_id, version, record)"
                " VALUES ('douyin', %s, 2, %s)",
                dated.record_documents().items(),
            )
        # On a connection of the host's, and on their own.
        with psycopg.connect(pg_dsn, autocommit=True) as conn:
            store = PostgresOrderStore(conn, converter=dated.HOST)
            log = PostgresAuditLog(conn, converter=dated.HOST)
            dated.check_window_reads(store, log)
            with (
                PostgresOrderStore(pg_dsn, converter=dated.HOST) as store,
                PostgresAuditLog(pg_dsn, converter=dated.HOST) as log,
            ):
                dated.check_window_reads(store, log)
            columns = conn.execute(_COLUMNS).fetchall()
            versions = conn.execute(
                "SELECT name, value FROM orderkit_meta ORDER BY name"
            ).fetchall()
        assert columns == dated.UPGRADED
        assert versions == [
            ("audit_schema_version", len(AUDIT.migrations)),
            ("orders_schema_version", len(ORDERS.migrations)),
        ]

    def test_the_window_reads_use_their_indexes(self, pg_dsn: str) -> None:
        PostgresOrderStore(pg_dsn, converter=make_converter()).close()
        PostgresAuditLog(pg_dsn, converter=make_converter()).close()
        plans = []
        with psycopg.connect(pg_dsn) as conn:
            conn.execute("SET LOCAL enable_seqscan = off")
            for query, values in [
                (_LIST_PLACED, (0, 1, 0, "", "", 10)),
                (_LIST_RECORDED, (0, 1, 0, "", "", 0, 10)),
            ]:
                rows = conn.execute(f"EXPLAIN {query}", values).fetchall()
                plans.append(" ".join(row[0] for row in rows))
        assert "orderkit_orders_placed" in plans[0]
        assert "orderkit_audit_recorded" in plans[1]
        assert "Sort" not in " ".join(plans)


def _one(conn: psycopg.Connection[Any], query: str, *params: object) -> Any:
    row = conn.execute(query, params).fetchone()
    assert row is not None
    return row[0]


class TestAuditLog:
    """The audit trail in PostgreSQL: idempotent per order and version."""

    def test_records_append_once_and_read_in_version_order(self, pg_dsn: str) -> None:
        with PostgresAuditLog(pg_dsn, converter=make_converter()) as log:
            log.append("douyin", [sample_record(version=3), sample_record()])
            log.append("douyin", [sample_record()])
            assert log.records("douyin", "DY-1001") == [
                sample_record(),
                sample_record(version=3),
            ]
            assert log.records("taobao", "DY-1001") == []

    def test_a_different_record_at_a_stored_version_conflicts(
        self, pg_dsn: str
    ) -> None:
        with PostgresAuditLog(pg_dsn, converter=make_converter()) as log:
            log.append("douyin", [sample_record()])
            with pytest.raises(ConcurrencyConflict) as error:
                log.append(
                    "douyin",
                    [sample_record(version=4), sample_record(actor="someone else")],
                )
            assert error.value.what == "audit:douyin:DY-1001:2"
            assert log.records("douyin", "DY-1001") == [sample_record()]

    def test_two_records_at_one_version_in_one_call_conflict(self, pg_dsn: str) -> None:
        with PostgresAuditLog(pg_dsn, converter=make_converter()) as log:
            with pytest.raises(ConcurrencyConflict):
                log.append("douyin", [sample_record(), sample_record(actor="seller")])
            assert log.records("douyin", "DY-1001") == []


class TestJoinedSession:
    """Inside a host's transaction, the order commits or rolls back with the host."""

    def test_the_host_rolling_back_forgets_the_order(self, pg_dsn: str) -> None:
        PostgresOrderStore(pg_dsn, converter=make_converter()).close()
        with psycopg.connect(pg_dsn, autocommit=True) as conn:
            joined = PostgresOrderStore(conn, converter=make_converter())
            with conn.transaction(force_rollback=True):
                joined.save(sample_order(), None)
                assert joined.get("douyin", "DY-1001") == sample_order()
            assert joined.get("douyin", "DY-1001") is None
            joined.close()
            assert not conn.closed

    def test_a_refused_save_undoes_only_itself(self, pg_dsn: str) -> None:
        with PostgresOrderStore(pg_dsn, converter=make_converter()) as own:
            own.save(sample_order(), None)
        with psycopg.connect(pg_dsn, autocommit=True) as conn:
            joined = PostgresOrderStore(conn, converter=make_converter())
            with conn.transaction():
                joined.save(sample_order(order_id="DY-2"), None)
                with pytest.raises(ConcurrencyConflict):
                    joined.save(paid(sample_order(), version=9), 7)
                joined.save(paid(sample_order()), 1)
            assert joined.get("douyin", "DY-2") == sample_order(order_id="DY-2")
            assert joined.get("douyin", "DY-1001") == paid(sample_order())

    def test_a_read_in_a_transaction_holds_the_order(self, pg_dsn: str) -> None:
        """A second reader waits for the first transaction, then sees its save."""
        with PostgresOrderStore(pg_dsn, converter=make_converter()) as own:
            own.save(sample_order(), None)
        first = psycopg.connect(pg_dsn, autocommit=True)
        second = psycopg.connect(pg_dsn, autocommit=True)
        seen: list[int] = []

        def read_second() -> None:
            with second.transaction():
                order = other.get("douyin", "DY-1001")
                assert order is not None
                seen.append(order.version)
                other.save(
                    attrs.evolve(order, version=order.version + 1), order.version
                )

        store = PostgresOrderStore(first, converter=make_converter())
        other = PostgresOrderStore(second, converter=make_converter())
        try:
            # The stores check their tables outside any transaction, once, so
            # that the only lock the second waits for is the order's row.
            assert store.get("douyin", "DY-1001") == other.get("douyin", "DY-1001")
            with first.transaction():
                order = store.get("douyin", "DY-1001")
                assert order is not None
                waiter = threading.Thread(target=read_second)
                waiter.start()
                waiter.join(0.5)
                assert waiter.is_alive()
                assert seen == []
                store.save(paid(order), 1)
            waiter.join(30)
            assert seen == [2]
            assert store.get("douyin", "DY-1001") == paid(sample_order(), version=3)
        finally:
            first.close()
            second.close()


class TestReadOnce(ReadOnce):
    """Each document parsed once, in a schema that two stores may share."""

    @pytest.fixture(autouse=True)
    def _schema(self, pg_dsn: str) -> None:
        self.dsn = pg_dsn

    def open_orders(self, converter: Counting) -> PostgresOrderStore:
        return PostgresOrderStore(self.dsn, converter=converter)

    def open_audit(self, converter: Counting) -> PostgresAuditLog:
        return PostgresAuditLog(self.dsn, converter=converter)

    def open_unit(self, converter: Counting) -> PostgresUnitOfWork:
        return PostgresUnitOfWork(self.dsn, converter=converter)
