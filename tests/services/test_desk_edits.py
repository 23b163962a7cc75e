"""A channel changes an order's lines after intake (改价): a person is told.

The buyer pays what the channel asks; the desk must not keep billing the old
price silently (brief, incident 7: untraceable manual edits).
"""

from __future__ import annotations

import datetime as dt

import pendulum
import pytest

from orderkit.dedupe import Fingerprinter, IdempotencyKey
from orderkit.errors import IllegalTransition
from orderkit.money import Money
from orderkit.orders import OrderStatus
from orderkit.ports import UnitOfWork
from orderkit.pricing import ApprovalTiers, PriceChange, approve, request_change
from orderkit.services import (
    Accepted,
    DeskPolicy,
    EventRecorded,
    Held,
    Ledger,
    OrderDesk,
)
from orderkit.testing import FrozenClock, channel_order


T0 = pendulum.datetime(2026, 11, 11, 2, 0)
LINES = [("JADE-TEAPOT", 2, "88.00"), ("CUP", 1, "20.00")]
CUT = [("JADE-TEAPOT", 2, "68.00"), ("CUP", 1, "20.00")]
TIERS = ApprovalTiers.of((Money("100.00", "CNY"), "store_manager"), (None, "finance"))


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(T0)


@pytest.fixture
def desk(unit: UnitOfWork, clock: FrozenClock) -> OrderDesk:
    with unit as uow:
        ledger = Ledger(uow.ledger, clock)
        ledger.receive("JADE-TEAPOT", "SH-1", 5)
        ledger.receive("CUP", "SH-1", 5)
        uow.commit()
    return OrderDesk(
        unit, clock, DeskPolicy(locations=["SH-1"]), Fingerprinter.for_tests()
    )


def trail(unit: UnitOfWork) -> list[tuple[str, str, str]]:
    """Each change of the trail's records made by the channel: field, old, new."""
    with unit as uow:
        records = uow.audit.records("douyin", "DY-1001")
    return [
        (c.field, c.old, c.new)
        for r in records
        if r.actor == "douyin" and r.source == "douyin"
        for c in r.changes
    ]


def committed(unit: UnitOfWork, clock: FrozenClock) -> int:
    with unit as uow:
        return Ledger(uow.ledger, clock).balance("JADE-TEAPOT", "SH-1").allocated


def test_a_price_cut_on_the_channel_holds_the_order_naming_old_and_new(
    desk: OrderDesk, unit: UnitOfWork
) -> None:
    desk.accept(channel_order(LINES))

    done = desk.update(channel_order(CUT))

    assert len(done) == 1
    held = done[0]
    assert isinstance(held, Held)
    assert held.order.review == ("edited",)
    assert "lines[L1].unit_price: 88.00 CNY -> 68.00 CNY" in held.detail
    assert trail(unit) == [
        ("review", "", "edited"),
        ("lines[L1].unit_price", "88.00 CNY", "68.00 CNY"),
    ]
    assert desk.order("douyin", "DY-1001") == held.order
    assert desk.picking_queue() == ()


def test_the_same_notice_again_holds_nothing_more(
    desk: OrderDesk, unit: UnitOfWork
) -> None:
    desk.accept(channel_order(LINES))
    desk.update(channel_order(CUT))
    version = desk.order("douyin", "DY-1001").version

    assert desk.update(channel_order(CUT)) == ()
    assert desk.order("douyin", "DY-1001").version == version
    assert len(trail(unit)) == 2


def test_a_notice_with_the_orders_lines_changes_nothing(desk: OrderDesk) -> None:
    accepted = desk.accept(channel_order(LINES))
    assert isinstance(accepted, Accepted)

    assert desk.update(channel_order(LINES)) == ()
    assert desk.order("douyin", "DY-1001") == accepted.order


def test_the_payment_of_the_new_price_still_commits_the_stock(
    desk: OrderDesk, unit: UnitOfWork, clock: FrozenClock
) -> None:
    desk.accept(channel_order(LINES))

    done = desk.update(channel_order(CUT, paid=True))

    assert isinstance(done[0], Held)
    assert isinstance(done[1], EventRecorded)
    order = desk.order("douyin", "DY-1001")
    assert order.status is OrderStatus.PAID
    assert order.review == ("edited",)
    assert committed(unit, clock) == 2
    assert desk.picking_queue() == ()


