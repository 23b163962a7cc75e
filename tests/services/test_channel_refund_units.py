"""A unit the channel refunded is never refunded again through a return case.

DY-2002 is two jade teapots on two lines, L1 and L2, one each, 576.00 paid
on alipay-77 and shipped. The channel may refund a teapot itself (naming
its line), and the warehouse may take one back through an after-sales
case: when both pay back the same unit, the buyer would have its money
twice, within what the payment holds, so nothing else would notice.
"""

from __future__ import annotations

import json

import attrs
import pytest
from tests.services._refund_samples import (
    CH,
    T0,
    amend_step,
    inspected,
    placed,
    stocked_desk,
)
from tests.services._samples import awaiting_payment, cny

from orderkit.dedupe import IdempotencyKey
from orderkit.integrations import ChannelRefund, RefundLine
from orderkit.orders import (
    AfterSalesCase,
    CaseState,
    Order,
    OrderLine,
    Recorded,
    ReturnLine,
    Unchanged,
    refund_case,
    request_return,
)
from orderkit.ports import UnitOfWork
from orderkit.pricing import PaymentLedger, RefundState
from orderkit.services import (
    Checkout,
    Ledger,
    OrderDesk,
    Refunded,
    Refunds,
    Shipping,
)
from orderkit.testing import FrozenClock
from orderkit.testing.fakes import FakeCarrier, FakePayments


ID = "DY-2002"


def shipped(
    unit: UnitOfWork, clock: FrozenClock, payments: FakePayments, *, teapots: int = 1
) -> OrderDesk:
    """DY-2002 accepted, paid in full on alipay-77 and shipped.

    Its L1 is `teapots` teapots, its L2 one, each 288.00.
    """
    desk = stocked_desk(unit, clock)
    lines = [
        OrderLine("L1", "JADE-TEAPOT", teapots, cny("288.00")),
        OrderLine("L2", "JADE-TEAPOT", 1, cny("288.00")),
    ]
    desk.accept(awaiting_payment(attrs.evolve(placed(order_id=ID), lines=lines)))
    total = cny("288.00") * (teapots + 1)
    Checkout(unit, clock, desk, payments).pay(CH, ID, "alipay-77", total)
    Shipping(unit, clock, desk, FakeCarrier(clock)).ship(CH, ID, "SHIP-1")
    return desk


@pytest.fixture
def desk(unit: UnitOfWork, clock: FrozenClock, payments: FakePayments) -> OrderDesk:
    """DY-2002, one teapot on each line, paid and shipped."""
    return shipped(unit, clock, payments)


def channel_refund(*lines: RefundLine, refund_id: str = "RF-9") -> ChannelRefund:
    """The channel's own refund of one teapot, 288.00, naming `lines`."""
    return ChannelRefund(
        refund_id=refund_id,
        order_id=ID,
        key=IdempotencyKey(CH, "refund", ID, refund_id),
        amount=cny("288.00"),
        created_at=T0.add(days=2),
        lines=lines,
        reason="破损 / broken",
    )


def requested(line_id: str, *, case_id: str = "AS-1") -> AfterSalesCase:
    """The buyer asks to send one teapot of `line_id` back for 288.00."""
    return request_return(
        case_id=case_id,
        order_id=ID,
        payment_id="alipay-77",
        lines=[ReturnLine(line_id, "JADE-TEAPOT", 1)],
        refund_amount=cny("288.00"),
        reason="七天无理由退货",
        requester="buyer:buyer-7",
        return_to="SH-1",
        at=T0.add(days=3),
    )


def passed_case(line_id: str, *, case_id: str = "AS-1") -> AfterSalesCase:
    """One teapot of `line_id` back to Shanghai, inspection passed, 288.00 owed."""
    return inspected(requested(line_id, case_id=case_id))


def record_case(desk: OrderDesk, case: AfterSalesCase) -> Recorded | Unchanged:
    """`case` stored on DY-2002, keyed by its state: a step is recorded once."""
    return amend_step(desk, ID, case)


def stored(unit: UnitOfWork) -> Order:
    with unit as uow:
        order = uow.orders.get(CH, ID)
    assert order is not None
    return order


def case_refunds_owed(unit: UnitOfWork) -> list[str]:
    """The case ids of the `refund` messages in the outbox."""
    with unit as uow:
        messages = uow.outbox.unsent()
    return [
        json.loads(m.payload)["case_id"]
        for m in messages
        if m.topic == "refund" and "case_id" in json.loads(m.payload)
    ]


