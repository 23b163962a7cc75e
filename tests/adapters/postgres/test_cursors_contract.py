"""The PostgreSQL cursor store runs the cursor store contract, and what only it does.

Each store lives in a schema of its own; racers are processes, each opening
its own store on the schema's DSN.
"""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from tests.adapters.postgres._stores import OneSchemaPerStore

from orderkit.adapters._postgres_cursors import PostgresCursorStore
from orderkit.errors import StoreError
from orderkit.testing.contracts import CursorStoreContract


FEED = "shopify:orders"
PAGE_2 = "eyJsYXN0X2lkIjo0NTAxfQ"
PAGE_3 = "eyJsYXN0X2lkIjo0NjAyfQ"
VICTIM = "orderkit_cursors"

Connection = psycopg.Connection[tuple[object, ...]]


# --------------------------------------------------------------------------
# The contract


class TestPostgresCursors(OneSchemaPerStore[PostgresCursorStore], CursorStoreContract):
    """PostgresCursorStore: racers are processes, each with its own store."""

    store_class = PostgresCursorStore
    victim = VICTIM


# --------------------------------------------------------------------------
# What only PostgreSQL does


def test_a_cursor_schema_from_a_newer_orderkit_is_refused(pg_dsn: str) -> None:
    PostgresCursorStore(pg_dsn).close()
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(
            "UPDATE orderkit_meta SET value = 99 WHERE name = 'cursors_schema_version'"
        )
    with pytest.raises(StoreError, match="cursor schema version 99 is newer"):
        PostgresCursorStore(pg_dsn)


def test_a_reopened_store_keeps_the_cursor(pg_dsn: str) -> None:
    with PostgresCursorStore(pg_dsn) as first:
        assert first.advance(FEED, None, PAGE_2) is True
    with PostgresCursorStore(pg_dsn) as again:
        assert again.get(FEED) == PAGE_2
        assert again.advance(FEED, None, PAGE_3) is False
        assert again.advance(FEED, PAGE_2, PAGE_3) is True


class TestJoinedSession:
    """Inside a host's transaction, the cursor commits or rolls back with the host."""

    @pytest.fixture
    def conn(self, pg_dsn: str) -> Iterator[Connection]:
        PostgresCursorStore(pg_dsn).close()  # the schema, committed
        with psycopg.connect(pg_dsn, autocommit=True) as conn:
            yield conn

    def test_the_host_rolling_back_forgets_the_advance(
        self, conn: Connection, pg_dsn: str
    ) -> None:
        conn.execute("BEGIN")
        joined = PostgresCursorStore(conn)
        assert joined.advance(FEED, None, PAGE_2) is True
        assert joined.get(FEED) == PAGE_2
        assert conn.info.transaction_status is psycopg.pq.TransactionStatus.INTRANS
        conn.execute("ROLLBACK")
        with PostgresCursorStore(pg_dsn) as other:
            assert other.get(FEED) is None

    def test_the_host_committing_keeps_records_and_cursor_together(
        self, conn: Connection, pg_dsn: str
    ) -> None:
        conn.execute("CREATE TABLE records (id text)")
        conn.execute("BEGIN")
        conn.execute("INSERT INTO records VALUES ('SH-1001')")
        assert PostgresCursorStore(conn).advance(FEED, None, PAGE_2) is True
        conn.execute("COMMIT")
        with PostgresCursorStore(pg_dsn) as other:
            assert other.get(FEED) == PAGE_2
        assert conn.execute("SELECT id FROM records").fetchall() == [("SH-1001",)]

    def test_a_failed_advance_undoes_only_its_own_writes(
        self, conn: Connection
    ) -> None:
        store = PostgresCursorStore(conn)
        conn.execute("CREATE TABLE notes (text text)")
        conn.execute(
            "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql"
            " AS $$ BEGIN RAISE EXCEPTION 'disk quota'; END $$"
        )
        conn.execute("BEGIN")
        conn.execute("INSERT INTO notes VALUES ('kept')")
        conn.execute(
            f"CREATE TRIGGER refuse BEFORE INSERT ON {VICTIM} EXECUTE FUNCTION refuse()"
        )
        with pytest.raises(StoreError, match="disk quota"):
            store.advance(FEED, None, PAGE_2)
        assert conn.info.transaction_status is psycopg.pq.TransactionStatus.INTRANS
        conn.execute(f"DROP TRIGGER refuse ON {VICTIM}")
        conn.execute("COMMIT")
        assert conn.execute("SELECT text FROM notes").fetchall() == [("kept",)]
        assert store.get(FEED) is None
