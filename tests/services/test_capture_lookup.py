"""A capture resumed after its order ended is looked up, not made.

A capture whose reply timed out stays in flight. When the order is closed
unpaid or cancelled before the saga resumes, a provider that implements
`PaymentLookup` is asked what it did under the saga's key: a capture it
made is recorded and refunded, and one it never made is never made, so the
buyer sees neither a charge nor a refund. A provider without the lookup is
asked to capture again, as `test_sagas` pins.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import final

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.services._payments import WithoutLookup
from tests.services._samples import backend, cny
from tests.services.test_sagas import (
    CH,
    T0,
    Shop,
    accepted,
    audit_types,
    buyer_cancelled,
    channel_paid,
    pay,
    refunds_owed,
    saga_ended,
    stocked_desk,
    stored,
)

from orderkit.adapters.memory import MemoryUnitOfWork
from orderkit.errors import (
    CallTimedOut,
    IllegalTransition,
    KeyInProgress,
    TransientError,
    UnknownPayment,
)
from orderkit.integrations import ChannelTransaction, SettlementLine
from orderkit.money import Money
from orderkit.orders import OrderStatus, order_stream
from orderkit.ports import PaymentLookup, Payments, UnitOfWork
from orderkit.services import (
    CaptureCalledOff,
    Captured,
    CaptureDeclined,
    Refunded,
    Stalled,
    recover,
)
from orderkit.testing import FrozenClock
from orderkit.testing.fakes import FakePayments
from orderkit.testing.faults import Fault, FaultPlan, faulty


KEY = f"capture:{order_stream(CH, 'DY-2001')}:alipay-77"
"""The key of DY-2001's capture saga for alipay-77: the provider's too."""


@pytest.fixture(params=["memory", "sqlite"])
def unit(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[UnitOfWork]:
    """An empty backend, in memory or in a SQLite file."""
    yield from backend(request.param, tmp_path / "lookup.db")


@pytest.fixture
def shop(unit: UnitOfWork) -> Shop:
    clock = FrozenClock(T0)
    return Shop(unit, clock, stocked_desk(unit, clock))


@pytest.fixture
def payments(shop: Shop) -> FakePayments:
    return FakePayments(shop.clock)


def closed_unpaid(shop: Shop) -> OrderStatus:
    """The payment deadline passes: the desk closes DY-2001."""
    shop.clock.advance(hours=1)
    shop.desk.close_unpaid()
    return OrderStatus.CLOSED


def cancelled(shop: Shop) -> OrderStatus:
    """The buyer cancels DY-2001."""
    shop.desk.record(CH, "DY-2001", buyer_cancelled())
    return OrderStatus.CANCELLED


ENDINGS: dict[str, Callable[[Shop], OrderStatus]] = {
    "closed-unpaid": closed_unpaid,
    "cancelled": cancelled,
}


def timed_out(shop: Shop, payments: Payments, fault: Fault) -> None:
    """DY-2001's capture saga starts and its call to `payments` times out."""
    with pytest.raises(CallTimedOut):
        pay(shop.checkout(faulty(payments, FaultPlan(script=[fault]))))


def saga_result(shop: Shop) -> str:
    (result,) = (
        c.new for c in saga_ended(shop.unit).changes if c.field == "saga.result"
    )
    return str(result)


