"""The SQLite stores run the ledger, key, detector and limit store contracts.

Each store runs its contract twice: on a file, where racers are processes
each with its own store, and in `:memory:`, where racers are threads sharing
the store. The hooks are the same for every store but for the class and the
table that `break_store` drops.
"""

from __future__ import annotations

import functools
import itertools
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Generic, TypeVar

import pytest

from orderkit.adapters.sqlite import (
    SqliteDetectorStore,
    SqliteKeyStore,
    SqliteLedgerStore,
    SqliteLimitStore,
)
from orderkit.testing.contracts import (
    DetectorStoreContract,
    KeyStoreContract,
    LedgerStoreContract,
    LimitStoreContract,
)


S = TypeVar(
    "S", SqliteLedgerStore, SqliteKeyStore, SqliteDetectorStore, SqliteLimitStore
)


class _Hooks(Generic[S]):
    """Which store to open, which table breaks it; closes what a test opened."""

    store_class: type[S]
    victim: str

    @pytest.fixture(autouse=True)
    def _opened(self) -> Iterator[None]:
        self.opened: list[S] = []
        yield
        for store in self.opened:
            store.close()

    def open(self, target: str | Path) -> S:
        store = self.store_class(target)
        self.opened.append(store)
        return store


class _OnFile(_Hooks[S]):
    """A store on a file: racers are processes, each with its own store."""

    @pytest.fixture(autouse=True)
    def _files(self, tmp_path: Path) -> None:
        self.directory = tmp_path
        self.numbers = itertools.count()
        self.paths: dict[int, Path] = {}

    def make_store(self) -> S:
        path = self.directory / f"{self.victim}-{next(self.numbers)}.db"
        store = self.open(path)
        self.paths[id(store)] = path
        return store

    def connect(self, store: object) -> Callable[[], S]:
        return functools.partial(self.store_class, self.paths[id(store)])

    def break_store(self, store: object) -> bool:
        # Another connection drops a table behind the store's back.
        with sqlite3.connect(self.paths[id(store)]) as other:
            other.execute(f"DROP TABLE {self.victim}")
        other.close()
        return True


class _InMemory(_Hooks[S]):
    """A store in `:memory:`: racers are threads sharing the store."""

    def make_store(self) -> S:
        return self.open(":memory:")

    def break_store(self, store: object) -> bool:
        # No other connection can reach a private in-memory database.
        assert isinstance(store, self.store_class)
        store._session.conn.execute(f"DROP TABLE {self.victim}")
        return True


class TestSqliteFile(_OnFile[SqliteLedgerStore], LedgerStoreContract):
    """SqliteLedgerStore on a file."""

    store_class = SqliteLedgerStore
    victim = "orderkit_holds"


class TestSqliteMemory(_InMemory[SqliteLedgerStore], LedgerStoreContract):
    """SqliteLedgerStore in `:memory:`."""

    store_class = SqliteLedgerStore
    victim = "orderkit_holds"


class TestSqliteKeysFile(_OnFile[SqliteKeyStore], KeyStoreContract):
    """SqliteKeyStore on a file."""

    store_class = SqliteKeyStore
    victim = "orderkit_keys"


class TestSqliteKeysMemory(_InMemory[SqliteKeyStore], KeyStoreContract):
    """SqliteKeyStore in `:memory:`."""

    store_class = SqliteKeyStore
    victim = "orderkit_keys"


class TestSqliteDetectorFile(_OnFile[SqliteDetectorStore], DetectorStoreContract):
    """SqliteDetectorStore on a file."""

    store_class = SqliteDetectorStore
    victim = "orderkit_detector_fingerprints"


class TestSqliteDetectorMemory(_InMemory[SqliteDetectorStore], DetectorStoreContract):
    """SqliteDetectorStore in `:memory:`."""

    store_class = SqliteDetectorStore
    victim = "orderkit_detector_fingerprints"


class TestSqliteLimitsFile(_OnFile[SqliteLimitStore], LimitStoreContract):
    """SqliteLimitStore on a file."""

    store_class = SqliteLimitStore
    victim = "orderkit_limit_uses"


class TestSqliteLimitsMemory(_InMemory[SqliteLimitStore], LimitStoreContract):
    """SqliteLimitStore in `:memory:`."""

    store_class = SqliteLimitStore
    victim = "orderkit_limit_uses"
