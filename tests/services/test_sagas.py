"""Sagas that call the outside: capture, ship and refund, without crashes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

import attrs
import pytest
from tests.services._refund_samples import (
    CH,
    T0,
    Meanwhile,
    PassingOn,
    buyer_cancelled,
    captured_ledger,
    case_key,
    incoming,
    paid_twice_then_cancelled,
    passed_case,
    provider_captured,
    requested_case,
    stocked_desk,
    stored,
)
from tests.services._samples import cny

from orderkit.adapters.sqlite import SqliteUnitOfWork
from orderkit.dedupe import IdempotencyKey
from orderkit.errors import (
    CallTimedOut,
    ConfigurationError,
    CurrencyMismatch,
    IdempotencyConflict,
    IllegalTransition,
    InvalidQuantity,
    RefundExceedsCapture,
    UnknownPayment,
    ValidationError,
)
from orderkit.integrations import (
    ChannelTransaction,
    Label,
    TrackingEvent,
    TrackingStatus,
)
from orderkit.money import Money
from orderkit.orders import (
    Address,
    AddressChanged,
    AfterSalesCase,
    AuditRecord,
    CaseState,
    OrderStatus,
    PaymentCaptured,
    Recorded,
    Saga,
    Unchanged,
    refund_case,
    reject_case,
)
from orderkit.ports import Carrier, Payments, UnitOfWork
from orderkit.pricing import PaymentLedger, RefundState
from orderkit.services import (
    AlreadyDone,
    Captured,
    CaptureDeclined,
    Checkout,
    Dispatched,
    Ledger,
    OrderDesk,
    Recovery,
    RefundDeclined,
    Refunded,
    Refunds,
    Shipping,
    Stalled,
    StuckReason,
    recover,
    status_changed_at,
    stuck_orders,
)
from orderkit.testing import FrozenClock
from orderkit.testing._order_store_contract import sample_order
from orderkit.testing.fakes import FakeCarrier, FakePayments
from orderkit.testing.faults import Fault, FaultPlan, faulty


@attrs.frozen
class Shop:
    """One backend, its clock and its stocked desk: what every saga runs on."""

    unit: UnitOfWork
    clock: FrozenClock
    desk: OrderDesk

    def checkout(self, payments: Payments) -> Checkout:
        """Capture through `payments`."""
        return Checkout(self.unit, self.clock, self.desk, payments)

    def shipping(self, carrier: Carrier) -> Shipping:
        """Book labels through `carrier`."""
        return Shipping(self.unit, self.clock, self.desk, carrier)

    def refunds(self, payments: Payments) -> Refunds:
        """Send the refunds owed through `payments`."""
        return Refunds(self.unit, self.clock, payments)


@pytest.fixture
def shop(unit: UnitOfWork, clock: FrozenClock) -> Shop:
    """The backend under test, its frozen clock and a stocked desk."""
    return Shop(unit, clock, stocked_desk(unit, clock))


@pytest.fixture
def carrier(clock: FrozenClock) -> FakeCarrier:
    return FakeCarrier(clock)


def accepted(desk: OrderDesk) -> None:
    """DY-2001 accepted by `desk`, waiting for payment."""
    desk.accept(incoming())


def pay(
    checkout: Checkout, amount: Money | None = None
) -> Captured | CaptureDeclined | AlreadyDone:
    """Capture `amount` (all 576.00 unless given) of alipay-77 for DY-2001."""
    return checkout.pay(
        CH, "DY-2001", "alipay-77", cny("576.00") if amount is None else amount
    )


def accepted_and_paid(shop: Shop, payments: FakePayments) -> None:
    """DY-2001 accepted, then its 576.00 captured."""
    accepted(shop.desk)
    pay(shop.checkout(payments))


def capture_timed_out(shop: Shop, payments: FakePayments) -> None:
    """Start DY-2001's capture saga; the call times out before the provider acts."""
    plan = FaultPlan(script=[Fault.TIMEOUT_BEFORE])
    with pytest.raises(CallTimedOut):
        pay(shop.checkout(faulty(payments, plan)))


def channel_paid(payment_id: str, amount: str) -> PaymentCaptured:
    """The channel's notice that `amount` of DY-2001 was paid on `payment_id`."""
    return PaymentCaptured(
        order_id="DY-2001",
        key=IdempotencyKey(CH, "trade.paid", "DY-2001", payment_id),
        occurred_at=T0.add(minutes=30),
        payment_id=payment_id,
        amount=cny(amount),
    )


def refunds_owed(unit: UnitOfWork) -> list[str]:
    """The message ids of the refund messages waiting in the outbox."""
    with unit as uow:
        return [m.message_id for m in uow.outbox.unsent() if m.topic == "refund"]


def saga_ended(unit: UnitOfWork, order_id: str = "DY-2001") -> AuditRecord:
    """The order's last SagaEnded record."""
    with unit as uow:
        records = uow.audit.records(CH, order_id)
    return [r for r in records if r.event_type == "SagaEnded"][-1]


def audit_types(unit: UnitOfWork, order_id: str = "DY-2001") -> list[str]:
    with unit as uow:
        return [r.event_type for r in uow.audit.records(CH, order_id)]


def holds(unit: UnitOfWork, order_id: str = "DY-2001") -> list[tuple[str, int, int]]:
    with unit as uow:
        found = uow.ledger.holds(owner=f"order:{CH}:{order_id}")
    return [(str(h.state), h.committed, h.shipped) for h in found]


