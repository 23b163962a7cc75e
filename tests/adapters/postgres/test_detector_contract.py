"""The PostgreSQL detector store runs the detector contract, and what only it does.

Each store lives in a schema of its own; racers are processes, each opening
its own store on the schema's DSN.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pendulum
import psycopg
import pytest
from psycopg import sql
from tests.adapters.postgres._stores import OneSchemaPerStore

from orderkit.adapters._postgres_detector import PostgresDetectorStore
from orderkit.dedupe import Fingerprint, FingerprintKind, Match, ReviewState, Sighting
from orderkit.errors import StoreError, ValidationError
from orderkit.testing.contracts import DetectorStoreContract


T0 = pendulum.datetime(2026, 11, 11, 0, 0)
HOUR = dt.timedelta(hours=1)
GUOMAO = Fingerprint(FingerprintKind.ADDRESS_SKUS, 1, "88" * 16)
VICTIM = "orderkit_detector_fingerprints"

Connection = psycopg.Connection[tuple[object, ...]]


# --------------------------------------------------------------------------
# The contract


class TestPostgresDetector(
    OneSchemaPerStore[PostgresDetectorStore], DetectorStoreContract
):
    """PostgresDetectorStore: racers are processes, each with its own store."""

    store_class = PostgresDetectorStore
    victim = VICTIM


# --------------------------------------------------------------------------
# What only PostgreSQL does


def record(
    store: PostgresDetectorStore, channel: str, order_id: str, minutes: int = 0
) -> tuple[Match, ...]:
    sighting = Sighting(channel, order_id, T0.add(minutes=minutes))
    return store.record(
        sighting, [GUOMAO], phone="+8613800138000", window=HOUR, now=T0
    ).matches


def _count(conn: Connection, table: str) -> object:
    query = sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))
    row = conn.execute(query).fetchone()
    assert row is not None
    return row[0]


def test_a_detector_schema_from_a_newer_orderkit_is_refused(pg_dsn: str) -> None:
    PostgresDetectorStore(pg_dsn).close()
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(
            "UPDATE orderkit_meta SET value = 99 WHERE name = 'detector_schema_version'"
        )
    with pytest.raises(StoreError, match="detector schema version 99 is newer"):
        PostgresDetectorStore(pg_dsn)


def test_prune_leaves_no_row_of_a_pruned_order(pg_dsn: str) -> None:
    with PostgresDetectorStore(pg_dsn) as store:
        record(store, "douyin", "DY-1")
        record(store, "jd", "JD-1", minutes=10)
        store.resolve("jd", "JD-1", ReviewState.RELEASED, actor="kefu-li", now=T0)
        assert store.prune(T0.add(hours=1)) == 2
    with psycopg.connect(pg_dsn) as conn:
        for table in (
            "orderkit_detector_orders",
            "orderkit_detector_fingerprints",
            "orderkit_detector_turns",
            "orderkit_detector_suspicions",
        ):
            assert _count(conn, table) == 0, table


def test_buyers_orders_sort_by_code_point_whatever_the_locale(pg_dsn: str) -> None:
    with PostgresDetectorStore(pg_dsn) as store:
        for order_id in ("b-1", "B-2", "a-3", "_-4", "礼-5"):
            record(store, "douyin", order_id)
        found = [s.order_id for s in store.orders_of_buyer("+8613800138000")]
    assert found == ["B-2", "_-4", "a-3", "b-1", "礼-5"]
    # The test server's own locale may well be C: the columns must say so.
    with psycopg.connect(pg_dsn) as conn:
        collations = conn.execute(
            "SELECT DISTINCT collation_name FROM information_schema.columns"
            " WHERE table_schema = current_schema()"
            " AND table_name = 'orderkit_detector_orders'"
            " AND column_name IN ('channel', 'order_id')"
        ).fetchall()
    assert collations == [("C",)]


class TestJoinedSession:
    """Inside a host's transaction, records commit or roll back with the host."""

    @pytest.fixture
    def conn(self, pg_dsn: str) -> Iterator[Connection]:
        PostgresDetectorStore(pg_dsn).close()  # the schema, committed
        with psycopg.connect(pg_dsn, autocommit=True) as conn:
            yield conn

    def test_the_host_rolling_back_forgets_the_order(
        self, conn: Connection, pg_dsn: str
    ) -> None:
        with PostgresDetectorStore(pg_dsn) as store:
            record(store, "douyin", "DY-1")
        conn.execute("BEGIN")
        joined = PostgresDetectorStore(conn)
        assert [m.order_id for m in record(joined, "mini_program", "MP-1")] == ["DY-1"]
        assert conn.info.transaction_status is psycopg.pq.TransactionStatus.INTRANS
        conn.execute("ROLLBACK")
        with PostgresDetectorStore(pg_dsn) as other:
            assert list(other.pending()) == []
            assert [s.order_id for s in other.orders_of_buyer("+8613800138000")] == [
                "DY-1"
            ]

    def test_the_host_committing_keeps_the_suspicion(
        self, conn: Connection, pg_dsn: str
    ) -> None:
        conn.execute("BEGIN")
        joined = PostgresDetectorStore(conn)
        record(joined, "douyin", "DY-1")
        record(joined, "mini_program", "MP-1")
        joined.resolve(
            "mini_program", "MP-1", ReviewState.REJECTED, actor="kefu-li", now=T0
        )
        conn.execute("COMMIT")
        with PostgresDetectorStore(pg_dsn) as other:
            suspicion = other.suspicion("mini_program", "MP-1")
            assert suspicion is not None
            assert suspicion.state is ReviewState.REJECTED

    def test_a_refusal_leaves_the_hosts_writes_intact(self, conn: Connection) -> None:
        store = PostgresDetectorStore(conn)
        conn.execute("CREATE TABLE notes (text text)")
        conn.execute("BEGIN")
        conn.execute("INSERT INTO notes VALUES ('kept')")
        with pytest.raises(ValidationError):
            store.resolve(
                "douyin", "DY-404", ReviewState.RELEASED, actor="kefu-li", now=T0
            )
        assert conn.info.transaction_status is psycopg.pq.TransactionStatus.INTRANS
        conn.execute("COMMIT")
        assert conn.execute("SELECT text FROM notes").fetchall() == [("kept",)]

    def test_a_failed_record_undoes_only_its_own_writes(self, conn: Connection) -> None:
        store = PostgresDetectorStore(conn)
        conn.execute("CREATE TABLE notes (text text)")
        conn.execute(
            "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql"
            " AS $$ BEGIN RAISE EXCEPTION 'disk quota'; END $$"
        )
        conn.execute("BEGIN")
        conn.execute("INSERT INTO notes VALUES ('kept')")
        # The fingerprints' insert fails, after the order's and the turns'
        # rows were written.
        conn.execute(
            f"CREATE TRIGGER refuse BEFORE INSERT ON {VICTIM} EXECUTE FUNCTION refuse()"
        )
        with pytest.raises(StoreError, match="disk quota"):
            record(store, "douyin", "DY-1")
        assert conn.info.transaction_status is psycopg.pq.TransactionStatus.INTRANS
        conn.execute(f"DROP TRIGGER refuse ON {VICTIM}")
        conn.execute("COMMIT")
        assert conn.execute("SELECT text FROM notes").fetchall() == [("kept",)]
        assert _count(conn, "orderkit_detector_orders") == 0
        assert _count(conn, "orderkit_detector_turns") == 0
