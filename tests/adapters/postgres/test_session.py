"""The session every PostgreSQL store shares: migrations, retries, errors."""

from __future__ import annotations

import multiprocessing
import uuid
from typing import Any

import psycopg
import pytest
from psycopg_pool import ConnectionPool
from tests.adapters.postgres.conftest import DSN, with_schema

from orderkit.adapters._postgres_session import (
    _SCHEMA_LOCK,
    STORE,
    Component,
    Session,
)
from orderkit.errors import ConcurrencyConflict, StoreError


WIDGETS = Component(
    "test_widgets",
    "widgets",
    (
        ("CREATE TABLE orderkit_widgets (id text PRIMARY KEY)",),
        ("ALTER TABLE orderkit_widgets ADD COLUMN size integer NOT NULL DEFAULT 1",),
    ),
)


def _count(cur: psycopg.Cursor[Any]) -> int:
    row = cur.execute("SELECT count(*) FROM orderkit_widgets").fetchone()
    assert row is not None
    return int(row[0])


def _version(dsn: str) -> int:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "SELECT value FROM orderkit_meta WHERE name = 'test_widgets'"
        ).fetchone()
    assert row is not None
    return int(row[0])


def test_opening_applies_every_migration_once(pg_dsn: str) -> None:
    first = Session(pg_dsn, WIDGETS, attempts=3)
    first.transact(
        "put", lambda cur: cur.execute("INSERT INTO orderkit_widgets VALUES ('a', 3)")
    )
    first.close()
    again = Session(pg_dsn, WIDGETS, attempts=3)
    assert again.read("count", _count) == 1
    again.close()
    assert _version(pg_dsn) == 2


def test_an_older_database_is_migrated_forwards(pg_dsn: str) -> None:
    old = Component("test_widgets", "widgets", WIDGETS.migrations[:1])
    Session(pg_dsn, old, attempts=1).close()
    assert _version(pg_dsn) == 1
    Session(pg_dsn, WIDGETS, attempts=1).close()
    assert _version(pg_dsn) == 2


def test_a_newer_database_is_refused(pg_dsn: str) -> None:
    Session(pg_dsn, WIDGETS, attempts=1).close()
    old = Component("test_widgets", "widgets", WIDGETS.migrations[:1])
    with pytest.raises(
        StoreError, match="widgets version 2 is newer than this orderkit"
    ):
        Session(pg_dsn, old, attempts=1)


def _open(dsn: str) -> None:
    Session(dsn, WIDGETS, attempts=1).close()


def test_processes_starting_at_once_create_the_tables_once(pg_dsn: str) -> None:
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_open, args=(pg_dsn,)) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    assert [w.exitcode for w in workers] == [0, 0, 0, 0]
    assert _version(pg_dsn) == 2


def test_driver_errors_become_store_errors_and_write_nothing(pg_dsn: str) -> None:
    session = Session(pg_dsn, WIDGETS, attempts=3)

    def half(cur: psycopg.Cursor[Any]) -> None:
        cur.execute("INSERT INTO orderkit_widgets VALUES ('a', 1)")
        cur.execute("INSERT INTO orderkit_widgets VALUES ('a', 2)")

    with pytest.raises(StoreError, match="postgres store failed during put") as caught:
        session.transact("put", half)
    assert isinstance(caught.value.__cause__, psycopg.errors.UniqueViolation)
    assert caught.value.store == STORE
    assert session.read("count", _count) == 0
    session.close()


def test_serialization_failures_are_retried_then_raised(pg_dsn: str) -> None:
    session = Session(pg_dsn, WIDGETS, attempts=3)
    calls: list[int] = []

    def collide(cur: psycopg.Cursor[Any]) -> None:
        calls.append(1)
        cur.execute("INSERT INTO orderkit_widgets VALUES (%s, 1)", (f"w{len(calls)}",))
        raise psycopg.errors.SerializationFailure("could not serialize access")

    with pytest.raises(ConcurrencyConflict, match="postgres:put"):
        session.transact("put", collide)
    assert len(calls) == 3
    assert session.read("count", _count) == 0

    def flaky(cur: psycopg.Cursor[Any]) -> int:
        calls.append(1)
        if len(calls) < 5:
            raise psycopg.errors.DeadlockDetected("deadlock detected")
        cur.execute("INSERT INTO orderkit_widgets VALUES ('ok', 1)")
        return len(calls)

    assert session.transact("put", flaky) == 5
    assert session.read("count", _count) == 1
    session.close()


def test_inside_a_host_transaction_a_conflict_is_not_retried(pg_dsn: str) -> None:
    conn = psycopg.connect(pg_dsn, autocommit=True)
    session = Session(conn, WIDGETS, attempts=5)
    calls: list[int] = []

    def collide(_cur: psycopg.Cursor[Any]) -> None:
        calls.append(1)
        raise psycopg.errors.SerializationFailure("could not serialize access")

    with conn.transaction():
        with pytest.raises(ConcurrencyConflict):
            session.transact("put", collide)
        assert calls == [1]
    session.close()
    assert not conn.closed
    conn.close()