class TestCheckout:
    """Capture as a saga: the step is stored before the provider is asked."""

    def test_pay_captures_once_and_commits_the_hold(
        self, shop: Shop, payments: FakePayments
    ) -> None:
        accepted(shop.desk)
        outcome = pay(shop.checkout(payments))
        assert isinstance(outcome, Captured)
        assert outcome.order.status is OrderStatus.PAID
        assert outcome.order.saga is None
        assert outcome.transaction.succeeded
        assert list(payments.effects.values()) == [1]
        assert audit_types(shop.unit) == [
            "OrderPlaced",
            "SagaStarted",
            "PaymentCaptured",
            "SagaEnded",
        ]
        assert holds(shop.unit) == [("committed", 2, 0)]

    def test_paying_again_is_already_done_and_calls_nobody(
        self, shop: Shop, payments: FakePayments
    ) -> None:
        accepted(shop.desk)
        checkout = shop.checkout(payments)
        pay(checkout)
        again = pay(checkout)
        assert isinstance(again, AlreadyDone)
        assert sum(payments.calls.values()) == 1

    def test_a_declined_capture_ends_the_saga_and_leaves_the_order_unpaid(
        self, shop: Shop
    ) -> None:
        accepted(shop.desk)
        payments = FakePayments(shop.clock, declined=["alipay-77"])
        outcome = pay(shop.checkout(payments))
        assert isinstance(outcome, CaptureDeclined)
        assert outcome.order.status is OrderStatus.PENDING_PAYMENT
        assert outcome.order.saga is None
        assert holds(shop.unit) == [("live", 0, 0)]
        assert not payments.effects

    def test_a_lost_reply_leaves_the_saga_and_a_retry_captures_once(
        self, shop: Shop, payments: FakePayments
    ) -> None:
        accepted(shop.desk)
        plan = FaultPlan(script=[Fault.REPLY_LOST])
        lossy = shop.checkout(faulty(payments, plan))
        with pytest.raises(CallTimedOut):
            pay(lossy)
        order = stored(shop.unit)
        assert order.status is OrderStatus.PENDING_PAYMENT
        assert order.saga is not None
        assert (order.saga.name, order.saga.step) == ("capture", "requested")
        outcome = pay(lossy)
        assert isinstance(outcome, Captured)
        assert outcome.transaction == payments.transactions[0]
        assert list(payments.effects.values()) == [1]

    def test_refusals_store_nothing(self, shop: Shop, payments: FakePayments) -> None:
        accepted(shop.desk)
        checkout = shop.checkout(payments)
        with pytest.raises(CurrencyMismatch):
            pay(checkout, Money("80.00", "USD"))
        assert audit_types(shop.unit) == ["OrderPlaced"]
        capture_timed_out(shop, payments)
        with pytest.raises(IdempotencyConflict):
            pay(checkout, cny("1.00"))
        with pytest.raises(IllegalTransition, match="capture saga"):
            shop.shipping(FakeCarrier(shop.clock)).ship(CH, "DY-2001", "S1")

    def test_money_for_an_order_closed_meanwhile_goes_back(
        self, shop: Shop, payments: FakePayments
    ) -> None:
        accepted(shop.desk)
        capture_timed_out(shop, payments)
        shop.clock.advance(hours=1)
        shop.desk.close_unpaid()
        checkout = shop.checkout(payments)
        refunds = shop.refunds(payments)
        recovery = recover(shop.unit, checkout=checkout, refunds=refunds)
        (captured,) = recovery.finished
        assert isinstance(captured, Captured)
        assert captured.order.status is OrderStatus.CLOSED
        saga = captured.order.saga
        assert saga is not None
        assert saga.name == "refund"
        topics = set(refunds_owed(shop.unit))
        assert topics == {saga.key}
        (refunded,) = refunds.send_due()
        assert isinstance(refunded, Refunded)
        assert payments.captured("alipay-77") == cny("0.00")

    @pytest.mark.parametrize("payment_id", ["", "   ", None])
    def test_a_blank_payment_id_is_refused_before_anything_is_stored(
        self, shop: Shop, payments: FakePayments, payment_id: object
    ) -> None:
        accepted(shop.desk)
        checkout = shop.checkout(payments)
        with pytest.raises(ValidationError) as caught:
            checkout.pay(CH, "DY-2001", payment_id, cny("576.00"))  # type: ignore[arg-type]
        assert caught.value.field == "payment_id"
        assert not payments.calls
        assert audit_types(shop.unit) == ["OrderPlaced"]
        assert isinstance(pay(checkout), Captured)  # the order is not wedged

    def test_a_cancellation_while_the_capture_runs_is_refunded_once_by_its_saga(
        self, shop: Shop, payments: FakePayments
    ) -> None:
        """The channel reports the saga's capture, then the buyer cancels."""
        accepted(shop.desk)
        with pytest.raises(CallTimedOut):
            pay(shop.checkout(faulty(payments, FaultPlan(script=[Fault.REPLY_LOST]))))
        shop.desk.record(CH, "DY-2001", channel_paid("alipay-77", "576.00"))
        cancelled = shop.desk.record(CH, "DY-2001", buyer_cancelled())
        # The capture saga still runs: the refund owed waits for its end.
        assert [r.amount for r in cancelled.refund_due] == [cny("576.00")]
        assert cancelled.order.review == ()
        refunds = shop.refunds(payments)
        recover(shop.unit, checkout=shop.checkout(payments), refunds=refunds)
        handed = stored(shop.unit).saga
        assert handed is not None
        assert handed.name == "refund"
        # One refund owed, one saga, one key: the message's and the provider's.
        assert refunds_owed(shop.unit) == [handed.key]
        (refunded,) = refunds.send_due()
        assert isinstance(refunded, Refunded)
        assert refunded.transaction.key.event_id == handed.key
        assert refunded.order.saga is None
        assert refunded.order.review == ()  # nothing is left for a person
        assert payments.captured("alipay-77") == cny("0.00")
        assert refunds.send_due() == ()

    def test_a_declined_capture_hands_over_the_refund_a_cancellation_owes(
        self, shop: Shop, payments: FakePayments
    ) -> None:
        """Paid on another payment meanwhile, then cancelled: that goes back."""
        accepted(shop.desk)
        capture_timed_out(shop, payments)
        payments.capture("wx-2", cny("576.00"), key="wx-2")
        shop.desk.record(CH, "DY-2001", channel_paid("wx-2", "576.00"))
        shop.desk.record(CH, "DY-2001", buyer_cancelled())
        declining = FakePayments(shop.clock, declined=["alipay-77"])
        refunds = shop.refunds(payments)

        recovery = recover(shop.unit, checkout=shop.checkout(declining))
        (refunded,) = refunds.send_due()

        assert [type(done) for done in recovery.finished] == [CaptureDeclined]
        assert isinstance(refunded, Refunded)
        assert refunded.order.review == ()
        assert payments.captured("wx-2") == cny("0.00")

    def test_a_capture_after_a_cancellation_that_owed_money_is_a_persons(
        self, shop: Shop, payments: FakePayments
    ) -> None:
        """Two refunds fall due while the capture runs: a person settles both."""
        accepted(shop.desk)
        capture_timed_out(shop, payments)
        payments.capture("wx-2", cny("10.00"), key="wx-2")
        shop.desk.record(CH, "DY-2001", channel_paid("wx-2", "10.00"))
        shop.desk.record(CH, "DY-2001", buyer_cancelled())  # owes wx-2's 10.00

        refunds = shop.refunds(payments)
        recover(shop.unit, checkout=shop.checkout(payments), refunds=refunds)

        order = stored(shop.unit)
        assert order.status is OrderStatus.CANCELLED
        assert order.review == ("refund",)
        assert order.saga is None
        assert len(refunds_owed(shop.unit)) == 2
        assert refunds.send_due() == ()
        assert payments.captured("alipay-77") == cny("576.00")
        assert payments.captured("wx-2") == cny("10.00")

    def test_a_late_capture_refunded_already_leaves_the_cancellation_to_the_saga(
        self, shop: Shop, payments: FakePayments
    ) -> None:
        """A notice that owes nothing gives the order to nobody: the saga refunds."""
        accepted(shop.desk)
        capture_timed_out(shop, payments)
        payments.capture("wx-2", cny("576.00"), key="wx-2")
        shop.desk.record(CH, "DY-2001", channel_paid("wx-2", "576.00"))
        shop.desk.record(CH, "DY-2001", buyer_cancelled())  # owes wx-2's 576.00
        _refunded_by_finance(shop, payments, "wx-3", "10.00")

        refunds = shop.refunds(payments)
        declining = FakePayments(shop.clock, declined=["alipay-77"])
        recover(shop.unit, checkout=shop.checkout(declining), refunds=refunds)
        refunds.send_due()

        assert stored(shop.unit).review == ()
        assert payments.captured("wx-2") == cny("0.00")


def _refunded_by_finance(
    shop: Shop, payments: FakePayments, payment_id: str, amount: str
) -> None:
    """A payment finance captured and refunded, then the channel's late notice of it."""
    money = cny(amount)
    payments.capture(payment_id, money, key=payment_id)
    payments.refund(payment_id, money, key=f"RF-{payment_id}", reason="paid twice")
    ledger = (
        PaymentLedger("DY-2001", "CNY")
        .authorise(payment_id, money, T0)
        .capture(payment_id, money, T0)
        .request_refund(f"RF-{payment_id}", payment_id, money, "paid twice", T0)
        .settle_refund(f"RF-{payment_id}", T0)
    )
    key = IdempotencyKey("erp", "ledger", "DY-2001", "1")
    shop.desk.amend(CH, "DY-2001", ledger, key=key, actor="fin", source="erp")
    late = shop.desk.record(CH, "DY-2001", channel_paid(payment_id, amount))
    assert late.refund_due == ()