class TestTheCaptureNeverMade:
    """The request timed out before the provider saw it: nothing is charged."""

    @pytest.mark.parametrize("ending", sorted(ENDINGS))
    def test_recovery_ends_the_saga_without_charging_the_buyer(
        self, shop: Shop, payments: FakePayments, ending: str
    ) -> None:
        accepted(shop.desk)
        timed_out(shop, payments, Fault.TIMEOUT_BEFORE)
        status = ENDINGS[ending](shop)
        refunds = shop.refunds(payments)

        recovery = recover(shop.unit, checkout=shop.checkout(payments), refunds=refunds)

        (outcome,) = recovery.finished
        assert isinstance(outcome, CaptureCalledOff)
        assert recovery.stalled == ()
        assert outcome.order == stored(shop.unit)
        assert outcome.order.status is status
        assert outcome.order.saga is None
        assert outcome.order.payments == ()
        # No charge, so no refund: the buyer's statement shows nothing.
        assert payments.transactions == ()
        assert payments.calls[KEY] == 0
        assert payments.lookups[KEY] == 1
        assert refunds_owed(shop.unit) == []
        assert refunds.send_due() == ()
        assert (
            saga_result(shop) == f"alipay-77 not captured: the order was {status} first"
        )
        assert audit_types(shop.unit)[-1] == "SagaEnded"

    def test_paying_again_after_the_order_closed_captures_nothing(
        self, shop: Shop, payments: FakePayments
    ) -> None:
        accepted(shop.desk)
        timed_out(shop, payments, Fault.TIMEOUT_BEFORE)
        closed_unpaid(shop)
        checkout = shop.checkout(payments)

        outcome = pay(checkout)

        assert isinstance(outcome, CaptureCalledOff)
        assert payments.transactions == ()
        with pytest.raises(IllegalTransition, match="not unpaid"):
            pay(checkout)
        assert payments.transactions == ()

    def test_a_refund_the_cancellation_owes_on_another_payment_goes_out_alone(
        self, shop: Shop, payments: FakePayments
    ) -> None:
        """Paid on wx-2 meanwhile, then cancelled: wx-2 goes back, nobody waits."""
        accepted(shop.desk)
        timed_out(shop, payments, Fault.TIMEOUT_BEFORE)
        payments.capture("wx-2", cny("10.00"), key="wx-2")
        shop.desk.record(CH, "DY-2001", channel_paid("wx-2", "10.00"))
        cancelled(shop)
        refunds = shop.refunds(payments)

        recovery = recover(shop.unit, checkout=shop.checkout(payments), refunds=refunds)

        assert [type(done) for done in recovery.finished] == [CaptureCalledOff]
        (refunded,) = refunds.send_due()
        assert isinstance(refunded, Refunded)
        assert refunded.order.review == ()
        assert payments.captured("wx-2") == cny("0.00")
        assert payments.captured("alipay-77") is None


class TestTheCaptureMade:
    """The reply was lost after the provider captured: it is recorded and refunded."""

    @pytest.mark.parametrize("ending", sorted(ENDINGS))
    def test_the_capture_found_is_refunded_once_without_asking_again(
        self, shop: Shop, payments: FakePayments, ending: str
    ) -> None:
        accepted(shop.desk)
        timed_out(shop, payments, Fault.REPLY_LOST)
        status = ENDINGS[ending](shop)
        refunds = shop.refunds(payments)

        recovery = recover(shop.unit, checkout=shop.checkout(payments), refunds=refunds)

        (captured,) = recovery.finished
        assert isinstance(captured, Captured)
        assert captured.transaction == payments.transactions[0]
        assert captured.order.status is status
        assert payments.calls[KEY] == 1  # the first call only: none since
        assert payments.lookups[KEY] == 1
        (refunded,) = refunds.send_due()
        assert isinstance(refunded, Refunded)
        assert payments.captured("alipay-77") == cny("0.00")
        assert max(payments.effects.values()) == 1

    def test_a_declined_capture_found_is_recorded_as_declined(self, shop: Shop) -> None:
        payments = FakePayments(shop.clock, declined=["alipay-77"])
        accepted(shop.desk)
        timed_out(shop, payments, Fault.REPLY_LOST)
        closed_unpaid(shop)

        recovery = recover(shop.unit, checkout=shop.checkout(payments))

        (declined,) = recovery.finished
        assert isinstance(declined, CaptureDeclined)
        assert declined.transaction == payments.transactions[0]
        assert payments.calls[KEY] == 1
        assert declined.order.saga is None


@final
class _Answering:
    """A provider whose lookup raises `error`: it could not say what it did."""

    def __init__(self, payments: FakePayments, error: Exception) -> None:
        self._payments = payments
        self._error = error

    def capture(
        self, payment_id: str, amount: Money, *, key: str
    ) -> ChannelTransaction:
        return self._payments.capture(payment_id, amount, key=key)

    def refund(
        self, payment_id: str, amount: Money, *, key: str, reason: str
    ) -> ChannelTransaction:
        return self._payments.refund(payment_id, amount, key=key, reason=reason)

    def statement(self, day: dt.date) -> Sequence[SettlementLine]:
        return self._payments.statement(day)

    def find_capture(self, key: str) -> ChannelTransaction | None:  # noqa: ARG002
        raise self._error


