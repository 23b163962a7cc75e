"""A payment ledger whose captures disagree with the order's payments.

`OrderDesk.amend` stores a host's payment ledger whose captures on a payment
the order records are other than the order's `Payment.amount` for it (a
further part of the payment captured later, or a contradiction): the ledger
is stored and the order waits for a person (`review` gains `"payment"`, its
`HeldForReview` record naming the payment, what the order recorded and what
the ledger captured), told once per difference. What ending the order owes
back is what the order recorded; the rest is the person's. Ledgers the desk
builds itself (refund sagas, channel refunds, `Checkout`'s capture) never
disagree.
"""

from __future__ import annotations

import pytest
from tests.services._samples import T0, sh1_desk

from orderkit import IdempotencyKey
from orderkit.integrations import ChannelRefund
from orderkit.money import Money
from orderkit.orders import AuditRecord, OrderStatus, PaymentCaptured
from orderkit.ports import UnitOfWork
from orderkit.pricing import PaymentLedger
from orderkit.services import Accepted, Captured, Checkout, OrderDesk, Refunded, Refunds
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


def captured(payment_id: str, amount: str) -> PaymentCaptured:
    return PaymentCaptured(
        order_id=ORDER_ID,
        key=IdempotencyKey("stripe", "capture", ORDER_ID, payment_id),
        occurred_at=T0.add(minutes=5),
        payment_id=payment_id,
        amount=cny(amount),
    )


def amend(desk: OrderDesk, ledger: PaymentLedger, n: int) -> None:
    key = IdempotencyKey("stripe", "ledger", ORDER_ID, str(n))
    desk.amend(CHANNEL, ORDER_ID, ledger, key=key, actor="fin", source="stripe")


def trail(unit: UnitOfWork) -> list[AuditRecord]:
    with unit as uow:
        return list(uow.audit.records(CHANNEL, ORDER_ID))


def held_records(unit: UnitOfWork) -> list[AuditRecord]:
    return [r for r in trail(unit) if r.event_type == "HeldForReview"]


def told(record: AuditRecord) -> str:
    return " ".join(c.new for c in record.changes if c.field == "payment")


def paid_then_a_further_part(
    desk: OrderDesk, clock: FrozenClock, payments: FakePayments
) -> PaymentLedger:
    """The trial's case: 176.00 paid on pi_1, then the host captures 23.00 more."""
    t = clock.now()
    payments.capture("pi_1", cny("176.00"), key="ch_a")
    payments.capture("pi_1", cny("23.00"), key="ch_b")
    ledger = (
        PaymentLedger(ORDER_ID, "CNY")
        .authorise("pi_1", cny("210.00"), t)
        .capture("pi_1", cny("176.00"), t, capture_id="ch_a")
    )
    amend(desk, ledger, 1)
    desk.record(CHANNEL, ORDER_ID, captured("pi_1", "176.00"))
    assert desk.order(CHANNEL, ORDER_ID).review == ()
    ledger = ledger.capture("pi_1", cny("23.00"), t, capture_id="ch_b")
    amend(desk, ledger, 2)
    return ledger


class TestAFurtherCapture:
    def test_the_ledger_is_stored_and_the_order_waits_naming_it(
        self,
        desk: OrderDesk,
        unit: UnitOfWork,
        clock: FrozenClock,
        payments: FakePayments,
    ) -> None:
        ledger = paid_then_a_further_part(desk, clock, payments)

        order = desk.order(CHANNEL, ORDER_ID)
        assert order.payment_ledger == ledger
        assert order.status is OrderStatus.PAID
        assert order.review == ("payment",)
        (held,) = held_records(unit)
        said = told(held)
        assert "pi_1" in said
        assert "176.00 CNY" in said  # what the order recorded
        assert "199.00 CNY" in said  # what the ledger captured
        assert (held.changes[0].field, held.changes[0].new) == ("review", "payment")

    def test_cancelling_owes_back_what_the_order_recorded(
        self,
        desk: OrderDesk,
        unit: UnitOfWork,
        clock: FrozenClock,
        payments: FakePayments,
    ) -> None:
        paid_then_a_further_part(desk, clock, payments)

        cancelled = desk.cancel(CHANNEL, ORDER_ID, reason="buyer asked", actor="cs")

        assert cancelled.order.saga is not None
        assert cancelled.order.saga.amount == cny("176.00")
        (done,) = Refunds(unit, clock, payments).send_due()
        assert isinstance(done, Refunded)
        order = desk.order(CHANNEL, ORDER_ID)
        # The 23.00 is the person's: the order still waits for them.
        assert order.review == ("payment",)
        assert payments.captured("pi_1") == cny("23.00")

    def test_amending_the_same_difference_again_holds_nothing_more(
        self,
        desk: OrderDesk,
        unit: UnitOfWork,
        clock: FrozenClock,
        payments: FakePayments,
    ) -> None:
        ledger = paid_then_a_further_part(desk, clock, payments)
        desk.release(CHANNEL, ORDER_ID, actor="fin-lead")

        # Another authorisation, nothing captured on it: the same difference.
        amend(desk, ledger.authorise("pi_9", cny("5.00"), clock.now()), 3)

        order = desk.order(CHANNEL, ORDER_ID)
        assert order.review == ()
        assert len(held_records(unit)) == 1

    def test_another_difference_on_the_same_payment_is_told(
        self,
        desk: OrderDesk,
        unit: UnitOfWork,
        clock: FrozenClock,
        payments: FakePayments,
    ) -> None:
        ledger = paid_then_a_further_part(desk, clock, payments)
        desk.release(CHANNEL, ORDER_ID, actor="fin-lead")
        payments.capture("pi_1", cny("1.00"), key="ch_c")

        amend(desk, ledger.capture("pi_1", cny("1.00"), clock.now()), 3)

        assert desk.order(CHANNEL, ORDER_ID).review == ("payment",)
        assert "200.00 CNY" in told(held_records(unit)[-1])


