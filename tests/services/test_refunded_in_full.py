"""A Shopify order its channel refunded in full before anything shipped.

Shopify states no capture for an order `refunded` in full before goods
left, so one whose refunded notice is the first the desk sees comes in
awaiting payment and is never picked. Seen after its capture (or with a
late capture after it), the order was paid: the refunds came off its
payment and it sat in the picking queue, to ship goods the buyer has all
the money back for. Whatever the arrival order, it now waits for a person
(`review` gains `"refunded"`), out of the picking queue, with the same
stock; cancelled, nothing is left to decide. An order whose every stocked
unit a refund cancelled has nothing to pick: it never goes to picking with
no task.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pendulum
import pytest
from tests.services.test_reordered_refunded_notice import (
    SHOPIFY_ID,
    _shopify,
    deliver,
    owed,
    shelf,
    shopify_paid,
    shopify_refund,
    stored,
)

from orderkit.dedupe import Fingerprinter, IdempotencyKey
from orderkit.errors import IllegalTransition
from orderkit.integrations import ChannelOrder, ChannelRefund
from orderkit.money import Money
from orderkit.orders import Order, OrderStatus, Recorded, Unchanged
from orderkit.ports import UnitOfWork
from orderkit.pricing import PricingPolicy
from orderkit.services import DeskPolicy, Held, Ledger, OrderDesk
from orderkit.testing import FrozenClock
from orderkit.testing.fakes import FakeWarehouse


AT = pendulum.datetime(2008, 1, 12)
TOTAL = "409.94"
LINES = ("466157049", "518995019", "703073504")


def usd(amount: str) -> Money:
    return Money(amount, "USD")


def every_line() -> list[dict[str, Any]]:
    """`refund_line_items` naming each of the order's three units, not restocked."""
    return [
        {
            "id": 900 + i,
            "line_item_id": int(line),
            "quantity": 1,
            "restock_type": "cancel",
        }
        for i, line in enumerate(LINES)
    ]


def refunded(amount: str = TOTAL, units: Sequence[dict[str, Any]] = ()) -> ChannelOrder:
    """Refunded and not cancelled, nothing shipped: Shopify states no capture."""
    return _shopify(
        {
            "financial_status": "refunded" if amount == TOTAL else "partially_refunded",
            "fulfillments": [],
            "refunds": [shopify_refund(amount, refund_line_items=list(units))],
            "updated_at": "2008-01-11T11:00:00-05:00",
        }
    )


def paid_and_refunded(units: Sequence[dict[str, Any]] = ()) -> ChannelOrder:
    """One notice stating the capture and a refund of all of it."""
    return _shopify(
        {
            "financial_status": "partially_refunded",
            "fulfillments": [],
            "refunds": [shopify_refund(TOTAL, refund_line_items=list(units))],
            "updated_at": "2008-01-11T11:00:00-05:00",
        }
    )


def desk(unit: UnitOfWork) -> OrderDesk:
    """A desk at W1 with ten of each SKU, taking Shopify's totals as stated."""
    clock = FrozenClock(AT)
    with unit as uow:
        ledger = Ledger(uow.ledger, clock, outbox=uow.outbox)
        for line in shopify_paid().placed.lines:
            ledger.receive(line.sku, "W1", 10, key=f"PO:{line.sku}")
        uow.commit()
    policy = DeskPolicy(
        locations=["W1"], pricing=PricingPolicy(totals="accept_channel")
    )
    return OrderDesk(unit, clock, policy, Fingerprinter.for_tests())


def queue(desk: OrderDesk) -> list[str]:
    return [order.order_id for order in desk.picking_queue()]


def end_of(unit: UnitOfWork) -> tuple[object, ...]:
    """What the arrival order must not change: status, review, units, shelf."""
    order = stored(unit, "shopify", SHOPIFY_ID)
    ledger = order.payment_ledger
    assert ledger is not None
    return (
        order.status,
        order.review,
        order.cancelled_units,
        ledger.refunded,
        shelf(unit),
        owed(unit),
    )


def held_records(unit: UnitOfWork) -> list[dict[str, str]]:
    """The changes of each `HeldForReview` record that holds for "refunded"."""
    with unit as uow:
        trail = uow.audit.records("shopify", SHOPIFY_ID)
    return [
        {change.field: change.new for change in record.changes}
        for record in trail
        if record.event_type == "HeldForReview"
        and any(c.field == "review" and "refunded" in c.new for c in record.changes)
    ]


def assert_held(unit: UnitOfWork, desk: OrderDesk) -> Order:
    order = stored(unit, "shopify", SHOPIFY_ID)
    assert order.status is OrderStatus.PAID
    assert order.review == ("refunded",)
    assert SHOPIFY_ID not in queue(desk)
    [said] = held_records(unit)
    assert said["refunds[509562969]"] == f"{usd(TOTAL)} refunded"
    with pytest.raises(IllegalTransition):
        desk.start_picking("shopify", SHOPIFY_ID, FakeWarehouse(FrozenClock(AT)))
    assert stored(unit, "shopify", SHOPIFY_ID).status is OrderStatus.PAID
    return order