class TestShipping:
    """Ship as a saga: a label per shipment id, then picking and shipped."""

    def test_ship_books_one_label_and_ships_every_unit(
        self, shop: Shop, payments: FakePayments, carrier: FakeCarrier
    ) -> None:
        accepted_and_paid(shop, payments)
        shipping = shop.shipping(carrier)
        outcome = shipping.ship(CH, "DY-2001", "SHIP-DY-2001-1")
        assert isinstance(outcome, Dispatched)
        assert outcome.order.status is OrderStatus.SHIPPED
        (shipment,) = outcome.order.shipments
        assert shipment.tracking_number == outcome.label.tracking_number
        assert carrier.effects == {"SHIP-DY-2001-1": 1}
        assert holds(shop.unit) == [("committed", 2, 2)]
        assert isinstance(shipping.ship(CH, "DY-2001", "SHIP-DY-2001-1"), AlreadyDone)
        with pytest.raises(IllegalTransition, match="shipped"):
            shipping.ship(CH, "DY-2001", "SHIP-DY-2001-2")
        scan = carrier.scan(shipment.tracking_number, TrackingStatus.IN_TRANSIT)
        assert carrier.tracking(shipment.tracking_number) == (scan,)

    def test_an_address_changed_after_booking_is_left_to_a_person(
        self, shop: Shop, payments: FakePayments, carrier: FakeCarrier
    ) -> None:
        accepted_and_paid(shop, payments)
        lossy = faulty(carrier, FaultPlan(script=[Fault.REPLY_LOST]))
        with pytest.raises(CallTimedOut):
            shop.shipping(lossy).ship(CH, "DY-2001", "SHIP-1")  # booked, reply lost
        moved = AddressChanged(
            order_id="DY-2001",
            key=IdempotencyKey(CH, "trade.address", "DY-2001", "1"),
            occurred_at=shop.clock.now(),
            address=Address("CN", "北京市", "北京市", "朝阳区", "建国路 8 号"),
        )
        shop.desk.record(CH, "DY-2001", moved)
        shop.desk.record(CH, "DY-2001", buyer_cancelled())
        refunds = shop.refunds(payments)

        recover(shop.unit, shipping=shop.shipping(carrier), refunds=refunds)
        refunds.send_due()

        order = stored(shop.unit)
        assert order.saga is None
        assert "label" in order.review
        assert payments.captured("alipay-77") == cny("0.00")

    def test_an_address_changed_while_booking_is_not_shipped_to_the_old_one(
        self, shop: Shop, payments: FakePayments, carrier: FakeCarrier
    ) -> None:
        # A carrier as the port promises: asked again for a shipment id, it
        # returns the label it booked, whatever address it is given.
        booked: dict[str, Label] = {}

        class KeyedByShipment:
            def create_label(
                self, shipment_id: str, address: Address, *, parcels: int = 1
            ) -> Label:
                if shipment_id not in booked:
                    booked[shipment_id] = carrier.create_label(
                        shipment_id, address, parcels=parcels
                    )
                return booked[shipment_id]

            def tracking(self, tracking_number: str) -> Sequence[TrackingEvent]:
                return carrier.tracking(tracking_number)

        accepted_and_paid(shop, payments)
        lossy = faulty(KeyedByShipment(), FaultPlan(script=[Fault.REPLY_LOST]))
        with pytest.raises(CallTimedOut):
            shop.shipping(lossy).ship(CH, "DY-2001", "SHIP-1")  # booked, reply lost
        moved = AddressChanged(
            order_id="DY-2001",
            key=IdempotencyKey(CH, "trade.address", "DY-2001", "1"),
            occurred_at=shop.clock.now(),
            address=Address("CN", "北京市", "北京市", "朝阳区", "建国路 8 号"),
        )

        recorded = shop.desk.record(CH, "DY-2001", moved)

        assert "label" in recorded.order.review
        with pytest.raises(IllegalTransition, match="void label"):
            shop.shipping(KeyedByShipment()).resume(CH, "DY-2001")
        order = stored(shop.unit)
        assert order.saga is None
        assert order.shipments == ()
        assert order.status is OrderStatus.PAID
        assert "label" in order.review
        assert holds(shop.unit) == [("committed", 2, 0)]

    def test_an_address_changed_during_the_label_call_is_not_shipped_to(
        self, shop: Shop, payments: FakePayments, carrier: FakeCarrier
    ) -> None:
        moved = AddressChanged(
            order_id="DY-2001",
            key=IdempotencyKey(CH, "trade.address", "DY-2001", "1"),
            occurred_at=shop.clock.now(),
            address=Address("CN", "北京市", "北京市", "朝阳区", "建国路 8 号"),
        )

        class Booking:
            """The buyer changes the address while the carrier books the label."""

            def create_label(
                self, shipment_id: str, address: Address, *, parcels: int = 1
            ) -> Label:
                label = carrier.create_label(shipment_id, address, parcels=parcels)
                shop.desk.record(CH, "DY-2001", moved)
                return label

            def tracking(self, tracking_number: str) -> Sequence[TrackingEvent]:
                return carrier.tracking(tracking_number)

        accepted_and_paid(shop, payments)

        with pytest.raises(IllegalTransition, match="void label"):
            shop.shipping(Booking()).ship(CH, "DY-2001", "SHIP-1")

        order = stored(shop.unit)
        assert order.shipments == ()
        assert order.saga is None
        assert "label" in order.review

    def test_an_unpaid_order_is_not_shipped(
        self, shop: Shop, carrier: FakeCarrier
    ) -> None:
        accepted(shop.desk)
        with pytest.raises(IllegalTransition, match="pending_payment"):
            shop.shipping(carrier).ship(CH, "DY-2001", "S1")
        assert not carrier.calls

    def test_a_late_capture_refunded_already_leaves_the_refund_to_the_saga(
        self, shop: Shop, payments: FakePayments, carrier: FakeCarrier
    ) -> None:
        accepted_and_paid(shop, payments)
        plan = FaultPlan(script=[Fault.TIMEOUT_BEFORE])
        with pytest.raises(CallTimedOut):
            shop.shipping(faulty(carrier, plan)).ship(CH, "DY-2001", "S1")
        shop.desk.record(CH, "DY-2001", buyer_cancelled())  # owes 576.00
        _refunded_by_finance(shop, payments, "wx-3", "10.00")

        refunds = shop.refunds(payments)
        recover(shop.unit, shipping=shop.shipping(carrier), refunds=refunds)
        refunds.send_due()

        assert "refund" not in stored(shop.unit).review
        assert payments.captured("alipay-77") == cny("0.00")

    def test_an_order_cancelled_after_booking_says_which_label_to_void(
        self, shop: Shop, payments: FakePayments, carrier: FakeCarrier
    ) -> None:
        accepted_and_paid(shop, payments)
        plan = FaultPlan(script=[Fault.REPLY_LOST])
        with pytest.raises(CallTimedOut):
            shop.shipping(faulty(carrier, plan)).ship(CH, "DY-2001", "S1")
        cancelled = shop.desk.record(CH, "DY-2001", buyer_cancelled())
        # The ship saga still runs: the refund owed waits for its end.
        assert cancelled.refund_due
        assert cancelled.order.review == ()
        running = cancelled.order.saga
        assert running is not None
        assert running.name == "ship"
        assert payments.captured("alipay-77") == cny("576.00")
        refunds = shop.refunds(payments)
        recovery = recover(shop.unit, shipping=shop.shipping(carrier), refunds=refunds)
        (stalled,) = recovery.stalled
        assert isinstance(stalled.error, IllegalTransition)
        assert "void label SF" in str(stalled.error)
        order = stored(shop.unit)
        owed = refunds_owed(shop.unit)
        assert order.status is OrderStatus.CANCELLED
        assert order.shipments == ()
        # The label booked for nothing waits for a person; the refund does not.
        assert order.review == ("label",)
        handed = order.saga
        assert handed is not None
        assert handed.name == "refund"
        assert (handed.key, handed.amount) == (owed[0], cny("576.00"))
        assert owed == [handed.key]
        (refunded,) = refunds.send_due()
        assert isinstance(refunded, Refunded)
        assert refunded.order.saga is None
        assert payments.captured("alipay-77") == cny("0.00")
        assert list(payments.effects.values()) == [1, 1]
        assert carrier.effects == {"S1": 1}
        assert refunds.send_due() == ()
        # The monitor shows the label to void until a person releases it.
        with shop.unit as uow:
            since = status_changed_at(refunded.order, uow.audit.records(CH, "DY-2001"))
        changed = {(CH, "DY-2001"): since}
        later = shop.clock.now().add(hours=2)
        (stuck,) = stuck_orders([refunded.order], now=later, changed_at=changed)
        assert (stuck.reason, stuck.detail) == (StuckReason.AWAITING_REVIEW, "label")
        released = shop.desk.release(CH, "DY-2001", actor="ops.wu").order
        assert stuck_orders([released], now=later, changed_at=changed) == []