def test_a_dropped_owned_connection_is_reopened(pg_dsn: str) -> None:
    session = Session(pg_dsn, WIDGETS, attempts=1)
    pid = session.read(
        "pid", lambda cur: cur.execute("SELECT pg_backend_pid()").fetchone()
    )
    assert pid is not None
    with psycopg.connect(pg_dsn, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid[0],))
    # The first call after the drop finds out, and goes on on a new one.
    assert session.read("count", _count) == 0
    session.close()
    with pytest.raises(StoreError, match="closed"):
        session.read("count", _count)


def test_a_pool_lends_a_connection_per_call(pg_dsn: str) -> None:
    with ConnectionPool(pg_dsn, min_size=1, max_size=2, open=True) as pool:
        session = Session(pool, WIDGETS, attempts=2)
        session.transact(
            "put",
            lambda cur: cur.execute("INSERT INTO orderkit_widgets VALUES ('p', 1)"),
        )
        assert session.read("count", _count) == 1
        session.close()
        with pytest.raises(StoreError, match="closed"):
            session.read("count", _count)


def test_an_unreachable_server_is_a_store_error() -> None:
    with pytest.raises(StoreError, match="during open"):
        Session(
            "postgresql://nobody@127.0.0.1:1/none?connect_timeout=2",
            WIDGETS,
            attempts=1,
        )


def test_a_settled_schema_takes_no_lock_inside_a_host_transaction(pg_dsn: str) -> None:
    Session(pg_dsn, WIDGETS, attempts=1).close()
    conn = psycopg.connect(pg_dsn, autocommit=True)
    session = Session(conn, WIDGETS, attempts=1)
    with conn.transaction(), psycopg.connect(pg_dsn, autocommit=True) as other:
        assert session.read("count", _count) == 0
        # Had the check locked, the host's open transaction would hold the
        # lock and every other process's first call would queue behind it.
        row = other.execute(
            "SELECT pg_try_advisory_lock(%s)", (_SCHEMA_LOCK,)
        ).fetchone()
        assert row == (True,)
        Session(pg_dsn, WIDGETS, attempts=1).close()
    session.close()
    conn.close()


def test_tables_created_in_a_rolled_back_host_transaction_are_made_again(
    pg_dsn: str,
) -> None:
    conn = psycopg.connect(pg_dsn, autocommit=True)
    session = Session(conn, WIDGETS, attempts=1)
    conn.execute("BEGIN")
    assert session.read("count", _count) == 0
    conn.execute("ROLLBACK")
    assert session.read("count", _count) == 0
    session.close()
    conn.close()


def test_a_search_path_naming_no_schema_is_a_store_error_on_open(pg_dsn: str) -> None:
    missing = pg_dsn.replace("search_path%3D", "search_path%3Dno_such_schema_")
    with pytest.raises(StoreError, match="during open"):
        Session(missing, WIDGETS, attempts=1)


def test_a_connection_dropped_during_work_is_not_run_again(pg_dsn: str) -> None:
    session = Session(pg_dsn, WIDGETS, attempts=3)
    calls: list[int] = []

    def drop_myself(cur: psycopg.Cursor[Any]) -> None:
        calls.append(1)
        cur.execute("INSERT INTO orderkit_widgets VALUES ('x', 1)")
        cur.execute("SELECT pg_terminate_backend(pg_backend_pid())")

    with pytest.raises(StoreError):
        session.transact("put", drop_myself)
    assert calls == [1]
    assert session.read("count", _count) == 0
    session.close()


def test_tables_in_another_schema_of_the_path_are_refused_not_made_anew() -> None:
    """The current schema is where tables are made: one without them is refused."""
    made, there = f"orderkit_test_{uuid.uuid4().hex[:12]}", ""
    try:
        with psycopg.connect(DSN, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{made}"')
        there = f"orderkit_test_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(DSN, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{there}"')
        Session(with_schema(DSN, there), WIDGETS, attempts=1).close()
        path = with_schema(DSN, f"{made},{there}")
        with pytest.raises(StoreError, match=f"tables are in schema {there}"):
            Session(path, WIDGETS, attempts=1)
        with psycopg.connect(DSN) as conn:
            found = conn.execute(
                "SELECT count(*) FROM pg_tables WHERE schemaname = %s", (made,)
            ).fetchone()
        assert found == (0,)  # nothing made in the current schema
    finally:
        with psycopg.connect(DSN, autocommit=True) as conn:
            for schema in (made, there):
                if schema:
                    conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
