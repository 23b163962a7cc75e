"""The last `sellable` message of a SKU tells its figure as it ended, under concurrency.

Two units of work reserve the last unit of one SKU at two locations (the
bucketed stock `docs/scaling.md` suggests). The second reads the SKU's
figure while the first has not committed: unless it waits for the stream's
turn before reading, it reports the first location as still in stock, and
its message, committed last, leaves the channels selling stock that is gone.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pendulum
import pytest
from tests.adapters.postgres._stores import until_someone_waits_for_a_lock

from orderkit.adapters.postgres import PostgresOutbox, PostgresUnitOfWork
from orderkit.errors import ValidationError
from orderkit.ports import StreamLocks
from orderkit.services import Ledger
from orderkit.testing import FrozenClock


T0 = pendulum.datetime(2026, 11, 11, 20, 0)


def _reserve(dsn: str, location: str, owner: str) -> None:
    unit = PostgresUnitOfWork(dsn)
    try:
        with unit as uow:
            ledger = Ledger(uow.ledger, FrozenClock(T0), outbox=uow.outbox)
            ledger.reserve(owner, [("CLOCK", location, 1)])
            uow.commit()
    finally:
        unit.close()


def test_the_stream_ends_with_the_figure_the_ledger_ends_with(pg_dsn: str) -> None:
    setup = PostgresUnitOfWork(pg_dsn)
    with setup as uow:
        stock = Ledger(uow.ledger, FrozenClock(T0))
        stock.receive("CLOCK", "main#1", 1)
        stock.receive("CLOCK", "main#2", 1)
        uow.commit()
    first = PostgresUnitOfWork(pg_dsn)
    with first as uow, ThreadPoolExecutor(1) as pool:
        Ledger(uow.ledger, FrozenClock(T0), outbox=uow.outbox).reserve(
            "cart-1", [("CLOCK", "main#1", 1)]
        )
        second = pool.submit(_reserve, pg_dsn, "main#2", "cart-2")
        assert until_someone_waits_for_a_lock(pg_dsn)
        uow.commit()
        second.result(timeout=30)
    first.close()
    with setup as uow:
        told = [
            json.loads(m.payload)["sellable"]
            for m in uow.outbox.unsent()
            if m.stream == "sku:CLOCK"
        ]
        left = sum(b.sellable() for b in uow.ledger.balances(T0, sku="CLOCK"))
    setup.close()
    assert left == 0
    assert len(told) == 2
    assert told[-1] == left


def test_the_postgres_outbox_locks_streams(pg_dsn: str) -> None:
    with PostgresOutbox(pg_dsn) as outbox:
        assert isinstance(outbox, StreamLocks)
        outbox.lock_streams([])  # nothing to lock
        outbox.lock_streams(["sku:CLOCK", "sku:CLOCK", "order:1"])
        with pytest.raises(ValidationError) as caught:
            outbox.lock_streams("sku:CLOCK")
        assert "streams" == caught.value.field