def test_quantities_and_lines_added_or_dropped_are_named(
    desk: OrderDesk, unit: UnitOfWork
) -> None:
    desk.accept(channel_order(LINES))

    desk.update(channel_order([("JADE-TEAPOT", 1, "88.00")]))
    desk.update(channel_order([("JADE-TEAPOT", 1, "88.00"), ("LID", 1, "5.00")]))

    assert trail(unit) == [
        ("review", "", "edited"),
        ("lines[L1].quantity", "2", "1"),
        ("lines[L2]", "CUP x1 @ 20.00 CNY", ""),
        # Held already: the record tells the new difference, the review stays.
        ("lines[L2].sku", "CUP", "LID"),
        ("lines[L2].unit_price", "20.00 CNY", "5.00 CNY"),
    ]
    assert desk.order("douyin", "DY-1001").review == ("edited",)


def teapot_change(
    clock: FrozenClock, new_price: str, *, requester: str = "douyin"
) -> PriceChange:
    """A request to move the teapots' unit price from 88.00 to `new_price`."""
    return request_change(
        TIERS,
        change_id=f"PC-{new_price}",
        order_id="DY-1001",
        line_id="L1",
        sku="JADE-TEAPOT",
        quantity=2,
        old_unit_price=Money("88.00", "CNY"),
        new_unit_price=Money(new_price, "CNY"),
        reason="改价 on the Douyin back office",
        requester=requester,
        evidence="douyin://order/DY-1001",
        requested_at=clock.now(),
        ttl=dt.timedelta(hours=24),
    )


def amended(desk: OrderDesk, clock: FrozenClock, change: PriceChange) -> None:
    """`change` recorded on the order, approved by the store manager."""
    approved = approve(
        change, TIERS, approver="mgr.wang", role="store_manager", now=clock.now()
    ).change
    key = IdempotencyKey("desk", "price_change", "DY-1001", change.change_id)
    desk.amend("douyin", "DY-1001", approved, key=key, actor="mgr.wang", source="desk")


def test_an_approved_change_to_the_channels_price_settles_it(
    desk: OrderDesk, clock: FrozenClock
) -> None:
    desk.accept(channel_order(LINES))
    desk.update(channel_order(CUT))

    amended(desk, clock, teapot_change(clock, "68.00"))
    released = desk.release("douyin", "DY-1001", actor="mgr.wang")

    assert released.order.line("L1").unit_price == Money("68.00", "CNY")
    assert released.order.review == ()
    assert desk.update(channel_order(CUT)) == ()


def test_a_channel_that_never_heard_of_orderkits_change_is_not_an_edit(
    desk: OrderDesk, clock: FrozenClock
) -> None:
    desk.accept(channel_order(LINES))
    amended(desk, clock, teapot_change(clock, "80.00", requester="cs.li"))

    # The channel still states 88.00, the price before orderkit's change.
    assert desk.update(channel_order(LINES)) == ()
    assert desk.order("douyin", "DY-1001").review == ()


def test_a_channel_showing_a_pending_changes_price_is_not_an_edit(
    desk: OrderDesk, clock: FrozenClock
) -> None:
    desk.accept(channel_order(LINES))
    key = IdempotencyKey("desk", "price_change", "DY-1001", "asked")
    pending = teapot_change(clock, "68.00", requester="cs.li")
    desk.amend("douyin", "DY-1001", pending, key=key, actor="cs.li", source="desk")

    assert desk.update(channel_order(CUT)) == ()
    assert desk.order("douyin", "DY-1001").review == ()


def test_an_edit_of_a_cancelled_order_holds_nothing(desk: OrderDesk) -> None:
    desk.accept(channel_order(LINES))
    desk.cancel("douyin", "DY-1001", reason="buyer asked", actor="cs.li")

    assert desk.update(channel_order(CUT)) == ()
    assert desk.order("douyin", "DY-1001").review == ()


def test_cancelling_an_edited_order_withdraws_the_review(desk: OrderDesk) -> None:
    desk.accept(channel_order(LINES))
    desk.update(channel_order(CUT))

    done = desk.cancel("douyin", "DY-1001", reason="price abuse", actor="mgr.wang")

    assert done.order.status is OrderStatus.CANCELLED
    assert done.order.review == ()


def test_release_of_an_edited_order_lets_it_be_picked_once_paid(
    desk: OrderDesk,
) -> None:
    desk.accept(channel_order(LINES))
    desk.update(channel_order(CUT, paid=True))

    desk.release("douyin", "DY-1001", actor="mgr.wang")

    assert [o.order_id for o in desk.picking_queue()] == ["DY-1001"]
    # Told once: the channel's next notice does not hold it again.
    again = desk.update(channel_order(CUT, paid=True))
    assert not any(isinstance(outcome, Held) for outcome in again)
    assert desk.order("douyin", "DY-1001").review == ()
    with pytest.raises(IllegalTransition):
        desk.release("douyin", "DY-1001", actor="mgr.wang")
