"""A host whose clock runs ahead of the server's cannot expire other hosts' holds.

Holds are judged due by the high-water mark of every `now` written, shared
by every SKU: one write from a host three hours ahead used to expire every
buyer's payment hold at once, for good. The PostgreSQL ledger now refuses a
`now` more than `max_clock_ahead` ahead of the server's clock, writing
nothing.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator

import pendulum
import psycopg
import pytest

from orderkit.adapters.postgres import PostgresLedgerStore, PostgresUnitOfWork
from orderkit.errors import ClockAhead, ConfigurationError, InsufficientStock
from orderkit.inventory import HoldState
from orderkit.services import Ledger
from orderkit.testing import FrozenClock


AHEAD = dt.timedelta(hours=3)
PAY_WINDOW = dt.timedelta(hours=2)


def _real_now() -> pendulum.DateTime:
    return pendulum.now("UTC")


@pytest.fixture
def store(pg_dsn: str) -> Iterator[PostgresLedgerStore]:
    ledger = PostgresLedgerStore(pg_dsn)
    yield ledger
    ledger.close()


def _stocked(store: PostgresLedgerStore) -> Ledger:
    ledger = Ledger(store, FrozenClock(_real_now()))
    ledger.receive("TEAPOT", "SZ", 1)
    ledger.receive("CUP", "SZ", 10)
    return ledger


def _rows(dsn: str) -> tuple[object, ...]:
    with psycopg.connect(dsn) as conn:
        return tuple(
            conn.execute(f"SELECT * FROM {table} ORDER BY 1, 2").fetchall()  # noqa: S608
            for table in ("orderkit_marks", "orderkit_balances", "orderkit_holds")
        )


def test_a_host_ahead_is_refused_and_the_other_buyers_hold_stays(
    store: PostgresLedgerStore, pg_dsn: str
) -> None:
    on_time = _stocked(store)
    on_time.reserve("order:A", [("TEAPOT", "SZ", 1)], ttl=PAY_WINDOW)
    before = _rows(pg_dsn)
    ahead = Ledger(store, FrozenClock(_real_now() + AHEAD))

    with pytest.raises(ClockAhead) as refused:
        ahead.reserve("order:X", [("CUP", "SZ", 1)], ttl=PAY_WINDOW)

    assert refused.value.field == "now"
    assert "max_clock_ahead" in str(refused.value)
    assert _rows(pg_dsn) == before
    # Buyer B, on a host with the right clock, still finds the teapot held.
    with pytest.raises(InsufficientStock):
        on_time.reserve("order:B", [("TEAPOT", "SZ", 1)], ttl=PAY_WINDOW)
    (hold,) = store.holds(owner="order:A")
    assert hold.state is HoldState.LIVE


def test_an_expiry_sweep_from_a_host_ahead_is_refused(
    store: PostgresLedgerStore, pg_dsn: str
) -> None:
    on_time = _stocked(store)
    on_time.reserve("order:A", [("TEAPOT", "SZ", 1)], ttl=PAY_WINDOW)
    before = _rows(pg_dsn)

    with pytest.raises(ClockAhead):
        Ledger(store, FrozenClock(_real_now() + AHEAD)).expire_due()

    assert _rows(pg_dsn) == before


def test_a_host_seconds_ahead_works_as_before(store: PostgresLedgerStore) -> None:
    _stocked(store)
    ahead = Ledger(store, FrozenClock(_real_now() + dt.timedelta(seconds=30)))

    ahead.reserve("order:A", [("TEAPOT", "SZ", 1)], ttl=PAY_WINDOW)

    (hold,) = store.holds(owner="order:A")
    assert hold.state is HoldState.LIVE


def test_no_limit_takes_a_test_clock_in_the_future(pg_dsn: str) -> None:
    store = PostgresLedgerStore(pg_dsn, max_clock_ahead=None)
    try:
        future = Ledger(store, FrozenClock(pendulum.datetime(2090, 1, 1, tz="UTC")))
        future.receive("TEAPOT", "SZ", 1)
        future.reserve("order:A", [("TEAPOT", "SZ", 1)], ttl=PAY_WINDOW)
        assert store.holds(owner="order:A")[0].state is HoldState.LIVE
    finally:
        store.close()


def test_the_unit_of_work_refuses_a_host_ahead_and_rolls_back(pg_dsn: str) -> None:
    unit = PostgresUnitOfWork(pg_dsn, max_clock_ahead=dt.timedelta(minutes=1))
    try:
        with unit as uow:
            Ledger(uow.ledger, FrozenClock(_real_now())).receive("TEAPOT", "SZ", 1)
            uow.commit()
        before = _rows(pg_dsn)
        ahead = FrozenClock(_real_now() + dt.timedelta(minutes=10))
        with pytest.raises(ClockAhead), unit as uow:
            Ledger(uow.ledger, ahead).reserve("order:X", [("TEAPOT", "SZ", 1)])
        assert _rows(pg_dsn) == before
    finally:
        unit.close()


def test_a_clock_stepped_ahead_since_the_store_opened_is_caught_at_once(
    store: PostgresLedgerStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    on_time = _stocked(store)
    on_time.reserve("order:A", [("TEAPOT", "SZ", 1)], ttl=PAY_WINDOW)
    # The host's own clock is stepped three hours ahead after the store read
    # the server's (NTP): the store goes by the server's time it read plus
    # the monotonic clock, which no step moves, so the first write is refused.
    real_time = time.time
    stepped = AHEAD.total_seconds()
    monkeypatch.setattr(time, "time", lambda: real_time() + stepped)
    ahead = Ledger(store, FrozenClock(_real_now() + AHEAD))

    with pytest.raises(ClockAhead):
        ahead.reserve("order:B", [("CUP", "SZ", 1)])

    (hold,) = store.holds(owner="order:A")
    assert hold.state is HoldState.LIVE


@pytest.mark.parametrize("limit", [dt.timedelta(seconds=-1), 300, "5m"])
def test_a_limit_that_is_no_timedelta_is_refused(pg_dsn: str, limit: object) -> None:
    with pytest.raises(ConfigurationError) as refused:
        PostgresLedgerStore(pg_dsn, max_clock_ahead=limit)  # type: ignore[arg-type]
    assert refused.value.setting == "max_clock_ahead"
    assert refused.value.value == limit
