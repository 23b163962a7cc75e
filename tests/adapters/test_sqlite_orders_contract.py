"""The SQLite order store runs the order store contract, and what only SQLite does.

The contract runs twice: on a file, where racers are processes each with
its own store, and in `:memory:`, where racers are threads sharing the store.
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import json
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from tests.adapters import _dated_upgrade as dated
from tests.adapters._foreign_documents import FOREIGN_DOCUMENTS
from tests.adapters._read_once import Counting, ReadOnce

from orderkit.adapters._micros import to_us
from orderkit.adapters._sqlite_orders import (
    _LIST,
    _LIST_PLACED,
    _LIST_RECORDED,
    _LIST_STATUS,
    _LIST_WAITING,
    _WAITS_IN_JSON,
    AUDIT_SCHEMA_VERSION,
    ORDERS_SCHEMA_VERSION,
    _fill_instant,
)
from orderkit.adapters.sqlite import SqliteAuditLog, SqliteOrderStore, SqliteUnitOfWork
from orderkit.errors import ConcurrencyConflict, StoreError, StructureError
from orderkit.money import Money
from orderkit.orders import Order, OrderLine, OrderStatus, waits
from orderkit.serialization import make_converter
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
    """Closes every store a test opened."""

    @pytest.fixture(autouse=True)
    def _opened(self) -> Iterator[None]:
        self.opened: list[SqliteOrderStore] = []
        yield
        for store in self.opened:
            store.close()

    def open(self, target: str | Path) -> SqliteOrderStore:
        store = SqliteOrderStore(target, converter=make_converter())
        self.opened.append(store)
        return store


class TestSqliteOrdersFile(_Hooks, OrderStoreContract):
    """SqliteOrderStore on a file: racers are processes, each with its own store."""

    @pytest.fixture(autouse=True)
    def _files(self, tmp_path: Path) -> None:
        self.directory = tmp_path
        self.numbers = itertools.count()
        self.paths: dict[int, Path] = {}

    def make_store(self) -> SqliteOrderStore:
        path = self.directory / f"orders-{next(self.numbers)}.db"
        store = self.open(path)
        self.paths[id(store)] = path
        return store

    def connect(self, store: object) -> Callable[[], SqliteOrderStore]:
        return functools.partial(
            with_converter, SqliteOrderStore, self.paths[id(store)]
        )

    def break_store(self, store: object) -> bool:
        with sqlite3.connect(self.paths[id(store)]) as other:
            other.execute(f"DROP TABLE {VICTIM}")
        other.close()
        return True


class TestSqliteOrdersMemory(_Hooks, OrderStoreContract):
    """SqliteOrderStore in `:memory:`: racers are threads sharing the store."""

    def make_store(self) -> SqliteOrderStore:
        return self.open(":memory:")

    def break_store(self, store: object) -> bool:
        assert isinstance(store, SqliteOrderStore)
        store._session.conn.execute(f"DROP TABLE {VICTIM}")
        return True


# --------------------------------------------------------------------------
# What only SQLite does


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "orderkit.db"


class TestDocuments:
    """An order is one JSON document beside its lookup columns."""

    def test_a_reopened_file_keeps_the_order(self, path: Path) -> None:
        with SqliteOrderStore(path, converter=make_converter()) as first:
            first.save(paid(sample_order()), None)
        with SqliteOrderStore(path, converter=make_converter()) as again:
            assert again.get("douyin", "DY-1001") == paid(sample_order())
            with pytest.raises(ConcurrencyConflict):
                again.save(paid(sample_order(), version=3), 1)

    def test_the_row_holds_the_document_and_its_keys(self, path: Path) -> None:
        converter = make_converter()
        with SqliteOrderStore(path, converter=converter) as store:
            store.save(paid(sample_order()), None)
            row = store._session.conn.execute(
                "SELECT channel, order_id, version, status, document"
                " FROM orderkit_orders"
            ).fetchone()
        assert row[:4] == ("douyin", "DY-1001", 2, "paid")
        assert row[4] == converter.dumps(paid(sample_order()))

    def test_an_unreadable_document_raises_structure_error(self, path: Path) -> None:
        with SqliteOrderStore(path, converter=make_converter()) as store:
            store.save(sample_order(), None)
            store._session.conn.execute(
                "UPDATE orderkit_orders SET document = '{\"lines\": []}'"
            )
            with pytest.raises(StructureError):
                store.get("douyin", "DY-1001")

    def test_a_schema_from_a_newer_orderkit_is_refused(self, path: Path) -> None:
        SqliteOrderStore(path, converter=make_converter()).close()
        with sqlite3.connect(path) as conn:
            conn.execute(
                "UPDATE orderkit_meta SET value = 99"
                " WHERE name = 'orders_schema_version'"
            )
        conn.close()
        with pytest.raises(StoreError, match="order schema version 99 is newer"):
            SqliteOrderStore(path, converter=make_converter())

    def test_a_save_is_one_short_transaction(self, path: Path) -> None:
        with SqliteOrderStore(path, converter=make_converter()) as store:
            store.save(sample_order(), None)
            statements: list[str] = []
            store._session.conn.set_trace_callback(statements.append)
            store.save(paid(sample_order()), 1)
        assert statements[0] == "BEGIN IMMEDIATE"
        assert statements[-1] == "COMMIT"
        assert len(statements) == 3

    def test_listing_reads_the_indexes(self, path: Path) -> None:
        with SqliteOrderStore(path, converter=make_converter()) as store:
            store.save(sample_order(), None)
            plans = [
                " | ".join(
                    row[-1]
                    for row in store._session.conn.execute(
                        f"EXPLAIN QUERY PLAN {query}", values
                    )
                )
                for query, values in [
                    (_LIST, ("", "", 10)),
                    (_LIST_STATUS, (OrderStatus.PAID.value, "", "", 10)),
                    (_LIST_WAITING, ("", "", 10)),
                ]
            ]
        # A search of the key, and of the status's keys alone: no scan.
        assert "SEARCH orderkit_orders USING INDEX sqlite_autoindex" in plans[0]
        assert "USING INDEX orderkit_orders_status (status=?" in plans[1]
        assert "USING INDEX orderkit_orders_waiting ((channel,order_id)>" in plans[2]


# The order table as orderkit wrote it before the `waiting` column.
_VERSION_1 = (
    "CREATE TABLE orderkit_meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL)",
    "INSERT INTO orderkit_meta VALUES ('orders_schema_version', 1)",
    (
        "CREATE TABLE orderkit_orders ("
        " channel TEXT NOT NULL, order_id TEXT NOT NULL,"
        " version INTEGER NOT NULL, status TEXT NOT NULL,"
        " document BLOB NOT NULL, UNIQUE (channel, order_id))"
    ),
    (
        "CREATE INDEX orderkit_orders_status"
        " ON orderkit_orders (status, channel, order_id)"
    ),
)


def _version_1_file(path: Path, documents: dict[str, bytes]) -> None:
    """A version 1 order table holding `documents`, by order id."""
    with sqlite3.connect(path) as conn:
        for statement in _VERSION_1:
            conn.execute(statement)
        conn.executemany(
            "INSERT INTO orderkit_orders VALUES ('douyin', ?, 1, 'paid', ?)",
            documents.items(),
        )
    conn.close()


class TestWaitingColumn:
    """Version 2's `waiting` column: kept by `save`, filled when a file is upgraded."""

    @settings(max_examples=60, deadline=None)
    @given(orders())
    def test_the_upgrade_reads_what_waits_as_waits_does(self, order: Order) -> None:
        """The upgrade's JSON test of a document agrees with `waits` on its order."""
        document = make_converter().dumps(_with_desk_fields(order))
        with sqlite3.connect(":memory:") as conn:
            (found,) = conn.execute(
                f"SELECT {_WAITS_IN_JSON} FROM (SELECT CAST(? AS TEXT) AS d)",  # noqa: S608 - constants only
                (document,),
            ).fetchone()
            (plain,) = conn.execute(
                f"SELECT {_WAITS_IN_JSON} FROM (SELECT CAST(? AS TEXT) AS d)",  # noqa: S608 - constants only
                (make_converter().dumps(order),),
            ).fetchone()
        conn.close()
        assert bool(found) is waits(_with_desk_fields(order))
        assert bool(plain) is waits(order)

    @pytest.mark.parametrize("document", FOREIGN_DOCUMENTS)
    def test_a_document_orderkit_did_not_shape_counts_as_waiting(
        self, document: bytes
    ) -> None:
        """A host converter's document may hide a saga: the upgrade lists it."""
        with sqlite3.connect(":memory:") as conn:
            (found,) = conn.execute(
                f"SELECT {_WAITS_IN_JSON} FROM (SELECT CAST(? AS TEXT) AS d)",  # noqa: S608 - constants only
                (document,),
            ).fetchone()
        conn.close()
        assert found == 1

    def test_a_version_1_file_is_upgraded_from_its_documents(self, path: Path) -> None:
        """Opened by this orderkit, its orders that wait are listed; none is lost."""
        converter = make_converter()
        line = OrderLine("L2", "GIFT-BOX", 1, Money("0.10", "CNY"), "礼盒\x00")
        stored = {
            # A NUL in a title: JSON text the upgrade reads all the same.
            "DY-1": sample_order(order_id="DY-1", lines=[*sample_order().lines, line]),
            "DY-2": _with_desk_fields(paid(sample_order(order_id="DY-2"))),
            "DY-3": paid(sample_order(order_id="DY-3", review=("address",))),
        }
        documents = {k: converter.dumps(o) for k, o in stored.items()}
        # A host's converter whose documents are not JSON: listed, to be safe.
        documents["DY-4"] = b"\x81\xa7msgpack"
        # One whose JSON is not shaped as orderkit writes an order: listed too.
        documents["DY-5"] = b'{"kind": "order", "data": {"saga": {"name": "ship"}}}'
        _version_1_file(path, documents)
        with SqliteOrderStore(path, converter=make_converter()) as store:
            # DY-4's document is past what this converter reads.
            listed = [o.order_id for o in store.waiting(limit=2)]
            kept = [o.order_id for o in store.orders(limit=3)]
        assert listed == ["DY-2", "DY-3"]
        assert kept == ["DY-1", "DY-2", "DY-3"]
        with sqlite3.connect(path) as conn:
            rows = conn.execute(
                "SELECT order_id, waiting FROM orderkit_orders ORDER BY order_id"
            ).fetchall()
            version = conn.execute(
                "SELECT value FROM orderkit_meta WHERE name = 'orders_schema_version'"
            ).fetchone()
        conn.close()
        assert rows == [("DY-1", 0), ("DY-2", 1), ("DY-3", 1), ("DY-4", 1), ("DY-5", 1)]
        assert version == (ORDERS_SCHEMA_VERSION,)

    def test_an_older_orderkit_cannot_insert_into_an_upgraded_table(
        self, path: Path
    ) -> None:
        """A process of the older orderkit, still running, has its new orders refused.

        It inserts without the `waiting` column: stored, its order would
        never be listed by `waiting()`, its sagas never resumed.
        """
        _version_1_file(path, {"DY-1": make_converter().dumps(sample_order())})
        SqliteOrderStore(path, converter=make_converter()).close()
        with (
            sqlite3.connect(path) as conn,
            pytest.raises(sqlite3.IntegrityError, match="older orderkit"),
        ):
            conn.execute(
                "INSERT INTO orderkit_orders (channel, order_id, version, status,"
                " document) VALUES ('douyin', 'DY-2', 1, 'paid', x'7b7d')"
            )
        conn.close()

    def test_an_upgrade_that_fails_leaves_version_1(self, path: Path) -> None:
        """Nothing of a failed upgrade stays: the file is as it was, still version 1."""
        _version_1_file(path, {"DY-1": make_converter().dumps(sample_order())})
        with sqlite3.connect(path) as conn:
            # An index of that name already there makes the upgrade's last step fail.
            conn.execute(
                "CREATE INDEX orderkit_orders_waiting ON orderkit_orders (status)"
            )
        conn.close()
        with pytest.raises(StoreError):
            SqliteOrderStore(path, converter=make_converter())
        with sqlite3.connect(path) as conn:
            table = conn.execute("PRAGMA table_info(orderkit_orders)").fetchall()
            version = conn.execute(
                "SELECT value FROM orderkit_meta WHERE name = 'orders_schema_version'"
            ).fetchone()
        conn.close()
        assert "waiting" not in [row[1] for row in table]
        assert version == (1,)


