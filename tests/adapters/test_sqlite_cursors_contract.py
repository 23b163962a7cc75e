"""The SQLite cursor store runs the cursor store contract, and what only SQLite does.

The contract runs twice: on a file, where racers are processes each with
its own store, and in `:memory:`, where racers are threads sharing the
store, with the hooks of tests/adapters/test_sqlite_contract.py.
"""

from __future__ import annotations

import functools
import itertools
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from orderkit.adapters.sqlite import (
    SqliteCursorStore,
    SqliteDetectorStore,
    SqliteKeyStore,
    SqliteLedgerStore,
    SqliteLimitStore,
)
from orderkit.errors import StoreError
from orderkit.testing.contracts import CursorStoreContract


FEED = "shopify:orders"
PAGE_2 = "eyJsYXN0X2lkIjo0NTAxfQ"
PAGE_3 = "eyJsYXN0X2lkIjo0NjAyfQ"
VICTIM = "orderkit_cursors"


# --------------------------------------------------------------------------
# The contract


class _Hooks:
    """Closes every store a test opened."""

    @pytest.fixture(autouse=True)
    def _opened(self) -> Iterator[None]:
        self.opened: list[SqliteCursorStore] = []
        yield
        for store in self.opened:
            store.close()

    def open(self, target: str | Path) -> SqliteCursorStore:
        store = SqliteCursorStore(target)
        self.opened.append(store)
        return store


class TestSqliteCursorsFile(_Hooks, CursorStoreContract):
    """SqliteCursorStore on a file: racers are processes, each with its own store."""

    @pytest.fixture(autouse=True)
    def _files(self, tmp_path: Path) -> None:
        self.directory = tmp_path
        self.numbers = itertools.count()
        self.paths: dict[int, Path] = {}

    def make_store(self) -> SqliteCursorStore:
        path = self.directory / f"cursors-{next(self.numbers)}.db"
        store = self.open(path)
        self.paths[id(store)] = path
        return store

    def connect(self, store: object) -> Callable[[], SqliteCursorStore]:
        return functools.partial(SqliteCursorStore, self.paths[id(store)])

    def break_store(self, store: object) -> bool:
        # Another connection drops the table behind the store's back.
        with sqlite3.connect(self.paths[id(store)]) as other:
            other.execute(f"DROP TABLE {VICTIM}")
        other.close()
        return True


class TestSqliteCursorsMemory(_Hooks, CursorStoreContract):
    """SqliteCursorStore in `:memory:`: racers are threads sharing the store."""

    def make_store(self) -> SqliteCursorStore:
        return self.open(":memory:")

    def break_store(self, store: object) -> bool:
        # No other connection can reach a private in-memory database.
        assert isinstance(store, SqliteCursorStore)
        store._session.conn.execute(f"DROP TABLE {VICTIM}")
        return True


# --------------------------------------------------------------------------
# What only SQLite does


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "orderkit.db"


