"""The SQLite key store runs the key store contract; and what only SQLite does."""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pendulum
import pytest

from orderkit.adapters.sqlite import SqliteKeyStore, SqliteLedgerStore
from orderkit.dedupe._claims import Claimed, InProgress, Outcome, Replay
from orderkit.errors import IdempotencyConflict, StoreError
from orderkit.ports import KeyStore
from orderkit.services import Idempotency, Ledger
from orderkit.testing import FrozenClock
from orderkit.testing.contracts import KeyStoreContract


T0 = pendulum.datetime(2026, 11, 11, 0, 0)
KEY = "douyin:payment:DY-1001:evt-7781"
HASH = "6d0eb1fc958f31f103bc750926d365baa98e67921de10991715f2837aa3e4406"
LEASE = dt.timedelta(seconds=30)
PICKED = Outcome(succeeded=True, body=b'{"order":"DY-1001","status":"picking"}')


class _Opened:
    """Stores a test opened, closed when it ends."""

    def __init__(self) -> None:
        self.stores: list[SqliteKeyStore] = []
        self.paths: dict[int, Path] = {}

    def add(self, store: SqliteKeyStore, path: Path | None = None) -> KeyStore:
        self.stores.append(store)
        if path is not None:
            self.paths[id(store)] = path
        return store

    def close(self) -> None:
        for store in self.stores:
            store.close()


class TestSqliteKeysFile(KeyStoreContract):
    """SqliteKeyStore on a file: racers are processes, each with its own store."""

    @pytest.fixture(autouse=True)
    def _opened(self, tmp_path: Path) -> Iterator[None]:
        self.directory = tmp_path
        self.numbers = itertools.count()
        self.opened = _Opened()
        yield
        self.opened.close()

    def make_store(self) -> KeyStore:
        path = self.directory / f"keys-{next(self.numbers)}.db"
        return self.opened.add(SqliteKeyStore(path), path)

    def connect(self, store: KeyStore) -> Callable[[], KeyStore]:
        return functools.partial(SqliteKeyStore, self.opened.paths[id(store)])

    def break_store(self, store: KeyStore) -> bool:
        # Another connection drops the table behind the store's back.
        with sqlite3.connect(self.opened.paths[id(store)]) as other:
            other.execute("DROP TABLE orderkit_keys")
        other.close()
        return True


class TestSqliteKeysMemory(KeyStoreContract):
    """SqliteKeyStore in `:memory:`: racers are threads sharing the store."""

    @pytest.fixture(autouse=True)
    def _opened(self) -> Iterator[None]:
        self.opened = _Opened()
        yield
        self.opened.close()

    def make_store(self) -> KeyStore:
        return self.opened.add(SqliteKeyStore(":memory:"))

    def break_store(self, store: KeyStore) -> bool:
        assert isinstance(store, SqliteKeyStore)
        store._conn.execute("DROP TABLE orderkit_keys")
        return True


# --------------------------------------------------------------------------
# What only SQLite does


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "orderkit.db"


def _tables(conn: sqlite3.Connection) -> set[str]:
    rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
    return {name for (name,) in rows}


class TestFiles:
    """Keys outlive the store that wrote them and share a file with the ledger."""

    def test_a_reopened_file_replays_what_completed(self, path: Path) -> None:
        with SqliteKeyStore(path) as first:
            claim = first.claim(KEY, HASH, now=T0, lease=LEASE)
            assert isinstance(claim, Claimed)
            first.complete(KEY, claim.token, PICKED, now=T0)
        with SqliteKeyStore(path) as again:
            assert again.claim(KEY, HASH, now=T0, lease=LEASE) == Replay(KEY, PICKED)

    @pytest.mark.parametrize("first", ["keys", "ledger"])
    def test_either_store_may_open_the_file_first(self, path: Path, first: str) -> None:
        if first == "ledger":
            SqliteLedgerStore(path).close()
        SqliteKeyStore(path).close()
        SqliteLedgerStore(path).close()
        with SqliteKeyStore(path) as keys, SqliteLedgerStore(path) as store:
            Ledger(store, FrozenClock(T0)).receive("TEA-01", "W1", 3)
            assert isinstance(keys.claim(KEY, HASH, now=T0, lease=LEASE), Claimed)
        with sqlite3.connect(path) as conn:
            versions = dict(conn.execute("SELECT name, value FROM orderkit_meta"))
            assert {"orderkit_keys", "orderkit_balances"} <= _tables(conn)
        conn.close()
        assert versions == {"schema_version": 1, "keys_schema_version": 1}

    def test_a_key_schema_from_a_newer_orderkit_is_refused(self, path: Path) -> None:
        SqliteKeyStore(path).close()
        with sqlite3.connect(path) as conn:
            conn.execute(
                "UPDATE orderkit_meta SET value = 99 WHERE name = 'keys_schema_version'"
            )
        conn.close()
        with pytest.raises(StoreError, match="key schema version 99 is newer"):
            SqliteKeyStore(path)

    def test_a_closed_store_raises_store_error(self, path: Path) -> None:
        store = SqliteKeyStore(path)
        store.close()
        store.close()
        with pytest.raises(StoreError) as error:
            store.claim(KEY, HASH, now=T0, lease=LEASE)
        assert isinstance(error.value.__cause__, sqlite3.Error)

    def test_a_file_that_is_not_a_database(self, path: Path) -> None:
        path.write_bytes(b"not a database, just a shipping label" * 100)
        with pytest.raises(StoreError):
            SqliteKeyStore(path)

    def test_a_claim_is_one_statement_in_one_transaction(self, path: Path) -> None:
        with SqliteKeyStore(path) as store:
            statements: list[str] = []
            store._conn.set_trace_callback(statements.append)
            store.claim(KEY, HASH, now=T0, lease=LEASE)
            assert len(statements) == 3
            assert statements[0] == "BEGIN IMMEDIATE"
            assert statements[1].startswith("INSERT INTO orderkit_keys")
            assert statements[2] == "COMMIT"


