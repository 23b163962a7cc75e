"""`Checkout.pay` captures what the order costs: never more, never less."""

from __future__ import annotations

import attrs
import pytest
from tests.services._price_samples import amended, teapot_change
from tests.services._samples import T0, sh1_desk

from orderkit.errors import ValidationError
from orderkit.money import Money
from orderkit.orders import OrderStatus
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
