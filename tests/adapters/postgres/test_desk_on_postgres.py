"""The order desk on PostgreSQL: units of work that touch several balances at once.

Each unit keeps the balance locks it takes until it ends, so a desk that
commits an order's holds one by one must take them in one order everywhere,
or two payments for orders with the same SKUs in opposite line order wait
for each other in a circle.
"""

from __future__ import annotations

import threading
from collections import Counter

import pendulum

from orderkit.adapters.postgres import PostgresUnitOfWork
from orderkit.dedupe import Fingerprinter, IdempotencyKey
from orderkit.money import Money
from orderkit.orders import PaymentCaptured
from orderkit.services import Accepted, DeskPolicy, Ledger, OrderDesk
from orderkit.testing import FrozenClock, channel_order


START = pendulum.datetime(2026, 11, 11)
PAIRS = 8
SECRET = b"k" * 32


def _desk(uow: PostgresUnitOfWork, clock: FrozenClock) -> OrderDesk:
    return OrderDesk(uow, clock, DeskPolicy(locations=["BJ-1"]), Fingerprinter(SECRET))


def _payment(order_id: str) -> PaymentCaptured:
    return PaymentCaptured(
        order_id=order_id,
        key=IdempotencyKey("douyin", "order.paid", order_id, "1"),
        occurred_at=START.add(minutes=5),
        payment_id=f"PAY-{order_id}",
        amount=Money("20.00", "CNY"),
    )


def test_payments_for_crossed_orders_never_deadlock(pg_dsn: str) -> None:
    clock = FrozenClock(START)
    setup = PostgresUnitOfWork(pg_dsn)
    with setup:
        for sku in ("SKU-A", "SKU-B"):
            Ledger(setup.ledger, clock).receive(sku, "BJ-1", 1000)
        setup.commit()
    desk = _desk(setup, clock)
    for i in range(PAIRS):
        for order_id, skus in (
            (f"O1-{i}", ("SKU-B", "SKU-A")),
            (f"O2-{i}", ("SKU-A", "SKU-B")),
        ):
            lines = [(sku, 1, "10.00") for sku in skus]
            outcome = desk.accept(channel_order(lines, order_id=order_id, at=START))
            assert isinstance(outcome, Accepted)
    setup.close()

    results: Counter[str] = Counter()

    def pay(order_id: str, barrier: threading.Barrier) -> None:
        uow = PostgresUnitOfWork(pg_dsn)
        try:
            barrier.wait(timeout=30)
            _desk(uow, clock).record("douyin", order_id, _payment(order_id))
            results["paid"] += 1
        except Exception as exc:  # noqa: BLE001 - counted and shown below
            results[type(exc).__name__] += 1
        finally:
            uow.close()

    for i in range(PAIRS):
        barrier = threading.Barrier(2)
        payers = [
            threading.Thread(target=pay, args=(order_id, barrier))
            for order_id in (f"O1-{i}", f"O2-{i}")
        ]
        for payer in payers:
            payer.start()
        for payer in payers:
            payer.join(timeout=120)
    assert results == {"paid": 2 * PAIRS}
    check = PostgresUnitOfWork(pg_dsn)
    with check:
        for sku in ("SKU-A", "SKU-B"):
            balance = Ledger(check.ledger, clock).balance(sku, "BJ-1")
            assert (balance.reserved, balance.allocated) == (0, 2 * PAIRS)
    check.close()
