"""Sagas against a host-kept payment ledger, the outside's refusals, and repeats.

- `Checkout.pay` checks a capture against the order's payment ledger before
  asking the provider, and records the capture there when it ends;
- a carrier's or provider's refusal (an `OrderkitError` that is no failure
  to retry) ends the saga, so nothing owed waits behind it for ever;
- `pay`/`ship` repeated for what the order records is `AlreadyDone`, and a
  new one while another saga of its kind runs is `IllegalTransition`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import attrs
import pendulum
import pytest
from tests.services._samples import awaiting_payment, backend, cny

from orderkit.dedupe import Fingerprinter, IdempotencyKey
from orderkit.errors import (
    CallTimedOut,
    CaptureExceedsAuthorisation,
    CircuitOpen,
    IllegalTransition,
    InvalidAddress,
    UnknownPayment,
)
from orderkit.integrations import ChannelTransaction, Label, TrackingEvent
from orderkit.money import Money
from orderkit.orders import (
    Address,
    Buyer,
    Cancelled,
    Order,
    OrderLine,
    OrderPlaced,
    PaymentCaptured,
    ReturnLine,
    approve_case,
    inspect_return,
    receive_return,
    request_return,
)
from orderkit.ports import UnitOfWork
from orderkit.pricing import ApprovalTiers, PaymentLedger
from orderkit.services import (
    AlreadyDone,
    Captured,
    Checkout,
    DeskPolicy,
    Ledger,
    OrderDesk,
    Refunded,
    Refunds,
    Shipping,
    Stalled,
    reconcile_payments,
    recover,
)
from orderkit.testing import FrozenClock
from orderkit.testing.fakes import FakeCarrier, FakePayments
from orderkit.testing.faults import Fault, FaultPlan, faulty


T0 = pendulum.datetime(2026, 11, 11, 0, 0)
CH = "douyin"
OID = "DY-2001"
WHOLE = cny("576.00")


@attrs.frozen
class Shop:
    """One backend, its clock, a stocked desk and the outside's fakes."""

    unit: UnitOfWork
    clock: FrozenClock
    desk: OrderDesk
    payments: FakePayments
    carrier: FakeCarrier

    def checkout(self, payments: object = None) -> Checkout:
        """Capture through `payments` (the fake by default)."""
        port = self.payments if payments is None else payments
        return Checkout(self.unit, self.clock, self.desk, port)  # type: ignore[arg-type]

    def shipping(self, carrier: object = None) -> Shipping:
        """Book labels through `carrier` (the fake by default)."""
        port = self.carrier if carrier is None else carrier
        return Shipping(self.unit, self.clock, self.desk, port)  # type: ignore[arg-type]

    def refunds(self) -> Refunds:
        """Send refunds through the fake payments."""
        return Refunds(self.unit, self.clock, self.payments)

    def order(self) -> Order:
        """DY-2001 as stored."""
        with self.unit as uow:
            order = uow.orders.get(CH, OID)
        assert order is not None
        return order

    def audit_types(self) -> list[str]:
        """DY-2001's audit trail, as event types."""
        with self.unit as uow:
            return [r.event_type for r in uow.audit.records(CH, OID)]

    def cancel(self) -> None:
        """The buyer cancels DY-2001."""
        self.desk.record(
            CH,
            OID,
            Cancelled(
                order_id=OID,
                key=IdempotencyKey(CH, "trade.cancel", OID, "1"),
                occurred_at=self.clock.now(),
                reason="买家取消",
            ),
        )

    def authorised(self, amount: str) -> None:
        """The host's payment ledger: `amount` authorised on alipay-1, not captured."""
        ledger = PaymentLedger(OID, "CNY").authorise("alipay-1", cny(amount), T0)
        self.desk.amend(
            CH,
            OID,
            ledger,
            key=IdempotencyKey("erp", "ledger", OID, "auth"),
            actor="erp",
            source="erp",
        )


