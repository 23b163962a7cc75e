"""An approved price change that takes a line under its floor waits for a person.

A floor is the least a SKU may net a unit after every discount: intake holds
an order under one for `"pricing"`, and a manual change (改价) approved later
must not take the line there unseen (user trial price29, finding 2).
"""

from __future__ import annotations

import datetime as dt

import attrs
import pytest

from orderkit.dedupe import Fingerprinter, IdempotencyKey
from orderkit.integrations import ChannelOrder
from orderkit.money import Money
from orderkit.orders import AuditRecord, Order, Recorded, Unchanged
from orderkit.ports import UnitOfWork
from orderkit.pricing import (
    AmountOff,
    ApprovalTiers,
    PriceChange,
    PriceFloor,
    PricingPolicy,
    Quote,
    approve,
    request_change,
)
from orderkit.services import (
    Accepted,
    DeskPolicy,
    Held,
    Ledger,
    OrderDesk,
)
from orderkit.testing import FrozenClock, channel_order


TIERS = ApprovalTiers.of((Money("100.00", "CNY"), "store_manager"), (None, "finance"))
FLOOR = PricingPolicy(floors=[PriceFloor("TEAPOT", Money("144.00", "CNY"))])


def cny(amount: str) -> Money:
    return Money(amount, "CNY")


@pytest.fixture
def desk(unit: UnitOfWork, clock: FrozenClock) -> OrderDesk:
    """A desk selling teapots and cups from SH-1, the teapot floored at 144.00."""
    with unit as uow:
        ledger = Ledger(uow.ledger, clock)
        ledger.receive("TEAPOT", "SH-1", 10)
        ledger.receive("CUP", "SH-1", 10)
        uow.commit()
    policy = DeskPolicy(locations=["SH-1"], pricing=FLOOR)
    return OrderDesk(unit, clock, policy, Fingerprinter.for_tests())


def change(
    clock: FrozenClock, old: str, new: str, *, change_id: str = "PC-1"
) -> PriceChange:
    """A pending request to move DY-1001's teapot (line L1, one unit)."""
    return request_change(
        TIERS,
        change_id=change_id,
        order_id="DY-1001",
        line_id="L1",
        sku="TEAPOT",
        quantity=1,
        old_unit_price=cny(old),
        new_unit_price=cny(new),
        reason="customer complained",
        requester="clerk.zhang",
        evidence="ticket://9",
        requested_at=clock.now(),
        ttl=dt.timedelta(hours=1),
    )


def approved(clock: FrozenClock, old: str, new: str, **kw: str) -> PriceChange:
    pending = change(clock, old, new, **kw)
    return approve(
        pending, TIERS, approver="mgr.li", role="finance", now=clock.now()
    ).change


def amend(
    desk: OrderDesk, part: PriceChange, key: str = "PC-1"
) -> Recorded | Unchanged:
    return desk.amend(
        "douyin",
        "DY-1001",
        part,
        actor="mgr.li",
        source="back-office",
        key=IdempotencyKey("back-office", "price_change", "DY-1001", key),
    )


def trail(unit: UnitOfWork) -> list[AuditRecord]:
    with unit as uow:
        return list(uow.audit.records("douyin", "DY-1001"))


def holds(unit: UnitOfWork) -> list[AuditRecord]:
    return [r for r in trail(unit) if r.event_type == "HeldForReview"]


def couponed(order: ChannelOrder, coupon: str) -> ChannelOrder:
    """`order` with an order-wide coupon of `coupon` off, its total net of it."""
    offer = AmountOff("COUPON", cny(coupon))
    placed = order.placed
    gross = sum((line.unit_price * line.quantity for line in placed.lines), cny("0"))
    quote = Quote(
        placed.order_id,
        placed.channel,
        placed.lines,
        offers=(offer,),
        stated_total=gross - cny(coupon),
    )
    return attrs.evolve(order, quote=quote)


def stored(desk: OrderDesk) -> Order:
    return desk.order("douyin", "DY-1001")


def test_an_approved_cut_under_the_floor_is_recorded_and_held_for_pricing(
    desk: OrderDesk, unit: UnitOfWork, clock: FrozenClock
) -> None:
    assert isinstance(desk.accept(channel_order([("TEAPOT", 1, "199.00")])), Accepted)

    outcome = amend(desk, approved(clock, "199.00", "109.00"))

    assert isinstance(outcome, Recorded)
    assert outcome.order.review == ("pricing",)
    order = stored(desk)
    assert order == outcome.order
    assert order.line("L1").unit_price == cny("109.00")
    # One unit: the change's record, then the hold's, at the order's version.
    changed, held = trail(unit)[-2:]
    assert changed.event_type == "PriceChanged"
    assert held.event_type == "HeldForReview"
    assert held.version == order.version == changed.version + 1
    assert [(c.field, c.old, c.new) for c in held.changes] == [
        ("review", "", "pricing"),
        ("lines[L1].unit_price", "144.00 CNY", "109.00 CNY"),
    ]