class TestRefunds:
    """Refunds the desk found owed are sent once, and recorded."""

    def paid_then_cancelled(self, shop: Shop, payments: FakePayments) -> None:
        accepted_and_paid(shop, payments)
        shop.desk.record(CH, "DY-2001", buyer_cancelled())

    def test_send_due_refunds_once_and_settles_the_ledger(
        self, shop: Shop, payments: FakePayments
    ) -> None:
        accepted(shop.desk)
        shop.desk.amend(
            CH,
            "DY-2001",
            captured_ledger(),
            key=IdempotencyKey("orderkit", "ledger", "DY-2001", "1"),
            actor="finance",
            source="orderkit",
        )
        self.paid_then_cancelled(shop, payments)
        refunds = shop.refunds(payments)
        (outcome,) = refunds.send_due()
        assert isinstance(outcome, Refunded)
        assert outcome.order.saga is None
        kept = outcome.order.payment_ledger
        assert kept is not None
        assert kept.refunded == cny("576.00")
        assert refunds.send_due() == ()
        assert payments.captured("alipay-77") == cny("0.00")
        assert max(payments.effects.values()) == 1
        assert audit_types(shop.unit)[-2:] == ["PaymentsRecorded", "SagaEnded"]

    def test_a_declined_refund_is_recorded_and_left_to_a_person(
        self, shop: Shop
    ) -> None:
        payments = FakePayments(shop.clock, refunds_declined=["alipay-77"])
        self.paid_then_cancelled(shop, payments)
        (outcome,) = shop.refunds(payments).send_due()
        assert isinstance(outcome, RefundDeclined)
        assert outcome.order.saga is None
        assert payments.captured("alipay-77") == cny("576.00")

    def test_a_part_the_provider_refuses_leaves_the_sent_parts_recorded(
        self, shop: Shop, payments: FakePayments
    ) -> None:
        """Two payments; the provider refuses the second part after the first went."""
        accepted(shop.desk)
        provider_captured(
            shop.desk, shop.clock, payments, payment_id="alipay-77", amount="300.00"
        )
        provider_captured(
            shop.desk, shop.clock, payments, payment_id="wx-2", amount="276.00"
        )
        # 10.00 of wx-2 went back at the provider, unknown to the order: the
        # provider refuses a refund of all 276.00 of it.
        payments.refund("wx-2", cny("10.00"), key="price-protection", reason="价保")
        shop.desk.record(CH, "DY-2001", buyer_cancelled())
        refunds = shop.refunds(payments)
        (outcome,) = refunds.send_due()
        assert isinstance(outcome, RefundDeclined)
        assert payments.captured("alipay-77") == cny("0.00")
        order = stored(shop.unit)
        assert order.saga is None
        assert "refund" in order.review  # wx-2's part is a person's now
        assert refunds.send_due() == ()
        # The person reads why the provider refused it.
        (result,) = [
            c.new for c in saga_ended(shop.unit).changes if c.field == "saga.result"
        ]
        declined = [part for part in result.split("; ") if "declined" in part]
        assert len(declined) == 1
        assert "payment 'wx-2' has 266.00 CNY left" in declined[0], result
        assert payments.captured("alipay-77") == cny("0.00")  # sent once

    def test_a_refund_that_fails_after_the_cancellation_is_owed_again(
        self, shop: Shop, payments: FakePayments
    ) -> None:
        """Pending when the order ended, it counted as paid back; it was not."""
        accepted_and_paid(shop, payments)
        pending = captured_ledger().request_refund(
            "rf-50", "alipay-77", cny("50.00"), "价保", T0
        )
        finance = IdempotencyKey("erp", "ledger", "DY-2001", "1")
        shop.desk.amend(
            CH, "DY-2001", pending, key=finance, actor="finance", source="erp"
        )
        shop.desk.record(CH, "DY-2001", buyer_cancelled())
        shop.refunds(payments).send_due()
        kept = stored(shop.unit).payment_ledger
        assert kept is not None
        failed = kept.fail_refund("rf-50", T0.add(hours=2))
        shop.desk.amend(
            CH,
            "DY-2001",
            failed,
            key=IdempotencyKey("erp", "ledger", "DY-2001", "2"),
            actor="finance",
            source="erp",
        )
        assert payments.captured("alipay-77") == cny("50.00")
        assert "refund" in stored(shop.unit).review

    def test_a_failing_refund_stalls_and_stays_owed(
        self, shop: Shop, payments: FakePayments
    ) -> None:
        self.paid_then_cancelled(shop, payments)
        plan = FaultPlan(script=[Fault.TRANSIENT])
        (outcome,) = shop.refunds(faulty(payments, plan)).send_due()
        assert isinstance(outcome, Stalled)
        assert outcome.saga.name == "refund"
        (again,) = shop.refunds(payments).send_due()
        assert isinstance(again, Refunded)

    def test_money_captured_again_while_a_refund_is_owed_waits_for_a_person(
        self, shop: Shop, payments: FakePayments
    ) -> None:
        self.paid_then_cancelled(shop, payments)
        payments.capture("wx-2", cny("576.00"), key="wx-2")
        again = PaymentCaptured(
            order_id="DY-2001",
            key=IdempotencyKey(CH, "trade.paid", "DY-2001", "wx-2"),
            occurred_at=T0.add(hours=2),
            payment_id="wx-2",
            amount=cny("576.00"),
        )
        recorded = shop.desk.record(CH, "DY-2001", again)
        assert recorded.refund_due
        assert recorded.order.review == ("refund",)
        assert len(refunds_owed(shop.unit)) == 2
        shop.clock.advance(minutes=20)
        (stuck,) = stuck_orders([recorded.order], now=shop.clock.now())
        assert stuck.reason is StuckReason.SAGA_STALLED
        (sent,) = shop.refunds(payments).send_due()
        assert isinstance(sent, Refunded)
        assert sent.order.saga is None
        # The first refund went out; the second payment is a person's to return.
        assert payments.captured("wx-2") == cny("576.00")
        (stuck,) = stuck_orders([sent.order], now=shop.clock.now().add(hours=2))
        assert (stuck.reason, stuck.detail) == (StuckReason.AWAITING_REVIEW, "refund")

    @staticmethod
    def refunded_before(shop: Shop, refund_id: str, amount: str) -> None:
        """DY-2001's ledger, amended by finance: `amount` of it refunded already."""
        shop.desk.amend(
            CH,
            "DY-2001",
            captured_ledger()
            .request_refund(refund_id, "alipay-77", cny(amount), "价保", T0)
            .settle_refund(refund_id, T0),
            key=IdempotencyKey("orderkit", "ledger", "DY-2001", "1"),
            actor="finance",
            source="orderkit",
        )

    def test_an_order_paid_in_two_payments_gets_each_of_them_back(
        self, shop: Shop, payments: FakePayments
    ) -> None:
        paid_twice_then_cancelled(shop.unit, shop.clock, payments, desk=shop.desk)

        (outcome,) = shop.refunds(payments).send_due()

        assert isinstance(outcome, Refunded)
        assert outcome.order.saga is None
        assert payments.captured("alipay-77") == cny("0.00")
        assert payments.captured("wx-2") == cny("0.00")
        assert shop.refunds(payments).send_due() == ()
        assert max(payments.effects.values()) == 1

    def test_a_refusal_no_store_could_hold_as_text_is_recorded_all_the_same(
        self, shop: Shop
    ) -> None:
        """A gateway's message with a lone surrogate, kept escaped in the result."""

        class Gateway(PassingOn):
            def refund(
                self, payment_id: str, amount: Money, *, key: str, reason: str
            ) -> ChannelTransaction:
                if payment_id == "wx-2":
                    problem = "渠道返回: \udc9e余额不足"
                    raise RefundExceedsCapture("amount", amount, problem)
                return super().refund(payment_id, amount, key=key, reason=reason)

        fake = FakePayments(shop.clock)
        paid_twice_then_cancelled(shop.unit, shop.clock, fake, desk=shop.desk)

        (outcome,) = shop.refunds(Gateway(fake)).send_due()

        assert isinstance(outcome, RefundDeclined), outcome
        assert fake.captured("alipay-77") == cny("0.00")
        changes = saga_ended(shop.unit).changes
        (result,) = [c.new for c in changes if c.field == "saga.result"]
        assert "\\udc9e余额不足" in result

    def test_a_payment_recorded_after_the_cancellation_never_moves_its_parts(
        self, shop: Shop, payments: FakePayments
    ) -> None:
        paid_twice_then_cancelled(shop.unit, shop.clock, payments, desk=shop.desk)
        # A late notice: paid once more, with a payment sorting before wx-2.
        provider_captured(
            shop.desk, shop.clock, payments, payment_id="alipay-3", amount="50.00"
        )
        assert "refund" in stored(shop.unit).review  # that one is a person's

        (outcome,) = shop.refunds(payments).send_due()

        assert isinstance(outcome, Refunded)
        assert payments.captured("alipay-77") == cny("0.00")
        assert payments.captured("wx-2") == cny("0.00")
        assert payments.captured("alipay-3") == cny("50.00")

    def test_a_declined_part_leaves_the_other_payments_refunded(
        self, shop: Shop
    ) -> None:
        payments = FakePayments(shop.clock, refunds_declined=["alipay-77"])
        paid_twice_then_cancelled(shop.unit, shop.clock, payments, desk=shop.desk)

        (outcome,) = shop.refunds(payments).send_due()

        assert isinstance(outcome, RefundDeclined)
        assert payments.captured("wx-2") == cny("0.00")
        assert payments.captured("alipay-77") == cny("300.00")
        assert outcome.order.review == ("refund",)

    def test_a_capture_the_channel_reported_first_is_still_refunded(
        self, shop: Shop, payments: FakePayments
    ) -> None:
        accepted(shop.desk)
        with pytest.raises(CallTimedOut):
            pay(shop.checkout(faulty(payments, FaultPlan(script=[Fault.REPLY_LOST]))))
        shop.desk.record(CH, "DY-2001", buyer_cancelled())  # nothing paid yet
        # The channel's feed reports the saga's capture under its own key.
        reported = PaymentCaptured(
            order_id="DY-2001",
            key=IdempotencyKey(CH, "trade.paid", "DY-2001", "feed"),
            occurred_at=shop.clock.now(),
            payment_id="alipay-77",
            amount=cny("576.00"),
        )
        assert shop.desk.record(CH, "DY-2001", reported).refund_due

        refunds = shop.refunds(payments)
        recover(shop.unit, checkout=shop.checkout(payments), refunds=refunds)
        refunds.send_due()

        assert payments.captured("alipay-77") == cny("0.00")
        assert stored(shop.unit).saga is None

    def test_a_cancellation_owes_only_what_was_not_refunded_yet(
        self, shop: Shop, payments: FakePayments
    ) -> None:
        accepted_and_paid(shop, payments)
        payments.refund("alipay-77", cny("50.00"), key="rf-50", reason="价保")
        self.refunded_before(shop, "rf-50", "50.00")

        cancelled = shop.desk.record(CH, "DY-2001", buyer_cancelled())
        (outcome,) = shop.refunds(payments).send_due()

        assert [r.amount for r in cancelled.refund_due] == [cny("526.00")]
        assert isinstance(outcome, Refunded)
        assert payments.captured("alipay-77") == cny("0.00")
        kept = outcome.order.payment_ledger
        assert kept is not None
        assert kept.refunded == cny("576.00")

    def test_a_cancellation_after_a_full_refund_owes_nothing(
        self, shop: Shop, payments: FakePayments
    ) -> None:
        accepted_and_paid(shop, payments)
        self.refunded_before(shop, "rf-all", "576.00")

        cancelled = shop.desk.record(CH, "DY-2001", buyer_cancelled())

        assert cancelled.refund_due == ()
        assert cancelled.order.saga is None
        assert refunds_owed(shop.unit) == []

    def test_money_captured_after_a_refunded_cancellation_goes_back_to_its_payment(
        self, shop: Shop, payments: FakePayments
    ) -> None:
        self.paid_then_cancelled(shop, payments)
        (first,) = shop.refunds(payments).send_due()
        assert isinstance(first, Refunded)
        shop.clock.advance(hours=2)
        provider_captured(
            shop.desk, shop.clock, payments, payment_id="wx-2", amount="576.00"
        )

        (second,) = shop.refunds(payments).send_due()

        assert isinstance(second, Refunded)
        assert payments.captured("wx-2") == cny("0.00")
        assert payments.captured("alipay-77") == cny("0.00")

    @pytest.mark.parametrize(
        ("refunded", "owed"), [("576.00", None), ("500.00", "76.00")]
    )
    def test_a_late_notice_owes_only_what_the_ledger_shows_not_refunded(
        self, shop: Shop, payments: FakePayments, refunded: str, owed: str | None
    ) -> None:
        """Paid twice: the provider's notices of wx-2 came before the channel's."""
        self.paid_then_cancelled(shop, payments)
        shop.refunds(payments).send_due()
        payments.capture("wx-2", cny("576.00"), key="wx-2")
        payments.refund("wx-2", cny(refunded), key="RF-wx-2", reason="paid twice")
        # Finance extends the ledger the desk keeps: it holds alipay-77 and
        # the cancellation's refund, which the saga recorded.
        kept = stored(shop.unit).payment_ledger
        assert kept is not None
        ledger = (
            kept.authorise("wx-2", cny("576.00"), T0)
            .capture("wx-2", cny("576.00"), T0)
            .request_refund("RF-wx-2", "wx-2", cny(refunded), "paid twice", T0)
            .settle_refund("RF-wx-2", T0)
        )
        finance = IdempotencyKey("erp", "ledger", "DY-2001", "1")
        shop.desk.amend(CH, "DY-2001", ledger, key=finance, actor="fin", source="erp")

        late = shop.desk.record(CH, "DY-2001", channel_paid("wx-2", "576.00"))
        outcomes = shop.refunds(payments).send_due()

        assert [str(r.amount.amount) for r in late.refund_due] == (
            [] if owed is None else [owed]
        )
        assert len(refunds_owed(shop.unit)) == (1 if owed is None else 2)
        assert [type(o) for o in outcomes] == ([] if owed is None else [Refunded])
        assert payments.captured("wx-2") == cny("0.00")
        assert stored(shop.unit).saga is None

    @staticmethod
    def kept_then_cancelled(shop: Shop, payments: FakePayments) -> PaymentLedger:
        """Finance keeps DY-2001's ledger; its 576.00 is captured, then cancelled."""
        accepted(shop.desk)
        first = IdempotencyKey("erp", "ledger", "DY-2001", "1")
        ledger = captured_ledger()
        shop.desk.amend(CH, "DY-2001", ledger, key=first, actor="fin", source="erp")
        provider_captured(
            shop.desk, shop.clock, payments, payment_id="alipay-77", amount="576.00"
        )
        shop.desk.record(CH, "DY-2001", buyer_cancelled())
        return ledger

    def test_a_refund_the_host_made_meanwhile_leaves_the_rest_to_a_person(
        self, shop: Shop, payments: FakePayments
    ) -> None:
        """Finance refunds 100.00 by hand while the cancellation's 576.00 is due."""
        ledger = self.kept_then_cancelled(shop, payments)
        payments.refund("alipay-77", cny("100.00"), key="RF-hand", reason="goodwill")
        by_hand = ledger.request_refund(
            "RF-hand", "alipay-77", cny("100.00"), "goodwill", T0
        ).settle_refund("RF-hand", T0)
        second = IdempotencyKey("erp", "ledger", "DY-2001", "2")
        shop.desk.amend(CH, "DY-2001", by_hand, key=second, actor="fin", source="erp")

        (stalled,) = shop.refunds(payments).send_due()

        assert isinstance(stalled, Stalled)
        assert isinstance(stalled.error, RefundExceedsCapture)
        order = stored(shop.unit)
        assert order.saga is None
        assert "refund" in order.review
        assert payments.captured("alipay-77") == cny("476.00")  # nothing sent
        assert shop.refunds(payments).send_due() == ()  # not asked again

    def test_a_refund_the_host_made_while_the_saga_was_at_the_provider_is_a_persons(
        self, shop: Shop, payments: FakePayments
    ) -> None:
        """Finance asks 100.00 back by hand while the saga's 576.00 is being sent."""
        ledger = self.kept_then_cancelled(shop, payments)
        by_hand = ledger.request_refund(
            "RF-hand", "alipay-77", cny("100.00"), "goodwill", T0
        )
        second = IdempotencyKey("erp", "ledger", "DY-2001", "2")

        def finance() -> None:
            shop.desk.amend(
                CH, "DY-2001", by_hand, key=second, actor="fin", source="erp"
            )

        provider = Meanwhile(payments, finance)

        (outcome,) = shop.refunds(provider).send_due()

        assert isinstance(outcome, Refunded)
        assert payments.captured("alipay-77") == cny("0.00")  # the 576.00 left
        order = stored(shop.unit)
        assert order.saga is None
        assert order.review == ("refund",)
        assert order.payment_ledger == by_hand  # it cannot hold both
        (result,) = [
            c.new for c in saga_ended(shop.unit).changes if c.field == "saga.result"
        ]
        assert "576.00" in result
        assert "not recorded" in result
        assert shop.refunds(payments).send_due() == ()  # not asked again

    def test_a_refund_on_a_payment_the_ledger_lacked_is_recorded_in_it(
        self, shop: Shop, payments: FakePayments
    ) -> None:
        """Finance keeps alipay-77 in the ledger; wx-2 is paid on top, then all ends."""
        accepted(shop.desk)
        finance = IdempotencyKey("erp", "ledger", "DY-2001", "1")
        shop.desk.amend(
            CH, "DY-2001", captured_ledger(), key=finance, actor="fin", source="erp"
        )
        provider_captured(
            shop.desk, shop.clock, payments, payment_id="alipay-77", amount="576.00"
        )
        provider_captured(
            shop.desk, shop.clock, payments, payment_id="wx-2", amount="10.00"
        )
        shop.desk.record(CH, "DY-2001", buyer_cancelled())

        (outcome,) = shop.refunds(payments).send_due()

        assert isinstance(outcome, Refunded)
        kept = outcome.order.payment_ledger
        assert kept is not None
        assert kept.totals("wx-2").refunded == cny("10.00")
        assert kept.refunded == cny("586.00")
        assert payments.captured("wx-2") == cny("0.00")

    @pytest.mark.parametrize("limit", [0, -1, "3", 2.5, True])
    def test_send_due_refuses_a_limit_that_is_not_a_positive_count(
        self, shop: Shop, payments: FakePayments, limit: object
    ) -> None:
        self.paid_then_cancelled(shop, payments)
        with pytest.raises(InvalidQuantity) as caught:
            shop.refunds(payments).send_due(limit=limit)  # type: ignore[arg-type]
        assert caught.value.field == "limit"
        assert payments.captured("alipay-77") == cny("576.00")