class TestEitherArrivalOrder:
    def test_paid_then_refunded_waits_for_a_person(self, unit: UnitOfWork) -> None:
        d = desk(unit)
        deliver(d, [shopify_paid(), refunded()])

        assert_held(unit, d)
        assert [] == owed(unit)

    def test_refunded_then_a_late_capture_waits_the_same(
        self, unit: UnitOfWork, tmp_path: Any
    ) -> None:
        d = desk(unit)
        deliver(d, [refunded(), shopify_paid()])

        assert_held(unit, d)
        first = desk(other := _other(tmp_path, unit))
        deliver(first, [shopify_paid(), refunded()])
        assert end_of(other) == end_of(unit)

    def test_one_notice_with_the_capture_and_all_refunds_is_held_at_intake(
        self, unit: UnitOfWork, tmp_path: Any
    ) -> None:
        d = desk(unit)
        answer = d.accept(paid_and_refunded())

        assert isinstance(answer, Held)
        assert "refunded in full" in answer.detail
        assert_held(unit, d)
        first = desk(other := _other(tmp_path, unit))
        deliver(first, [shopify_paid(), refunded()])
        assert end_of(other) == end_of(unit)

    @pytest.mark.parametrize("late", [False, True])
    def test_every_unit_refunded_ends_the_same_either_way(
        self, late: bool, unit: UnitOfWork
    ) -> None:
        d = desk(unit)
        notices = [shopify_paid(), refunded(units=every_line())]
        deliver(d, notices[::-1] if late else notices)

        order = assert_held(unit, d)
        assert {part.line_id for part in order.cancelled_units} == set(LINES)
        # Every unit went back on sale: nothing reserved or allocated.
        assert all(
            reserved == allocated == 0 for _, _, reserved, allocated in shelf(unit)
        )


class TestEachPath:
    def test_record_refund_holds_once(self, unit: UnitOfWork) -> None:
        d = desk(unit)
        deliver(d, [shopify_paid()])
        refund = ChannelRefund(
            order_id=SHOPIFY_ID,
            refund_id="rf-1",
            key=IdempotencyKey("shopify", "refund", SHOPIFY_ID, "rf-1"),
            amount=usd(TOTAL),
            created_at=pendulum.datetime(2008, 1, 11, 16),
        )

        recorded = d.record_refund("shopify", SHOPIFY_ID, refund)

        assert isinstance(recorded, Recorded)
        assert recorded.order.review == ("refunded",)
        assert isinstance(d.record_refund("shopify", SHOPIFY_ID, refund), Unchanged)
        assert stored(unit, "shopify", SHOPIFY_ID).review == ("refunded",)

    def test_a_partial_refund_holds_nothing(self, unit: UnitOfWork) -> None:
        d = desk(unit)
        deliver(d, [shopify_paid(), refunded("100.00")])

        assert stored(unit, "shopify", SHOPIFY_ID).review == ()
        assert SHOPIFY_ID in queue(d)

    def test_released_it_is_picked_and_not_held_again(self, unit: UnitOfWork) -> None:
        d = desk(unit)
        deliver(d, [shopify_paid(), refunded()])
        d.release("shopify", SHOPIFY_ID, actor="cs-7")

        assert SHOPIFY_ID in queue(d)
        deliver(d, [refunded(), shopify_paid()])
        assert stored(unit, "shopify", SHOPIFY_ID).review == ()
        picked = d.start_picking("shopify", SHOPIFY_ID, FakeWarehouse(FrozenClock(AT)))
        assert picked.order.status is OrderStatus.PICKING

    def test_while_picking_it_waits_for_a_person(self, unit: UnitOfWork) -> None:
        d = desk(unit)
        deliver(d, [shopify_paid()])
        d.start_picking("shopify", SHOPIFY_ID, FakeWarehouse(FrozenClock(AT)))

        deliver(d, [refunded()])

        order = stored(unit, "shopify", SHOPIFY_ID)
        assert order.status is OrderStatus.PICKING
        assert order.review == ("refunded",)

    def test_a_cancellation_withdraws_it_and_owes_nothing(
        self, unit: UnitOfWork
    ) -> None:
        d = desk(unit)
        deliver(d, [shopify_paid(), refunded()])

        cancelled = d.cancel("shopify", SHOPIFY_ID, reason="refunded", actor="cs-7")

        assert cancelled.order.status is OrderStatus.CANCELLED
        assert cancelled.order.review == ()
        assert [] == owed(unit)
        assert all(
            reserved == allocated == 0 for _, _, reserved, allocated in shelf(unit)
        )


class TestNothingToPick:
    """Every stocked unit cancelled, some money kept: nothing for a warehouse."""

    def test_it_is_out_of_the_queue_and_never_picked(self, unit: UnitOfWork) -> None:
        d = desk(unit)
        deliver(d, [shopify_paid(), refunded("400.00", every_line())])
        order = stored(unit, "shopify", SHOPIFY_ID)
        assert order.review == ()
        assert {part.line_id for part in order.cancelled_units} == set(LINES)

        assert SHOPIFY_ID not in queue(d)
        with pytest.raises(IllegalTransition, match="cancelled every stocked unit"):
            d.start_picking("shopify", SHOPIFY_ID, FakeWarehouse(FrozenClock(AT)))
        assert stored(unit, "shopify", SHOPIFY_ID).status is OrderStatus.PAID

    def test_released_after_a_full_refund_it_is_still_not_picked(
        self, unit: UnitOfWork
    ) -> None:
        d = desk(unit)
        deliver(d, [shopify_paid(), refunded(units=every_line())])
        d.release("shopify", SHOPIFY_ID, actor="cs-7")

        assert SHOPIFY_ID not in queue(d)
        with pytest.raises(IllegalTransition, match="nothing to pick"):
            d.start_picking("shopify", SHOPIFY_ID, FakeWarehouse(FrozenClock(AT)))


def _other(tmp_path: Any, unit: UnitOfWork) -> UnitOfWork:
    """A second, empty backend of the same kind as `unit`."""
    from orderkit.adapters.memory import MemoryUnitOfWork  # noqa: PLC0415
    from orderkit.adapters.sqlite import SqliteUnitOfWork  # noqa: PLC0415

    if isinstance(unit, MemoryUnitOfWork):
        return MemoryUnitOfWork()
    return SqliteUnitOfWork(tmp_path / "other.db")
