"""The channel's refunds `accept` takes in are checked as `record_refund` checks them.

DY-2001 is two jade teapots on L1, 576.00 captured on alipay-77, taken in
with the refunds its channel made already (a migration's legacy rows, a
notice that comes after the refund webhook). A refund that pays L1 back
for more units than were bought, or names a line the order does not have,
is recorded (the money has gone) and holds the order for a person
(`review` gains `"refund"`), with the `HeldForReview` record `record_refund`
writes, whichever way the refund reached the desk.
"""

from __future__ import annotations

import attrs
import pytest
from tests.services._refund_samples import CH, ID, T0, placed, stored

from orderkit.dedupe import Fingerprinter, IdempotencyKey
from orderkit.errors import RefundExceedsCapture, StoreError
from orderkit.integrations import ChannelOrder, ChannelRefund, RefundLine
from orderkit.inventory import Balance
from orderkit.money import Money
from orderkit.orders import (
    AuditRecord,
    Cancelled,
    FieldChange,
    Order,
    OrderEvent,
    OrderStatus,
    PaymentCaptured,
)
from orderkit.ports import UnitOfWork
from orderkit.pricing import Quote
from orderkit.services import Accepted, DeskPolicy, Held, Ledger, OrderDesk
from orderkit.testing import FrozenClock


SKU = "JADE-TEAPOT"
SECRET = b"accept-refund-checks-secret-01"


def cny(amount: str) -> Money:
    return Money(amount, "CNY")


def desk_with(unit: UnitOfWork, clock: FrozenClock, *, teapots: int = 10) -> OrderDesk:
    """A desk selling from SH-1, where `teapots` jade teapots are on hand."""
    with unit as uow:
        Ledger(uow.ledger, clock).receive(SKU, "SH-1", teapots)
        uow.commit()
    return OrderDesk(unit, clock, DeskPolicy(locations=["SH-1"]), Fingerprinter(SECRET))


def captured(order_id: str = ID) -> PaymentCaptured:
    return PaymentCaptured(
        order_id=order_id,
        key=IdempotencyKey(CH, "trade.paid", order_id, "alipay-77"),
        occurred_at=T0.add(minutes=5),
        payment_id="alipay-77",
        amount=cny("576.00"),
    )


def refund(
    line_id: str, units: int, *, order_id: str = ID, refund_id: str = "RF-1"
) -> ChannelRefund:
    """The channel's refund of 288.00, naming `units` units of `line_id`."""
    return ChannelRefund(
        refund_id=refund_id,
        order_id=order_id,
        key=IdempotencyKey(CH, "refund", order_id, refund_id),
        amount=cny("288.00"),
        created_at=T0.add(hours=1),
        lines=(RefundLine(line_id, units),),
    )


def paid_order(
    *refunds: ChannelRefund, order_id: str = ID, events: tuple[OrderEvent, ...] = ()
) -> ChannelOrder:
    """DY-2001 (or `order_id`, another buyer's) as its channel states it: paid."""
    placing = placed(order_id=order_id)
    if order_id != ID:
        # Another buyer: the duplicate screen leaves the two orders alone.
        buyer = attrs.evolve(placing.buyer, buyer_id=f"buyer-{order_id}", phone=None)
        address = attrs.evolve(placing.address, street="衡山路 8 号")
        placing = attrs.evolve(placing, buyer=buyer, address=address)
    stated = (captured(order_id), *events)
    return ChannelOrder(
        placed=placing,
        quote=Quote(order_id, CH, placing.lines),
        status=OrderStatus.PAID,
        channel_status="paid",
        events=stated,
        refunds=refunds,
    )


def balance(unit: UnitOfWork, clock: FrozenClock) -> Balance:
    with unit as uow:
        return Ledger(uow.ledger, clock).balance(SKU, "SH-1")


def trail(unit: UnitOfWork, order_id: str = ID) -> list[AuditRecord]:
    with unit as uow:
        return list(uow.audit.records(CH, order_id))


def told(record: AuditRecord) -> tuple[FieldChange, ...]:
    """What a `HeldForReview` record tells the person, beyond the review."""
    return tuple(c for c in record.changes if c.field != "review")


def cancelled(order: Order) -> dict[str, int]:
    return {line.line_id: line.quantity for line in order.cancelled_units}


