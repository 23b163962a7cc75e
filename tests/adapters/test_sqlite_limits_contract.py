"""What only the SQLite limit store does; its contract is in test_sqlite_contract."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pendulum
import pytest

from orderkit.adapters._sqlite_limits import _COUNT
from orderkit.adapters.sqlite import (
    SqliteDetectorStore,
    SqliteKeyStore,
    SqliteLedgerStore,
    SqliteLimitStore,
)
from orderkit.errors import StoreError
from orderkit.pricing import Exceeded, Granted, LimitKey, Overage


T0 = pendulum.datetime(2026, 11, 11, 0, 0)
DAY = dt.timedelta(days=1)
BUYER = LimitKey("buyer:B1|channel:douyin", 2, DAY)


# --------------------------------------------------------------------------
# What only SQLite does


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "orderkit.db"


class TestFiles:
    """What was counted outlives the store, beside the other stores' tables."""

    def test_a_reopened_file_keeps_the_counts(self, path: Path) -> None:
        with SqliteLimitStore(path) as first:
            assert first.consume([BUYER], now=T0, use_id="DY-1") == Granted()
        with SqliteLimitStore(path) as again:
            assert again.consume([BUYER], now=T0, use_id="DY-1") == Granted(
                replayed=True
            )
            assert again.consume([BUYER], now=T0) == Granted()
            assert again.consume([BUYER], now=T0) == Exceeded((Overage(BUYER, 2),))

    def test_it_shares_a_file_with_the_other_stores(self, path: Path) -> None:
        SqliteLedgerStore(path).close()
        SqliteKeyStore(path).close()
        SqliteDetectorStore(path).close()
        with SqliteLimitStore(path) as store:
            store.consume([BUYER], now=T0)
        with sqlite3.connect(path) as conn:
            versions = dict(conn.execute("SELECT name, value FROM orderkit_meta"))
        conn.close()
        assert versions == {
            "schema_version": 2,
            "keys_schema_version": 1,
            "detector_schema_version": 1,
            "limits_schema_version": 2,
        }

    def test_a_limit_schema_from_a_newer_orderkit_is_refused(self, path: Path) -> None:
        SqliteLimitStore(path).close()
        with sqlite3.connect(path) as conn:
            conn.execute(
                "UPDATE orderkit_meta SET value = 99"
                " WHERE name = 'limits_schema_version'"
            )
        conn.close()
        with pytest.raises(StoreError, match="limit schema version 99 is newer"):
            SqliteLimitStore(path)

    def test_a_closed_store_raises_store_error(self, path: Path) -> None:
        store = SqliteLimitStore(path)
        store.close()
        store.close()
        with pytest.raises(StoreError) as error:
            store.consume([BUYER], now=T0)
        assert isinstance(error.value.__cause__, sqlite3.Error)

    def test_a_consume_is_one_short_transaction(self, path: Path) -> None:
        with SqliteLimitStore(path) as store:
            statements: list[str] = []
            store._session.conn.set_trace_callback(statements.append)
            store.consume([BUYER, LimitKey("ip:1", 3, DAY)], now=T0)
            assert statements[0] == "BEGIN IMMEDIATE"
            assert statements[-1] == "COMMIT"
            assert statements.count("BEGIN IMMEDIATE") == 1

    def test_the_window_count_reads_an_index_range(self, path: Path) -> None:
        with SqliteLimitStore(path) as store:
            store.consume([BUYER], now=T0)
            plan = store._session.conn.execute(
                f"EXPLAIN QUERY PLAN {_COUNT}", (BUYER.key, 0, None)
            ).fetchall()
        details = " | ".join(row[-1] for row in plan)
        assert "USING COVERING INDEX orderkit_limit_uses_window (key=? AND at>?)" in (
            details
        )
        assert "SCAN" not in details


class TestJoinedSession:
    """Inside a host's transaction, uses commit or roll back with the host."""

    @pytest.fixture
    def conn(self, path: Path) -> Iterator[sqlite3.Connection]:
        SqliteLimitStore(path).close()  # the schema, committed
        conn = sqlite3.connect(path, isolation_level=None)
        yield conn
        conn.close()

    def test_the_host_rolling_back_forgets_the_use(
        self, conn: sqlite3.Connection, path: Path
    ) -> None:
        conn.execute("BEGIN")
        joined = SqliteLimitStore(conn)
        assert joined.consume([BUYER], now=T0) == Granted()
        assert joined.consume([BUYER], now=T0) == Granted()
        assert joined.consume([BUYER], now=T0) == Exceeded((Overage(BUYER, 2),))
        assert conn.in_transaction
        conn.execute("ROLLBACK")
        with SqliteLimitStore(path) as other:
            assert other.consume([BUYER], now=T0) == Granted()

    def test_a_failed_consume_undoes_only_its_own_writes(
        self, conn: sqlite3.Connection
    ) -> None:
        store = SqliteLimitStore(conn)
        conn.execute("BEGIN")
        conn.execute("CREATE TABLE notes (text TEXT)")
        conn.execute("INSERT INTO notes VALUES ('kept')")
        # The use id's insert fails, after the uses were written.
        conn.execute(
            "CREATE TEMP TRIGGER refuse BEFORE INSERT ON orderkit_limit_use_ids"
            " BEGIN SELECT RAISE(ABORT, 'disk quota'); END"
        )
        with pytest.raises(StoreError, match="disk quota"):
            store.consume([BUYER], now=T0, use_id="DY-1")
        assert conn.in_transaction
        conn.execute("COMMIT")
        assert conn.execute("SELECT text FROM notes").fetchall() == [("kept",)]
        assert conn.execute("SELECT count(*) FROM orderkit_limit_uses").fetchone() == (
            0,
        )
