"""Pre-orders of a product never received: its policy makes it known.

A new phone goes on pre-order (预售) before a single unit arrives. Its
`Preorder` policy lets available go below zero, as the docs say, but the
ledger refused every reservation of it (`UnknownSku`: no stock of it was
ever recorded), and the desk refused or held every order for it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pendulum
import pytest
from tests.services._samples import backend, cny

from orderkit.dedupe import Fingerprinter, IdempotencyKey
from orderkit.errors import UnknownSku
from orderkit.integrations import ChannelOrder
from orderkit.inventory import Backorder, NoOversell, Preorder
from orderkit.orders import (
    Address,
    Buyer,
    OrderLine,
    OrderPlaced,
    OrderStatus,
    PaymentCaptured,
)
from orderkit.ports import UnitOfWork
from orderkit.pricing import Quote
from orderkit.services import Accepted, DeskPolicy, Ledger, OrderDesk
from orderkit.testing import FrozenClock


T0 = pendulum.datetime(2026, 11, 11, 2, 0)
PHONE = "NEW-PHONE-256G"


@pytest.fixture(params=["memory", "sqlite"])
def unit(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[UnitOfWork]:
    yield from backend(request.param, tmp_path / "desk.db")


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(T0)


def shops(unit: UnitOfWork, clock: FrozenClock) -> None:
    """SH-1 and SZ-1 stock other goods; nothing of the phone anywhere."""
    with unit as uow:
        ledger = Ledger(uow.ledger, clock)
        ledger.receive("CASE", "SH-1", 5, key="PO-1")
        ledger.receive("CASE", "SZ-1", 5, key="PO-2")
        ledger.set_policy(PHONE, Preorder(100, T0.add(days=7)))
        uow.commit()


def available(unit: UnitOfWork, clock: FrozenClock, location: str) -> int:
    with unit as uow:
        return Ledger(uow.ledger, clock).balance(PHONE, location).available


class TestLedger:
    def test_a_pre_order_reserves_below_zero(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        shops(unit, clock)
        with unit as uow:
            receipt = Ledger(uow.ledger, clock).reserve("cart-1", [(PHONE, "SH-1", 2)])
            uow.commit()

        assert receipt.holds[0].quantity == 2
        assert available(unit, clock, "SH-1") == -2

    def test_a_backorder_too(self, unit: UnitOfWork, clock: FrozenClock) -> None:
        shops(unit, clock)
        with unit as uow:
            ledger = Ledger(uow.ledger, clock)
            ledger.set_policy("NEW-CASE", Backorder(3))
            ledger.reserve("cart-1", [("NEW-CASE", "SZ-1", 3)])
            uow.commit()

        with unit as uow:
            balance = Ledger(uow.ledger, clock).balance("NEW-CASE", "SZ-1")
        assert balance.available == -3

    def test_a_sku_without_stock_or_policy_is_still_unknown(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        shops(unit, clock)
        with unit as uow:
            ledger = Ledger(uow.ledger, clock)
            ledger.set_policy("TYPO-PHONE", NoOversell())
            with pytest.raises(UnknownSku):
                ledger.reserve("cart-1", [("TYPO-PHNOE", "SH-1", 1)])
            with pytest.raises(UnknownSku):
                ledger.reserve("cart-2", [("TYPO-PHONE", "SH-1", 1)])


def phone_order(order_id: str, *, paid: bool) -> ChannelOrder:
    placed = OrderPlaced(
        order_id=order_id,
        key=IdempotencyKey("tmall", "created", order_id, "1"),
        occurred_at=T0,
        channel="tmall",
        buyer=Buyer(f"buyer-{order_id}", phone=f"+86138001370{order_id[-1]}0"),
        address=Address("CN", "北京市", "北京市", "海淀区", f"中关村 {order_id} 号"),
        lines=[OrderLine("L1", PHONE, 1, cny("5999.00"))],
    )
    events = (
        PaymentCaptured(
            order_id=order_id,
            key=IdempotencyKey("tmall", "paid", order_id, "1"),
            occurred_at=T0,
            payment_id=f"alipay-{order_id}",
            amount=cny("5999.00"),
        ),
    )
    return ChannelOrder(
        placed=placed,
        quote=Quote(order_id, "tmall", placed.lines),
        status=OrderStatus.PAID if paid else OrderStatus.PENDING_PAYMENT,
        channel_status="paid" if paid else "WAIT_BUYER_PAY",
        events=events if paid else (),
    )


class TestDesk:
    def test_a_pre_order_is_taken_and_holds_its_unit(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        shops(unit, clock)
        desk = OrderDesk(
            unit,
            clock,
            DeskPolicy(locations=["SH-1", "SZ-1"]),
            Fingerprinter(b"preorder-secret-of-16b"),
        )

        unpaid = desk.accept(phone_order("TM-1", paid=False))
        paid = desk.accept(phone_order("TM-2", paid=True))

        assert isinstance(unpaid, Accepted)
        assert isinstance(paid, Accepted)
        assert paid.order.review == ()
        assert available(unit, clock, "SH-1") + available(unit, clock, "SZ-1") == -2

    def test_a_backordered_sku_stays_where_it_is_stocked(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        # The phone was received at SZ-1 only: its backorders go there, not
        # to SH-1, which has never stocked it.
        shops(unit, clock)
        with unit as uow:
            ledger = Ledger(uow.ledger, clock)
            ledger.receive(PHONE, "SZ-1", 1, key="PO-3")
            uow.commit()
        desk = OrderDesk(
            unit,
            clock,
            DeskPolicy(locations=["SH-1", "SZ-1"]),
            Fingerprinter(b"preorder-secret-of-16b"),
        )

        desk.accept(phone_order("TM-3", paid=True))
        desk.accept(phone_order("TM-4", paid=True))

        assert available(unit, clock, "SZ-1") == -1
        with unit as uow:
            assert Ledger(uow.ledger, clock).balances(sku=PHONE) == [
                Ledger(uow.ledger, clock).balance(PHONE, "SZ-1")
            ]