def told(unit: UnitOfWork) -> list[str]:
    """What the order's review records told a person about its cases."""
    with unit as uow:
        records = uow.audit.records(CH, ID)
    return [
        change.new
        for record in records
        if record.event_type == "HeldForReview"
        for change in record.changes
        if change.field == "after_sales"
    ]


def on_hand(unit: UnitOfWork, clock: FrozenClock) -> int:
    with unit as uow:
        return Ledger(uow.ledger, clock).balance("JADE-TEAPOT", "SH-1").on_hand


class TestChannelRefundFirst:
    def test_a_case_returning_the_refunded_unit_sends_nothing(
        self,
        desk: OrderDesk,
        unit: UnitOfWork,
        clock: FrozenClock,
        payments: FakePayments,
    ) -> None:
        desk.record_refund(CH, ID, channel_refund(RefundLine("L1", 1)))
        stock = on_hand(unit, clock)

        record_case(desk, passed_case("L1"))

        order = stored(unit)
        assert ("refund",) == order.review
        assert order.saga is None
        assert [] == case_refunds_owed(unit)
        assert () == Refunds(unit, clock, payments).send_due()
        said = (
            "line L1 is paid back for 2 units of 1 bought (the channel's refunds "
            "RF-9; cases AS-1): a person checks the buyer is not refunded twice"
        )
        assert [said] == told(unit)
        # The teapot is back all the same.
        assert stock + 1 == on_hand(unit, clock)

    def test_a_person_settles_the_case_with_the_channels_refund(
        self,
        desk: OrderDesk,
        unit: UnitOfWork,
        clock: FrozenClock,
        payments: FakePayments,
    ) -> None:
        desk.record_refund(CH, ID, channel_refund(RefundLine("L1", 1)))
        record_case(desk, passed_case("L1"))
        (case,) = stored(unit).after_sales

        record_case(desk, refund_case(case, "RF-9", T0.add(days=8), actor="ops.wu"))
        desk.release(CH, ID, actor="ops.wu")

        order = stored(unit)
        assert (CaseState.REFUNDED, ()) == (order.after_sales[0].state, order.review)
        assert () == Refunds(unit, clock, payments).send_due()
        assert [] == case_refunds_owed(unit)

    def test_a_case_returning_another_line_is_refunded(
        self,
        desk: OrderDesk,
        unit: UnitOfWork,
        clock: FrozenClock,
        payments: FakePayments,
    ) -> None:
        desk.record_refund(CH, ID, channel_refund(RefundLine("L1", 1)))

        record_case(desk, passed_case("L2"))

        assert ["AS-1"] == case_refunds_owed(unit)
        assert () == stored(unit).review
        (sent,) = Refunds(unit, clock, payments).send_due()
        assert isinstance(sent, Refunded)
        (case,) = stored(unit).after_sales
        assert CaseState.REFUNDED == case.state

    def test_a_refund_of_money_alone_leaves_cases_owed(
        self, desk: OrderDesk, unit: UnitOfWork
    ) -> None:
        # No units named: the channel's refund may be for anything.
        desk.record_refund(CH, ID, channel_refund())

        record_case(desk, passed_case("L1"))

        assert ["AS-1"] == case_refunds_owed(unit)
        assert () == stored(unit).review

    def test_the_case_recorded_again_tells_a_person_once(
        self, desk: OrderDesk, unit: UnitOfWork
    ) -> None:
        desk.record_refund(CH, ID, channel_refund(RefundLine("L1", 1)))
        case = passed_case("L1")
        record_case(desk, case)
        version = stored(unit).version

        assert isinstance(record_case(desk, case), Unchanged)
        assert version == stored(unit).version
        assert 1 == len(told(unit))


