"""Money a channel sent back itself: recorded once, never owed back again."""

from __future__ import annotations

import json

import attrs
import pytest
from tests.services._refund_samples import (
    CH,
    T0,
    buyer_cancelled,
    captured_ledger,
    placed,
)
from tests.services._samples import cny

from orderkit.dedupe import Fingerprinter, IdempotencyKey
from orderkit.errors import (
    CallTimedOut,
    CaptureExceedsAuthorisation,
    IllegalTransition,
    OrderMismatch,
    RefundExceedsCapture,
    UnknownOrder,
    UnknownPayment,
    ValidationError,
)
from orderkit.integrations import (
    ChannelOrder,
    ChannelRefund,
    ChannelTransaction,
    SettlementLine,
    TransactionKind,
)
from orderkit.money import Money
from orderkit.orders import (
    Applied,
    Cancelled,
    Order,
    OrderEvent,
    OrderStatus,
    PaymentCaptured,
    Recorded,
    Unchanged,
)
from orderkit.ports import UnitOfWork
from orderkit.pricing import PaymentLedger, Quote, RefundState
from orderkit.services import (
    Accepted,
    AlreadyAccepted,
    Checkout,
    DeskPolicy,
    EventRecorded,
    Ledger,
    OrderDesk,
    Refunded,
    Refunds,
    reconcile_payments,
)
from orderkit.testing import FrozenClock
from orderkit.testing.fakes import FakePayments, FakeWarehouse
from orderkit.testing.faults import Fault, FaultPlan, faulty


ID = "DY-3001"


def paid(payment_id: str = "alipay-77", amount: str = "576.00") -> PaymentCaptured:
    return PaymentCaptured(
        order_id=ID,
        key=IdempotencyKey(CH, "trade.paid", ID, payment_id),
        occurred_at=T0.add(minutes=5),
        payment_id=payment_id,
        amount=cny(amount),
    )


def cancelled() -> Cancelled:
    """The buyer cancels DY-3001 two hours in."""
    return buyer_cancelled(order_id=ID, hours=2)


def refund(
    refund_id: str = "RF-1",
    amount: str = "100.00",
    *,
    payment_id: str | None = None,
    order_id: str = ID,
) -> ChannelRefund:
    """Money the channel sent back for DY-3001 an hour in."""
    return ChannelRefund(
        refund_id=refund_id,
        order_id=order_id,
        key=IdempotencyKey(CH, "refund", order_id, refund_id),
        amount=cny(amount),
        created_at=T0.add(hours=1),
        payment_id=payment_id,
        reason="少发一件 / one short",
    )


def channel_order(
    *events: OrderEvent,
    refunds: tuple[ChannelRefund, ...] = (),
    status: OrderStatus = OrderStatus.PAID,
) -> ChannelOrder:
    order = placed(order_id=ID)
    return ChannelOrder(
        placed=order,
        quote=Quote(ID, CH, order.lines),
        status=status,
        channel_status=str(status),
        events=events,
        refunds=refunds,
    )


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(T0.add(hours=3))


@pytest.fixture
def desk(unit: UnitOfWork, clock: FrozenClock) -> OrderDesk:
    with unit as uow:
        Ledger(uow.ledger, clock).receive("JADE-TEAPOT", "SH-1", 10)
        uow.commit()
    policy = DeskPolicy(locations=["SH-1"])
    return OrderDesk(unit, clock, policy, Fingerprinter(b"channel-refunds-secret-0123"))


def stored(unit: UnitOfWork) -> Order:
    with unit as uow:
        order = uow.orders.get(CH, ID)
    assert order is not None
    return order


def owed(unit: UnitOfWork) -> list[str]:
    """The amounts of the `refund` messages in the outbox."""
    with unit as uow:
        messages = uow.outbox.unsent()
    return [json.loads(m.payload)["amount"] for m in messages if m.topic == "refund"]


def audit(unit: UnitOfWork) -> list[str]:
    with unit as uow:
        return [r.event_type for r in uow.audit.records(CH, ID)]


def refunded(order: Order) -> list[tuple[str, str, str, RefundState]]:
    ledger = order.payment_ledger
    assert ledger is not None
    return [
        (r.refund_id, r.payment_id, str(r.amount.amount), r.state)
        for r in ledger.refunds
    ]