def test_the_hold_is_the_kind_intake_writes_for_an_order_under_its_floor(
    desk: OrderDesk, unit: UnitOfWork, clock: FrozenClock
) -> None:
    intake = desk.accept(channel_order([("TEAPOT", 1, "99.00")], order_id="DY-9"))
    assert isinstance(intake, Held)
    with unit as uow:
        (at_intake,) = [
            r
            for r in uow.audit.records("douyin", "DY-9")
            if r.event_type == "HeldForReview"
        ]
    desk.accept(channel_order([("TEAPOT", 1, "199.00")]))

    amend(desk, approved(clock, "199.00", "109.00"))

    (held,) = holds(unit)
    assert stored(desk).review == intake.order.review == ("pricing",)
    assert held.changes[0] == at_intake.changes[0]
    assert (held.key.channel, held.key.event_type, held.actor, held.source) == (
        at_intake.key.channel,
        at_intake.key.event_type,
        at_intake.actor,
        at_intake.source,
    )


def test_a_cut_the_floor_allows_is_not_held(
    desk: OrderDesk, unit: UnitOfWork, clock: FrozenClock
) -> None:
    desk.accept(channel_order([("TEAPOT", 1, "199.00")]))

    outcome = amend(desk, approved(clock, "199.00", "144.00"))

    assert isinstance(outcome, Recorded)
    assert outcome.order.review == ()
    assert stored(desk).line("L1").unit_price == cny("144.00")
    assert holds(unit) == []
    assert trail(unit)[-1].event_type == "PriceChanged"


def test_a_pending_change_under_the_floor_holds_nothing_until_approved(
    desk: OrderDesk, unit: UnitOfWork, clock: FrozenClock
) -> None:
    desk.accept(channel_order([("TEAPOT", 1, "199.00")]))
    pending = change(clock, "199.00", "109.00")

    assert isinstance(amend(desk, pending, "PC-1/request"), Recorded)
    assert stored(desk).review == ()

    decided = approve(
        pending, TIERS, approver="mgr.li", role="finance", now=clock.now()
    )
    outcome = amend(desk, decided.change, "PC-1/approve")

    assert isinstance(outcome, Recorded)
    assert outcome.order.review == ("pricing",)
    assert [r.event_type for r in holds(unit)] == ["HeldForReview"]


def test_the_discount_the_order_was_taken_in_with_still_applies(
    desk: OrderDesk, unit: UnitOfWork, clock: FrozenClock
) -> None:
    # 199.00 less a 40.00 coupon nets 159.00: over the floor at intake.
    order = couponed(channel_order([("TEAPOT", 1, "199.00")]), "40.00")
    assert isinstance(desk.accept(order), Accepted)

    # 180.00 is over the floor, but nets 140.00 with the coupon.
    outcome = amend(desk, approved(clock, "199.00", "180.00"))

    assert outcome.order.review == ("pricing",)
    (held,) = holds(unit)
    assert [(c.field, c.old, c.new) for c in held.changes] == [
        ("review", "", "pricing"),
        ("lines[L1]", "144.00 CNY", "140.00 CNY"),
    ]


def test_a_cut_the_floor_allows_with_the_discount_is_not_held(
    desk: OrderDesk, unit: UnitOfWork, clock: FrozenClock
) -> None:
    desk.accept(couponed(channel_order([("TEAPOT", 1, "199.00")]), "40.00"))

    outcome = amend(desk, approved(clock, "199.00", "184.00"))

    assert outcome.order.review == ()
    assert holds(unit) == []


def test_the_discount_is_split_over_the_lines_by_value(
    desk: OrderDesk, unit: UnitOfWork, clock: FrozenClock
) -> None:
    # 60.00 off 200.00 + 100.00: the teapot's share is 40.00, 160.00 net.
    order = couponed(
        channel_order([("TEAPOT", 1, "200.00"), ("CUP", 1, "100.00")]), "60.00"
    )
    desk.accept(order)
    cut = request_change(
        TIERS,
        change_id="PC-1",
        order_id="DY-1001",
        line_id="L1",
        sku="TEAPOT",
        quantity=1,
        old_unit_price=cny("200.00"),
        new_unit_price=cny("170.00"),
        reason="customer complained",
        requester="clerk.zhang",
        evidence="ticket://9",
        requested_at=clock.now(),
        ttl=dt.timedelta(hours=1),
    )
    decided = approve(
        cut, TIERS, approver="mgr.li", role="store_manager", now=clock.now()
    )

    # 170.00 of 270.00 takes 37.78 of the 60.00: 132.22 net.
    outcome = amend(desk, decided.change)

    assert outcome.order.review == ("pricing",)
    (held,) = holds(unit)
    assert (held.changes[1].field, held.changes[1].old) == ("lines[L1]", "144.00 CNY")


