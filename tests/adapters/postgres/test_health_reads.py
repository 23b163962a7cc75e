"""`health_from_stores` reads the ledger once, whatever commits meanwhile.

On PostgreSQL a unit of work runs at READ COMMITTED: each statement sees
what committed before it. A report that took the balances from one read
and the movements from another could see a write in one and not the other,
and report an agreeing stock count as wrong, or fail outright.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Self

import pendulum

from orderkit.adapters.postgres import PostgresLedgerStore, PostgresUnitOfWork
from orderkit.services import HealthMeasure, Ledger, StockCount, health_from_stores
from orderkit.testing import FrozenClock


T0 = pendulum.datetime(2026, 11, 11, 1)


class _Interrupted:
    """A unit's ledger store: another worker's write commits after its first read."""

    def __init__(self, inner: Any, write: list[Callable[[], object]]) -> None:
        self._inner = inner
        self._write = write

    def _then_write(self, result: object) -> object:
        while self._write:
            self._write.pop()()
        return result

    def balances(self, *args: Any, **kwargs: Any) -> object:
        return self._then_write(self._inner.balances(*args, **kwargs))

    def movements(self, *args: Any, **kwargs: Any) -> object:
        return self._then_write(self._inner.movements(*args, **kwargs))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class _Unit:
    def __init__(
        self, inner: PostgresUnitOfWork, write: list[Callable[[], object]]
    ) -> None:
        self._inner = inner
        self._write = write

    def __enter__(self) -> Self:
        self._inner.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._inner.__exit__(*exc)  # type: ignore[arg-type]

    @property
    def ledger(self) -> _Interrupted:
        return _Interrupted(self._inner.ledger, self._write)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def _accuracy(pg_dsn: str, *, on_hand: int, counted: int, later: int) -> object:
    clock = FrozenClock(T0)
    with PostgresLedgerStore(pg_dsn) as store:
        ledger = Ledger(store, clock)
        ledger.receive("TEA-01", "W1", 10)
        if on_hand != 10:
            ledger.adjust("TEA-01", "W1", counted=on_hand, reason="stocktake")
        clock.advance(minutes=5)
        count = StockCount("TEA-01", "W1", counted, clock.now())
        clock.advance(minutes=5)
        unit = PostgresUnitOfWork(pg_dsn)
        try:
            report = health_from_stores(
                _Unit(unit, [lambda: ledger.receive("TEA-01", "W1", later)]),  # type: ignore[arg-type]
                clock,
                window=(T0, clock.now().add(minutes=1)),
                zone="Asia/Shanghai",
                counts=[count],
            )
        finally:
            unit.close()
    return report.component(HealthMeasure.INVENTORY_ACCURACY).value


def test_a_count_that_agreed_stays_agreed(pg_dsn: str) -> None:
    assert 1 == _accuracy(pg_dsn, on_hand=10, counted=10, later=4)


def test_an_empty_shelf_restocked_meanwhile_is_still_reported(pg_dsn: str) -> None:
    assert 1 == _accuracy(pg_dsn, on_hand=0, counted=0, later=3)