class TestALookupThatDoesNotAnswer:
    """Nothing is concluded from a lookup that failed: the saga stays."""

    @pytest.mark.parametrize(
        "error",
        [
            TransientError("fakepay.find_capture", "connection reset"),
            KeyInProgress(KEY, T0.add(minutes=5)),
            UnknownPayment("key", KEY, "the provider refused to say"),
        ],
        ids=["transient", "in-progress", "refused"],
    )
    def test_the_saga_stalls_and_nothing_is_captured(
        self, shop: Shop, payments: FakePayments, error: Exception
    ) -> None:
        accepted(shop.desk)
        timed_out(shop, payments, Fault.TIMEOUT_BEFORE)
        closed_unpaid(shop)
        answering = _Answering(payments, error)
        assert isinstance(answering, PaymentLookup)

        recovery = recover(shop.unit, checkout=shop.checkout(answering))

        (stalled,) = recovery.stalled
        assert isinstance(stalled, Stalled)
        assert stalled.error is error
        assert stored(shop.unit).saga == stalled.saga
        assert payments.transactions == ()
        # Once the provider answers, the saga ends with nothing captured.
        (done,) = recover(shop.unit, checkout=shop.checkout(payments)).finished
        assert isinstance(done, CaptureCalledOff)
        assert payments.transactions == ()


class TestTheLookupIsAskedOnlyWhenTheOrderEnded:
    def test_a_capture_resumed_while_the_order_is_unpaid_is_made_not_looked_up(
        self, shop: Shop, payments: FakePayments
    ) -> None:
        accepted(shop.desk)
        timed_out(shop, payments, Fault.TIMEOUT_BEFORE)

        (captured,) = recover(shop.unit, checkout=shop.checkout(payments)).finished

        assert isinstance(captured, Captured)
        assert captured.order.status is OrderStatus.PAID
        assert payments.lookups == {}
        assert payments.calls[KEY] == 1

    def test_a_provider_without_the_lookup_is_asked_to_capture_as_before(
        self, shop: Shop, payments: FakePayments
    ) -> None:
        accepted(shop.desk)
        timed_out(shop, payments, Fault.TIMEOUT_BEFORE)
        closed_unpaid(shop)
        plain: Payments = WithoutLookup(payments)
        assert not isinstance(plain, PaymentLookup)
        refunds = shop.refunds(plain)

        (captured,) = recover(shop.unit, checkout=shop.checkout(plain)).finished
        (refunded,) = refunds.send_due()

        assert isinstance(captured, Captured)
        assert isinstance(refunded, Refunded)
        assert payments.captured("alipay-77") == cny("0.00")
        assert payments.lookups == {}


def test_the_fake_and_a_faulty_fake_say_what_they_captured_under_a_key() -> None:
    payments = FakePayments(FrozenClock(T0))
    assert isinstance(payments, PaymentLookup)
    assert isinstance(faulty(payments, FaultPlan()), PaymentLookup)
    assert payments.find_capture(KEY) is None
    made = payments.capture("alipay-77", cny("1.00"), key=KEY)
    payments.refund("alipay-77", cny("1.00"), key="RF-1", reason="test")
    assert payments.find_capture(KEY) == made
    assert payments.find_capture("RF-1") is None  # a refund is no capture
    assert payments.calls == {KEY: 1, "RF-1": 1}  # looking moved nothing
    assert payments.lookups == {KEY: 2, "RF-1": 1}


@settings(max_examples=40, deadline=None)
@given(
    faults=st.lists(
        st.sampled_from([Fault.TIMEOUT_BEFORE, Fault.REPLY_LOST]),
        min_size=1,
        max_size=4,
    ),
    ending=st.sampled_from(sorted(ENDINGS)),
)
def test_an_ended_order_is_charged_only_if_a_request_reached_the_provider(
    faults: list[Fault], ending: str
) -> None:
    """However often the capture timed out, the buyer is charged at most once,
    only if a request reached the provider, and whatever was charged goes back."""
    unit = MemoryUnitOfWork()
    clock = FrozenClock(T0)
    shop = Shop(unit, clock, stocked_desk(unit, clock))
    payments = FakePayments(clock)
    accepted(shop.desk)
    for fault in faults:
        timed_out(shop, payments, fault)
    ENDINGS[ending](shop)
    refunds = shop.refunds(payments)

    recover(unit, checkout=shop.checkout(payments), refunds=refunds)
    refunds.send_due()

    reached = Fault.REPLY_LOST in faults
    charges = [t for t in payments.transactions if t.kind.value == "capture"]
    assert len(charges) == (1 if reached else 0)
    assert payments.transactions == () or payments.captured("alipay-77") == cny("0.00")
    assert max(payments.effects.values(), default=0) <= 1
    order = stored(unit)
    assert order.saga is None
    assert order.review == ()
