"""`OrderDesk.amend` refuses an after-sales case it could not carry through.

DY-2003 is two jade teapots on two lines, L1 and L2, one each at 288.00,
576.00 paid on alipay-77 and shipped from SH-1, the desk's only location.
A case is refused before anything is written when it names a location the
desk does not have, or asks back more than its payment can still give;
every case error names its field from the order's `after_sales`.
"""

from __future__ import annotations

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
from orderkit.errors import RefundExceedsCapture, ValidationError
from orderkit.integrations import ChannelRefund, RefundLine
from orderkit.orders import (
    AfterSalesCase,
    CaseState,
    Order,
    OrderLine,
    Recorded,
    ReturnLine,
    Unchanged,
    record_case,
    refund_case,
    reject_case,
    request_return,
    resolve_case,
)
from orderkit.ports import UnitOfWork
from orderkit.pricing import OverrideKind, PaymentLedger
from orderkit.services import Checkout, Ledger, OrderDesk, Refunded, Refunds, Shipping
from orderkit.testing import FrozenClock
from orderkit.testing.fakes import FakeCarrier, FakePayments


ID = "DY-2003"


def shipped(
    unit: UnitOfWork,
    clock: FrozenClock,
    payments: FakePayments,
    second: OrderLine | None = None,
) -> OrderDesk:
    """DY-2003, a teapot and `second` (another), accepted, paid and shipped."""
    if second is None:
        second = OrderLine("L2", "JADE-TEAPOT", 1, cny("288.00"))
    desk = stocked_desk(unit, clock)
    lines = [OrderLine("L1", "JADE-TEAPOT", 1, cny("288.00")), second]
    desk.accept(awaiting_payment(attrs.evolve(placed(order_id=ID), lines=lines)))
    paid = cny("288.00") + second.unit_price * second.quantity
    Checkout(unit, clock, desk, payments).pay(CH, ID, "alipay-77", paid)
    Shipping(unit, clock, desk, FakeCarrier(clock)).ship(CH, ID, "SHIP-1")
    return desk


@pytest.fixture
def desk(unit: UnitOfWork, clock: FrozenClock, payments: FakePayments) -> OrderDesk:
    """DY-2003 accepted, paid in full on alipay-77 and shipped."""
    return shipped(unit, clock, payments)


def requested(
    line_id: str = "L1",
    *,
    case_id: str = "AS-1",
    refund: str = "288.00",
    return_to: str = "SH-1",
) -> AfterSalesCase:
    """The buyer asks to send the teapot of `line_id` back for `refund`."""
    return request_return(
        case_id=case_id,
        order_id=ID,
        payment_id="alipay-77",
        lines=[ReturnLine(line_id, "JADE-TEAPOT", 1)],
        refund_amount=cny(refund),
        reason="七天无理由退货",
        requester="buyer:buyer-7",
        return_to=return_to,
        at=T0.add(days=3),
    )


def passed(
    line_id: str = "L1",
    *,
    case_id: str = "AS-1",
    refund: str = "288.00",
    return_to: str = "SH-1",
) -> AfterSalesCase:
    """`requested`, approved, received and its inspection passed."""
    case = requested(line_id, case_id=case_id, refund=refund, return_to=return_to)
    return inspected(case)


def amend(desk: OrderDesk, case: AfterSalesCase) -> Recorded | Unchanged:
    """`case` stored on DY-2003, keyed by its state: a step is recorded once."""
    return amend_step(desk, ID, case)


def channel_refund(refund_id: str, *lines: RefundLine) -> ChannelRefund:
    """The channel's own refund of 288.00 on DY-2003, naming `lines`."""
    return ChannelRefund(
        refund_id=refund_id,
        order_id=ID,
        key=IdempotencyKey(CH, "refund", ID, refund_id),
        amount=cny("288.00"),
        created_at=T0.add(days=2),
        lines=lines,
        reason="破损 / broken",
    )


def stored(unit: UnitOfWork) -> Order:
    with unit as uow:
        order = uow.orders.get(CH, ID)
    assert order is not None
    return order


