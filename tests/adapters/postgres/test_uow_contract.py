"""The PostgreSQL unit of work runs the unit-of-work contract, and what only it does.

The contract runs on a DSN, where racers are processes each with its own
unit of work, and on a host's pool, where each unit borrows a connection.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator

import psycopg
import pytest
from psycopg_pool import ConnectionPool

from orderkit.adapters.postgres import PostgresOrderStore, PostgresUnitOfWork
from orderkit.errors import StoreError
from orderkit.serialization import make_converter
from orderkit.testing._order_store_contract import paid, sample_order
from orderkit.testing.contracts import UnitOfWorkContract, with_converter


class _Hooks:
    """One schema per unit of work; closes what a test opened."""

    @pytest.fixture(autouse=True)
    def _schemas(self, pg_schemas: Callable[[], str]) -> Iterator[None]:
        self.schemas = pg_schemas
        self.dsns: dict[int, str] = {}
        self.opened: list[PostgresUnitOfWork | ConnectionPool] = []
        yield
        for opened in self.opened:
            opened.close()

    def connect(self, store: object) -> Callable[[], PostgresUnitOfWork]:
        return functools.partial(
            with_converter, PostgresUnitOfWork, self.dsns[id(store)]
        )


class TestPostgresUnitOfWork(_Hooks, UnitOfWorkContract):
    """PostgresUnitOfWork on a DSN: racers are processes, each with its own."""

    def make_store(self) -> PostgresUnitOfWork:
        dsn = self.schemas()
        uow = PostgresUnitOfWork(dsn, converter=make_converter())
        self.opened.append(uow)
        self.dsns[id(uow)] = dsn
        return uow


class TestPostgresUnitOfWorkPool(_Hooks, UnitOfWorkContract):
    """PostgresUnitOfWork on a host's pool: each unit borrows one connection."""

    def make_store(self) -> PostgresUnitOfWork:
        dsn = self.schemas()
        pool = ConnectionPool(dsn, min_size=1, max_size=4, open=True)
        self.opened.append(pool)
        uow = PostgresUnitOfWork(pool, converter=make_converter())
        self.dsns[id(uow)] = dsn
        return uow


# --------------------------------------------------------------------------
# What only PostgreSQL does


@pytest.fixture
def dsn(pg_dsn: str) -> str:
    PostgresUnitOfWork(pg_dsn).close()
    return pg_dsn


def test_others_see_nothing_until_commit(dsn: str) -> None:
    uow = PostgresUnitOfWork(dsn, converter=make_converter())
    with PostgresOrderStore(dsn, converter=make_converter()) as other:
        with uow:
            uow.orders.save(sample_order(), None)
            assert other.get("douyin", "DY-1001") is None
            uow.commit()
            uow.orders.save(paid(sample_order()), 1)
            assert other.get("douyin", "DY-1001") == sample_order()
        assert other.get("douyin", "DY-1001") == sample_order()
    uow.close()


def test_a_unit_is_one_transaction_on_one_connection(dsn: str) -> None:
    uow = PostgresUnitOfWork(dsn, converter=make_converter())
    with uow:
        pids = {
            uow.orders._session.read(
                "pid", lambda cur: cur.execute("SELECT pg_backend_pid()").fetchone()
            ),
            uow.ledger._session.read(
                "pid", lambda cur: cur.execute("SELECT pg_backend_pid()").fetchone()
            ),
        }
        assert len(pids) == 1
    uow.close()


def test_a_given_connection_in_a_transaction_is_refused(dsn: str) -> None:
    conn = psycopg.connect(dsn, autocommit=True)
    try:
        uow = PostgresUnitOfWork(conn, converter=make_converter())
        conn.execute("BEGIN")
        with pytest.raises(StoreError, match="inside a transaction"), uow:
            pass
        conn.execute("ROLLBACK")
        with uow:
            assert uow.orders.get("douyin", "DY-1001") is None
        uow.close()
        assert not conn.closed
    finally:
        conn.close()


def test_a_closed_unit_of_work_raises_store_error(dsn: str) -> None:
    uow = PostgresUnitOfWork(dsn, converter=make_converter())
    uow.close()
    uow.close()
    with pytest.raises(StoreError, match="closed"), uow:
        pass


def test_a_dropped_connection_is_reopened_for_the_next_unit(dsn: str) -> None:
    uow = PostgresUnitOfWork(dsn, converter=make_converter())
    with uow:
        row = uow.orders._session.read(
            "pid", lambda cur: cur.execute("SELECT pg_backend_pid()").fetchone()
        )
    assert row is not None
    with psycopg.connect(dsn, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (row[0],))
    with uow:
        uow.orders.save(sample_order(), None)
        uow.commit()
    with uow:
        assert uow.orders.get("douyin", "DY-1001") == sample_order()
    uow.close()


def test_a_connection_dropped_before_psycopg_knows_is_reopened(
    dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The socket closes under BEGIN itself: the connection is not `broken` yet.

    A terminated backend reaches psycopg only when the connection is used,
    so the unit's BEGIN is the first to fail; it asked nothing yet.
    """
    uow = PostgresUnitOfWork(dsn, converter=make_converter())
    with uow:
        dropped = uow._conn
    start = PostgresUnitOfWork._start
    failures = [psycopg.OperationalError("connection socket closed")]

    def start_on_a_dropped_socket(self: PostgresUnitOfWork) -> None:
        if failures:
            raise StoreError("postgres", "begin", "socket closed") from failures.pop()
        start(self)

    monkeypatch.setattr(PostgresUnitOfWork, "_start", start_on_a_dropped_socket)
    with uow:
        uow.orders.save(sample_order(), None)
        uow.commit()
    assert dropped is not None
    assert dropped.closed
    with uow:
        assert uow.orders.get("douyin", "DY-1001") == sample_order()
    uow.close()


def test_a_commit_on_a_dropped_connection_says_the_commit_failed(dsn: str) -> None:
    """Not the BEGIN that follows it: the caller must know which call broke."""
    uow = PostgresUnitOfWork(dsn, converter=make_converter())
    with uow:
        uow.orders.save(sample_order(), None)
        row = uow.orders._session.read(
            "pid", lambda cur: cur.execute("SELECT pg_backend_pid()").fetchone()
        )
        assert row is not None
        with psycopg.connect(dsn, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (row[0],))
        with pytest.raises(StoreError) as failed:
            uow.commit()
    assert failed.value.operation == "commit"
    with uow:
        assert uow.orders.get("douyin", "DY-1001") is None
    uow.close()
