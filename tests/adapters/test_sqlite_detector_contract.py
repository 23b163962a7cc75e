"""What only the SQLite detector store does; its contract is in test_sqlite_contract."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pendulum
import pytest

from orderkit.adapters._sqlite_detector import _SEEN
from orderkit.adapters.sqlite import (
    SqliteDetectorStore,
    SqliteKeyStore,
    SqliteLedgerStore,
)
from orderkit.dedupe import Fingerprint, FingerprintKind, Match, ReviewState, Sighting
from orderkit.errors import StoreError, ValidationError


T0 = pendulum.datetime(2026, 11, 11, 0, 0)
HOUR = dt.timedelta(hours=1)
GUOMAO = Fingerprint(FingerprintKind.ADDRESS_SKUS, 1, "88" * 16)


# --------------------------------------------------------------------------
# What only SQLite does


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "orderkit.db"


def record(
    store: SqliteDetectorStore, channel: str, order_id: str, minutes: int = 0
) -> tuple[Match, ...]:
    sighting = Sighting(channel, order_id, T0.add(minutes=minutes))
    return store.record(
        sighting, [GUOMAO], phone="+8613800138000", window=HOUR, now=T0
    ).matches


class TestFiles:
    """What was recorded outlives the store, beside the ledger and the keys."""

    def test_a_reopened_file_keeps_orders_and_the_queue(self, path: Path) -> None:
        with SqliteDetectorStore(path) as first:
            record(first, "douyin", "DY-1")
            record(first, "mini_program", "MP-1", minutes=20)
        with SqliteDetectorStore(path) as again:
            assert [s.order_id for s in again.pending()] == ["MP-1"]
            matches = record(again, "jd", "JD-1", minutes=30)
            assert [m.order_id for m in matches] == ["DY-1", "MP-1"]

    def test_it_shares_a_file_with_the_ledger_and_the_keys(self, path: Path) -> None:
        SqliteLedgerStore(path).close()
        SqliteKeyStore(path).close()
        with SqliteDetectorStore(path) as store:
            record(store, "douyin", "DY-1")
        with sqlite3.connect(path) as conn:
            versions = dict(conn.execute("SELECT name, value FROM orderkit_meta"))
        conn.close()
        assert versions == {
            "schema_version": 2,
            "keys_schema_version": 1,
            "detector_schema_version": 1,
        }

    def test_a_detector_schema_from_a_newer_orderkit_is_refused(
        self, path: Path
    ) -> None:
        SqliteDetectorStore(path).close()
        with sqlite3.connect(path) as conn:
            conn.execute(
                "UPDATE orderkit_meta SET value = 99"
                " WHERE name = 'detector_schema_version'"
            )
        conn.close()
        with pytest.raises(StoreError, match="detector schema version 99 is newer"):
            SqliteDetectorStore(path)

    def test_a_closed_store_raises_store_error(self, path: Path) -> None:
        store = SqliteDetectorStore(path)
        store.close()
        store.close()
        with pytest.raises(StoreError) as error:
            record(store, "douyin", "DY-1")
        assert isinstance(error.value.__cause__, sqlite3.Error)

    def test_a_record_is_one_short_transaction(self, path: Path) -> None:
        with SqliteDetectorStore(path) as store:
            statements: list[str] = []
            store._session.conn.set_trace_callback(statements.append)
            record(store, "douyin", "DY-1")
            assert statements[0] == "BEGIN IMMEDIATE"
            assert statements[-1] == "COMMIT"
            assert statements.count("BEGIN IMMEDIATE") == 1

    def test_the_window_query_reads_an_index_range(self, path: Path) -> None:
        with SqliteDetectorStore(path) as store:
            record(store, "douyin", "DY-1")
            plan = store._session.conn.execute(
                f"EXPLAIN QUERY PLAN {_SEEN.format('?, ?, ?')}",
                (0, 1, str(GUOMAO), "v2:phone+skus:x", "v2:buyer+skus:y"),
            ).fetchall()
        details = " | ".join(row[-1] for row in plan)
        assert "SEARCH f USING PRIMARY KEY (fingerprint=? AND placed_at>? AND" in (
            details
        )
        assert "SCAN" not in details


class TestJoinedSession:
    """Inside a host's transaction, records commit or roll back with the host."""

    @pytest.fixture
    def conn(self, path: Path) -> Iterator[sqlite3.Connection]:
        SqliteDetectorStore(path).close()  # the schema, committed
        conn = sqlite3.connect(path, isolation_level=None)
        yield conn
        conn.close()

    def test_the_host_rolling_back_forgets_the_order(
        self, conn: sqlite3.Connection, path: Path
    ) -> None:
        with SqliteDetectorStore(path) as store:
            record(store, "douyin", "DY-1")
        conn.execute("BEGIN")
        joined = SqliteDetectorStore(conn)
        assert [m.order_id for m in record(joined, "mini_program", "MP-1")] == ["DY-1"]
        assert conn.in_transaction  # the store neither committed nor rolled back
        conn.execute("ROLLBACK")
        with SqliteDetectorStore(path) as other:
            assert list(other.pending()) == []
            assert [s.order_id for s in other.orders_of_buyer("+8613800138000")] == [
                "DY-1"
            ]

    def test_the_host_committing_keeps_the_suspicion(
        self, conn: sqlite3.Connection, path: Path
    ) -> None:
        conn.execute("BEGIN")
        joined = SqliteDetectorStore(conn)
        record(joined, "douyin", "DY-1")
        record(joined, "mini_program", "MP-1")
        joined.resolve(
            "mini_program", "MP-1", ReviewState.REJECTED, actor="kefu-li", now=T0
        )
        conn.execute("COMMIT")
        with SqliteDetectorStore(path) as other:
            suspicion = other.suspicion("mini_program", "MP-1")
            assert suspicion is not None
            assert suspicion.state is ReviewState.REJECTED

    def test_a_refusal_leaves_the_hosts_writes_intact(
        self, conn: sqlite3.Connection
    ) -> None:
        store = SqliteDetectorStore(conn)
        conn.execute("BEGIN")
        conn.execute("CREATE TABLE notes (text TEXT)")
        conn.execute("INSERT INTO notes VALUES ('kept')")
        with pytest.raises(ValidationError):
            store.resolve(
                "douyin", "DY-404", ReviewState.RELEASED, actor="kefu-li", now=T0
            )
        assert conn.in_transaction
        conn.execute("COMMIT")
        assert conn.execute("SELECT text FROM notes").fetchall() == [("kept",)]

    def test_a_failed_record_undoes_only_its_own_writes(
        self, conn: sqlite3.Connection
    ) -> None:
        store = SqliteDetectorStore(conn)
        conn.execute("BEGIN")
        conn.execute("CREATE TABLE notes (text TEXT)")
        conn.execute("INSERT INTO notes VALUES ('kept')")
        # The fingerprints' insert fails, after the order's row was written.
        conn.execute(
            "CREATE TEMP TRIGGER refuse BEFORE INSERT ON orderkit_detector_fingerprints"
            " BEGIN SELECT RAISE(ABORT, 'disk quota'); END"
        )
        with pytest.raises(StoreError, match="disk quota"):
            record(store, "douyin", "DY-1")
        assert conn.in_transaction
        conn.execute("COMMIT")
        assert conn.execute("SELECT text FROM notes").fetchall() == [("kept",)]
        assert conn.execute(
            "SELECT count(*) FROM orderkit_detector_orders"
        ).fetchone() == (0,)
