"""A payment taken in parts, a second capture of a payment, and an underpayment.

- A payment captured in parts (`PaymentLedger.capture` with a `capture_id`
  per part) stored with `OrderDesk.amend`: the order waits for a person,
  told of the part it does not record; ending it owes back what the order
  recorded, the rest is the person's (since the review of 7a8b75a, which
  counted the ledger's captures and owed back too much or too little).
- A capture of a payment the order records already, for another amount, is
  refused and holds the order for a person: at `record`, `accept` and
  `update`. The same amount again changes nothing.
- `Checkout.pay` refuses less than the order costs, as it refuses more.
"""

from __future__ import annotations

import attrs
import pytest
from tests.services._samples import T0, sh1_desk

from orderkit import IdempotencyKey
from orderkit.errors import ValidationError
from orderkit.integrations import ChannelRefund, SettlementLine
from orderkit.money import Money
from orderkit.orders import OrderStatus, PaymentCaptured, Rejected, Stale
from orderkit.ports import UnitOfWork
from orderkit.pricing import PaymentLedger
from orderkit.services import (
    Accepted,
    Captured,
    Checkout,
    OrderDesk,
    Refunded,
    Refunds,
    reconcile_payments_from_stores,
)
from orderkit.testing import FrozenClock, channel_order
from orderkit.testing.fakes import FakePayments


CHANNEL, ORDER_ID = "douyin", "DY-1001"
LINES = [("JADE-TEAPOT", 2, "88.00")]  # 176.00 CNY


def cny(amount: str) -> Money:
    return Money(amount, "CNY")


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(T0)


@pytest.fixture
def desk(unit: UnitOfWork, clock: FrozenClock) -> OrderDesk:
    desk = sh1_desk(unit, clock, "JADE-TEAPOT")
    assert isinstance(desk.accept(channel_order(LINES)), Accepted)
    return desk


def captured(event_id: str, amount: str, payment_id: str = "pi_1") -> PaymentCaptured:
    return PaymentCaptured(
        order_id=ORDER_ID,
        key=IdempotencyKey("stripe", "capture", ORDER_ID, event_id),
        occurred_at=T0.add(minutes=5),
        payment_id=payment_id,
        amount=cny(amount),
    )


def paid_in_two_parts(
    desk: OrderDesk, clock: FrozenClock, payments: FakePayments
) -> None:
    """176.00 authorised on pi_1, captured as 150.00 then 26.00."""
    t = clock.now()
    payments.capture("pi_1", cny("150.00"), key="ch_a")
    payments.capture("pi_1", cny("26.00"), key="ch_b")
    ledger = (
        PaymentLedger(ORDER_ID, "CNY")
        .authorise("pi_1", cny("176.00"), t)
        .capture("pi_1", cny("150.00"), t, capture_id="ch_a")
    )
    desk.amend(
        CHANNEL,
        ORDER_ID,
        ledger,
        key=IdempotencyKey("stripe", "ledger", ORDER_ID, "1"),
        actor="fin",
        source="stripe",
    )
    desk.record(CHANNEL, ORDER_ID, captured("ch_a", "150.00"))
    ledger = ledger.capture("pi_1", cny("26.00"), t, capture_id="ch_b")
    desk.amend(
        CHANNEL,
        ORDER_ID,
        ledger,
        key=IdempotencyKey("stripe", "ledger", ORDER_ID, "2"),
        actor="fin",
        source="stripe",
    )


class TestPaidInParts:
    def test_the_ledger_is_stored_and_the_order_waits_naming_the_part(
        self,
        desk: OrderDesk,
        unit: UnitOfWork,
        clock: FrozenClock,
        payments: FakePayments,
    ) -> None:
        paid_in_two_parts(desk, clock, payments)

        order = desk.order(CHANNEL, ORDER_ID)
        assert order.payment_ledger is not None
        assert order.payment_ledger.captured == cny("176.00")
        assert order.review == ("payment",)
        with unit as uow:
            last = uow.audit.records(CHANNEL, ORDER_ID)[-1]
        assert last.event_type == "HeldForReview"
        said = " ".join(c.new for c in last.changes)
        assert "pi_1" in said
        assert "150.00 CNY" in said
        assert "176.00 CNY" in said

    def test_cancelling_owes_back_what_the_order_recorded_the_rest_is_a_persons(
        self,
        desk: OrderDesk,
        unit: UnitOfWork,
        clock: FrozenClock,
        payments: FakePayments,
    ) -> None:
        # Was: owed back 176.00 (the larger of the order's payment and the
        # ledger's captures), a rule the review of 7a8b75a reverted.
        paid_in_two_parts(desk, clock, payments)

        cancelled = desk.cancel(CHANNEL, ORDER_ID, reason="buyer asked", actor="cs")

        assert cancelled.order.saga is not None
        assert cancelled.order.saga.amount == cny("150.00")
        (done,) = Refunds(unit, clock, payments).send_due()
        assert isinstance(done, Refunded)
        order = desk.order(CHANNEL, ORDER_ID)
        assert order.payment_ledger is not None
        assert order.payment_ledger.refunded == cny("150.00")
        assert order.saga is None
        assert order.review == ("payment",)
        assert payments.captured("pi_1") == cny("26.00")

    def test_a_channel_refund_comes_off_what_the_order_recorded(
        self, desk: OrderDesk, clock: FrozenClock, payments: FakePayments
    ) -> None:
        paid_in_two_parts(desk, clock, payments)
        refund = ChannelRefund(
            order_id=ORDER_ID,
            refund_id="rf-1",
            key=IdempotencyKey(CHANNEL, "refund", ORDER_ID, "rf-1"),
            amount=cny("160.00"),
            created_at=clock.now(),
            payment_id="pi_1",
        )
        desk.record_refund(CHANNEL, ORDER_ID, refund)

        cancelled = desk.cancel(CHANNEL, ORDER_ID, reason="buyer asked", actor="cs")

        # Was: owed 16.00 (176.00 in two parts less 160.00). The order
        # recorded 150.00 of pi_1, all sent back: the rest is the person's.
        assert cancelled.order.saga is None
        assert "payment" in cancelled.order.review

    def test_reconcile_matches_a_statement_of_both_captures(
        self,
        desk: OrderDesk,
        unit: UnitOfWork,
        clock: FrozenClock,
        payments: FakePayments,
    ) -> None:
        paid_in_two_parts(desk, clock, payments)
        lines = [
            SettlementLine(
                transaction_id=tx,
                kind="capture",
                amount=cny(amount),
                fee=cny("0.00"),
                settled_at=clock.now(),
                order_id=ORDER_ID,
            )
            for tx, amount in [("ch_a", "150.00"), ("ch_b", "26.00")]
        ]

        report = reconcile_payments_from_stores(unit, lines)

        assert report.ok, report.discrepancies