@pytest.fixture(params=["memory", "sqlite"])
def shop(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Shop]:
    """DY-2001 (two teapots, 576.00) accepted and waiting for payment."""
    for unit in backend(request.param, tmp_path / "refusals.db"):
        clock = FrozenClock(T0)
        with unit as uow:
            Ledger(uow.ledger, clock).receive("JADE-TEAPOT", "SH-1", 10)
            uow.commit()
        policy = DeskPolicy(locations=["SH-1"])
        desk = OrderDesk(unit, clock, policy, Fingerprinter(b"refusals-secret-0123"))
        placed = OrderPlaced(
            order_id=OID,
            key=IdempotencyKey(CH, "trade.created", OID, "1"),
            occurred_at=T0,
            channel=CH,
            buyer=Buyer("buyer-7", "韩梅梅", phone="+8613900139000"),
            address=Address("CN", "上海市", "上海市", "徐汇区", "漕溪北路 1 号"),
            lines=[OrderLine("L1", "JADE-TEAPOT", 2, cny("288.00"))],
        )
        desk.accept(awaiting_payment(placed))
        yield Shop(unit, clock, desk, FakePayments(clock), FakeCarrier(clock))


class RefusingCarrier:
    """A carrier that refuses the address: its no, not a failure to retry."""

    def create_label(
        self,
        shipment_id: str,  # noqa: ARG002 - the Carrier port's signature
        address: Address,
        *,
        parcels: int = 1,  # noqa: ARG002
    ) -> Label:
        raise InvalidAddress("address.street", address.street, "not served")

    def tracking(self, tracking_number: str) -> Sequence[TrackingEvent]:  # noqa: ARG002
        return ()


class OpenCircuitCarrier(RefusingCarrier):
    """A carrier behind an open circuit breaker: not called, not refused."""

    def create_label(
        self,
        shipment_id: str,  # noqa: ARG002 - the Carrier port's signature
        address: Address,  # noqa: ARG002
        *,
        parcels: int = 1,  # noqa: ARG002
    ) -> Label:
        raise CircuitOpen("carrier", T0.add(minutes=1))


@attrs.frozen
class RefusingPayments:
    """The fake provider: captures of `refused` refused, refunds behind a breaker."""

    inner: FakePayments
    refused: str = "expired-auth"
    circuit_open: bool = False

    def capture(
        self, payment_id: str, amount: Money, *, key: str
    ) -> ChannelTransaction:
        if payment_id == self.refused:
            raise UnknownPayment("payment_id", payment_id, "authorisation expired")
        return self.inner.capture(payment_id, amount, key=key)

    def refund(
        self, payment_id: str, amount: Money, *, key: str, reason: str
    ) -> ChannelTransaction:
        if self.circuit_open:
            raise CircuitOpen("payments", T0.add(minutes=1))
        return self.inner.refund(payment_id, amount, key=key, reason=reason)

    def statement(self, day: object) -> object:
        return self.inner.statement(day)  # type: ignore[arg-type]