class TestAfterSalesRefunds:
    """A case that passed inspection is refunded by a saga, once, and recorded."""

    @staticmethod
    def ship(shop: Shop, payments: FakePayments, carrier: FakeCarrier) -> OrderDesk:
        accepted_and_paid(shop, payments)
        shop.shipping(carrier).ship(CH, "DY-2001", "SHIP-DY-2001-1")
        return shop.desk

    @pytest.fixture
    def shipped(
        self, shop: Shop, payments: FakePayments, carrier: FakeCarrier
    ) -> OrderDesk:
        return self.ship(shop, payments, carrier)

    def inspected(self, desk: OrderDesk, case: AfterSalesCase, n: str = "1") -> None:
        outcome = desk.amend(
            CH,
            "DY-2001",
            case,
            key=IdempotencyKey("erp", "aftersales", case.case_id, n),
            actor="ops.wu",
            source="erp",
        )
        assert isinstance(outcome, Recorded)

    def test_the_refund_goes_out_once_and_the_case_is_refunded(
        self, shop: Shop, shipped: OrderDesk, payments: FakePayments
    ) -> None:
        self.inspected(shipped, passed_case())
        order = stored(shop.unit)
        owed = refunds_owed(shop.unit)
        with shop.unit as uow:
            on_hand = (
                Ledger(uow.ledger, shop.clock).balance("JADE-TEAPOT", "SH-1").on_hand
            )
        assert order.saga is not None
        assert (order.saga.name, order.saga.key) == ("refund", case_key())
        assert order.saga.amount == cny("288.00")
        assert owed == [case_key()]
        assert on_hand == 9  # 10 received, 2 shipped, 1 back after inspection
        refunds = shop.refunds(payments)
        (outcome,) = refunds.send_due()
        assert isinstance(outcome, Refunded)
        (case,) = outcome.order.after_sales
        assert case.state is CaseState.REFUNDED
        assert case.refund_id == case_key()
        ledger = outcome.order.payment_ledger
        assert ledger is not None
        assert ledger.refunded == cny("288.00")
        assert outcome.order.saga is None
        assert outcome.order.review == ()
        assert payments.captured("alipay-77") == cny("288.00")
        assert payments.effects[case_key()] == 1
        assert refunds.send_due() == ()
        assert recover(shop.unit, refunds=refunds) == Recovery((), ())
        assert audit_types(shop.unit)[-4:] == [
            "AfterSalesRecorded",
            "PaymentsRecorded",
            "AfterSalesRecorded",
            "SagaEnded",
        ]

    @staticmethod
    def on_hand(shop: Shop) -> int:
        with shop.unit as uow:
            balance = Ledger(uow.ledger, shop.clock).balance("JADE-TEAPOT", "SH-1")
        return balance.on_hand

    def test_units_an_earlier_case_put_back_cannot_be_put_back_again(
        self, shop: Shop, shipped: OrderDesk
    ) -> None:
        self.inspected(shipped, passed_case(case_id="AS-1"))
        self.inspected(shipped, passed_case(case_id="AS-2"))
        assert self.on_hand(shop) == 10  # both shipped teapots are back

        with pytest.raises(ValidationError, match="0 units shipped and not returned"):
            self.inspected(shipped, passed_case(case_id="AS-3"))

        assert self.on_hand(shop) == 10
        assert [c.case_id for c in stored(shop.unit).after_sales] == ["AS-1", "AS-2"]

    def test_a_case_on_an_order_that_never_shipped_puts_nothing_back(
        self, shop: Shop, payments: FakePayments
    ) -> None:
        accepted_and_paid(shop, payments)

        with pytest.raises(ValidationError, match=r"lines\[0\]\.quantity"):
            self.inspected(shop.desk, passed_case())

        assert self.on_hand(shop) == 10
        assert stored(shop.unit).after_sales == ()
        assert refunds_owed(shop.unit) == []

    def test_a_return_of_units_never_shipped_is_refused_when_opened(
        self, shop: Shop, payments: FakePayments
    ) -> None:
        accepted_and_paid(shop, payments)
        before = stored(shop.unit)

        with pytest.raises(ValidationError, match=r"0 units shipped") as caught:
            self.inspected(shop.desk, requested_case())

        assert "after_sales[0].lines[0].quantity" == caught.value.field
        assert before == stored(shop.unit)
        # Refused, it returns nothing: the desk records it.
        rejected = reject_case(
            requested_case(), "mgr.li", "未发货 / never shipped", T0.add(days=4)
        )
        self.inspected(shop.desk, rejected)
        assert [CaseState.REJECTED] == [c.state for c in stored(shop.unit).after_sales]

    def test_a_lost_reply_is_resumed_and_refunds_once(
        self, shop: Shop, shipped: OrderDesk, payments: FakePayments
    ) -> None:
        self.inspected(shipped, passed_case())
        plan = FaultPlan(script=[Fault.REPLY_LOST])
        (stalled,) = shop.refunds(faulty(payments, plan)).send_due()
        assert isinstance(stalled, Stalled)
        assert isinstance(stalled.error, CallTimedOut)
        # The money went back; the order says so only once it is recorded.
        assert payments.captured("alipay-77") == cny("288.00")
        recovery = recover(shop.unit, refunds=shop.refunds(payments))
        (refunded,) = recovery.finished
        assert isinstance(refunded, Refunded)
        assert refunded.order.after_sales[0].state is CaseState.REFUNDED
        assert payments.calls[case_key()] == 2
        assert payments.effects[case_key()] == 1
        assert payments.captured("alipay-77") == cny("288.00")

    def test_cases_owed_together_are_sent_one_after_the_other(
        self, shop: Shop, shipped: OrderDesk, payments: FakePayments
    ) -> None:
        self.inspected(shipped, passed_case(case_id="AS-1"))
        # The first case's saga is in flight: the second one's waits for it.
        self.inspected(shipped, passed_case(case_id="AS-2"))
        order = stored(shop.unit)
        owed = refunds_owed(shop.unit)
        assert order.saga is not None
        assert order.saga.key == case_key(case_id="AS-1")
        assert owed == [case_key(case_id="AS-1"), case_key(case_id="AS-2")]
        first, second = shop.refunds(payments).send_due()
        assert isinstance(first, Refunded)
        assert isinstance(second, Refunded)
        last = second.order
        assert [c.state for c in last.after_sales] == [CaseState.REFUNDED] * 2
        assert last.saga is None
        assert payments.captured("alipay-77") == cny("0.00")
        assert max(payments.effects.values()) == 1

    def test_a_case_left_owed_by_an_earlier_call_is_sent_by_the_next(
        self, shop: Shop, shipped: OrderDesk, payments: FakePayments
    ) -> None:
        """AS-2 passed inspection while AS-1's saga ran; a call sent AS-1 alone.

        No saga is in flight on the order then, yet it waits (an inspected
        case): the next `send_due` finds it and starts AS-2's refund.
        """
        self.inspected(shipped, passed_case(case_id="AS-1"))
        self.inspected(shipped, passed_case(case_id="AS-2"))
        (first,) = shop.refunds(payments).send_due(limit=1)
        assert isinstance(first, Refunded)
        assert first.order.saga is None

        (second,) = shop.refunds(payments).send_due()

        assert isinstance(second, Refunded)
        assert [c.state for c in second.order.after_sales] == [CaseState.REFUNDED] * 2
        assert payments.captured("alipay-77") == cny("0.00")

    def test_a_case_on_a_payment_recorded_after_the_ledger_began_is_refunded(
        self, shop: Shop, shipped: OrderDesk, payments: FakePayments
    ) -> None:
        """A supplement paid on the shipped order, after AS-1 began the ledger."""
        self.inspected(shipped, passed_case(case_id="AS-1"))
        (first,) = shop.refunds(payments).send_due()
        assert isinstance(first, Refunded)
        payments.capture("wx-2", cny("10.00"), key="wx-2")
        shipped.record(CH, "DY-2001", channel_paid("wx-2", "10.00"))
        self.inspected(
            shipped, passed_case(case_id="AS-2", refund="10.00", payment_id="wx-2")
        )

        (second,) = shop.refunds(payments).send_due()

        assert isinstance(second, Refunded), second
        assert [c.state for c in second.order.after_sales] == [CaseState.REFUNDED] * 2
        ledger = second.order.payment_ledger
        assert ledger is not None
        assert ledger.totals("wx-2").refunded == cny("10.00")
        assert payments.captured("wx-2") == cny("0.00")
        assert payments.captured("alipay-77") == cny("288.00")

    def test_a_refund_beyond_the_capture_is_refused_when_recorded(
        self, shop: Shop, shipped: OrderDesk, payments: FakePayments
    ) -> None:
        before = stored(shop.unit)

        with pytest.raises(RefundExceedsCapture) as caught:
            self.inspected(shipped, passed_case(refund="600.00"))

        assert caught.value.field == "after_sales[0].refund_amount"
        assert stored(shop.unit) == before
        assert shop.refunds(payments).send_due() == ()
        assert case_key() not in payments.calls
        assert payments.captured("alipay-77") == cny("576.00")

    def test_a_refund_the_ledger_no_longer_allows_is_never_sent(
        self, shop: Shop, shipped: OrderDesk, payments: FakePayments
    ) -> None:
        # Within the capture when recorded; finance refunds 100.00 by hand
        # before the saga runs, and 500.00 is more than is left.
        self.inspected(shipped, passed_case(refund="500.00"))
        by_hand = (
            stored_ledger(shop.unit)
            .request_refund("RF-HAND-9", "alipay-77", cny("100.00"), "差价", T0)
            .settle_refund("RF-HAND-9", T0)
        )
        shipped.amend(
            CH,
            "DY-2001",
            by_hand,
            key=IdempotencyKey("erp", "ledger", "DY-2001", "9"),
            actor="fin",
            source="erp",
        )
        (stalled,) = shop.refunds(payments).send_due()
        assert isinstance(stalled, Stalled)
        assert isinstance(stalled.error, RefundExceedsCapture)
        assert case_key() not in payments.calls
        assert payments.captured("alipay-77") == cny("576.00")
        order = stored(shop.unit)
        assert order.saga is not None  # still owed: recover reports it stalled
        assert order.saga.key == case_key()
        assert order.review == ("refund",)  # where people look for work
        shop.refunds(payments).send_due()
        assert audit_types(shop.unit).count("HeldForReview") == 1

    def test_a_declined_refund_waits_for_a_person_and_is_not_sent_again(
        self, shop: Shop, carrier: FakeCarrier
    ) -> None:
        payments = FakePayments(shop.clock, refunds_declined=["alipay-77"])
        shipped = self.ship(shop, payments, carrier)
        self.inspected(shipped, passed_case())
        refunds = shop.refunds(payments)
        (declined,) = refunds.send_due()
        assert isinstance(declined, RefundDeclined)
        assert declined.order.after_sales[0].state is CaseState.INSPECTED
        assert declined.order.review == ("refund",)
        ledger = declined.order.payment_ledger
        assert ledger is not None
        assert ledger.refund(case_key()).state is RefundState.FAILED
        assert refunds.send_due() == ()
        assert payments.calls[case_key()] == 1

    def test_a_declined_refund_never_reads_as_the_cases_refund(
        self, shop: Shop, carrier: FakeCarrier
    ) -> None:
        payments = FakePayments(shop.clock, refunds_declined=["alipay-77"])
        shipped = self.ship(shop, payments, carrier)
        case = passed_case()
        self.inspected(shipped, case)
        (declined,) = shop.refunds(payments).send_due()
        assert isinstance(declined, RefundDeclined)
        before = stored(shop.unit)

        with pytest.raises(ValidationError) as caught:
            self.inspected(shipped, refund_case(case, case_key(), T0.add(days=8)), "2")

        assert (caught.value.field, caught.value.value) == (
            "after_sales[0].refund_id",
            case_key(),
        )
        assert stored(shop.unit) == before
        assert before.after_sales[0].state is CaseState.INSPECTED

    def test_a_case_settled_otherwise_is_not_sent(
        self, shop: Shop, shipped: OrderDesk, payments: FakePayments
    ) -> None:
        case = passed_case()
        self.inspected(shipped, case)
        # Finance refunded it by hand, under its own refund id, meanwhile.
        ledger = captured_ledger().request_refund(
            "RF-HAND-1", "alipay-77", cny("288.00"), "by hand", T0
        )
        stamp = {"actor": "finance.zhang", "source": "erp"}
        shipped.amend(
            CH, "DY-2001", ledger, key=IdempotencyKey("erp", "l", "1", "1"), **stamp
        )
        by_hand = refund_case(case, "RF-HAND-1", T0.add(days=8))
        shipped.amend(
            CH, "DY-2001", by_hand, key=IdempotencyKey("erp", "c", "1", "2"), **stamp
        )
        assert shop.refunds(payments).send_due() == ()
        assert case_key() not in payments.calls
        assert stored(shop.unit).saga is None
        assert audit_types(shop.unit)[-1] == "SagaEnded"

    @staticmethod
    def refunded_by_hand(shop: Shop, case: AfterSalesCase) -> None:
        """Finance refunds the case by hand: RF-HAND-1 pending, the case REFUNDED."""
        stamp = {"actor": "finance.zhang", "source": "erp"}
        desk = shop.desk
        ledger = stored_ledger(shop.unit).request_refund(
            "RF-HAND-1", "alipay-77", case.refund_amount, "by hand", T0
        )
        desk.amend(
            CH, "DY-2001", ledger, key=IdempotencyKey("erp", "l", "1", "1"), **stamp
        )
        by_hand = refund_case(case, "RF-HAND-1", T0.add(days=8))
        desk.amend(
            CH, "DY-2001", by_hand, key=IdempotencyKey("erp", "c", "1", "2"), **stamp
        )

    def test_a_case_refunded_by_hand_while_its_refund_is_sent_is_a_persons(
        self, shop: Shop, shipped: OrderDesk, payments: FakePayments
    ) -> None:
        """The refund went out: the ledger shows it, and a person sees both."""
        case = passed_case()
        self.inspected(shipped, case)
        provider = Meanwhile(payments, lambda: self.refunded_by_hand(shop, case))

        (outcome,) = shop.refunds(provider).send_due()

        assert isinstance(outcome, Refunded)
        assert payments.effects[case_key()] == 1
        order = stored(shop.unit)
        ledger = order.payment_ledger
        assert ledger is not None
        sent = ledger.refund(case_key())
        assert (sent.amount, sent.state) == (cny("288.00"), RefundState.REFUNDED)
        assert ledger.refund("RF-HAND-1").state is RefundState.PENDING
        (kept,) = order.after_sales
        assert (kept.state, kept.refund_id) == (CaseState.REFUNDED, "RF-HAND-1")
        assert order.saga is None
        assert order.review == ("refund",)
        (result,) = [
            c.new for c in saga_ended(shop.unit).changes if c.field == "saga.result"
        ]
        assert "not sent" not in result
        assert "sent while case AS-1 was refunded under RF-HAND-1" in result
        assert shop.refunds(payments).send_due() == ()
        assert payments.calls[case_key()] == 1

    def test_a_case_refunded_by_hand_after_a_lost_reply_is_a_persons(
        self, shop: Shop, shipped: OrderDesk, payments: FakePayments
    ) -> None:
        """The provider may have paid already: nothing says so but a person."""
        case = passed_case()
        self.inspected(shipped, case)
        plan = FaultPlan(script=[Fault.REPLY_LOST])
        (stalled,) = shop.refunds(faulty(payments, plan)).send_due()
        assert isinstance(stalled, Stalled)
        self.refunded_by_hand(shop, case)

        assert shop.refunds(payments).send_due() == ()

        assert payments.effects[case_key()] == 1  # not sent again
        order = stored(shop.unit)
        assert order.saga is None
        assert order.review == ("refund",)
        (result,) = [
            c.new for c in saga_ended(shop.unit).changes if c.field == "saga.result"
        ]
        assert case_key() in result

    def test_a_hand_refund_of_a_refunded_case_that_fails_waits_for_a_person(
        self, shop: Shop, shipped: OrderDesk
    ) -> None:
        """The case stays refunded, so nothing else would send its money."""
        self.refunded_by_hand(shop, passed_case())
        ledger = stored_ledger(shop.unit)
        failed = ledger.fail_refund("RF-HAND-1", T0.add(days=9))
        stamp = {"actor": "finance.zhang", "source": "erp"}

        shipped.amend(
            CH, "DY-2001", failed, key=IdempotencyKey("erp", "l", "1", "3"), **stamp
        )

        held = stored(shop.unit)
        assert held.status is OrderStatus.SHIPPED
        assert held.review == ("refund",)
        assert audit_types(shop.unit)[-1] == "HeldForReview"
        later = shop.clock.now().add(days=1)
        (stuck,) = stuck_orders([held], now=later)
        assert (stuck.reason, stuck.detail) == (StuckReason.AWAITING_REVIEW, "refund")
        # Applying twice changes nothing, under its key or another.
        for n in ("3", "4"):
            again = shipped.amend(
                CH, "DY-2001", failed, key=IdempotencyKey("erp", "l", "1", n), **stamp
            )
            assert isinstance(again, Unchanged)
        assert stored(shop.unit) == held