# The audit table as orderkit wrote it before the `recorded_at` column.
_AUDIT_VERSION_1 = (
    "INSERT INTO orderkit_meta VALUES ('audit_schema_version', 1)",
    (
        "CREATE TABLE orderkit_audit ("
        " channel TEXT NOT NULL, order_id TEXT NOT NULL,"
        " version INTEGER NOT NULL, record BLOB NOT NULL,"
        " PRIMARY KEY (channel, order_id, version))"
    ),
)


_COLUMNS = (
    "SELECT o.order_id, o.placed_at, a.recorded_at FROM orderkit_orders"
    " AS o JOIN orderkit_audit AS a USING (channel, order_id) ORDER BY o.order_id"
)


def _filled(document: bytes) -> object:
    """The `placed_at` the upgrade fills in for a row holding `document`."""
    with sqlite3.connect(":memory:") as conn:
        conn.execute("CREATE TABLE orderkit_orders (document BLOB, placed_at)")
        conn.execute("INSERT INTO orderkit_orders VALUES (?, 0)", (document,))
        conn.execute(_fill_instant("orderkit_orders", "placed_at", "document"))
        (found,) = conn.execute("SELECT placed_at FROM orderkit_orders").fetchone()
    conn.close()
    return found


class TestInstantColumns:
    """Order schema 3's `placed_at` and audit schema 2's `recorded_at`."""

    @settings(max_examples=200, deadline=None)
    # SQLite's instant-to-date is off on this day, its date-to-instant not.
    @example(dt.datetime(300, 3, 1, tzinfo=dt.UTC))
    @given(
        st.datetimes(
            min_value=dt.datetime(1, 1, 1),  # noqa: DTZ001 - bounds of a UTC strategy
            max_value=dt.datetime(9999, 12, 31, 23, 59, 59, 999999),  # noqa: DTZ001
            timezones=st.just(dt.UTC),
        )
    )
    def test_the_upgrade_reads_an_instant_as_the_converter_writes_it(
        self, instant: dt.datetime
    ) -> None:
        """From the JSON text, the microseconds `save` writes, exactly."""
        order = sample_order(placed_at=instant)
        assert _filled(make_converter().dumps(order)) == to_us(order.placed_at)

    @pytest.mark.parametrize("document", FOREIGN_DOCUMENTS)
    def test_a_document_orderkit_did_not_shape_is_left_undated(
        self, document: bytes
    ) -> None:
        assert _filled(document) is None

    @pytest.mark.parametrize("text", dated.UNREAD_INSTANTS)
    def test_an_instant_orderkit_would_not_read_is_left_undated(
        self, text: str
    ) -> None:
        """Text SQLite would roll over into another instant: left to the converter."""
        assert _filled(json.dumps({"placed_at": text}).encode()) is None

    def test_an_older_file_is_upgraded_and_lists_by_instant(self, path: Path) -> None:
        """Opened by this orderkit, orders and records are listed by their instants.

        A document the upgrade cannot date (a host converter's envelope) is
        listed all the same, read whole, until it is saved again.
        """
        _version_1_file(path, dated.order_documents())
        with sqlite3.connect(path) as conn:
            for statement in _AUDIT_VERSION_1:
                conn.execute(statement)
            conn.executemany(
                "INSERT INTO orderkit_audit VALUES ('douyin', ?, 2, ?)",
                dated.record_documents().items(),
            )
        conn.close()
        conn = sqlite3.connect(path, isolation_level=None)
        try:
            # On a connection of the host's, and on their own.
            store = SqliteOrderStore(conn, converter=dated.HOST)
            log = SqliteAuditLog(conn, converter=dated.HOST)
            dated.check_window_reads(store, log)
            with (
                SqliteOrderStore(path, converter=dated.HOST) as store,
                SqliteAuditLog(path, converter=dated.HOST) as log,
            ):
                dated.check_window_reads(store, log)
            columns = conn.execute(_COLUMNS).fetchall()
            versions = conn.execute(
                "SELECT name, value FROM orderkit_meta ORDER BY name"
            ).fetchall()
        finally:
            conn.close()
        assert columns == dated.UPGRADED
        assert versions == [
            ("audit_schema_version", AUDIT_SCHEMA_VERSION),
            ("orders_schema_version", ORDERS_SCHEMA_VERSION),
        ]

    def test_an_undated_document_is_read_once_per_store(self, path: Path) -> None:
        """Every listing after the first reads the undated rows' keys alone.

        And the document of an undated row in the window, to return it.
        """
        _version_1_file(path, dated.order_documents())
        conn = sqlite3.connect(path, isolation_level=None)
        try:
            store = SqliteOrderStore(conn, converter=dated.HOST)
            statements: list[str] = []
            conn.set_trace_callback(statements.append)
            for _ in range(3):
                dated.check_placed_between(store)
            conn.set_trace_callback(None)
        finally:
            conn.close()
        documents = [s for s in statements if "document FROM" in s and "IS NULL" in s]
        assert len(documents) == 1

    def test_the_window_reads_use_their_indexes(self, path: Path) -> None:
        SqliteUnitOfWork(path).close()
        with sqlite3.connect(path) as conn:
            plans = [
                " ".join(
                    row[3]
                    for row in conn.execute(
                        f"EXPLAIN QUERY PLAN {query}", (0,) * query.count("?")
                    )
                )
                for query in (_LIST_PLACED, _LIST_RECORDED)
            ]
        conn.close()
        assert "USING INDEX orderkit_orders_placed" in plans[0]
        assert "USING INDEX orderkit_audit_recorded" in plans[1]
        assert "TEMP B-TREE" not in " ".join(plans)