class TestLedgerKeptByTheHost:
    """A ledger holding only the authorisation bounds and records the capture."""

    def test_a_capture_beyond_the_authorisation_is_refused_storing_nothing(
        self, shop: Shop
    ) -> None:
        shop.authorised("500.00")
        before = shop.audit_types()
        with pytest.raises(CaptureExceedsAuthorisation) as refused:
            shop.checkout().pay(CH, OID, "alipay-1", WHOLE)
        assert refused.value.field == "amount"
        assert shop.payments.captured("alipay-1") is None
        assert shop.order().saga is None
        assert shop.audit_types() == before

    def test_the_capture_is_recorded_in_the_ledger_and_reconciles(
        self, shop: Shop
    ) -> None:
        shop.authorised("576.00")
        outcome = shop.checkout().pay(CH, OID, "alipay-1", WHOLE)
        assert isinstance(outcome, Captured)
        ledger = outcome.order.payment_ledger
        assert ledger is not None
        assert ledger.captured == WHOLE
        assert shop.audit_types()[-2:] == ["PaymentsRecorded", "SagaEnded"]
        statement = shop.payments.statement(T0.date())
        assert reconcile_payments([shop.order()], statement).ok

    def test_the_refund_of_that_capture_goes_out_on_cancellation(
        self, shop: Shop
    ) -> None:
        shop.authorised("576.00")
        shop.checkout().pay(CH, OID, "alipay-1", WHOLE)
        shop.cancel()
        (outcome,) = shop.refunds().send_due()
        assert isinstance(outcome, Refunded)
        assert shop.payments.captured("alipay-1") == cny("0.00")
        ledger = outcome.order.payment_ledger
        assert ledger is not None
        assert ledger.refunded == WHOLE

    def test_a_payment_reported_by_the_channel_is_refunded_too(
        self, shop: Shop
    ) -> None:
        """The ledger holds the authorisation; the channel reports the capture."""
        shop.authorised("576.00")
        shop.payments.capture("alipay-1", WHOLE, key="channel-capture")
        shop.desk.record(
            CH,
            OID,
            PaymentCaptured(
                order_id=OID,
                key=IdempotencyKey(CH, "trade.paid", OID, "alipay-1"),
                occurred_at=T0.add(minutes=5),
                payment_id="alipay-1",
                amount=WHOLE,
            ),
        )
        shop.cancel()
        (outcome,) = shop.refunds().send_due()
        assert isinstance(outcome, Refunded)
        assert shop.payments.captured("alipay-1") == cny("0.00")


class TestRefusals:
    """The outside's no ends the saga: nothing waits behind it for ever."""

    def test_a_refused_label_ends_the_saga_for_a_person(self, shop: Shop) -> None:
        shop.checkout().pay(CH, OID, "alipay-1", WHOLE)
        with pytest.raises(IllegalTransition, match="refused") as refused:
            shop.shipping(RefusingCarrier()).ship(CH, OID, "S1")
        assert isinstance(refused.value.__cause__, InvalidAddress)
        assert not refused.value.retry  # asking again gets the same no
        order = shop.order()
        assert order.saga is None
        assert order.review == ("label",)
        # The buyer cancels the order nobody can ship: the refund goes out.
        shop.cancel()
        (outcome,) = shop.refunds().send_due()
        assert isinstance(outcome, Refunded)
        assert shop.payments.captured("alipay-1") == cny("0.00")

    def test_a_label_refused_on_recovery_hands_the_refund_over(
        self, shop: Shop
    ) -> None:
        shop.checkout().pay(CH, OID, "alipay-1", WHOLE)
        lossy = faulty(shop.carrier, FaultPlan(script=[Fault.TIMEOUT_BEFORE]))
        with pytest.raises(CallTimedOut):
            shop.shipping(lossy).ship(CH, OID, "S1")
        shop.cancel()
        recovery = recover(shop.unit, shipping=shop.shipping(RefusingCarrier()))
        (stalled,) = recovery.stalled
        assert isinstance(stalled.error, IllegalTransition)
        saga = shop.order().saga
        assert saga is not None
        assert saga.name == "refund"
        (outcome,) = shop.refunds().send_due()
        assert isinstance(outcome, Refunded)

    def test_an_open_circuit_is_no_refusal_the_ship_saga_stays(
        self, shop: Shop
    ) -> None:
        shop.checkout().pay(CH, OID, "alipay-1", WHOLE)
        with pytest.raises(CircuitOpen):
            shop.shipping(OpenCircuitCarrier()).ship(CH, OID, "S1")
        order = shop.order()
        assert order.saga is not None
        assert order.review == ()
        dispatched = shop.shipping().ship(CH, OID, "S1")
        assert dispatched.order.saga is None

    def test_a_refused_capture_ends_the_saga_and_a_new_one_can_pay(
        self, shop: Shop
    ) -> None:
        checkout = shop.checkout(RefusingPayments(shop.payments))
        with pytest.raises(UnknownPayment):
            checkout.pay(CH, OID, "expired-auth", WHOLE)
        assert shop.order().saga is None
        assert shop.audit_types()[-1] == "SagaEnded"
        outcome = checkout.pay(CH, OID, "alipay-2", WHOLE)
        assert isinstance(outcome, Captured)
        assert shop.payments.captured("alipay-2") == WHOLE

    def test_an_open_circuit_leaves_the_refund_owed_not_declined(
        self, shop: Shop
    ) -> None:
        shop.checkout().pay(CH, OID, "alipay-1", WHOLE)
        shop.cancel()
        behind = RefusingPayments(shop.payments, circuit_open=True)
        refunds = Refunds(shop.unit, shop.clock, behind)  # type: ignore[arg-type]
        (outcome,) = refunds.send_due()
        assert isinstance(outcome, Stalled)
        order = shop.order()
        assert order.saga is not None
        assert order.review == ()
        (sent,) = shop.refunds().send_due()
        assert isinstance(sent, Refunded)