class TestPaidBackTwice:
    """A refund the order's lines cannot hold: recorded, and a person looks."""

    @pytest.mark.parametrize(
        ("line_id", "units", "said"),
        [
            ("L1", 3, "line L1 is paid back for 3 units of 2 bought"),
            ("L9", 1, "line L9 is paid back for 1 units of 0 bought"),
        ],
        ids=["more-units-than-bought", "line-the-order-lacks"],
    )
    def test_the_order_waits_for_a_person(
        self,
        unit: UnitOfWork,
        clock: FrozenClock,
        line_id: str,
        units: int,
        said: str,
    ) -> None:
        desk = desk_with(unit, clock)

        taken = desk.accept(paid_order(refund(line_id, units)))

        # Its stock taken as any paid order's: a person settles the money only.
        assert isinstance(taken, Accepted)
        assert ("refund",) == taken.order.review == stored(unit).review
        ledger = stored(unit).payment_ledger
        assert ledger is not None
        assert cny("288.00") == ledger.refunded
        held = trail(unit)[-1]
        assert "HeldForReview" == held.event_type
        assert FieldChange("review", "", "refund") in held.changes
        assert said in told(held)[0].new
        # The refund, the intake and the hold: one unit, one trail.
        assert [(r.version, r.event_type) for r in taken.records] == [
            (r.version, r.event_type) for r in trail(unit)
        ]
        assert taken.order not in desk.picking_queue()

    @pytest.mark.parametrize(
        ("line_id", "units"), [("L1", 3), ("L9", 1)], ids=["units", "line"]
    )
    def test_as_record_refund_holds_it(
        self, unit: UnitOfWork, clock: FrozenClock, line_id: str, units: int
    ) -> None:
        """Same review, same record, same units cancelled, either way in."""
        desk = desk_with(unit, clock)
        other = "DY-2002"
        desk.accept(paid_order(order_id=other))
        # Later, by the refund webhook: recorded, and the order is held.
        desk.record_refund(CH, other, refund(line_id, units, order_id=other))

        desk.accept(paid_order(refund(line_id, units)))

        by_webhook = desk.order(CH, other)
        at_intake = stored(unit)
        assert by_webhook.review == at_intake.review == ("refund",)
        assert cancelled(by_webhook) == cancelled(at_intake)
        assert told(trail(unit, other)[-1]) == told(trail(unit)[-1])

    def test_its_stock_is_taken_all_the_same(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        """Not an intake hold: its units are committed, as after `record_refund`."""
        desk = desk_with(unit, clock)

        taken = desk.accept(paid_order(refund("L9", 1)))

        assert isinstance(taken, Accepted)
        assert (2, 8) == (
            balance(unit, clock).allocated,
            balance(unit, clock).available,
        )

    def test_units_it_names_past_those_bought_cancel_what_is_left(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        desk = desk_with(unit, clock)

        desk.accept(paid_order(refund("L1", 3)))

        assert {"L1": 2} == cancelled(stored(unit))
        assert 0 == balance(unit, clock).allocated

    def test_held_for_stock_too_the_answer_names_both(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        desk = desk_with(unit, clock, teapots=1)

        taken = desk.accept(paid_order(refund("L9", 1)))

        assert isinstance(taken, Held)
        assert ("stock", "refund") == taken.order.review == stored(unit).review
        assert "L9" in taken.detail.split("; ")[-1]
        last = taken.records[-1]
        assert FieldChange("review", "stock", "stock, refund") in last.changes

    def test_an_order_taken_in_cancelled_waits_too(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        """Its cancellation settles its stock, not who has the money twice."""
        desk = desk_with(unit, clock)
        cancel = Cancelled(
            order_id=ID,
            key=IdempotencyKey(CH, "trade.cancel", ID, "1"),
            occurred_at=T0.add(hours=2),
            reason="买家取消 / the buyer cancelled",
        )
        incoming = attrs.evolve(
            paid_order(refund("L9", 1), events=(cancel,)),
            status=OrderStatus.CANCELLED,
        )

        desk.accept(incoming)

        order = stored(unit)
        assert order.status is OrderStatus.CANCELLED
        assert "refund" in order.review

    def test_a_person_releases_it_to_picking(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        desk = desk_with(unit, clock)
        desk.accept(paid_order(refund("L9", 1)))

        desk.release(CH, ID, actor="ops.wu")

        assert () == stored(unit).review
        assert [ID] == [o.order_id for o in desk.picking_queue()]
        assert 2 == balance(unit, clock).allocated

    def test_nothing_is_written_when_the_intake_fails(
        self, unit: UnitOfWork, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The refund, the hold and the order are one unit: none is left alone."""
        desk = desk_with(unit, clock)
        before = balance(unit, clock)

        def broken(*_: object, **__: object) -> None:
            raise StoreError("sqlite", "apply", "the disk is full")

        monkeypatch.setattr(OrderDesk, "_store", broken)
        with pytest.raises(StoreError):
            desk.accept(paid_order(refund("L1", 3)))

        with unit as uow:
            assert uow.orders.get(CH, ID) is None
        assert [] == trail(unit)
        assert before == balance(unit, clock)


class TestWithinTheUnitsBought:
    """A refund the order's lines hold: recorded, and nobody is asked."""

    def test_units_refunded_are_cancelled_and_given_back(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        desk = desk_with(unit, clock)

        taken = desk.accept(paid_order(refund("L1", 1)))

        assert isinstance(taken, Accepted)
        assert () == stored(unit).review
        assert {"L1": 1} == cancelled(stored(unit))
        assert (1, 9) == (
            balance(unit, clock).allocated,
            balance(unit, clock).available,
        )
        assert [ID] == [o.order_id for o in desk.picking_queue()]


def test_a_refund_past_the_capture_is_refused_before_the_desk() -> None:
    """Nothing orderkit sent could have paid it first: the notice is wrong."""
    over = attrs.evolve(refund("L1", 1), amount=cny("600.00"))

    with pytest.raises(RefundExceedsCapture) as raised:
        paid_order(over)

    assert "refunds[0].amount" == raised.value.field
