"""The SQLite order store runs the order store contract, and what only SQLite does.

The contract runs twice: on a file, where racers are processes each with
its own store, and in `:memory:`, where racers are threads sharing the store.
"""

from __future__ import annotations

import functools
import itertools
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from tests.adapters._read_once import Counting, ReadOnce

from orderkit.adapters._sqlite_orders import _LIST, _LIST_STATUS
from orderkit.adapters.sqlite import SqliteAuditLog, SqliteOrderStore, SqliteUnitOfWork
from orderkit.errors import ConcurrencyConflict, StoreError, StructureError
from orderkit.orders import OrderStatus
from orderkit.serialization import make_converter
from orderkit.testing._order_store_contract import paid, sample_order, sample_record
from orderkit.testing.contracts import OrderStoreContract, with_converter


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
                ]
            ]
        # A search of the key, and of the status's keys alone: no scan.
        assert "SEARCH orderkit_orders USING INDEX sqlite_autoindex" in plans[0]
        assert "USING INDEX orderkit_orders_status (status=?" in plans[1]


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
