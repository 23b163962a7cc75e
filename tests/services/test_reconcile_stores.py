"""The night's reconciliations read from the stores, page after page."""

from __future__ import annotations

import pendulum
import pytest

from orderkit.dedupe import Fingerprinter
from orderkit.errors import InvalidQuantity, ValidationError
from orderkit.integrations import SettlementLine, TransactionKind
from orderkit.inventory import MovementKind
from orderkit.money import Money
from orderkit.orders import Order
from orderkit.ports import UnitOfWork
from orderkit.services import (
    DeskPolicy,
    DiscrepancyKind,
    Ledger,
    OrderDesk,
    StockCount,
    reconcile_payments,
    reconcile_payments_from_stores,
    reconcile_stock,
    reconcile_stock_from_stores,
)
from orderkit.testing import FrozenClock, channel_order


T0 = pendulum.datetime(2026, 11, 11, 2, 0)
IDS = ["DY-1001", "DY-1002", "DY-1003"]


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(T0)


@pytest.fixture
def shop(unit: UnitOfWork, clock: FrozenClock) -> UnitOfWork:
    """Three paid orders of one teapot each, 88.00 CNY, paid as `PAY-<id>`."""
    with unit as uow:
        Ledger(uow.ledger, clock).receive("JADE-TEAPOT", "SH-1", 10)
        uow.commit()
    desk = OrderDesk(
        unit, clock, DeskPolicy(locations=["SH-1"]), Fingerprinter.for_tests()
    )
    for order_id in IDS:
        desk.accept(
            channel_order([("JADE-TEAPOT", 1, "88.00")], order_id=order_id, paid=True)
        )
    return unit


def sale(order_id: str, amount: str = "88.00") -> SettlementLine:
    return SettlementLine(
        transaction_id=f"PAY-{order_id}",
        kind=TransactionKind.SALE,
        amount=Money(amount, "CNY"),
        fee=Money.zero("CNY"),
        settled_at=T0.add(hours=1),
        order_id=order_id,
    )


def every_order(unit: UnitOfWork) -> list[Order]:
    with unit as uow:
        return list(uow.orders.orders(limit=100))


def test_every_order_is_read_across_pages(shop: UnitOfWork) -> None:
    report = reconcile_payments_from_stores(shop, [sale(i) for i in IDS], page=1)

    assert (report.ok, report.matched) == (True, 3)


def test_it_is_reconcile_payments_of_every_stored_order(shop: UnitOfWork) -> None:
    lines = [sale("DY-1001"), sale("DY-1003", "80.00"), sale("DY-9999")]

    report = reconcile_payments_from_stores(shop, lines, page=2)

    assert report == reconcile_payments(every_order(shop), lines)
    assert sorted(d.kind for d in report.discrepancies) == sorted(
        [
            DiscrepancyKind.AMOUNT_MISMATCH,
            DiscrepancyKind.MISSING_IN_ORDERS,
            DiscrepancyKind.MISSING_IN_STATEMENT,
        ]
    )


def test_a_period_goes_to_reconcile_payments(shop: UnitOfWork) -> None:
    before = (T0.subtract(days=2), T0.subtract(days=1))

    report = reconcile_payments_from_stores(shop, [], period=before)

    assert report.ok


def test_bad_arguments_are_refused_before_reading(shop: UnitOfWork) -> None:
    with pytest.raises(InvalidQuantity) as refused:
        reconcile_payments_from_stores(shop, [], page=0)
    assert refused.value.field == "page"
    with pytest.raises(ValidationError) as not_lines:
        reconcile_payments_from_stores(shop, "PAY-DY-1001")  # type: ignore[arg-type]
    assert not_lines.value.field == "lines"


def shelf_short_by_one(unit: UnitOfWork, clock: FrozenClock) -> list[StockCount]:
    """A stocktake of 9 at T0 + 2h, then 8 counted at T0 + 3h."""
    clock.set(T0.add(hours=2))
    with unit as uow:
        Ledger(uow.ledger, clock).adjust("JADE-TEAPOT", "SH-1", counted=9)
        uow.commit()
    return [StockCount("JADE-TEAPOT", "SH-1", counted=8, counted_at=T0.add(hours=3))]


def test_counts_are_checked_against_the_ledger(
    shop: UnitOfWork, clock: FrozenClock
) -> None:
    counts = shelf_short_by_one(shop, clock)
    with shop as uow:
        movements = list(uow.ledger.movements(after=0, limit=1000))
        balances = list(uow.ledger.balances(clock.now()))

    report = reconcile_stock_from_stores(shop, counts)

    assert report == reconcile_stock(counts, balances, movements)
    (difference,) = report.differences
    assert (difference.on_hand, difference.counted) == (9, 8)
    # The stocktake is where the explaining movements start.
    assert difference.movements == ()


def test_since_goes_to_reconcile_stock(shop: UnitOfWork, clock: FrozenClock) -> None:
    counts = shelf_short_by_one(shop, clock)

    report = reconcile_stock_from_stores(shop, counts, since=T0.subtract(hours=1))

    (difference,) = report.differences
    assert [m.kind for m in difference.movements] == [
        MovementKind.RECEIVE,
        MovementKind.ADJUST,
    ]


def test_counts_that_are_not_counts_are_refused(shop: UnitOfWork) -> None:
    with pytest.raises(ValidationError) as refused:
        reconcile_stock_from_stores(shop, ["JADE-TEAPOT"])  # type: ignore[list-item]
    assert refused.value.field == "counts[0]"