def written(unit: UnitOfWork, clock: FrozenClock) -> tuple[object, ...]:
    """Everything an amendment writes: the order, its trail, the outbox, stock."""
    with unit as uow:
        ledger = Ledger(uow.ledger, clock)
        return (
            uow.orders.get(CH, ID),
            tuple(uow.audit.records(CH, ID)),
            tuple(m.message_id for m in uow.outbox.unsent()),
            ledger.balance("JADE-TEAPOT", "SH-1"),
            # Nothing was ever put where nobody sells from.
            tuple(uow.ledger.balances(clock.now(), location="SH1")),
        )


class TestReturnTo:
    """A case must send its units back to a location of the desk."""

    def test_a_passed_case_to_an_unknown_location_is_refused_and_restocks_nothing(
        self, desk: OrderDesk, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        before = written(unit, clock)

        with pytest.raises(ValidationError) as caught:
            amend(desk, passed(return_to="SH1"))  # a typo for SH-1

        assert (caught.value.field, caught.value.value) == (
            "after_sales[0].return_to",
            "SH1",
        )
        assert "SH-1" in str(caught.value)  # it says where units may go
        assert written(unit, clock) == before

    def test_a_case_is_refused_as_it_is_opened(
        self, desk: OrderDesk, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        amend(desk, passed("L1"))
        before = written(unit, clock)

        with pytest.raises(ValidationError) as caught:
            amend(desk, requested("L2", case_id="AS-2", return_to="SH1"))

        assert (caught.value.field, caught.value.value) == (
            "after_sales[1].return_to",
            "SH1",
        )
        assert written(unit, clock) == before

    def test_a_case_of_unstocked_lines_puts_nothing_back_anywhere(
        self, unit: UnitOfWork, clock: FrozenClock, payments: FakePayments
    ) -> None:
        gift_card = OrderLine("L2", "GIFT-CARD", 1, cny("100.00"), stocked=False)
        desk = shipped(unit, clock, payments, gift_card)
        case = inspected(
            request_return(
                case_id="AS-1",
                order_id=ID,
                payment_id="alipay-77",
                lines=[ReturnLine("L2", "GIFT-CARD", 1)],
                refund_amount=cny("100.00"),
                reason="礼品卡未使用 / unused",
                requester="buyer:buyer-7",
                return_to="no-return",
                at=T0.add(days=3),
            )
        )

        assert isinstance(amend(desk, case), Recorded)
        with unit as uow:
            assert list(uow.ledger.balances(clock.now(), location="no-return")) == []

    def test_a_rejected_case_returns_nothing_and_is_recorded(
        self, desk: OrderDesk, unit: UnitOfWork
    ) -> None:
        with pytest.raises(ValidationError, match=r"after_sales\[0\]\.return_to"):
            amend(desk, requested(return_to="SH1"))

        rejected = reject_case(
            requested(return_to="SH1"), "mgr.li", "超过七天 / too late", T0.add(days=4)
        )
        assert isinstance(amend(desk, rejected), Recorded)
        assert [c.state for c in stored(unit).after_sales] == [CaseState.REJECTED]


class TestRefundCap:
    """A case never asks back more than its payment can still give."""

    def test_a_refund_above_the_capture_is_refused_before_anything_is_written(
        self, desk: OrderDesk, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        before = written(unit, clock)

        with pytest.raises(RefundExceedsCapture) as caught:
            amend(desk, passed(refund="576.01"))

        assert caught.value.field == "after_sales[0].refund_amount"
        assert caught.value.value == cny("576.01")
        assert "'alipay-77' has 576.00 CNY" in str(caught.value)
        assert written(unit, clock) == before

    def test_a_request_above_it_is_opened_and_refused_when_it_passes(
        self, desk: OrderDesk, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        # Opened, it waits for approval, and finance may record an override
        # meanwhile: the refund falls due, and is checked, at inspection.
        assert isinstance(amend(desk, requested(refund="600.00")), Recorded)
        before = written(unit, clock)

        with pytest.raises(RefundExceedsCapture) as caught:
            amend(desk, passed(refund="600.00"))

        assert caught.value.field == "after_sales[0].refund_amount"
        assert written(unit, clock) == before

    def test_the_whole_capture_is_sent_and_the_case_moves_on(
        self,
        desk: OrderDesk,
        unit: UnitOfWork,
        clock: FrozenClock,
        payments: FakePayments,
    ) -> None:
        with pytest.raises(RefundExceedsCapture):
            amend(desk, passed(refund="576.01"))

        assert isinstance(amend(desk, passed(refund="576.00")), Recorded)
        (outcome,) = Refunds(unit, clock, payments).send_due()

        assert isinstance(outcome, Refunded)
        (case,) = stored(unit).after_sales
        assert case.state is CaseState.REFUNDED
        assert payments.captured("alipay-77") == cny("0.00")
        # Refunded, it owes nothing more: its next step is recorded.
        assert isinstance(amend(desk, resolve_case(case, T0.add(days=9))), Recorded)
        with pytest.raises(RefundExceedsCapture, match=r"has 0\.00 CNY"):
            amend(desk, passed("L2", case_id="AS-2", refund="0.01"))

    def test_what_other_cases_are_owed_is_taken_already(
        self,
        desk: OrderDesk,
        unit: UnitOfWork,
        clock: FrozenClock,
        payments: FakePayments,
    ) -> None:
        amend(desk, passed("L1", refund="400.00"))  # its refund saga starts

        with pytest.raises(RefundExceedsCapture) as caught:
            amend(desk, passed("L2", case_id="AS-2", refund="176.01"))

        assert caught.value.field == "after_sales[1].refund_amount"
        assert "400.00 CNY of it owed to cases AS-1" in str(caught.value)
        assert isinstance(
            amend(desk, passed("L2", case_id="AS-2", refund="176.00")), Recorded
        )
        sent = Refunds(unit, clock, payments).send_due()
        assert [type(o) for o in sent] == [Refunded, Refunded]
        states = [c.state for c in stored(unit).after_sales]
        assert states == [CaseState.REFUNDED, CaseState.REFUNDED]
        assert payments.captured("alipay-77") == cny("0.00")

    def test_an_override_lets_a_case_go_beyond_the_capture(
        self, desk: OrderDesk, unit: UnitOfWork
    ) -> None:
        with pytest.raises(RefundExceedsCapture):
            amend(desk, passed(refund="600.00"))
        ledger = stored(unit).payment_ledger or (
            PaymentLedger(ID, "CNY")
            .authorise("alipay-77", cny("576.00"), T0)
            .capture("alipay-77", cny("576.00"), T0)
        )
        goodwill = ledger.override(
            "OV-1",
            OverrideKind.GOODWILL,
            "alipay-77",
            cny("24.00"),
            actor="finance.zhang",
            reason="补偿运费 / shipping paid back",
            at=T0.add(days=5),
        )
        key = IdempotencyKey("erp", "ledger", ID, "override")
        desk.amend(CH, ID, goodwill, key=key, actor="finance.zhang", source="erp")

        outcome = amend(desk, passed(refund="600.00"))

        assert isinstance(outcome, Recorded)
        saga = outcome.order.saga
        assert saga is not None
        assert saga.amount == cny("600.00")


class TestPaidBackByTheChannel:
    """Cases orderkit sends no refund for are not held to the cap.

    The channel refunds 288.00 naming L1 (RF-9) and 288.00 naming no unit
    (RF-8): alipay-77 has nothing left to give.
    """

    @pytest.fixture
    def emptied(self, desk: OrderDesk) -> OrderDesk:
        desk.record_refund(CH, ID, channel_refund("RF-9", RefundLine("L1", 1)))
        desk.record_refund(CH, ID, channel_refund("RF-8"))
        return desk

    def test_a_case_refunded_by_the_channel_is_recorded(
        self, emptied: OrderDesk, unit: UnitOfWork
    ) -> None:
        with pytest.raises(RefundExceedsCapture, match=r"has 0\.00 CNY"):
            amend(emptied, passed("L2", case_id="AS-2"))

        by_channel = refund_case(passed("L2", case_id="AS-2"), "RF-8", T0.add(days=8))
        assert isinstance(amend(emptied, by_channel), Recorded)
        (case,) = stored(unit).after_sales
        assert (case.state, case.refund_id) == (CaseState.REFUNDED, "RF-8")

    def test_a_case_returning_a_unit_paid_back_owes_nothing_and_is_recorded(
        self, emptied: OrderDesk, unit: UnitOfWork
    ) -> None:
        with pytest.raises(RefundExceedsCapture, match=r"after_sales\[0\]"):
            amend(emptied, passed("L2", case_id="AS-2"))

        outcome = amend(emptied, passed("L1"))

        assert isinstance(outcome, Recorded)
        order = stored(unit)
        assert order.saga is None
        assert "refund" in order.review  # a person settles it


class TestFieldPaths:
    """Every case error of one amendment names its field from `after_sales`."""

    def test_a_second_case_on_units_returned_already(self, desk: OrderDesk) -> None:
        amend(desk, passed("L1"))

        with pytest.raises(ValidationError, match="0 units shipped") as caught:
            amend(desk, passed("L1", case_id="AS-2"))

        assert (caught.value.field, caught.value.value) == (
            "after_sales[1].lines[0].quantity",
            1,
        )

    def test_a_case_asking_for_units_an_open_case_asks_for(
        self, desk: OrderDesk
    ) -> None:
        amend(desk, requested("L1"))

        with pytest.raises(ValidationError, match="or asked for") as caught:
            amend(desk, requested("L1", case_id="AS-2"))

        assert caught.value.field == "after_sales[1].lines[0].quantity"

    def test_units_a_rejected_case_asked_for_may_be_asked_again(
        self, desk: OrderDesk, clock: FrozenClock
    ) -> None:
        case = requested("L1")
        amend(desk, case)
        amend(desk, reject_case(case, "mgr.li", "worn", clock.now().add(days=4)))

        assert isinstance(amend(desk, requested("L1", case_id="AS-2")), Recorded)

    def test_a_stored_case_passing_after_another_took_its_units(
        self, desk: OrderDesk, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        # AS-2 was stored without the desk (by an earlier orderkit, or the
        # host): its units are checked again when its inspection passes.
        amend(desk, requested("L1"))
        with unit as uow:
            order = uow.orders.get(CH, ID)
            assert order is not None
            stored = record_case(
                order,
                requested("L1", case_id="AS-2"),
                key=IdempotencyKey("erp", "aftersales", "AS-2", "requested"),
                actor="ops.wu",
                source="erp",
                now=clock.now(),
            )
            assert isinstance(stored, Recorded)
            uow.orders.save(stored.order, order.version)
            uow.audit.append(CH, [stored.record])
            uow.commit()
        amend(desk, inspected(requested("L1")))

        with pytest.raises(ValidationError, match="0 units shipped") as caught:
            amend(desk, inspected(requested("L1", case_id="AS-2")))

        assert caught.value.field == "after_sales[1].lines[0].quantity"

    def test_a_return_of_units_never_shipped(
        self, unit: UnitOfWork, clock: FrozenClock, payments: FakePayments
    ) -> None:
        desk = stocked_desk(unit, clock)
        lines = [OrderLine("L1", "JADE-TEAPOT", 1, cny("288.00"))]
        desk.accept(awaiting_payment(attrs.evolve(placed(order_id=ID), lines=lines)))
        Checkout(unit, clock, desk, payments).pay(CH, ID, "alipay-77", cny("288.00"))

        with pytest.raises(ValidationError, match="0 units shipped") as caught:
            amend(desk, requested("L1"))

        assert caught.value.field == "after_sales[0].lines[0].quantity"