class TestCapturedAgain:
    def test_another_amount_holds_the_order_naming_the_payment(
        self, desk: OrderDesk, unit: UnitOfWork
    ) -> None:
        desk.record(CHANNEL, ORDER_ID, captured("c1", "150.00"))

        done = desk.record(CHANNEL, ORDER_ID, captured("c2", "26.00"))

        (refused,) = done.rejected
        assert isinstance(refused, Rejected)
        order = desk.order(CHANNEL, ORDER_ID)
        assert order.review == ("payment",)
        assert [(p.payment_id, p.amount) for p in order.payments] == [
            ("pi_1", cny("150.00"))
        ]
        with unit as uow:
            last = uow.audit.records(CHANNEL, ORDER_ID)[-1]
        assert last.event_type == "HeldForReview"
        said = " ".join(c.new for c in last.changes)
        assert "pi_1" in said
        assert "150.00 CNY" in said
        assert "26.00 CNY" in said
        # Was: "payment ledger", a remedy the desk's ledger refuses.
        assert "a person settles it" in said

    def test_the_same_amount_again_changes_nothing(self, desk: OrderDesk) -> None:
        desk.record(CHANNEL, ORDER_ID, captured("c1", "176.00"))
        before = desk.order(CHANNEL, ORDER_ID)

        done = desk.record(CHANNEL, ORDER_ID, captured("c2", "176.00"))

        assert done.rejected == ()
        assert all(isinstance(o, Stale) for o in done.outcomes)
        assert desk.order(CHANNEL, ORDER_ID) == before

    def test_a_channel_order_stating_two_amounts_is_held_at_intake(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        desk = sh1_desk(unit, clock, "JADE-TEAPOT")
        incoming = channel_order(LINES, paid=True)
        (first,) = incoming.events
        assert isinstance(first, PaymentCaptured)
        again = attrs.evolve(
            first,
            key=IdempotencyKey(CHANNEL, "order.paid", ORDER_ID, "2"),
            amount=cny("26.00"),
        )

        desk.accept(attrs.evolve(incoming, events=(first, again)))

        order = desk.order(CHANNEL, ORDER_ID)
        assert order.status is OrderStatus.PAID
        assert "payment" in order.review
        assert [p.amount for p in order.payments] == [cny("176.00")]

    def test_an_update_stating_another_amount_holds_the_order(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        desk = sh1_desk(unit, clock, "JADE-TEAPOT")
        incoming = channel_order(LINES, paid=True)
        desk.accept(incoming)
        (first,) = incoming.events
        assert isinstance(first, PaymentCaptured)
        again = attrs.evolve(
            first,
            key=IdempotencyKey(CHANNEL, "order.paid", ORDER_ID, "2"),
            amount=cny("26.00"),
        )

        desk.update(attrs.evolve(incoming, events=(first, again)))

        order = desk.order(CHANNEL, ORDER_ID)
        assert "payment" in order.review
        assert [p.amount for p in order.payments] == [cny("176.00")]


class TestCheckoutUnderpaid:
    def test_less_than_the_order_costs_is_refused_and_nothing_is_asked(
        self, desk: OrderDesk, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        payments = FakePayments(clock)
        checkout = Checkout(unit, clock, desk, payments)

        with pytest.raises(ValidationError, match="less than") as caught:
            checkout.pay(CHANNEL, ORDER_ID, "alipay-1", cny("150.00"))

        assert (caught.value.field, caught.value.value) == ("amount", cny("150.00"))
        assert "176.00 CNY" in str(caught.value)
        assert payments.calls == {}
        order = desk.order(CHANNEL, ORDER_ID)
        assert (order.status, order.saga, order.version) == (
            OrderStatus.PENDING_PAYMENT,
            None,
            1,
        )

    def test_what_it_costs_is_captured(
        self, desk: OrderDesk, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        payments = FakePayments(clock)
        checkout = Checkout(unit, clock, desk, payments)

        done = checkout.pay(CHANNEL, ORDER_ID, "alipay-1", cny("176.00"))

        assert isinstance(done, Captured)
        assert done.order.status is OrderStatus.PAID
