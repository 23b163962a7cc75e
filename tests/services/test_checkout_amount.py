"""`Checkout.pay` captures what the order costs: never more, never less."""

from __future__ import annotations

import datetime as dt

import attrs
import pendulum
import pytest

from orderkit.dedupe import Fingerprinter, IdempotencyKey
from orderkit.errors import ValidationError
from orderkit.money import Money
from orderkit.orders import OrderStatus
from orderkit.ports import UnitOfWork
from orderkit.pricing import ApprovalTiers, approve, request_change
from orderkit.services import (
    Accepted,
    Captured,
    Checkout,
    DeskPolicy,
    Held,
    Ledger,
    OrderDesk,
)
from orderkit.testing import FrozenClock, channel_order
from orderkit.testing.fakes import FakePayments


T0 = pendulum.datetime(2026, 11, 11, 2, 0)
LINES = [("JADE-TEAPOT", 2, "88.00")]
TIERS = ApprovalTiers.of((None, "store_manager"))


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(T0)


@pytest.fixture
def desk(unit: UnitOfWork, clock: FrozenClock) -> OrderDesk:
    with unit as uow:
        Ledger(uow.ledger, clock).receive("JADE-TEAPOT", "SH-1", 5)
        uow.commit()
    desk = OrderDesk(
        unit, clock, DeskPolicy(locations=["SH-1"]), Fingerprinter.for_tests()
    )
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


def test_what_it_costs_or_less_is_captured(
    checkout: Checkout, payments: FakePayments
) -> None:
    # Less is the shop's call (a discount at the till): nothing is overcharged.
    done = checkout.pay("douyin", "DY-1001", "alipay-1", cny("170.00"))

    assert isinstance(done, Captured)
    assert payments.captured("alipay-1") == cny("170.00")


@pytest.mark.parametrize("amount", ["150.00", "176.00"])
def test_a_price_held_at_intake_may_be_either_total(
    unit: UnitOfWork, clock: FrozenClock, payments: FakePayments, amount: str
) -> None:
    # The channel told the buyer 150.00; orderkit's lines cost 176.00.
    with unit as uow:
        Ledger(uow.ledger, clock).receive("JADE-TEAPOT", "SH-1", 5)
        uow.commit()
    desk = OrderDesk(
        unit, clock, DeskPolicy(locations=["SH-1"]), Fingerprinter.for_tests()
    )
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
    change = request_change(
        TIERS,
        change_id="PC-1",
        order_id="DY-1001",
        line_id="L1",
        sku="JADE-TEAPOT",
        quantity=2,
        old_unit_price=cny("88.00"),
        new_unit_price=cny("80.00"),
        reason="price match",
        requester="cs.li",
        evidence="ticket://1",
        requested_at=clock.now(),
        ttl=dt.timedelta(hours=1),
    )
    approved = approve(
        change, TIERS, approver="mgr.wang", role="store_manager", now=clock.now()
    ).change
    key = IdempotencyKey("desk", "price_change", "DY-1001", "PC-1")
    desk.amend("douyin", "DY-1001", approved, key=key, actor="mgr.wang", source="desk")

    with pytest.raises(ValidationError):
        checkout.pay("douyin", "DY-1001", "alipay-1", cny("176.00"))
    done = checkout.pay("douyin", "DY-1001", "alipay-1", cny("160.00"))

    assert isinstance(done, Captured)
    assert desk.payable("douyin", "DY-1001") == cny("160.00")
    assert payments.captured("alipay-1") == cny("160.00")