def stored_ledger(unit: UnitOfWork) -> PaymentLedger:
    """DY-2001's payment ledger as stored, or its captured one if it keeps none."""
    return stored(unit).payment_ledger or captured_ledger()


class TestRecover:
    """Recovery resumes every saga in flight, and says what it could not."""

    def test_a_saga_without_its_use_case_is_stalled(
        self, shop: Shop, payments: FakePayments
    ) -> None:
        accepted(shop.desk)
        capture_timed_out(shop, payments)
        recovery = recover(shop.unit)
        (stalled,) = recovery.stalled
        assert isinstance(stalled.error, ConfigurationError)
        assert recovery.finished == ()

    def test_nothing_in_flight_does_nothing(self, unit: UnitOfWork) -> None:
        assert recover(unit, page=1).finished == ()

    @pytest.mark.parametrize("listing", ["waiting", "every-order"])
    def test_sagas_are_found_among_orders_that_do_not_wait(
        self,
        shop: Shop,
        payments: FakePayments,
        monkeypatch: pytest.MonkeyPatch,
        listing: str,
    ) -> None:
        """`recover` and `send_due` find the orders that wait among many others.

        From a store with the optional `waiting()` they read no other order
        (its `orders()` fails here); from a host's store without it, they
        read every order, a page at a time.
        """
        with shop.unit as uow:
            for n in range(5):
                uow.orders.save(sample_order(f"DY-1{n:03d}", CH), None)
            uow.commit()
            store = type(uow.orders)
        accepted(shop.desk)
        capture_timed_out(shop, payments)

        def every_order(*_args: object, **_kwargs: object) -> list[object]:
            pytest.fail("every order was read")

        if listing == "waiting":
            monkeypatch.setattr(store, "orders", every_order)
        else:
            # A host's store without the optional read.
            monkeypatch.setattr(store, "waiting", None, raising=False)
        recovery = recover(shop.unit, checkout=shop.checkout(payments), page=2)
        shop.desk.record(CH, "DY-2001", buyer_cancelled())
        sent = shop.refunds(payments).send_due()

        assert [type(o) for o in recovery.finished] == [Captured]
        assert recovery.stalled == ()
        assert [type(o) for o in sent] == [Refunded]
        assert payments.captured("alipay-77") == cny("0.00")


