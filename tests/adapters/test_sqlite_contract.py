"""The SQLite store runs the ledger store contract, as a host's store would."""

import functools
import itertools
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from orderkit.adapters.sqlite import SqliteLedgerStore
from orderkit.ports import LedgerStore
from orderkit.testing.contracts import LedgerStoreContract


class _Opened:
    """Stores a test opened, closed when it ends."""

    def __init__(self) -> None:
        self.stores: list[SqliteLedgerStore] = []
        self.paths: dict[int, Path] = {}

    def add(self, store: SqliteLedgerStore, path: Path | None = None) -> LedgerStore:
        self.stores.append(store)
        if path is not None:
            self.paths[id(store)] = path
        return store

    def close(self) -> None:
        for store in self.stores:
            store.close()


class TestSqliteFile(LedgerStoreContract):
    """SqliteLedgerStore on a file: racers are processes, each with its own store."""

    @pytest.fixture(autouse=True)
    def _opened(self, tmp_path: Path) -> Iterator[None]:
        self.directory = tmp_path
        self.numbers = itertools.count()
        self.opened = _Opened()
        yield
        self.opened.close()

    def make_store(self) -> LedgerStore:
        path = self.directory / f"ledger-{next(self.numbers)}.db"
        return self.opened.add(SqliteLedgerStore(path), path)

    def connect(self, store: LedgerStore) -> Callable[[], LedgerStore]:
        return functools.partial(SqliteLedgerStore, self.opened.paths[id(store)])

    def break_store(self, store: LedgerStore) -> bool:
        # Another connection drops a table behind the store's back.
        with sqlite3.connect(self.opened.paths[id(store)]) as other:
            other.execute("DROP TABLE orderkit_holds")
        other.close()
        return True


class TestSqliteMemory(LedgerStoreContract):
    """SqliteLedgerStore in `:memory:`: racers are threads sharing the store."""

    @pytest.fixture(autouse=True)
    def _opened(self) -> Iterator[None]:
        self.opened = _Opened()
        yield
        self.opened.close()

    def make_store(self) -> LedgerStore:
        return self.opened.add(SqliteLedgerStore(":memory:"))

    def break_store(self, store: LedgerStore) -> bool:
        # No other connection can reach a private in-memory database.
        assert isinstance(store, SqliteLedgerStore)
        store._conn.execute("DROP TABLE orderkit_holds")
        return True
