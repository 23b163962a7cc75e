"""SqliteKeyStore: what only SQLite does, and the file it shares with the ledger.

The key store contract itself runs in `test_sqlite_contract.py`.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pendulum
import pytest

from orderkit.adapters._sqlite_keys import KEYS
from orderkit.adapters._sqlite_ledger_tables import LEDGER
from orderkit.adapters._sqlite_session import declare
from orderkit.adapters.sqlite import SqliteKeyStore, SqliteLedgerStore
from orderkit.dedupe._claims import Claimed, InProgress, Outcome, Replay
from orderkit.errors import IdempotencyConflict, StoreError
from orderkit.inventory import Balance
from orderkit.services import Idempotency, Ledger
from orderkit.testing import FrozenClock


T0 = pendulum.datetime(2026, 11, 11, 0, 0)
KEY = "douyin:payment:DY-1001:evt-7781"
HASH = "6d0eb1fc958f31f103bc750926d365baa98e67921de10991715f2837aa3e4406"
LEASE = dt.timedelta(seconds=30)
PICKED = Outcome(succeeded=True, body=b'{"order":"DY-1001","status":"picking"}')


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "orderkit.db"


def _tables(conn: sqlite3.Connection) -> set[str]:
    rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
    return {name for (name,) in rows}


def _set_version(path: Path, row: str, version: int) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute(
            "UPDATE orderkit_meta SET value = ? WHERE name = ?", (version, row)
        )
    conn.close()


def _versions(path: Path) -> dict[str, int]:
    with sqlite3.connect(path) as conn:
        versions = dict(conn.execute("SELECT name, value FROM orderkit_meta"))
    conn.close()
    return versions


class TestFiles:
    """Keys outlive the store that wrote them."""

    def test_a_reopened_file_replays_what_completed(self, path: Path) -> None:
        with SqliteKeyStore(path) as first:
            claim = first.claim(KEY, HASH, now=T0, lease=LEASE)
            assert isinstance(claim, Claimed)
            first.complete(KEY, claim.token, PICKED, now=T0)
        with SqliteKeyStore(path) as again:
            assert again.claim(KEY, HASH, now=T0, lease=LEASE) == Replay(KEY, PICKED)

    def test_a_key_schema_from_a_newer_orderkit_is_refused(self, path: Path) -> None:
        SqliteKeyStore(path).close()
        _set_version(path, "keys_schema_version", 99)
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
            store._session.conn.set_trace_callback(statements.append)
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


# --------------------------------------------------------------------------
# One file, both stores

# The schema as the code before the schema registry wrote it, copied verbatim
# from orderkit/adapters/sqlite.py at 6c7f835: its files must keep opening.
# The ledger created `orderkit_meta` with its own tables; the key store
# created the ledger's tables first, then its own.
_OLD_LEDGER = (
    "CREATE TABLE orderkit_meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL)",
    (
        "CREATE TABLE orderkit_mark"
        " (id INTEGER PRIMARY KEY CHECK (id = 1), high_water INTEGER)"
    ),
    (
        "CREATE TABLE orderkit_balances ("
        " sku TEXT NOT NULL, location TEXT NOT NULL,"
        " on_hand INTEGER NOT NULL, reserved INTEGER NOT NULL,"
        " allocated INTEGER NOT NULL, safety_stock INTEGER NOT NULL,"
        " PRIMARY KEY (sku, location)) WITHOUT ROWID"
    ),
    "CREATE INDEX orderkit_balances_location ON orderkit_balances (location)",
    (
        "CREATE TABLE orderkit_holds ("
        " id INTEGER PRIMARY KEY, hold_id TEXT NOT NULL UNIQUE, owner TEXT NOT NULL,"
        " sku TEXT NOT NULL, location TEXT NOT NULL, quantity INTEGER NOT NULL,"
        " placed_at INTEGER NOT NULL, expires_at INTEGER NOT NULL,"
        " state TEXT NOT NULL, committed INTEGER NOT NULL, shipped INTEGER NOT NULL,"
        " resolved_at INTEGER)"
    ),
    (
        "CREATE INDEX orderkit_holds_live_row ON orderkit_holds"
        " (sku, location, expires_at) WHERE state = 'live'"
    ),
    (
        "CREATE INDEX orderkit_holds_live_due ON orderkit_holds"
        " (expires_at) WHERE state = 'live'"
    ),
    "CREATE INDEX orderkit_holds_owner ON orderkit_holds (owner, sku, location)",
    (
        "CREATE TABLE orderkit_movements ("
        " seq INTEGER PRIMARY KEY, key TEXT NOT NULL, idx INTEGER NOT NULL,"
        " kind TEXT NOT NULL, sku TEXT NOT NULL, location TEXT NOT NULL,"
        " on_hand INTEGER NOT NULL, reserved INTEGER NOT NULL,"
        " allocated INTEGER NOT NULL, at INTEGER NOT NULL, reason TEXT NOT NULL,"
        " actor TEXT NOT NULL, hold_id TEXT, counted INTEGER, UNIQUE (key, idx))"
    ),
    "CREATE TABLE orderkit_receipts (key TEXT NOT NULL UNIQUE, body TEXT NOT NULL)",
    (
        "CREATE TABLE orderkit_policies ("
        " sku TEXT PRIMARY KEY, kind TEXT NOT NULL, quantity INTEGER NOT NULL,"
        " ends_at INTEGER) WITHOUT ROWID"
    ),
    "INSERT INTO orderkit_mark (id, high_water) VALUES (1, NULL)",
    "INSERT INTO orderkit_meta (name, value) VALUES ('schema_version', 1)",
)
_OLD_KEYS = (
    (
        "CREATE TABLE orderkit_keys ("
        " key TEXT NOT NULL UNIQUE, request_hash TEXT NOT NULL, token TEXT NOT NULL,"
        " lease_until INTEGER NOT NULL, attempt INTEGER NOT NULL,"
        " succeeded INTEGER, body BLOB, completed_at INTEGER,"
        " ended INTEGER NOT NULL)"
    ),
    "CREATE INDEX orderkit_keys_ended ON orderkit_keys (ended)",
    "INSERT INTO orderkit_meta (name, value) VALUES ('keys_schema_version', 1)",
)


def _write_old_file(path: Path, writer: str) -> None:
    """A file as the old `writer` store left it, with a balance (and a key)."""
    conn = sqlite3.connect(path, isolation_level=None)
    for statement in _OLD_LEDGER if writer == "ledger" else _OLD_LEDGER + _OLD_KEYS:
        conn.execute(statement)
    conn.execute("INSERT INTO orderkit_balances VALUES ('TEA-01', 'W1', 3, 0, 0, 0)")
    if writer == "keys":
        conn.execute(
            "INSERT INTO orderkit_keys VALUES (?, ?, 'old-token', 0, 1, 1, ?, 0, 0)",
            (KEY, HASH, PICKED.body),
        )
    conn.close()


class TestSharedFile:
    """Each store keeps its own version row in `orderkit_meta`, and checks only it."""

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
        assert versions == {"schema_version": 2, "keys_schema_version": 1}

    def test_a_key_store_alone_creates_only_its_table(self, path: Path) -> None:
        SqliteKeyStore(path).close()
        with sqlite3.connect(path) as conn:
            tables = _tables(conn)
        conn.close()
        assert tables == {"orderkit_keys", "orderkit_meta"}
        assert _versions(path) == {"keys_schema_version": 1}

    @pytest.mark.parametrize("writer", ["ledger", "keys"])
    def test_a_file_from_before_the_registry_opens_in_both_stores(
        self, path: Path, writer: str
    ) -> None:
        _write_old_file(path, writer)
        with SqliteLedgerStore(path) as store, SqliteKeyStore(path) as keys:
            ledger = Ledger(store, FrozenClock(T0))
            assert Balance("TEA-01", "W1", 3) == ledger.balance("TEA-01", "W1")
            ledger.receive("TEA-01", "W1", 2)
            claim = keys.claim(KEY, HASH, now=T0, lease=LEASE)
            if writer == "keys":
                assert claim == Replay(KEY, PICKED)
            else:
                assert isinstance(claim, Claimed)
        with SqliteLedgerStore(path) as again:
            assert [Balance("TEA-01", "W1", 5)] == list(again.balances(T0))
        assert _versions(path) == {"schema_version": 2, "keys_schema_version": 1}

    def test_a_file_from_before_the_registry_is_reopened_as_is(
        self, path: Path
    ) -> None:
        _write_old_file(path, "keys")
        # The first opening brings the ledger's tables to version 2; after
        # that, opening the file writes nothing.
        SqliteLedgerStore(path).close()
        conn = sqlite3.connect(path, isolation_level=None)
        statements: list[str] = []
        conn.set_trace_callback(statements.append)
        SqliteLedgerStore(conn).balances(T0)
        SqliteKeyStore(conn).prune(T0, retention=LEASE)
        conn.close()
        assert not [s for s in statements if "CREATE" in s or "INSERT" in s]

    def test_each_store_refuses_only_a_newer_version_of_its_own(
        self, path: Path
    ) -> None:
        SqliteKeyStore(path).close()
        SqliteLedgerStore(path).close()
        _set_version(path, "schema_version", 99)
        with pytest.raises(StoreError, match="schema version 99 is newer"):
            SqliteLedgerStore(path)
        with SqliteKeyStore(path) as keys:
            assert isinstance(keys.claim(KEY, HASH, now=T0, lease=LEASE), Claimed)

    def test_a_meta_row_versions_one_component_only(self) -> None:
        again = declare(
            LEDGER.row, LEDGER.label, LEDGER.version, LEDGER.ddl, LEDGER.upgrades
        )
        assert again == LEDGER
        with pytest.raises(ValueError, match="schema_version"):
            declare(LEDGER.row, KEYS.label, KEYS.version, KEYS.ddl)
