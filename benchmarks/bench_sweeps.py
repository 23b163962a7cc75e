"""sweeps: the periodic jobs that look for work among every stored order.

A shop's order table keeps every order it ever took, while the orders in
flight stay few. Each figure is one call of a job a host runs every minute
or so (see *Operations*), over one SQLite file (WAL) holding 50,000 stored
orders (5,000 with ``--quick``), placed a minute apart up to the clock's
instant, each with the audit record of its placing: one in 500 open
(pending payment), one in 1,000 closed and waiting for a person (a reason
in ``review``), the rest closed with nothing owed. One operation is one
call:

- ``sweeps.send_due.sqlite``: ``Refunds.send_due()``, no refund owed;
- ``sweeps.recover.sqlite``: ``recover(unit, refunds=...)``, no saga in
  flight;
- ``sweeps.stuck.sqlite``: ``stuck_from_stores(unit, clock)``;
- ``sweeps.health.sqlite``: ``health_from_stores(unit, clock, window=...)``
  over the last day (1,440 orders placed in it), a job run once a day
  rather than every minute.

The baseline ``every_order`` is the same call with the order store's
optional ``waiting()`` read hidden, as a host's own store may lack it: the
jobs then read every order, a page per unit, as they all did before that
read existed (``health_from_stores`` also needs ``placed_between()`` and
``recorded_between()``, and reads every order without all three). The
figure's rate against it is what the reads through the indexes save; it
grows with the stored orders, which the baseline reads and the figure does
not. Each value is the best of three
calls, after one call untimed.
"""

from __future__ import annotations

import atexit
import contextlib
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Final

import attrs

from _harness import Computed, Context
from orderkit.adapters._micros import to_us
from orderkit.adapters.sqlite import SqliteOrderStore, SqliteUnitOfWork
from orderkit.orders import Order, OrderStatus, waits
from orderkit.ports import UnitOfWork
from orderkit.serialization import make_converter
from orderkit.services import (
    Refunds,
    health_from_stores,
    recover,
    stuck_from_stores,
)
from orderkit.testing import FrozenClock
from orderkit.testing._contract_base import START
from orderkit.testing._order_store_contract import sample_order, sample_record
from orderkit.testing.fakes import FakePayments


ORDERS: Final = 50_000
ORDERS_QUICK: Final = 5_000
OPEN_EVERY: Final = 500
WAITING_EVERY: Final = 1_000
CALLS: Final = 3
ZONE: Final = "Asia/Shanghai"


def _order(n: int, count: int) -> Order:
    placed = START.subtract(minutes=count - n)
    order = sample_order(order_id=f"DY-{n:07d}", placed_at=placed)
    if n % OPEN_EVERY == 0:
        return order
    closed = attrs.evolve(order, status=OrderStatus.CLOSED, version=2)
    if n % WAITING_EVERY == 1:
        return attrs.evolve(closed, review=("地址待核实 / address to check",))
    return closed


_FILES: dict[int, Path] = {}


def _file(count: int) -> Path:
    """A SQLite file holding `count` orders, made once per size."""
    if count in _FILES:
        return _FILES[count]
    directory = Path(tempfile.mkdtemp(prefix="orderkit-bench-sweeps-"))
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    path = directory / "orders.db"
    converter = make_converter()
    SqliteUnitOfWork(path).close()  # creates the tables
    with SqliteOrderStore(path, converter=converter) as store:
        orders = [_order(n, count) for n in range(count)]
        rows = [
            (
                o.channel,
                o.order_id,
                o.version,
                o.status.value,
                converter.dumps(o),
                waits(o),
                to_us(o.placed_at),
            )
            for o in orders
        ]
        records = [
            attrs.evolve(
                sample_record(o.order_id, 1),
                occurred_at=o.placed_at,
                recorded_at=o.placed_at,
            )
            for o in orders
        ]
        conn = store._session.conn  # noqa: SLF001 - bulk load, beside the store
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO orderkit_orders (channel, order_id, version, status,"
            " document, waiting, placed_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        conn.executemany(
            "INSERT INTO orderkit_audit (channel, order_id, version, record,"
            " recorded_at) VALUES ('douyin', ?, 1, ?, ?)",
            [(r.order_id, converter.dumps(r), to_us(r.recorded_at)) for r in records],
        )
        conn.execute("COMMIT")
    _FILES[count] = path
    return path


@contextlib.contextmanager
def _without_waiting(every_order: bool) -> Iterator[None]:
    """With `every_order`, SQLite's order store without its optional read."""
    if not every_order:
        yield
        return
    # As a host's own store may be: the jobs read every order from it.
    setattr(SqliteOrderStore, "waiting", None)  # noqa: B010 - hides the inherited read
    try:
        yield
    finally:
        delattr(SqliteOrderStore, "waiting")


Job = Callable[[UnitOfWork], object]


def _send_due(unit: UnitOfWork) -> object:
    clock = FrozenClock()
    return Refunds(unit, clock, FakePayments(clock)).send_due()


def _recover(unit: UnitOfWork) -> object:
    clock = FrozenClock()
    return recover(unit, refunds=Refunds(unit, clock, FakePayments(clock)))


def _stuck(unit: UnitOfWork) -> object:
    return stuck_from_stores(unit, FrozenClock())


def _health(unit: UnitOfWork) -> object:
    window = (START.subtract(days=1), START.add(minutes=1))
    clock = FrozenClock(START.add(minutes=1))
    return health_from_stores(unit, clock, window=window, zone=ZONE)


def _rate(job: Job, every_order: bool) -> Callable[[Context], float]:
    """Calls per second of `job` over the file, through `waiting()` or not."""

    def run(context: Context) -> float:
        path = _file(ORDERS_QUICK if context.budget.quick else ORDERS)
        unit = SqliteUnitOfWork(path)
        try:
            with _without_waiting(every_order):
                job(unit)
                best = float("inf")
                for _ in range(CALLS):
                    start = time.perf_counter()
                    job(unit)
                    best = min(best, time.perf_counter() - start)
        finally:
            unit.close()
        return 1 / best

    return run


def _figure(name: str, job: Job, description: str) -> Computed:
    return Computed(
        name=name,
        unit="calls/s",
        run=_rate(job, every_order=False),
        baselines={"every_order": _rate(job, every_order=True)},
        description=description,
    )


FIGURES = [
    _figure(
        "sweeps.send_due.sqlite",
        _send_due,
        "Refunds.send_due() among 50,000 stored orders (quick: 5,000), none owed",
    ),
    _figure(
        "sweeps.recover.sqlite",
        _recover,
        "recover() among 50,000 stored orders (quick: 5,000), none in flight",
    ),
    _figure(
        "sweeps.stuck.sqlite",
        _stuck,
        "stuck_from_stores() among 50,000 stored orders (quick: 5,000), 1 in 500 open",
    ),
    _figure(
        "sweeps.health.sqlite",
        _health,
        "health_from_stores() over the last day of 50,000 stored orders"
        " (quick: 5,000), one placed a minute",
    ),
]