class TestRepeats:
    """Done is `AlreadyDone`; another of its kind in flight is `IllegalTransition`."""

    def test_pay_again_while_its_refund_is_in_flight_is_already_done(
        self, shop: Shop
    ) -> None:
        shop.checkout().pay(CH, OID, "alipay-1", WHOLE)
        shop.cancel()
        saga = shop.order().saga
        assert saga is not None
        assert saga.name == "refund"
        again = shop.checkout().pay(CH, OID, "alipay-1", WHOLE)
        assert isinstance(again, AlreadyDone)
        assert list(shop.payments.effects.values()) == [1]

    def test_ship_again_while_a_case_refund_is_in_flight_is_already_done(
        self, shop: Shop
    ) -> None:
        shop.checkout().pay(CH, OID, "alipay-1", WHOLE)
        shop.shipping().ship(CH, OID, "S1")
        case = request_return(
            case_id="AS-1",
            order_id=OID,
            payment_id="alipay-1",
            lines=[ReturnLine("L1", "JADE-TEAPOT", 1)],
            refund_amount=cny("288.00"),
            reason="七天无理由退货",
            requester="buyer:buyer-7",
            return_to="SH-1",
            at=shop.clock.now(),
        )
        tiers = ApprovalTiers.of((None, "finance"))
        case = approve_case(case, "fin.zhao", "finance", tiers, shop.clock.now())
        case = receive_return(case, {}, {}, shop.clock.now())
        case = inspect_return(case, passed=True, at=shop.clock.now()).case
        key = IdempotencyKey("erp", "aftersales", "AS-1", "inspected")
        shop.desk.amend(CH, OID, case, key=key, actor="wh.chen", source="erp")
        saga = shop.order().saga
        assert saga is not None
        assert saga.name == "refund"
        again = shop.shipping().ship(CH, OID, "S1")
        assert isinstance(again, AlreadyDone)
        assert shop.carrier.effects == {"S1": 1}

    def test_another_shipment_while_one_is_in_flight_is_illegal(
        self, shop: Shop
    ) -> None:
        shop.checkout().pay(CH, OID, "alipay-1", WHOLE)
        lossy = faulty(shop.carrier, FaultPlan(script=[Fault.TIMEOUT_BEFORE]))
        with pytest.raises(CallTimedOut):
            shop.shipping(lossy).ship(CH, OID, "S1")
        with pytest.raises(
            IllegalTransition, match="ship saga is in flight for S1"
        ) as caught:
            shop.shipping().ship(CH, OID, "S2")
        assert caught.value.retry
        assert shop.carrier.effects == {}

    def test_another_payment_while_a_capture_is_in_flight_is_illegal(
        self, shop: Shop
    ) -> None:
        lossy = faulty(shop.payments, FaultPlan(script=[Fault.TIMEOUT_BEFORE]))
        with pytest.raises(CallTimedOut):
            shop.checkout(lossy).pay(CH, OID, "alipay-1", WHOLE)
        with pytest.raises(IllegalTransition, match="in flight for alipay-1") as caught:
            shop.checkout().pay(CH, OID, "alipay-2", WHOLE)
        assert caught.value.retry
        assert shop.payments.effects == {}