class TestFakes:
    """The fakes keep the ports' idempotency contracts."""

    def test_payments_refuse_more_than_captured_and_unknown_payments(
        self, clock: FrozenClock
    ) -> None:
        payments = FakePayments(clock)
        payments.capture("wx-1", cny("10.00"), key="k1")
        with pytest.raises(RefundExceedsCapture):
            payments.refund("wx-1", cny("10.01"), key="r1", reason="退款")
        with pytest.raises(UnknownPayment):
            payments.refund("wx-2", cny("1.00"), key="r2", reason="退款")
        with pytest.raises(IdempotencyConflict):
            payments.capture("wx-1", cny("11.00"), key="k1")
        payments.refund("wx-1", cny("4.00"), key="r3", reason="退款")
        (capture, refund) = payments.statement(T0.date())
        assert (capture.amount, refund.amount) == (cny("10.00"), cny("4.00"))
        assert payments.statement(T0.date() + dt.timedelta(days=1)) == []

    def test_carrier_books_one_label_per_shipment_id(self, clock: FrozenClock) -> None:
        carrier = FakeCarrier(clock, code="ZTO")
        address = incoming().placed.address
        first = carrier.create_label("S1", address)
        assert carrier.create_label("S1", address) == first
        assert first.tracking_number.startswith("ZTO")
        other = Address("CN", "北京市", "北京市", "海淀区", "中关村大街 1 号")
        with pytest.raises(IdempotencyConflict):
            carrier.create_label("S1", other)
        assert carrier.effects == {"S1": 1}
        assert carrier.calls == {"S1": 3}
        assert carrier.labels == {"S1": first}