def nothing_changed(unit: UnitOfWork, before: Order, records: list[str]) -> None:
    assert stored(unit) == before
    assert audit(unit) == records


class TestIntake:
    """An order that comes in cancelled owes back only what the channel holds."""

    def test_cancelled_and_partly_refunded_owes_only_the_rest(
        self, desk: OrderDesk, unit: UnitOfWork
    ) -> None:
        incoming = channel_order(
            paid(), cancelled(), refunds=(refund(),), status=OrderStatus.CANCELLED
        )

        taken = desk.accept(incoming)

        assert isinstance(taken, Accepted)
        assert OrderStatus.CANCELLED == taken.order.status
        assert ["476.00"] == owed(unit)
        saga = taken.order.saga
        assert saga is not None
        assert (saga.name, saga.amount) == ("refund", cny("476.00"))
        assert saga.parts == (("alipay-77", cny("476.00")),)
        assert [("RF-1", "alipay-77", "100.00", RefundState.REFUNDED)] == refunded(
            taken.order
        )
        assert audit(unit) == [
            "OrderPlaced",
            "PaymentsRecorded",
            "PaymentCaptured",
            "Cancelled",
        ]

    def test_cancelled_and_refunded_in_full_owes_nothing(
        self, desk: OrderDesk, unit: UnitOfWork
    ) -> None:
        refunds = (refund("RF-1", "500.00"), refund("RF-2", "76.00"))
        incoming = channel_order(
            paid(), cancelled(), refunds=refunds, status=OrderStatus.CANCELLED
        )

        taken = desk.accept(incoming)

        assert isinstance(taken, Accepted)
        assert OrderStatus.CANCELLED == taken.order.status
        assert [] == owed(unit)
        assert taken.order.saga is None
        ledger = taken.order.payment_ledger
        assert ledger is not None
        assert cny("576.00") == ledger.refunded

    def test_a_refund_is_recorded_once_whichever_source_states_it(
        self, desk: OrderDesk, unit: UnitOfWork
    ) -> None:
        incoming = channel_order(
            paid(), cancelled(), refunds=(refund(),), status=OrderStatus.CANCELLED
        )
        desk.accept(incoming)
        before, records = stored(unit), audit(unit)

        again = desk.record_refund(CH, ID, refund())

        assert isinstance(again, Unchanged)
        nothing_changed(unit, before, records)
        assert isinstance(desk.accept(incoming), AlreadyAccepted)
        assert ["476.00"] == owed(unit)

    def test_a_paid_order_has_its_refunds_recorded_at_intake(
        self, desk: OrderDesk, unit: UnitOfWork
    ) -> None:
        # Not only an order that comes in ended: a paid one cancelled later
        # owes only what the channel still holds.
        taken = desk.accept(channel_order(paid(), refunds=(refund(),)))

        assert isinstance(taken, Accepted)
        assert OrderStatus.PAID == taken.order.status
        assert [("RF-1", "alipay-77", "100.00", RefundState.REFUNDED)] == refunded(
            taken.order
        )
        assert isinstance(desk.record_refund(CH, ID, refund()), Unchanged)
        desk.record(CH, ID, cancelled())
        assert ["476.00"] == owed(unit)

    def test_a_refund_comes_off_a_payment_the_notice_states(
        self, desk: OrderDesk, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        # Closed unpaid, then a notice: the buyer paid after all, and the
        # channel sent 100.00 of it back. The refund first, off the stated
        # payment: the late payment then owes only the rest.
        desk.accept(channel_order(status=OrderStatus.PENDING_PAYMENT))
        clock.advance(hours=48)
        desk.close_unpaid()
        assert OrderStatus.CLOSED == stored(unit).status
        with pytest.raises(UnknownPayment):
            desk.record_refund(CH, ID, refund())

        recorded = desk.record_refund(CH, ID, refund(), stated=[paid()])
        late = desk.record(CH, ID, paid())

        assert isinstance(recorded, Recorded)
        assert ["476.00"] == [str(r.amount.amount) for r in late.refund_due]
        assert ["476.00"] == owed(unit)
        assert isinstance(
            desk.record_refund(CH, ID, refund(), stated=[paid()]), Unchanged
        )

    def test_refunds_of_an_order_stating_no_capture_are_not_recorded(
        self, desk: OrderDesk, unit: UnitOfWork
    ) -> None:
        # A new order with no payment has nothing to refund.
        incoming = channel_order(
            cancelled(), refunds=(refund(),), status=OrderStatus.CANCELLED
        )

        taken = desk.accept(incoming)

        assert isinstance(taken, Accepted)
        assert taken.order.payment_ledger is None
        assert [] == owed(unit)
        assert ["OrderPlaced", "ParkedChannelRefund", "Cancelled"] == audit(unit)


class TestChannelOrderRefunds:
    """`ChannelOrder.refunds` are checked against the captures the order states."""

    def test_refunds_default_to_none(self) -> None:
        assert () == channel_order(paid()).refunds

    def test_a_refund_of_another_order_is_refused(self) -> None:
        with pytest.raises(OrderMismatch) as caught:
            channel_order(paid(), refunds=(refund(order_id="DY-9"),))
        assert "refunds[0].order_id" == caught.value.field

    def test_a_refund_in_another_currency_is_refused(self) -> None:
        other = ChannelRefund(
            refund_id="RF-1",
            order_id=ID,
            key=IdempotencyKey(CH, "refund", ID, "RF-1"),
            amount=Money("1.00", "USD"),
            created_at=T0,
        )
        with pytest.raises(ValidationError) as caught:
            channel_order(paid(), refunds=(other,))
        assert "refunds[0].amount" == caught.value.field

    def test_a_repeated_refund_is_refused(self) -> None:
        with pytest.raises(ValidationError) as caught:
            channel_order(paid(), refunds=(refund(), refund()))
        assert ("refunds[1].refund_id", "RF-1") == (
            caught.value.field,
            caught.value.value,
        )

    def test_refunds_without_a_capture_are_kept_for_record_refund(self) -> None:
        # Refunded in full before goods left, the payload states no capture:
        # its refunds are for the payments the desk recorded before.
        refunds = (refund("RF-1", "500.00"), refund("RF-2", "76.00"))
        stated = channel_order(
            cancelled(), refunds=refunds, status=OrderStatus.CANCELLED
        )
        assert refunds == stated.refunds
        with pytest.raises(OrderMismatch):
            channel_order(refunds=(refund(order_id="DY-9"),))
        with pytest.raises(ValidationError) as caught:
            channel_order(refunds=(refund(), refund()))
        assert "refunds[1].refund_id" == caught.value.field

    def test_refunds_beyond_the_capture_are_refused(self) -> None:
        refunds = (refund("RF-1", "500.00"), refund("RF-2", "76.01"))
        with pytest.raises(RefundExceedsCapture) as caught:
            channel_order(paid(), refunds=refunds)
        assert ("refunds[1].amount", cny("76.01")) == (
            caught.value.field,
            caught.value.value,
        )

    def test_a_refund_naming_none_of_several_captures_is_refused(self) -> None:
        events = (paid("alipay-77", "276.00"), paid("wx-2", "300.00"))
        with pytest.raises(ValidationError) as caught:
            channel_order(*events, refunds=(refund(),))
        assert "refunds[0].payment_id" == caught.value.field
        named = channel_order(*events, refunds=(refund(payment_id="wx-2"),))
        assert "wx-2" == named.refunds[0].payment_id


class TestRecordRefund:
    """A refund the channel makes after intake comes off what ending owes."""

    def test_a_refund_then_a_cancellation_owes_only_the_rest(
        self, desk: OrderDesk, unit: UnitOfWork
    ) -> None:
        desk.accept(channel_order(paid()))

        recorded = desk.record_refund(CH, ID, refund())
        desk.record(CH, ID, cancelled())

        assert isinstance(recorded, Recorded)
        assert recorded.record.key == refund().key
        assert recorded.record.event_type == "PaymentsRecorded"
        assert stored(unit).version == recorded.order.version + 1
        assert ["476.00"] == owed(unit)
        assert [("RF-1", "alipay-77", "100.00", RefundState.REFUNDED)] == refunded(
            stored(unit)
        )

    def test_the_same_refund_twice_changes_nothing(
        self, desk: OrderDesk, unit: UnitOfWork
    ) -> None:
        desk.accept(channel_order(paid()))
        desk.record_refund(CH, ID, refund())
        before, records = stored(unit), audit(unit)

        again = desk.record_refund(CH, ID, refund())

        assert isinstance(again, Unchanged)
        nothing_changed(unit, before, records)

    def test_the_same_refund_under_another_key_is_recorded_once(
        self, desk: OrderDesk, unit: UnitOfWork
    ) -> None:
        # The order payload and a refund webhook may key one refund apart.
        desk.accept(channel_order(paid(), refunds=(refund(),)))
        before, records = stored(unit), audit(unit)
        webhook = ChannelRefund(
            refund_id="RF-1",
            order_id=ID,
            key=IdempotencyKey(CH, "refund.webhook", ID, "RF-1"),
            amount=cny("100.00"),
            created_at=T0.add(hours=1, minutes=1),
        )

        again = desk.record_refund(CH, ID, webhook)

        assert isinstance(again, Unchanged)
        nothing_changed(unit, before, records)
        desk.record(CH, ID, cancelled())
        assert ["476.00"] == owed(unit)

    def test_a_refund_the_ledger_has_pending_is_settled(
        self, desk: OrderDesk, unit: UnitOfWork
    ) -> None:
        desk.accept(channel_order(paid()))
        ledger = captured_ledger(order_id=ID).request_refund(
            "RF-1", "alipay-77", cny("100.00"), "one short", T0
        )
        key = IdempotencyKey("erp", "ledger", ID, "1")
        desk.amend(CH, ID, ledger, key=key, actor="fin", source="erp")

        desk.record_refund(CH, ID, refund())

        assert [("RF-1", "alipay-77", "100.00", RefundState.REFUNDED)] == refunded(
            stored(unit)
        )

    def test_a_smaller_reading_under_the_same_id_changes_nothing(
        self, desk: OrderDesk, unit: UnitOfWork
    ) -> None:
        # A channel's refund only grows as its transactions settle: a
        # smaller reading of it is an earlier one, delivered late.
        desk.accept(channel_order(paid()))
        desk.record_refund(CH, ID, refund())
        before, records = stored(unit), audit(unit)
        changed = ChannelRefund(
            refund_id="RF-1",
            order_id=ID,
            key=IdempotencyKey(CH, "refund", ID, "RF-1/2"),
            amount=cny("90.00"),
            created_at=T0.add(hours=1),
        )

        assert isinstance(desk.record_refund(CH, ID, changed), Unchanged)

        nothing_changed(unit, before, records)

    def test_a_refund_beyond_the_payment_holds_the_order_for_a_person(
        self, desk: OrderDesk, unit: UnitOfWork
    ) -> None:
        desk.accept(channel_order(paid()))
        desk.record_refund(CH, ID, refund("RF-1", "500.00"))
        before, records = stored(unit), audit(unit)

        with pytest.raises(RefundExceedsCapture) as caught:
            desk.record_refund(CH, ID, refund("RF-2", "76.01"))

        assert ("amount", cny("76.01")) == (caught.value.field, caught.value.value)
        assert "waits for a person" in str(caught.value)
        held = stored(unit)
        # The refund is not recorded; the order waits for a person.
        assert held.payment_ledger == before.payment_ledger
        assert ("refund",) == held.review
        assert [*records, "HeldForReview"] == audit(unit)
        # Again: raises again, holds nothing more.
        with pytest.raises(RefundExceedsCapture):
            desk.record_refund(CH, ID, refund("RF-2", "76.01"))
        nothing_changed(unit, held, [*records, "HeldForReview"])

    def test_a_refund_of_an_unpaid_order_cannot_be_placed(
        self, desk: OrderDesk, unit: UnitOfWork
    ) -> None:
        desk.accept(channel_order(status=OrderStatus.PENDING_PAYMENT))
        before, records = stored(unit), audit(unit)

        with pytest.raises(UnknownPayment) as caught:
            desk.record_refund(CH, ID, refund(payment_id="alipay-77"))

        assert ("payment_id", "alipay-77") == (caught.value.field, caught.value.value)
        nothing_changed(unit, before, records)

    def test_a_refund_naming_none_of_several_payments_cannot_be_placed(
        self, desk: OrderDesk, unit: UnitOfWork
    ) -> None:
        desk.accept(channel_order(paid("alipay-77", "276.00"), paid("wx-2", "300.00")))
        before, records = stored(unit), audit(unit)

        with pytest.raises(UnknownPayment) as caught:
            desk.record_refund(CH, ID, refund(payment_id="card-9"))

        assert "payment_id" == caught.value.field
        nothing_changed(unit, before, records)
        desk.record_refund(CH, ID, refund(payment_id="wx-2"))
        assert [("RF-1", "wx-2", "100.00", RefundState.REFUNDED)] == refunded(
            stored(unit)
        )

    def test_a_refund_naming_the_providers_transaction_comes_off_the_only_payment(
        self, desk: OrderDesk, unit: UnitOfWork
    ) -> None:
        # Shopify: the order's capture is order-<id>, its refunds name the
        # capture transaction.
        desk.accept(channel_order(paid()))

        desk.record_refund(CH, ID, refund(payment_id="389404469"))

        assert [("RF-1", "alipay-77", "100.00", RefundState.REFUNDED)] == refunded(
            stored(unit)
        )

    def test_a_refund_of_another_order_is_refused(self, desk: OrderDesk) -> None:
        desk.accept(channel_order(paid()))

        with pytest.raises(OrderMismatch):
            desk.record_refund(CH, ID, refund(order_id="DY-9"))
        with pytest.raises(UnknownOrder):
            desk.record_refund(CH, "DY-9", refund(order_id="DY-9"))
        with pytest.raises(ValidationError):
            desk.record_refund(CH, ID, "RF-1")  # type: ignore[arg-type]


class TestRefundedInFullLater:
    """An order taken in paid, then cancelled and refunded in full by the channel."""

    def test_the_refunds_of_a_payload_stating_no_capture_owe_nothing(
        self, desk: OrderDesk, unit: UnitOfWork
    ) -> None:
        desk.accept(channel_order(paid()))
        refunds = (refund("RF-1", "500.00"), refund("RF-2", "76.00"))
        later = channel_order(
            cancelled(), refunds=refunds, status=OrderStatus.CANCELLED
        )

        assert isinstance(desk.accept(later), AlreadyAccepted)
        for each in later.refunds:
            assert isinstance(desk.record_refund(CH, ID, each), Recorded)
        desk.record(CH, ID, cancelled())

        order = stored(unit)
        assert (OrderStatus.CANCELLED, None) == (order.status, order.saga)
        assert [] == owed(unit)
        assert order.payment_ledger is not None
        assert cny("576.00") == order.payment_ledger.refunded


def ended_with_a_refund() -> ChannelOrder:
    """DY-3001 cancelled, 10.00 of it refunded by the channel: 566.00 owed."""
    return channel_order(
        paid(),
        cancelled(),
        refunds=(refund("RF-0", "10.00"),),
        status=OrderStatus.CANCELLED,
    )


class TestEndedOrders:
    """A channel refund of an ended order never makes the desk send money twice."""

    def test_a_refund_while_the_saga_is_due_is_refused_until_it_ended(
        self, desk: OrderDesk, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        desk.accept(ended_with_a_refund())
        payments = FakePayments(clock)
        payments.capture("alipay-77", cny("566.00"), key="cap")
        before, records = stored(unit), audit(unit)

        # The saga was sized before the channel's refund and may be at the
        # provider: the refund waits until it ended, nothing is written.
        with pytest.raises(IllegalTransition) as caught:
            desk.record_refund(CH, ID, refund())
        assert ("record_refund", ID) == (caught.value.event, caught.value.order_id)
        assert "refund saga is in flight" in caught.value.reason
        assert caught.value.retry  # the webhook is answered with a retry
        nothing_changed(unit, before, records)

        (sent,) = Refunds(unit, clock, payments).send_due()
        assert isinstance(sent, Refunded)
        # Sent again once the saga ended: paid back twice, a person is told.
        with pytest.raises(RefundExceedsCapture):
            desk.record_refund(CH, ID, refund())
        order = stored(unit)
        assert (None, ("refund",)) == (order.saga, order.review)
        assert payments.captured("alipay-77") == cny("0.00")  # sent once

    def test_a_refund_landing_while_the_saga_is_at_the_provider_is_refused(
        self, desk: OrderDesk, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        desk.accept(ended_with_a_refund())
        refused: list[Exception] = []

        provider = FakePayments(clock)
        provider.capture("alipay-77", cny("566.00"), key="cap")

        class Racing:
            """The channel's refund webhook lands while the provider call is out."""

            capture = provider.capture
            statement = provider.statement

            def refund(
                self, payment_id: str, amount: Money, *, key: str, reason: str
            ) -> ChannelTransaction:
                sent = provider.refund(payment_id, amount, key=key, reason=reason)
                try:
                    desk.record_refund(CH, ID, refund())
                except IllegalTransition as error:
                    refused.append(error)
                return sent

        payments = Racing()

        (sent,) = Refunds(unit, clock, payments).send_due()

        # The saga's refund is recorded: the money that left is in the ledger.
        assert isinstance(sent, Refunded)
        assert 1 == len(refused)
        ledger = stored(unit).payment_ledger
        assert ledger is not None
        assert cny("576.00") == ledger.refunded

    def test_a_late_refund_of_an_order_with_no_ledger_holds_it(
        self, desk: OrderDesk, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        """Cancelled with no channel refund yet: the desk pays back all of it."""
        desk.accept(channel_order(paid(), cancelled(), status=OrderStatus.CANCELLED))
        assert stored(unit).payment_ledger is None
        payments = FakePayments(clock)
        payments.capture("alipay-77", cny("576.00"), key="cap")
        (sent,) = Refunds(unit, clock, payments).send_due()
        assert isinstance(sent, Refunded)
        # The saga's refund is in a ledger now, the order had none.
        ledger = stored(unit).payment_ledger
        assert ledger is not None
        assert cny("576.00") == ledger.refunded
        records = audit(unit)

        # The channel refunded the buyer too: paid back twice.
        with pytest.raises(RefundExceedsCapture):
            desk.record_refund(CH, ID, refund())

        held = stored(unit)
        assert held.payment_ledger == ledger
        assert ("refund",) == held.review
        assert [*records, "HeldForReview"] == audit(unit)

    def test_a_refund_after_the_saga_refunded_everything_holds_the_order(
        self, desk: OrderDesk, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        incoming = channel_order(
            paid(), cancelled(), refunds=(refund(),), status=OrderStatus.CANCELLED
        )
        desk.accept(incoming)
        payments = FakePayments(clock)
        payments.capture("alipay-77", cny("576.00"), key="cap")
        payments.refund("alipay-77", cny("100.00"), key="RF-1", reason="channel")
        (sent,) = Refunds(unit, clock, payments).send_due()
        assert isinstance(sent, Refunded)
        before, records = stored(unit), audit(unit)

        with pytest.raises(RefundExceedsCapture):
            desk.record_refund(CH, ID, refund("RF-2", "1.00"))

        # Paid back twice: the refund is not recorded, a person is told.
        held = stored(unit)
        assert held.payment_ledger == before.payment_ledger
        assert ("refund",) == held.review
        assert [*records, "HeldForReview"] == audit(unit)
        assert payments.captured("alipay-77") == cny("0.00")


def lost_reply(service: object) -> object:
    """`service` whose first call is made and its reply lost (`CallTimedOut`)."""
    return faulty(service, FaultPlan(script=[Fault.REPLY_LOST]))


class TestSagasThatMoveNoMoney:
    """A pick or ship saga moves no money: the channel's refund is recorded."""

    def test_a_refund_during_a_pick_saga_is_never_paid_back_again(
        self, desk: OrderDesk, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        desk.accept(channel_order(paid()))
        with pytest.raises(CallTimedOut):
            desk.start_picking(CH, ID, lost_reply(FakeWarehouse(clock)))  # type: ignore[arg-type]
        saga = stored(unit).saga
        assert saga is not None
        assert "pick" == saga.name  # in flight until a retry or recover

        recorded = desk.record_refund(CH, ID, refund())
        desk.record(CH, ID, cancelled())

        assert isinstance(recorded, Recorded)
        assert [("RF-1", "alipay-77", "100.00", RefundState.REFUNDED)] == refunded(
            stored(unit)
        )
        # The buyer gets back only what the channel still holds.
        assert ["476.00"] == owed(unit)
        payments = FakePayments(clock)
        payments.capture("alipay-77", cny("576.00"), key="cap")
        (sent,) = Refunds(unit, clock, payments).send_due()
        assert isinstance(sent, Refunded)
        assert payments.captured("alipay-77") == cny("100.00")

    def test_a_refund_during_a_capture_saga_is_refused(
        self, desk: OrderDesk, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        desk.accept(channel_order(status=OrderStatus.PENDING_PAYMENT))
        checkout = Checkout(unit, clock, desk, lost_reply(FakePayments(clock)))  # type: ignore[arg-type]
        with pytest.raises(CallTimedOut):
            checkout.pay(CH, ID, "auth-9", cny("576.00"))
        # The channel's own capture lands while orderkit's is in flight.
        desk.record(CH, ID, paid())
        before, records = stored(unit), audit(unit)

        with pytest.raises(IllegalTransition) as caught:
            desk.record_refund(CH, ID, refund())

        assert "capture saga is in flight" in caught.value.reason
        assert caught.value.retry
        nothing_changed(unit, before, records)


class TestHostLedgers:
    """A host's ledger extends the one the order holds, with orderkit's records."""

    def test_a_ledger_from_scratch_is_refused_saying_what_to_extend(
        self, desk: OrderDesk, unit: UnitOfWork
    ) -> None:
        desk.accept(channel_order(paid()))
        desk.record_refund(CH, ID, refund())
        own = PaymentLedger(ID, "CNY").authorise("alipay-77", cny("576.00"), T0)
        key = IdempotencyKey("erp", "ledger", ID, "1")

        with pytest.raises(IllegalTransition) as caught:
            desk.amend(CH, ID, own, key=key, actor="fin", source="erp")

        assert "extend the order's stored ledger" in caught.value.reason
        assert "order.payment_ledger" in caught.value.reason
        # Extended from the stored ledger, the host's record is taken.
        ledger = stored(unit).payment_ledger
        assert ledger is not None
        ledger = ledger.request_refund(
            "ERP-1", "alipay-77", cny("6.00"), "邮费 / postage", T0.add(hours=2)
        )
        amended = desk.amend(CH, ID, ledger, key=key, actor="fin", source="erp")
        assert isinstance(amended, Recorded)

    def test_a_ledger_authorising_less_than_captured_is_named(
        self, desk: OrderDesk, unit: UnitOfWork
    ) -> None:
        desk.accept(channel_order(paid()))
        host = PaymentLedger(ID, "CNY").authorise("alipay-77", cny("500.00"), T0)
        key = IdempotencyKey("erp", "ledger", ID, "1")
        desk.amend(CH, ID, host, key=key, actor="fin", source="erp")
        before, records = stored(unit), audit(unit)

        with pytest.raises(CaptureExceedsAuthorisation) as caught:
            desk.record_refund(CH, ID, refund())

        assert "payment_ledger" == caught.value.field
        assert "amend the ledger with the capture" in caught.value.problem
        nothing_changed(unit, before, records)


def two_payments() -> tuple[PaymentCaptured, PaymentCaptured]:
    """DY-3001 paid in two: 300.00 and 276.00."""
    return paid("alipay-77", "300.00"), attrs.evolve(
        paid("alipay-78", "276.00"), occurred_at=T0.add(minutes=6)
    )


def capture_lines(*pairs: tuple[str, str]) -> list[SettlementLine]:
    return [
        SettlementLine(
            transaction_id=transaction_id,
            kind=TransactionKind.CAPTURE,
            amount=cny(amount),
            fee=cny("0.00"),
            settled_at=T0.add(hours=1),
        )
        for transaction_id, amount in pairs
    ]


def refund_line(refund_id: str, amount: str) -> SettlementLine:
    return SettlementLine(
        transaction_id=refund_id,
        kind=TransactionKind.REFUND,
        amount=cny(amount),
        fee=cny("0.00"),
        settled_at=T0.add(hours=1),
        order_id=ID,
    )


class TestReconciledAfterwards:
    """A ledger orderkit made still expects every capture of the order."""

    def test_a_refund_on_one_payment_keeps_the_other_expected(
        self, desk: OrderDesk, unit: UnitOfWork
    ) -> None:
        desk.accept(channel_order(*two_payments()))

        desk.record_refund(CH, ID, refund(payment_id="alipay-77"))

        order = stored(unit)
        assert order.payment_ledger is not None
        kept = [p.payment_id for p in order.payment_ledger.payments]
        assert ["alipay-77", "alipay-78"] == kept
        statement = [
            *capture_lines(("alipay-77", "300.00"), ("alipay-78", "276.00")),
            refund_line("RF-1", "100.00"),
        ]
        assert reconcile_payments([order], statement).ok
        missing = reconcile_payments([order], statement[:1] + statement[2:])
        assert [("missing_in_statement", "alipay-78")] == [
            (d.kind.value, d.transaction_id) for d in missing.discrepancies
        ]

    def test_the_refunds_taken_in_keep_every_stated_capture(
        self, desk: OrderDesk, unit: UnitOfWork
    ) -> None:
        desk.accept(
            channel_order(*two_payments(), refunds=(refund(payment_id="alipay-78"),))
        )

        order = stored(unit)
        assert order.payment_ledger is not None
        kept = [p.payment_id for p in order.payment_ledger.payments]
        assert ["alipay-77", "alipay-78"] == kept

    def test_a_payment_after_the_saga_made_the_ledger_is_expected(
        self, desk: OrderDesk, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        desk.accept(channel_order(paid(), cancelled(), status=OrderStatus.CANCELLED))
        payments = FakePayments(clock, refunds_declined=["alipay-77"])
        payments.capture("alipay-77", cny("576.00"), key="cap-1")
        Refunds(unit, clock, payments).send_due()  # declined: in a ledger all the same
        assert stored(unit).payment_ledger is not None
        payments.capture("alipay-78", cny("576.00"), key="cap-2")
        late = attrs.evolve(paid("alipay-78"), occurred_at=T0.add(hours=2, minutes=30))
        desk.record(CH, ID, late)  # a payment after the cancellation

        order = stored(unit)
        assert ["alipay-77", "alipay-78"] == [p.payment_id for p in order.payments]
        report = reconcile_payments([order], payments.statement(T0.date()))
        assert [] == [(d.kind.value, d.transaction_id) for d in report.discrepancies]


class TestUpdate:
    """A later notice of an order the desk holds: its refunds, then its events."""

    def test_a_late_payment_and_its_refund_owe_only_the_rest(
        self, desk: OrderDesk, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        desk.accept(channel_order(status=OrderStatus.PENDING_PAYMENT))
        clock.advance(hours=48)
        desk.close_unpaid()
        later = channel_order(paid(), refunds=(refund(),))

        done = desk.update(later)

        assert [type(d) for d in done] == [Recorded, EventRecorded]
        assert ["476.00"] == owed(unit)
        again = desk.update(later)
        assert isinstance(again[0], Unchanged)
        assert isinstance(again[1], EventRecorded)
        assert not [o for o in again[1].outcomes if isinstance(o, Applied)]
        assert ["476.00"] == owed(unit)

    def test_a_pending_order_is_paid_with_its_refund_recorded(
        self, desk: OrderDesk, unit: UnitOfWork
    ) -> None:
        desk.accept(channel_order(status=OrderStatus.PENDING_PAYMENT))

        desk.update(channel_order(paid(), refunds=(refund(),)))

        order = stored(unit)
        assert OrderStatus.PAID == order.status
        assert [("RF-1", "alipay-77", "100.00", RefundState.REFUNDED)] == refunded(
            order
        )

    def test_an_order_the_desk_lacks_is_unknown(self, desk: OrderDesk) -> None:
        with pytest.raises(UnknownOrder):
            desk.update(channel_order(paid()))

    def test_anything_but_a_channel_order_is_refused(self, desk: OrderDesk) -> None:
        with pytest.raises(ValidationError) as caught:
            desk.update(paid())  # type: ignore[arg-type]
        assert "incoming" == caught.value.field
