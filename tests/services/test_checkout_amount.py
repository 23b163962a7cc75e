"""`Checkout.pay` captures what the order costs: never more, never less.

Less only with `in_part=True` (split tender): the rest is another payment
the host records, and the order waits for a person until then.
"""

from __future__ import annotations

import attrs
import pytest
from tests.services._price_samples import amended, teapot_change
from tests.services._samples import T0, sh1_desk

from orderkit import IdempotencyKey
from orderkit.errors import IllegalTransition, ValidationError
from orderkit.money import Money
from orderkit.orders import OrderStatus, PaymentCaptured
from orderkit.ports import UnitOfWork
from orderkit.services import (
    Accepted,
    Captured,
    Checkout,
    Held,
    OrderDesk,
)
from orderkit.testing import FrozenClock, channel_order
from orderkit.testing.fakes import FakePayments


LINES = [("JADE-TEAPOT", 2, "88.00")]


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(T0)


@pytest.fixture
def desk(unit: UnitOfWork, clock: FrozenClock) -> OrderDesk:
    desk = sh1_desk(unit, clock, "JADE-TEAPOT")
    assert isinstance(desk.accept(channel_order(LINES)), Accepted)
    return desk


@pytest.fixture
def checkout(
    desk: OrderDesk, unit: UnitOfWork, clock: FrozenClock, payments: FakePayments
) -> Checkout:
    return Checkout(unit, clock, desk, payments)


def cny(amount: str) -> Money:
    return Money(amount, "CNY")


def test_more_is_refused_and_nothing_is_asked(
    desk: OrderDesk, checkout: Checkout, payments: FakePayments
) -> None:
    with pytest.raises(ValidationError, match="would be overcharged") as caught:
        checkout.pay("douyin", "DY-1001", "alipay-1", cny("186.00"))

    assert (caught.value.field, caught.value.value) == ("amount", cny("186.00"))
    assert "176.00 CNY" in str(caught.value)
    assert payments.calls == {}
    order = desk.order("douyin", "DY-1001")
    assert (order.status, order.saga, order.version) == (
        OrderStatus.PENDING_PAYMENT,
        None,
        1,
    )


def test_what_it_costs_is_captured_and_less_is_refused(
    checkout: Checkout, payments: FakePayments
) -> None:
    # Less would leave the order paid short, the rest never asked for: a
    # discount at the till is a price change, approved, which moves payable.
    with pytest.raises(ValidationError, match=r"paid 6\.00 CNY short"):
        checkout.pay("douyin", "DY-1001", "alipay-1", cny("170.00"))
    assert payments.calls == {}

    done = checkout.pay("douyin", "DY-1001", "alipay-1", cny("176.00"))

    assert isinstance(done, Captured)
    assert payments.captured("alipay-1") == cny("176.00")


@pytest.mark.parametrize("amount", ["150.00", "176.00"])
def test_a_price_held_at_intake_may_be_either_total(
    unit: UnitOfWork, clock: FrozenClock, payments: FakePayments, amount: str
) -> None:
    # The channel told the buyer 150.00; orderkit's lines cost 176.00.
    desk = sh1_desk(unit, clock, "JADE-TEAPOT")
    incoming = channel_order(LINES)
    stated = attrs.evolve(incoming.quote, stated_total=cny("150.00"))
    held = desk.accept(attrs.evolve(incoming, quote=stated))
    assert isinstance(held, Held)
    assert held.order.review == ("pricing",)
    desk.release("douyin", "DY-1001", actor="mgr.wang")
    checkout = Checkout(unit, clock, desk, payments)

    with pytest.raises(ValidationError):
        checkout.pay("douyin", "DY-1001", "alipay-1", cny("176.01"))
    assert isinstance(
        checkout.pay("douyin", "DY-1001", "alipay-1", cny(amount)), Captured
    )


def test_an_order_its_channel_changed_is_not_checked(
    desk: OrderDesk, checkout: Checkout
) -> None:
    # The buyer added a third teapot on the channel: 264.00 is owed now.
    desk.update(channel_order([("JADE-TEAPOT", 3, "88.00")]))
    desk.release("douyin", "DY-1001", actor="mgr.wang")

    done = checkout.pay("douyin", "DY-1001", "alipay-1", cny("264.00"))

    assert isinstance(done, Captured)