def test_saga_value_round_trips_through_sqlite(tmp_path: Path) -> None:
    """A saga in flight is read back equal from a new connection."""
    clock = FrozenClock(T0)
    first = SqliteUnitOfWork(tmp_path / "s.db")
    shop = Shop(first, clock, stocked_desk(first, clock))
    accepted(shop.desk)
    capture_timed_out(shop, FakePayments(clock))
    first.close()
    second = SqliteUnitOfWork(tmp_path / "s.db")
    with second as uow:
        order = uow.orders.get(CH, "DY-2001")
    second.close()
    assert order is not None
    assert isinstance(order.saga, Saga)
    assert order.saga.amount == cny("576.00")


@pytest.mark.parametrize("amount", ["0.00", "-1.00"])
def test_pay_refuses_a_capture_of_zero_before_anything_is_stored(
    shop: Shop, payments: FakePayments, amount: str
) -> None:
    """A capture of zero is a channel's free order, never one to ask a provider for."""
    accepted(shop.desk)
    checkout = shop.checkout(payments)

    with pytest.raises(ValidationError) as caught:
        pay(checkout, cny(amount))

    assert (caught.value.field, caught.value.value) == ("amount", cny(amount))
    assert not payments.calls
    assert audit_types(shop.unit) == ["OrderPlaced"]
    assert stored(shop.unit).status is OrderStatus.PENDING_PAYMENT