class TestAuditLog:
    """The audit trail in SQLite: idempotent per order and version."""

    def test_records_append_once_and_read_in_version_order(self, path: Path) -> None:
        with SqliteAuditLog(path, converter=make_converter()) as log:
            log.append("douyin", [sample_record(version=3), sample_record()])
            log.append("douyin", [sample_record()])
            assert log.records("douyin", "DY-1001") == [
                sample_record(),
                sample_record(version=3),
            ]
            assert log.records("taobao", "DY-1001") == []

    def test_an_append_in_a_host_transaction_is_two_statements(
        self, path: Path
    ) -> None:
        # One query for what is stored and one insert: no query per record,
        # and no savepoint around a single row.
        SqliteAuditLog(path, converter=make_converter()).close()
        conn = sqlite3.connect(path, isolation_level=None)
        try:
            log = SqliteAuditLog(conn, converter=make_converter())
            log.append("douyin", [sample_record()])
            conn.execute("BEGIN")
            statements: list[str] = []
            conn.set_trace_callback(statements.append)
            log.append("douyin", [sample_record(version=3), sample_record()])
            conn.set_trace_callback(None)
            conn.execute("COMMIT")
            assert log.records("douyin", "DY-1001") == [
                sample_record(),
                sample_record(version=3),
            ]
        finally:
            conn.close()
        assert 2 == len(statements)

    def test_a_different_record_at_a_stored_version_conflicts(self, path: Path) -> None:
        with SqliteAuditLog(path, converter=make_converter()) as log:
            log.append("douyin", [sample_record()])
            with pytest.raises(ConcurrencyConflict) as error:
                log.append(
                    "douyin",
                    [sample_record(version=4), sample_record(actor="someone else")],
                )
            assert error.value.what == "audit:douyin:DY-1001:2"
            assert log.records("douyin", "DY-1001") == [sample_record()]


class TestJoinedSession:
    """Inside a host's transaction, the order commits or rolls back with the host."""

    def test_the_host_rolling_back_forgets_the_order(self, path: Path) -> None:
        SqliteOrderStore(path, converter=make_converter()).close()
        conn = sqlite3.connect(path, isolation_level=None)
        try:
            conn.execute("BEGIN")
            joined = SqliteOrderStore(conn, converter=make_converter())
            joined.save(sample_order(), None)
            assert joined.get("douyin", "DY-1001") == sample_order()
            conn.execute("ROLLBACK")
            assert joined.get("douyin", "DY-1001") is None
        finally:
            conn.close()


class TestReadOnce(ReadOnce):
    """Each document parsed once, on a file that two stores may share."""

    @pytest.fixture(autouse=True)
    def _file(self, path: Path) -> None:
        self.path = path

    def open_orders(self, converter: Counting) -> SqliteOrderStore:
        return SqliteOrderStore(self.path, converter=converter)

    def open_audit(self, converter: Counting) -> SqliteAuditLog:
        return SqliteAuditLog(self.path, converter=converter)

    def open_unit(self, converter: Counting) -> SqliteUnitOfWork:
        return SqliteUnitOfWork(self.path, converter=converter)
