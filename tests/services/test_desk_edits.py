"""A channel changes an order's lines after intake (改价): a person is told.

The buyer pays what the channel asks; the desk must not keep billing the old
price silently (brief, incident 7: untraceable manual edits).
"""

from __future__ import annotations

import attrs
import pytest
from tests.services._price_samples import amended, teapot_change
from tests.services._refund_samples import buyer_cancelled
from tests.services._samples import T0, sh1_desk

from orderkit.dedupe import IdempotencyKey
from orderkit.errors import IllegalTransition
from orderkit.money import Money
from orderkit.orders import OrderStatus
from orderkit.ports import UnitOfWork
from orderkit.services import (
    Accepted,
    EventRecorded,
    Held,
    Ledger,
    OrderDesk,
)
from orderkit.testing import FrozenClock, channel_order


LINES = [("JADE-TEAPOT", 2, "88.00"), ("CUP", 1, "20.00")]
CUT = [("JADE-TEAPOT", 2, "68.00"), ("CUP", 1, "20.00")]


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(T0)


@pytest.fixture
def desk(unit: UnitOfWork, clock: FrozenClock) -> OrderDesk:
    return sh1_desk(unit, clock, "JADE-TEAPOT", "CUP")


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
        ("lines[L2].unit_price", "20.00 CNY", "5.00 CNY"),
    ]
    assert desk.order("douyin", "DY-1001").review == ("edited",)


def test_a_quantity_is_told_once_also_after_a_release(desk: OrderDesk) -> None:
    # No change settles a quantity: a person's release does.
    desk.accept(channel_order(LINES))
    fewer = channel_order([("JADE-TEAPOT", 1, "88.00"), ("CUP", 1, "20.00")])
    desk.update(fewer)
    desk.release("douyin", "DY-1001", actor="mgr.wang")

    assert desk.update(fewer) == ()
    assert desk.order("douyin", "DY-1001").review == ()


def test_a_sku_the_catalogue_renamed_is_not_an_edit(desk: OrderDesk) -> None:
    # WooCommerce states a line's product SKU as it is now; a deleted Shopify
    # variant turns the line's SKU into its line id. The buyer pays the same.
    desk.accept(channel_order(LINES))
    renamed = [("JADE-TEAPOT-2024", 2, "88.00"), ("CUP", 1, "20.00")]

    assert desk.update(channel_order(renamed)) == ()
    assert desk.order("douyin", "DY-1001").review == ()


def test_a_notice_that_ends_the_order_holds_nothing(desk: OrderDesk) -> None:
    desk.accept(channel_order(LINES))
    cut = channel_order(CUT)
    ended = attrs.evolve(
        cut,
        status=OrderStatus.CANCELLED,
        events=(buyer_cancelled(order_id="DY-1001"),),
    )

    done = desk.update(ended)

    assert [type(outcome) for outcome in done] == [EventRecorded]
    assert desk.order("douyin", "DY-1001").status is OrderStatus.CANCELLED
    assert desk.order("douyin", "DY-1001").review == ()


def test_a_notice_older_than_the_edit_told_states_none(
    desk: OrderDesk, unit: UnitOfWork
) -> None:
    # Webhooks cross: the 68.00 cut at 03:00 came before the 78.00 of 02:30.
    desk.accept(channel_order(LINES))
    later = attrs.evolve(channel_order(CUT), updated_at=T0.add(hours=1))
    earlier = attrs.evolve(
        channel_order([("JADE-TEAPOT", 2, "78.00"), ("CUP", 1, "20.00")]),
        updated_at=T0.add(minutes=30),
    )
    desk.update(later)

    assert desk.update(earlier) == ()
    with unit as uow:
        held = uow.audit.records("douyin", "DY-1001")[-1]
    assert (held.event_type, held.occurred_at) == ("HeldForReview", T0.add(hours=1))


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


def test_a_notice_older_than_the_one_taken_in_states_none(
    desk: OrderDesk, unit: UnitOfWork
) -> None:
    # The notice of 03:00 (already cut to 68.00) was taken in first.
    desk.accept(attrs.evolve(channel_order(CUT), updated_at=T0.add(hours=1)))
    older = attrs.evolve(channel_order(LINES), updated_at=T0.add(minutes=30))
    newer = attrs.evolve(channel_order(LINES), updated_at=T0.add(hours=2))

    assert desk.update(older) == ()
    assert [type(outcome) for outcome in desk.update(newer)] == [Held]
    with unit as uow:
        placed = uow.audit.records("douyin", "DY-1001")[0]
    assert ("updated_at", "2026-11-11T03:00:00+00:00") in {
        (c.field, c.new) for c in placed.changes
    }


def test_a_release_is_no_approval_of_the_channels_price(
    desk: OrderDesk, clock: FrozenClock
) -> None:
    # The buyer paid 68.00 a teapot; the order still bills 88.00 until a
    # change is approved: the channel's next notice holds it again.
    desk.accept(channel_order(LINES))
    desk.update(channel_order(CUT, paid=True))
    desk.release("douyin", "DY-1001", actor="mgr.wang")
    assert [o.order_id for o in desk.picking_queue()] == ["DY-1001"]

    again = desk.update(channel_order(CUT, paid=True))

    assert isinstance(again[0], Held)
    assert desk.picking_queue() == ()
    amended(desk, clock, teapot_change(clock, "68.00"))
    desk.release("douyin", "DY-1001", actor="mgr.wang")
    assert not any(
        isinstance(o, Held) for o in desk.update(channel_order(CUT, paid=True))
    )
    assert [o.order_id for o in desk.picking_queue()] == ["DY-1001"]
    with pytest.raises(IllegalTransition):
        desk.release("douyin", "DY-1001", actor="mgr.wang")


def test_a_price_put_back_after_a_release_is_told_again(desk: OrderDesk) -> None:
    # 88 -> 68 (held), back to 88 (the order's), released, then 68 again.
    desk.accept(channel_order(LINES))
    desk.update(channel_order(CUT))
    assert desk.update(channel_order(LINES)) == ()
    desk.release("douyin", "DY-1001", actor="mgr.wang")

    done = desk.update(channel_order(CUT))

    assert [type(outcome) for outcome in done] == [Held]
    assert desk.order("douyin", "DY-1001").review == ("edited",)


def test_a_channel_raising_an_approved_cut_back_is_told(
    desk: OrderDesk, clock: FrozenClock
) -> None:
    # The cut to 68.00 was the channel's and was approved: 88.00 stated now is
    # a new price on the channel, not one it has not heard of.
    desk.accept(channel_order(LINES))
    desk.update(channel_order(CUT))
    amended(desk, clock, teapot_change(clock, "68.00"))
    desk.release("douyin", "DY-1001", actor="mgr.wang")

    done = desk.update(channel_order(LINES))

    assert [type(outcome) for outcome in done] == [Held]
    assert isinstance(done[0], Held)
    assert "lines[L1].unit_price: 68.00 CNY -> 88.00 CNY" in done[0].detail