class TestCaseFirst:
    def test_the_channel_refunding_a_returned_unit_holds_the_order(
        self,
        desk: OrderDesk,
        unit: UnitOfWork,
        clock: FrozenClock,
        payments: FakePayments,
    ) -> None:
        record_case(desk, passed_case("L1"))
        (sent,) = Refunds(unit, clock, payments).send_due()
        assert isinstance(sent, Refunded)

        recorded = desk.record_refund(CH, ID, channel_refund(RefundLine("L1", 1)))

        # The channel's refund happened: recorded, and a person told.
        assert isinstance(recorded, Recorded)
        order = stored(unit)
        assert recorded.order == order
        assert ("refund",) == order.review
        assert order.payment_ledger is not None
        assert "RF-9" in {r.refund_id for r in order.payment_ledger.refunds}
        assert 1 == len(told(unit))
        assert isinstance(
            desk.record_refund(CH, ID, channel_refund(RefundLine("L1", 1))), Unchanged
        )
        assert 1 == len(told(unit))

    def test_the_channel_refunding_the_other_unit_holds_nothing(
        self,
        desk: OrderDesk,
        unit: UnitOfWork,
        clock: FrozenClock,
        payments: FakePayments,
    ) -> None:
        record_case(desk, passed_case("L1"))
        Refunds(unit, clock, payments).send_due()

        desk.record_refund(CH, ID, channel_refund(RefundLine("L2", 1)))

        assert () == stored(unit).review
        assert [] == told(unit)


class TestWhichCase:
    def test_the_case_that_passes_last_is_withheld_whichever_was_opened_first(
        self, unit: UnitOfWork, clock: FrozenClock, payments: FakePayments
    ) -> None:
        desk = shipped(unit, clock, payments, teapots=2)
        record_case(desk, requested("L1", case_id="AS-1"))
        record_case(desk, requested("L1", case_id="AS-2"))
        desk.record_refund(CH, ID, channel_refund(RefundLine("L1", 1)))
        # Two teapots on L1: the channel's one and AS-2's may be two units.
        record_case(desk, passed_case("L1", case_id="AS-2"))
        (sent,) = Refunds(unit, clock, payments).send_due()
        assert isinstance(sent, Refunded)

        # A third unit of two paid back: AS-1's refund is not sent.
        record_case(desk, passed_case("L1", case_id="AS-1"))

        assert ("refund",) == stored(unit).review
        assert ["AS-2"] == case_refunds_owed(unit)
        assert () == Refunds(unit, clock, payments).send_due()
        said = (
            "line L1 is paid back for 3 units of 2 bought (the channel's refunds "
            "RF-9; cases AS-1, AS-2): a person checks the buyer is not refunded twice"
        )
        assert [said] == told(unit)

    def test_a_case_whose_refund_failed_paid_nothing_back(
        self, desk: OrderDesk, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        record_case(desk, passed_case("L1"))
        declining = FakePayments(clock, refunds_declined=["alipay-77"])
        Refunds(unit, clock, declining).send_due()
        desk.release(CH, ID, actor="ops.wu")

        # The buyer has the channel's money for the teapot, and only that.
        desk.record_refund(CH, ID, channel_refund(RefundLine("L1", 1)))

        assert () == stored(unit).review
        assert [] == told(unit)


class TestUnitsStatedLater:
    def test_a_refund_recorded_without_units_gains_them(
        self, desk: OrderDesk, unit: UnitOfWork
    ) -> None:
        # The order notice lists the refund without its units (WooCommerce's
        # `refunds`), under the key its refund list gives it with them.
        desk.record_refund(CH, ID, channel_refund())
        recorded = desk.record_refund(CH, ID, channel_refund(RefundLine("L1", 1)))
        assert isinstance(recorded, Recorded)
        again = desk.record_refund(CH, ID, channel_refund(RefundLine("L1", 1)))
        assert isinstance(again, Unchanged)

        record_case(desk, passed_case("L1"))

        ledger = stored(unit).payment_ledger
        assert ledger is not None
        assert (RefundLine("L1", 1),) == ledger.refund("RF-9").lines
        assert ("refund",) == stored(unit).review
        assert [] == case_refunds_owed(unit)

    def test_a_refund_a_host_recorded_pending_is_settled_with_its_units(
        self, desk: OrderDesk, unit: UnitOfWork
    ) -> None:
        pending = (
            PaymentLedger(ID, "CNY")
            .authorise("alipay-77", cny("576.00"), T0)
            .capture("alipay-77", cny("576.00"), T0)
            .request_refund("RF-9", "alipay-77", cny("288.00"), "破损", T0.add(days=1))
        )
        key = IdempotencyKey("erp", "payments", ID, "1")
        desk.amend(CH, ID, pending, key=key, actor="ops.wu", source="erp")

        desk.record_refund(CH, ID, channel_refund(RefundLine("L1", 1)))

        ledger = stored(unit).payment_ledger
        assert ledger is not None
        refund = ledger.refund("RF-9")
        assert (RefundState.REFUNDED, (RefundLine("L1", 1),)) == (
            refund.state,
            refund.lines,
        )