class TestJoinedSession:
    """Inside a host's transaction, claims commit or roll back with the host."""

    @pytest.fixture
    def conn(self, path: Path) -> Iterator[sqlite3.Connection]:
        SqliteKeyStore(path).close()  # the schema, committed
        conn = sqlite3.connect(path, isolation_level=None)
        yield conn
        conn.close()

    def test_the_host_rolling_back_frees_the_key(
        self, conn: sqlite3.Connection, path: Path
    ) -> None:
        conn.execute("BEGIN")
        store = SqliteKeyStore(conn)
        claim = store.claim(KEY, HASH, now=T0, lease=LEASE)
        assert isinstance(claim, Claimed)
        store.complete(KEY, claim.token, PICKED, now=T0)
        assert conn.in_transaction  # the store neither committed nor rolled back
        conn.execute("ROLLBACK")
        with SqliteKeyStore(path) as other:
            fresh = other.claim(KEY, "another-request", now=T0, lease=LEASE)
            assert isinstance(fresh, Claimed)

    def test_the_host_committing_keeps_the_outcome(
        self, conn: sqlite3.Connection, path: Path
    ) -> None:
        conn.execute("BEGIN")
        conn.execute("CREATE TABLE picks (order_id TEXT)")
        once = Idempotency(SqliteKeyStore(conn), FrozenClock(T0))

        def pick() -> Outcome:
            conn.execute("INSERT INTO picks VALUES ('DY-1001')")
            return PICKED

        assert not once.run(KEY, HASH, pick).replayed
        conn.execute("COMMIT")
        with SqliteKeyStore(path) as other:
            assert other.claim(KEY, HASH, now=T0, lease=LEASE) == Replay(KEY, PICKED)
        assert conn.execute("SELECT count(*) FROM picks").fetchone() == (1,)

    def test_a_conflict_leaves_the_hosts_writes_intact(
        self, conn: sqlite3.Connection
    ) -> None:
        store = SqliteKeyStore(conn)
        claim = store.claim(KEY, HASH, now=T0, lease=LEASE)
        assert isinstance(claim, Claimed)
        conn.execute("BEGIN")
        conn.execute("CREATE TABLE notes (text TEXT)")
        conn.execute("INSERT INTO notes VALUES ('kept')")
        with pytest.raises(IdempotencyConflict):
            store.claim(KEY, "another-request", now=T0, lease=LEASE)
        assert conn.in_transaction
        conn.execute("COMMIT")
        assert conn.execute("SELECT text FROM notes").fetchall() == [("kept",)]
        again = store.claim(KEY, HASH, now=T0, lease=LEASE)
        assert again == InProgress(KEY, T0.add(seconds=30))

    def test_first_use_inside_a_transaction_creates_the_schema_there(
        self, tmp_path: Path
    ) -> None:
        conn = sqlite3.connect(tmp_path / "host.db", isolation_level=None)
        conn.execute("BEGIN")
        SqliteKeyStore(conn).claim(KEY, HASH, now=T0, lease=LEASE)
        conn.execute("ROLLBACK")
        assert "orderkit_keys" not in _tables(conn)
        conn.close()
