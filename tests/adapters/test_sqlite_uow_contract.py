"""The SQLite unit of work runs the unit-of-work contract, and what only SQLite does.

The contract runs twice: on a file, where racers are processes each with
its own unit of work, and on one `:memory:` connection, where racers are
threads sharing the unit of work.
"""

from __future__ import annotations

import functools
import itertools
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import attrs
import pytest

from orderkit.adapters.sqlite import SqliteOrderStore, SqliteUnitOfWork
from orderkit.errors import StoreError
from orderkit.serialization import make_converter
from orderkit.testing._order_store_contract import paid, sample_order
from orderkit.testing.contracts import UnitOfWorkContract, with_converter


class TestSqliteUnitOfWorkFile(UnitOfWorkContract):
    """SqliteUnitOfWork on a file: racers are processes, each with its own."""

    @pytest.fixture(autouse=True)
    def _files(self, tmp_path: Path) -> None:
        self.directory = tmp_path
        self.numbers = itertools.count()
        self.paths: dict[int, Path] = {}

    def make_store(self) -> SqliteUnitOfWork:
        path = self.directory / f"uow-{next(self.numbers)}.db"
        uow = SqliteUnitOfWork(path, converter=make_converter())
        self.paths[id(uow)] = path
        return uow

    def connect(self, store: object) -> Callable[[], SqliteUnitOfWork]:
        return functools.partial(
            with_converter, SqliteUnitOfWork, self.paths[id(store)]
        )


class TestSqliteUnitOfWorkConnection(UnitOfWorkContract):
    """SqliteUnitOfWork on one `:memory:` connection: racers are threads."""

    @pytest.fixture(autouse=True)
    def _connections(self) -> Iterator[None]:
        self.connections: list[sqlite3.Connection] = []
        yield
        for conn in self.connections:
            conn.close()

    def make_store(self) -> SqliteUnitOfWork:
        conn = sqlite3.connect(
            ":memory:", isolation_level=None, check_same_thread=False
        )
        self.connections.append(conn)
        return SqliteUnitOfWork(conn, converter=make_converter())


# --------------------------------------------------------------------------
# What only SQLite does


@pytest.fixture
def uow(tmp_path: Path) -> Iterator[SqliteUnitOfWork]:
    uow = SqliteUnitOfWork(tmp_path / "orderkit.db", converter=make_converter())
    yield uow
    uow.close()


class TestOneTransaction:
    """Every store joins the unit's one transaction on one connection."""

    def test_a_unit_is_one_transaction(self, uow: SqliteUnitOfWork) -> None:
        statements: list[str] = []
        uow._conn.set_trace_callback(statements.append)
        with uow:
            uow.orders.save(sample_order(), None)
            uow.cursors.advance("douyin:orders", None, "page-2")
            uow.commit()
        assert statements[0] == "BEGIN IMMEDIATE"
        assert statements.count("COMMIT") == 1
        # No schema checks inside the unit: the stores were readied on opening.
        assert not [s for s in statements if "orderkit_meta" in s]

    def test_other_connections_see_nothing_until_commit(
        self, uow: SqliteUnitOfWork, tmp_path: Path
    ) -> None:
        with SqliteOrderStore(
            tmp_path / "orderkit.db", converter=make_converter()
        ) as other:
            with uow:
                uow.orders.save(sample_order(), None)
                assert other.get("douyin", "DY-1001") is None
                uow.commit()
                uow.orders.save(paid(sample_order()), 1)
                assert other.get("douyin", "DY-1001") == sample_order()
            assert other.get("douyin", "DY-1001") == sample_order()

    def test_a_given_connection_in_a_transaction_is_refused(self) -> None:
        conn = sqlite3.connect(":memory:", isolation_level=None)
        try:
            uow = SqliteUnitOfWork(conn, converter=make_converter())
            conn.execute("BEGIN")
            with pytest.raises(StoreError, match="inside a transaction"), uow:
                pass
            conn.execute("ROLLBACK")
            with uow:
                assert uow.orders.get("douyin", "DY-1001") is None
        finally:
            conn.close()

    def test_a_closed_unit_of_work_raises_store_error(self, tmp_path: Path) -> None:
        uow = SqliteUnitOfWork(tmp_path / "orderkit.db", converter=make_converter())
        uow.close()
        uow.close()
        with pytest.raises(StoreError) as error, uow:
            pass
        assert isinstance(error.value.__cause__, sqlite3.Error)

    def test_a_file_that_is_not_a_database_is_refused(self, tmp_path: Path) -> None:
        path = tmp_path / "notes.txt"
        path.write_bytes(b"not a database, just notes " * 100)
        with pytest.raises(StoreError):
            SqliteUnitOfWork(path, converter=make_converter())


class TestTransactionLost:
    """A unit whose transaction SQLite ended writes nothing more on its own."""

    def test_after_sqlite_rolls_the_unit_back_nothing_more_is_written(
        self, tmp_path: Path
    ) -> None:
        path = tmp_path / "orderkit.db"
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        uow = SqliteUnitOfWork(conn, converter=make_converter())
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        conn.execute(f"PRAGMA max_page_count = {pages + 4}")  # a nearly full disk
        huge = "x" * 200_000
        big = attrs.evolve(sample_order(), order_id="DY-BIG", cancel_reason=huge)
        with uow:
            uow.orders.save(sample_order(), None)
            with pytest.raises(StoreError):
                uow.orders.save(big, None)  # SQLite rolls the whole unit back
            with pytest.raises(StoreError, match="leave the unit"):
                uow.cursors.advance("douyin:orders", None, "page-2")
            with pytest.raises(StoreError, match="rolled the transaction back"):
                uow.commit()
        with SqliteOrderStore(path, converter=make_converter()) as other:
            assert other.get("douyin", "DY-1001") is None
        with SqliteUnitOfWork(path, converter=make_converter()) as again:
            assert again.cursors.get("douyin:orders") is None
        conn.close()

    def test_a_commit_that_committed_never_reports_a_failure(
        self, uow: SqliteUnitOfWork, tmp_path: Path
    ) -> None:
        path = tmp_path / "orderkit.db"
        other = sqlite3.connect(path, isolation_level=None, timeout=0.1)
        with uow:
            uow.orders.save(sample_order(), None)
            uow.commit()
            # Another process takes the write lock right after the commit:
            # the unit's next transaction waits for its next call.
            other.execute("BEGIN IMMEDIATE")
            with SqliteOrderStore(path, converter=make_converter()) as reader:
                assert reader.get("douyin", "DY-1001") == sample_order()
            other.execute("ROLLBACK")
            uow.orders.save(paid(sample_order()), 1)
        other.close()
        with SqliteOrderStore(path, converter=make_converter()) as reader:
            assert reader.get("douyin", "DY-1001") == sample_order()


def test_closing_inside_an_open_unit_is_refused_not_a_hang(tmp_path: Path) -> None:
    uow = SqliteUnitOfWork(tmp_path / "orderkit.db", converter=make_converter())
    with uow:
        with pytest.raises(StoreError, match="leave it first"):
            uow.close()
        uow.orders.save(sample_order(), None)
        uow.commit()
    uow.close()
    with pytest.raises(StoreError):
        uow.__enter__()