class TestFiles:
    """A cursor outlives the store, beside the other stores' tables."""

    def test_a_reopened_file_keeps_the_cursor(self, path: Path) -> None:
        with SqliteCursorStore(path) as first:
            assert first.advance(FEED, None, PAGE_2) is True
        with SqliteCursorStore(path) as again:
            assert again.get(FEED) == PAGE_2
            assert again.advance(FEED, None, PAGE_3) is False
            assert again.advance(FEED, PAGE_2, PAGE_3) is True

    def test_it_shares_a_file_with_the_other_stores(self, path: Path) -> None:
        SqliteLedgerStore(path).close()
        SqliteKeyStore(path).close()
        SqliteDetectorStore(path).close()
        SqliteLimitStore(path).close()
        with SqliteCursorStore(path) as store:
            store.advance(FEED, None, PAGE_2)
        with sqlite3.connect(path) as conn:
            versions = dict(conn.execute("SELECT name, value FROM orderkit_meta"))
        conn.close()
        assert versions == {
            "schema_version": 2,
            "keys_schema_version": 1,
            "detector_schema_version": 1,
            "limits_schema_version": 2,
            "cursors_schema_version": 1,
        }

    def test_a_cursor_schema_from_a_newer_orderkit_is_refused(self, path: Path) -> None:
        SqliteCursorStore(path).close()
        with sqlite3.connect(path) as conn:
            conn.execute(
                "UPDATE orderkit_meta SET value = 99"
                " WHERE name = 'cursors_schema_version'"
            )
        conn.close()
        with pytest.raises(StoreError, match="cursor schema version 99 is newer"):
            SqliteCursorStore(path)

    def test_a_closed_store_raises_store_error(self, path: Path) -> None:
        store = SqliteCursorStore(path)
        store.close()
        store.close()
        with pytest.raises(StoreError) as error:
            store.advance(FEED, None, PAGE_2)
        assert isinstance(error.value.__cause__, sqlite3.Error)
        with pytest.raises(StoreError) as error:
            store.get(FEED)
        assert isinstance(error.value.__cause__, sqlite3.Error)

    def test_an_advance_is_one_short_transaction(self, path: Path) -> None:
        with SqliteCursorStore(path) as store:
            store.advance(FEED, None, PAGE_2)
            statements: list[str] = []
            store._session.conn.set_trace_callback(statements.append)
            assert store.advance(FEED, PAGE_2, PAGE_3) is True
            assert statements[0] == "BEGIN IMMEDIATE"
            assert statements[-1] == "COMMIT"
            assert len(statements) == 3

    def test_a_lost_compare_and_set_reads_under_the_same_lock(self, path: Path) -> None:
        with SqliteCursorStore(path) as store:
            store.advance(FEED, None, PAGE_2)
            statements: list[str] = []
            store._session.conn.set_trace_callback(statements.append)
            assert store.advance(FEED, PAGE_3, "elsewhere") is False
            assert statements[0] == "BEGIN IMMEDIATE"
            assert statements[-1] == "COMMIT"
            assert statements.count("BEGIN IMMEDIATE") == 1


class TestJoinedSession:
    """Inside a host's transaction, the cursor commits or rolls back with the host."""

    @pytest.fixture
    def conn(self, path: Path) -> Iterator[sqlite3.Connection]:
        SqliteCursorStore(path).close()  # the schema, committed
        conn = sqlite3.connect(path, isolation_level=None)
        yield conn
        conn.close()

    def test_the_host_rolling_back_forgets_the_advance(
        self, conn: sqlite3.Connection, path: Path
    ) -> None:
        conn.execute("BEGIN")
        joined = SqliteCursorStore(conn)
        assert joined.advance(FEED, None, PAGE_2) is True
        assert joined.get(FEED) == PAGE_2
        assert conn.in_transaction
        conn.execute("ROLLBACK")
        with SqliteCursorStore(path) as other:
            assert other.get(FEED) is None

    def test_the_host_committing_keeps_records_and_cursor_together(
        self, conn: sqlite3.Connection, path: Path
    ) -> None:
        conn.execute("CREATE TABLE records (id TEXT)")
        conn.execute("BEGIN")
        conn.execute("INSERT INTO records VALUES ('SH-1001')")
        assert SqliteCursorStore(conn).advance(FEED, None, PAGE_2) is True
        conn.execute("COMMIT")
        with SqliteCursorStore(path) as other:
            assert other.get(FEED) == PAGE_2
        assert conn.execute("SELECT id FROM records").fetchall() == [("SH-1001",)]

    def test_a_failed_advance_undoes_only_its_own_writes(
        self, conn: sqlite3.Connection
    ) -> None:
        store = SqliteCursorStore(conn)
        conn.execute("BEGIN")
        conn.execute("CREATE TABLE notes (text TEXT)")
        conn.execute("INSERT INTO notes VALUES ('kept')")
        conn.execute(
            "CREATE TEMP TRIGGER refuse BEFORE INSERT ON orderkit_cursors"
            " BEGIN SELECT RAISE(ABORT, 'disk quota'); END"
        )
        with pytest.raises(StoreError, match="disk quota"):
            store.advance(FEED, None, PAGE_2)
        assert conn.in_transaction
        conn.execute("COMMIT")
        assert conn.execute("SELECT text FROM notes").fetchall() == [("kept",)]
        assert store.get(FEED) is None