class TestOtherDisagreements:
    def test_a_ledger_capturing_less_than_the_order_recorded_holds_it(
        self, desk: OrderDesk, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        desk.record(CHANNEL, ORDER_ID, captured("pi_1", "176.00"))
        t = clock.now()

        amend(
            desk,
            PaymentLedger(ORDER_ID, "CNY")
            .authorise("pi_1", cny("176.00"), t)
            .capture("pi_1", cny("150.00"), t),
            1,
        )

        assert desk.order(CHANNEL, ORDER_ID).review == ("payment",)
        said = told(held_records(unit)[-1])
        assert "150.00 CNY" in said
        assert "176.00 CNY" in said

    def test_the_hold_joins_a_payment_refused_before(
        self, desk: OrderDesk, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        desk.record(CHANNEL, ORDER_ID, captured("pi_1", "176.00"))
        again = PaymentCaptured(
            order_id=ORDER_ID,
            key=IdempotencyKey("stripe", "capture", ORDER_ID, "again"),
            occurred_at=T0.add(minutes=6),
            payment_id="pi_1",
            amount=cny("26.00"),
        )
        desk.record(CHANNEL, ORDER_ID, again)  # refused: holds "payment"
        t = clock.now()

        amend(
            desk,
            PaymentLedger(ORDER_ID, "CNY")
            .authorise("pi_1", cny("202.00"), t)
            .capture("pi_1", cny("176.00"), t, capture_id="a")
            .capture("pi_1", cny("26.00"), t, capture_id="b"),
            1,
        )

        assert desk.order(CHANNEL, ORDER_ID).review == ("payment",)
        assert "202.00 CNY" in told(held_records(unit)[-1])


class TestNoDisagreement:
    def test_captures_as_the_order_recorded_hold_nothing(
        self, desk: OrderDesk, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        desk.record(CHANNEL, ORDER_ID, captured("pi_1", "176.00"))
        t = clock.now()

        amend(
            desk,
            PaymentLedger(ORDER_ID, "CNY")
            .authorise("pi_1", cny("176.00"), t)
            .capture("pi_1", cny("100.00"), t, capture_id="a")
            .capture("pi_1", cny("76.00"), t, capture_id="b"),
            1,
        )

        assert desk.order(CHANNEL, ORDER_ID).review == ()
        assert held_records(unit) == []

    def test_a_payment_kept_with_no_capture_holds_nothing(
        self, desk: OrderDesk, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        desk.record(CHANNEL, ORDER_ID, captured("pi_1", "176.00"))

        ledger = PaymentLedger(ORDER_ID, "CNY").authorise(
            "pi_1", cny("200.00"), clock.now()
        )
        amend(desk, ledger, 1)

        assert desk.order(CHANNEL, ORDER_ID).review == ()
        assert held_records(unit) == []

    def test_a_capture_stored_before_the_channel_notice_holds_nothing(
        self, desk: OrderDesk, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        # The provider's capture first, the channel's notice of it after.
        t = clock.now()
        amend(
            desk,
            PaymentLedger(ORDER_ID, "CNY")
            .authorise("pi_1", cny("176.00"), t)
            .capture("pi_1", cny("176.00"), t),
            1,
        )
        desk.record(CHANNEL, ORDER_ID, captured("pi_1", "176.00"))

        assert desk.order(CHANNEL, ORDER_ID).review == ()
        assert held_records(unit) == []

    def test_desk_built_ledgers_then_amended_hold_nothing(
        self,
        desk: OrderDesk,
        unit: UnitOfWork,
        clock: FrozenClock,
        payments: FakePayments,
    ) -> None:
        # Checkout's capture into the host's authorisation, a channel refund,
        # a refund saga: each extends the ledger; the host amends it after.
        t = clock.now()
        amend(
            desk,
            PaymentLedger(ORDER_ID, "CNY").authorise("alipay-1", cny("176.00"), t),
            1,
        )
        done = Checkout(unit, clock, desk, payments).pay(
            CHANNEL, ORDER_ID, "alipay-1", cny("176.00")
        )
        assert isinstance(done, Captured)
        refund = ChannelRefund(
            order_id=ORDER_ID,
            refund_id="rf-1",
            key=IdempotencyKey(CHANNEL, "refund", ORDER_ID, "rf-1"),
            amount=cny("6.00"),
            created_at=clock.now(),
            payment_id="alipay-1",
        )
        desk.record_refund(CHANNEL, ORDER_ID, refund)
        desk.cancel(CHANNEL, ORDER_ID, reason="buyer asked", actor="cs")
        (sent,) = Refunds(unit, clock, payments).send_due()
        assert isinstance(sent, Refunded)
        ledger = desk.order(CHANNEL, ORDER_ID).payment_ledger
        assert ledger is not None

        amend(desk, ledger.authorise("pi_9", cny("1.00"), clock.now()), 2)

        assert desk.order(CHANNEL, ORDER_ID).review == ()
        assert held_records(unit) == []