def test_a_cut_of_a_line_with_no_floor_is_not_held(
    desk: OrderDesk, unit: UnitOfWork, clock: FrozenClock
) -> None:
    desk.accept(channel_order([("TEAPOT", 1, "150.00"), ("CUP", 1, "100.00")]))
    cup = request_change(
        TIERS,
        change_id="PC-CUP",
        order_id="DY-1001",
        line_id="L2",
        sku="CUP",
        quantity=1,
        old_unit_price=cny("100.00"),
        new_unit_price=cny("1.00"),
        reason="customer complained",
        requester="clerk.zhang",
        evidence="ticket://9",
        requested_at=clock.now(),
        ttl=dt.timedelta(hours=1),
    )
    decided = approve(cup, TIERS, approver="mgr.li", role="finance", now=clock.now())

    assert amend(desk, decided.change).order.review == ()
    assert holds(unit) == []


def test_release_lets_the_order_go_on_with_its_stock(
    desk: OrderDesk, unit: UnitOfWork, clock: FrozenClock
) -> None:
    desk.accept(channel_order([("TEAPOT", 1, "199.00")], paid=True))
    assert [o.order_id for o in desk.picking_queue()] == ["DY-1001"]
    amend(desk, approved(clock, "199.00", "109.00"))
    # Held, it waits outside the picking queue.
    assert desk.picking_queue() == ()

    released = desk.release("douyin", "DY-1001", actor="mgr.zhou")

    assert released.order.review == ()
    assert released.order.line("L1").unit_price == cny("109.00")
    assert [o.order_id for o in desk.picking_queue()] == ["DY-1001"]
    with unit as uow:
        balance = Ledger(uow.ledger, clock).balance("TEAPOT", "SH-1")
    assert (balance.on_hand, balance.allocated) == (10, 1)


def test_the_same_change_again_holds_nothing_more(
    desk: OrderDesk, unit: UnitOfWork, clock: FrozenClock
) -> None:
    desk.accept(channel_order([("TEAPOT", 1, "199.00")]))
    cut = approved(clock, "199.00", "109.00")
    amend(desk, cut)
    before = stored(desk)

    again = amend(desk, cut)
    under_another_key = amend(desk, cut, "PC-1/again")

    assert isinstance(again, Unchanged)
    assert isinstance(under_another_key, Unchanged)
    assert stored(desk) == before
    assert len(holds(unit)) == 1


def test_the_same_change_again_after_a_release_holds_nothing(
    desk: OrderDesk, unit: UnitOfWork, clock: FrozenClock
) -> None:
    desk.accept(channel_order([("TEAPOT", 1, "199.00")]))
    cut = approved(clock, "199.00", "109.00")
    amend(desk, cut)
    desk.release("douyin", "DY-1001", actor="mgr.zhou")

    assert isinstance(amend(desk, cut), Unchanged)
    assert stored(desk).review == ()
    assert len(holds(unit)) == 1


def test_a_second_cut_under_the_floor_while_held_keeps_one_reason(
    desk: OrderDesk, unit: UnitOfWork, clock: FrozenClock
) -> None:
    desk.accept(channel_order([("TEAPOT", 1, "199.00")]))
    amend(desk, approved(clock, "199.00", "129.00"))

    amend(desk, approved(clock, "129.00", "109.00", change_id="PC-2"), "PC-2")

    assert stored(desk).review == ("pricing",)
    _first, second = holds(unit)
    assert [(c.field, c.old, c.new) for c in second.changes] == [
        ("lines[L1].unit_price", "144.00 CNY", "109.00 CNY")
    ]


def test_a_raise_still_under_the_floor_after_a_release_is_not_held_again(
    desk: OrderDesk, unit: UnitOfWork, clock: FrozenClock
) -> None:
    # A person let 99.00 through at intake: a raise takes the line no lower.
    desk.accept(channel_order([("TEAPOT", 1, "99.00")]))
    desk.release("douyin", "DY-1001", actor="mgr.zhou")

    outcome = amend(desk, approved(clock, "99.00", "120.00"))

    assert outcome.order.review == ()
    assert len(holds(unit)) == 1  # intake's