def test_what_the_order_costs_after_an_approved_change_is_captured(
    desk: OrderDesk, checkout: Checkout, clock: FrozenClock, payments: FakePayments
) -> None:
    amended(desk, clock, teapot_change(clock, "80.00", requester="cs.li"))

    with pytest.raises(ValidationError):
        checkout.pay("douyin", "DY-1001", "alipay-1", cny("176.00"))
    done = checkout.pay("douyin", "DY-1001", "alipay-1", cny("160.00"))

    assert isinstance(done, Captured)
    assert desk.payable("douyin", "DY-1001") == cny("160.00")
    assert payments.captured("alipay-1") == cny("160.00")


def gift_card(amount: str = "30.00") -> PaymentCaptured:
    """The rest of a split tender, paid by gift card at the till."""
    return PaymentCaptured(
        order_id="DY-1001",
        key=IdempotencyKey("giftcard", "capture", "DY-1001", "gc-1"),
        occurred_at=T0.add(minutes=5),
        payment_id="gc-1",
        amount=cny(amount),
    )


class TestSplitTender:
    """`pay(..., in_part=True)` for a card, then the gift card's payment."""

    def test_the_part_is_captured_and_the_order_waits_until_the_rest(
        self,
        desk: OrderDesk,
        checkout: Checkout,
        unit: UnitOfWork,
        payments: FakePayments,
    ) -> None:
        done = checkout.pay("douyin", "DY-1001", "card-1", cny("146.00"), in_part=True)

        assert isinstance(done, Captured)
        assert payments.captured("card-1") == cny("146.00")
        assert done.order.status is OrderStatus.PAID
        assert done.order.saga is None
        assert done.order.review == ("payment",)
        assert desk.order("douyin", "DY-1001") == done.order
        with unit as uow:
            held = [
                r
                for r in uow.audit.records("douyin", "DY-1001")
                if r.event_type == "HeldForReview"
            ]
        (record,) = held
        said = " ".join(c.new for c in record.changes)
        assert "146.00 CNY of 176.00 CNY" in said
        assert "30.00 CNY short" in said

    def test_the_rest_recorded_and_released_the_order_is_paid_in_full(
        self, desk: OrderDesk, checkout: Checkout
    ) -> None:
        checkout.pay("douyin", "DY-1001", "card-1", cny("146.00"), in_part=True)

        rest = desk.record("douyin", "DY-1001", gift_card())
        desk.release("douyin", "DY-1001", actor="till.chen")

        assert rest.rejected == ()
        order = desk.order("douyin", "DY-1001")
        assert order.status is OrderStatus.PAID
        assert order.review == ()
        assert [(p.payment_id, p.amount) for p in order.payments] == [
            ("card-1", cny("146.00")),
            ("gc-1", cny("30.00")),
        ]
        cancelled = desk.cancel("douyin", "DY-1001", reason="buyer asked", actor="cs")
        assert cancelled.order.saga is not None
        assert cancelled.order.saga.amount == cny("176.00")

    def test_what_it_costs_in_part_holds_nothing(self, checkout: Checkout) -> None:
        done = checkout.pay("douyin", "DY-1001", "card-1", cny("176.00"), in_part=True)

        assert isinstance(done, Captured)
        assert done.order.review == ()

    def test_more_in_part_is_still_refused(
        self, checkout: Checkout, payments: FakePayments
    ) -> None:
        with pytest.raises(ValidationError, match="would be overcharged"):
            checkout.pay("douyin", "DY-1001", "card-1", cny("186.00"), in_part=True)
        assert payments.calls == {}

    def test_less_without_in_part_says_how_to_pay_in_part(
        self, checkout: Checkout
    ) -> None:
        with pytest.raises(ValidationError, match="in_part=True"):
            checkout.pay("douyin", "DY-1001", "card-1", cny("146.00"))

    def test_in_part_must_be_a_bool(
        self, checkout: Checkout, payments: FakePayments
    ) -> None:
        with pytest.raises(ValidationError) as caught:
            checkout.pay(
                "douyin",
                "DY-1001",
                "card-1",
                cny("146.00"),
                in_part="yes",  # type: ignore[arg-type]
            )
        assert caught.value.field == "in_part"
        assert payments.calls == {}

    def test_the_part_is_paid_first(self, desk: OrderDesk, checkout: Checkout) -> None:
        # The gift card first pays the order (a paid order takes no `pay`).
        desk.record("douyin", "DY-1001", gift_card())

        with pytest.raises(IllegalTransition, match="not unpaid"):
            checkout.pay("douyin", "DY-1001", "card-1", cny("146.00"), in_part=True)
