"""The PostgreSQL limit store runs the limit store contract, and what only it does.

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

from orderkit.adapters._postgres_limits import PostgresLimitStore
from orderkit.errors import StoreError
from orderkit.pricing import Exceeded, Granted, LimitKey, Overage
from orderkit.testing.contracts import LimitStoreContract


T0 = pendulum.datetime(2026, 11, 11, 0, 0)
DAY = dt.timedelta(days=1)
BUYER = LimitKey("buyer:B1|channel:douyin", 2, DAY)
VICTIM = "orderkit_limit_uses"

Connection = psycopg.Connection[tuple[object, ...]]


# --------------------------------------------------------------------------
# The contract


class TestPostgresLimits(OneSchemaPerStore[PostgresLimitStore], LimitStoreContract):
    """PostgresLimitStore: racers are processes, each with its own store."""

    store_class = PostgresLimitStore
    victim = VICTIM


# --------------------------------------------------------------------------
# What only PostgreSQL does


def _count(conn: Connection, table: str) -> object:
    query = sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))
    row = conn.execute(query).fetchone()
    assert row is not None
    return row[0]


def test_a_limit_schema_from_a_newer_orderkit_is_refused(pg_dsn: str) -> None:
    PostgresLimitStore(pg_dsn).close()
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(
            "UPDATE orderkit_meta SET value = 99 WHERE name = 'limits_schema_version'"
        )
    with pytest.raises(StoreError, match="limit schema version 99 is newer"):
        PostgresLimitStore(pg_dsn)


def test_prune_drops_the_rows_of_idle_keys(pg_dsn: str) -> None:
    with PostgresLimitStore(pg_dsn) as store:
        store.consume([BUYER], now=T0)
        store.consume([LimitKey("ip:1", 1, DAY)], now=T0.add(hours=2))
        assert store.prune(T0.add(hours=1)) == 1
        with psycopg.connect(pg_dsn) as conn:
            keys = conn.execute("SELECT key FROM orderkit_limit_keys").fetchall()
        assert keys == [("ip:1",)]
        # A pruned key's row comes back on its next use.
        assert store.consume([BUYER], now=T0.add(hours=2)) == Granted()


class TestJoinedSession:
    """Inside a host's transaction, uses commit or roll back with the host."""

    @pytest.fixture
    def conn(self, pg_dsn: str) -> Iterator[Connection]:
        PostgresLimitStore(pg_dsn).close()  # the schema, committed
        with psycopg.connect(pg_dsn, autocommit=True) as conn:
            yield conn

    def test_the_host_rolling_back_forgets_the_use(
        self, conn: Connection, pg_dsn: str
    ) -> None:
        conn.execute("BEGIN")
        joined = PostgresLimitStore(conn)
        assert joined.consume([BUYER], now=T0, use_id="DY-1") == Granted()
        assert joined.consume([BUYER], now=T0) == Granted()
        assert joined.consume([BUYER], now=T0) == Exceeded((Overage(BUYER, 2),))
        assert conn.info.transaction_status is psycopg.pq.TransactionStatus.INTRANS
        conn.execute("ROLLBACK")
        with PostgresLimitStore(pg_dsn) as other:
            assert other.consume([BUYER], now=T0, use_id="DY-1") == Granted()

    def test_the_host_committing_keeps_the_uses(
        self, conn: Connection, pg_dsn: str
    ) -> None:
        conn.execute("BEGIN")
        joined = PostgresLimitStore(conn)
        assert joined.consume([BUYER], now=T0, use_id="DY-1") == Granted()
        conn.execute("COMMIT")
        with PostgresLimitStore(pg_dsn) as other:
            assert other.consume([BUYER], now=T0, use_id="DY-1") == Granted(
                replayed=True
            )
            assert other.consume([BUYER], now=T0) == Granted()
            assert other.consume([BUYER], now=T0) == Exceeded((Overage(BUYER, 2),))

    def test_a_failed_consume_undoes_only_its_own_writes(
        self, conn: Connection
    ) -> None:
        store = PostgresLimitStore(conn)
        conn.execute("CREATE TABLE notes (text text)")
        conn.execute(
            "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql"
            " AS $$ BEGIN RAISE EXCEPTION 'disk quota'; END $$"
        )
        conn.execute("BEGIN")
        conn.execute("INSERT INTO notes VALUES ('kept')")
        # The uses' insert fails, after the use id and the key's row were written.
        conn.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON orderkit_limit_uses"
            " EXECUTE FUNCTION refuse()"
        )
        with pytest.raises(StoreError, match="disk quota"):
            store.consume([BUYER], now=T0, use_id="DY-1")
        assert conn.info.transaction_status is psycopg.pq.TransactionStatus.INTRANS
        conn.execute("DROP TRIGGER refuse ON orderkit_limit_uses")
        conn.execute("COMMIT")
        assert conn.execute("SELECT text FROM notes").fetchall() == [("kept",)]
        for table in VICTIM, "orderkit_limit_use_ids", "orderkit_limit_keys":
            assert _count(conn, table) == 0, table
