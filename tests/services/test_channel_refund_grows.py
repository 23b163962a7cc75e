"""A channel's refund read again for more: money it sent back since, recorded.

A Shopify refund is one refund under one id whose transactions settle one by
one: read while one is pending, it states only the settled ones, under the
same key as its later readings. The desk took the later, larger reading as
the same refund again (`Unchanged`), kept the first amount, and a
cancellation then sent the buyer the difference a second time. A FieldMap
refund, keyed by id and amount, was refused (`IdempotencyConflict`) and its
growth never recorded either.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pendulum
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.services._refund_samples import CH, T0, placed
from tests.services._samples import backend, cny

from orderkit.adapters.channels import ShopifyPayloads
from orderkit.adapters.channels.mapping import FieldMap
from orderkit.adapters.memory import MemoryUnitOfWork
from orderkit.dedupe import Fingerprinter, IdempotencyKey
from orderkit.errors import (
    IdempotencyConflict,
    RefundExceedsCapture,
    UnknownRefund,
    ValidationError,
)
from orderkit.integrations import (
    ChannelOrder,
    ChannelRefund,
    SettlementLine,
    TransactionKind,
)
from orderkit.money import Money
from orderkit.orders import (
    Order,
    OrderStatus,
    PaymentCaptured,
    Recorded,
    Unchanged,
)
from orderkit.ports import UnitOfWork
from orderkit.pricing import PaymentLedger, Quote, RefundLine, RefundState
from orderkit.services import (
    Checkout,
    DeskPolicy,
    Ledger,
    OrderDesk,
    Refunds,
    reconcile_payments,
)
from orderkit.testing import FrozenClock
from orderkit.testing.fakes import FakePayments


START = pendulum.datetime(2026, 11, 16, 14, 0)
SHOP = "shopify"
SHOP_ID = "8001"
PAYMENT = "pay-8001"
FAN = "SILK-FAN"


def usd(amount: str) -> Money:
    return Money(amount, "USD")


@pytest.fixture(params=["memory", "sqlite"])
def unit(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[UnitOfWork]:
    """An empty backend, in memory or in a SQLite file."""
    yield from backend(request.param, tmp_path / "backend.db")


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


def stocked_desk(unit: UnitOfWork, clock: FrozenClock, *skus: str) -> OrderDesk:
    with unit as uow:
        ledger = Ledger(uow.ledger, clock, outbox=uow.outbox)
        for sku in skus:
            ledger.receive(sku, "NYC-1", 20, key=f"PO-1:{sku}")
        uow.commit()
    policy = DeskPolicy(
        locations=["NYC-1"], pay_window=dt.timedelta(hours=2), language="en"
    )
    return OrderDesk(unit, clock, policy, Fingerprinter(b"refund-grows-secret-16"))


# ----------------------------------------------------------------------
# Shopify: one refund, two transactions, the second settling later


def shopify_order(clock: FrozenClock) -> dict[str, Any]:
    """Three silk fans at 29.00 USD: 87.00, not paid yet."""
    now = clock.now().isoformat()
    return {
        "id": int(SHOP_ID),
        "currency": "USD",
        "created_at": now,
        "updated_at": now,
        "financial_status": "pending",
        "total_price": "87.00",
        "total_tax": "0.00",
        "customer": {"id": 301, "phone": "+1 212 555 0301"},
        "shipping_address": {
            "country_code": "US",
            "province": "New York",
            "city": "Brooklyn",
        },
        "line_items": [{"id": 1, "sku": FAN, "quantity": 3, "price": "29.00"}],
    }


def shopify_refund(
    clock: FrozenClock, *transactions: tuple[str, str]
) -> dict[str, Any]:
    """Refund 9901 of order 8001, its transactions (amount, status) in order."""
    now = clock.now().isoformat()
    return {
        "id": 9901,
        "order_id": int(SHOP_ID),
        "created_at": now,
        "refund_line_items": [],
        "transactions": [
            {
                "id": 55001 + i,
                "order_id": int(SHOP_ID),
                "kind": "refund",
                "status": status,
                "amount": amount,
                "currency": "USD",
                "parent_id": PAYMENT,
                "created_at": now,
            }
            for i, (amount, status) in enumerate(transactions)
        ],
    }


def reading(clock: FrozenClock, second: str) -> ChannelRefund:
    """Refund 9901 read with its 19.00 transaction `second` (10.00 settled)."""
    payload = shopify_refund(clock, ("10.00", "success"), ("19.00", second))
    (refund,) = ShopifyPayloads().parse(payload, topic="refunds/create")
    assert isinstance(refund, ChannelRefund)
    return refund


@attrs.frozen
class Shop:
    desk: OrderDesk
    payments: FakePayments
    unit: UnitOfWork
    clock: FrozenClock

    def order(self) -> Order:
        return self.desk.order(SHOP, SHOP_ID)

    def refund(self, refund: ChannelRefund) -> Recorded | Unchanged:
        return self.desk.record_refund(SHOP, SHOP_ID, refund)

    def owed(self) -> list[str]:
        """The amounts of the `refund` messages: money the desk would send."""
        with self.unit as uow:
            messages = uow.outbox.unsent()
        return [
            json.loads(m.payload)["amount"] for m in messages if m.topic == "refund"
        ]

    def audit(self) -> list[tuple[str, str]]:
        with self.unit as uow:
            return [
                (r.event_type, str(r.key)) for r in uow.audit.records(SHOP, SHOP_ID)
            ]


def paid_shop(unit: UnitOfWork, clock: FrozenClock) -> Shop:
    """Order 8001 accepted and paid 87.00 through `pay-8001`."""
    desk = stocked_desk(unit, clock, FAN)
    (incoming,) = ShopifyPayloads().parse(shopify_order(clock), topic="orders/create")
    assert isinstance(incoming, ChannelOrder)
    desk.accept(incoming)
    payments = FakePayments(clock)
    Checkout(unit, clock, desk, payments).pay(SHOP, SHOP_ID, PAYMENT, usd("87.00"))
    return Shop(desk, payments, unit, clock)


def refunds_of(order: Order) -> list[tuple[str, str, RefundState]]:
    ledger = order.payment_ledger
    assert ledger is not None
    return [(r.refund_id, str(r.amount.amount), r.state) for r in ledger.refunds]


class TestShopifyRefundSettlingLater:
    """The later reading of refund 9901, under the same key, grows it."""

    def test_the_later_reading_grows_the_refund(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        shop = paid_shop(unit, clock)
        first, later = reading(clock, "pending"), reading(clock, "success")
        assert (first.amount, later.amount) == (usd("10.00"), usd("29.00"))
        assert first.key == later.key
        assert isinstance(shop.refund(first), Recorded)

        grown = shop.refund(later)

        assert isinstance(grown, Recorded)
        assert refunds_of(shop.order()) == [("9901", "29.00", RefundState.REFUNDED)]
        assert grown.record.event_type == "PaymentsRecorded"
        assert str(grown.record.key) == "shopify:refund.grown:8001:9901%3A29.00"
        assert ("payment_ledger.refunded", "10.00 USD", "29.00 USD") in {
            (c.field, c.old, c.new) for c in grown.record.changes
        }
        assert [key for _, key in shop.audit()][-1] == str(grown.record.key)

    def test_the_same_grown_reading_again_changes_nothing(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        shop = paid_shop(unit, clock)
        shop.refund(reading(clock, "pending"))
        shop.refund(reading(clock, "success"))
        before, records = shop.order(), shop.audit()

        assert isinstance(shop.refund(reading(clock, "success")), Unchanged)

        assert shop.order() == before
        assert shop.audit() == records

    def test_the_earlier_reading_delivered_late_changes_nothing(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        shop = paid_shop(unit, clock)
        shop.refund(reading(clock, "success"))
        before, records = shop.order(), shop.audit()

        assert isinstance(shop.refund(reading(clock, "pending")), Unchanged)

        assert shop.order() == before
        assert shop.audit() == records
        assert refunds_of(before) == [("9901", "29.00", RefundState.REFUNDED)]

    def test_a_cancellation_sends_back_only_what_shopify_holds(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        shop = paid_shop(unit, clock)
        shop.refund(reading(clock, "pending"))
        shop.refund(reading(clock, "success"))

        shop.desk.cancel(SHOP, SHOP_ID, reason="buyer", actor="cs")
        assert shop.owed() == ["58.00"]
        Refunds(unit, clock, shop.payments).send_due()

        ledger = shop.order().payment_ledger
        assert ledger is not None
        assert ledger.refunded == ledger.captured == usd("87.00")
        # What the provider holds of the capture: 87.00 less the desk's 58.00;
        # Shopify's own 29.00 came off the rest.
        assert shop.payments.captured(PAYMENT) == usd("29.00")

    def test_the_statement_still_reconciles(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        shop = paid_shop(unit, clock)
        shop.refund(reading(clock, "pending"))
        shop.refund(reading(clock, "success"))
        shop.desk.cancel(SHOP, SHOP_ID, reason="buyer", actor="cs")
        Refunds(unit, clock, shop.payments).send_due()
        shopify_line = SettlementLine(
            transaction_id="9901",
            kind=TransactionKind.REFUND,
            amount=usd("29.00"),
            fee=usd("0.00"),
            settled_at=clock.now(),
            order_id=SHOP_ID,
        )
        statement = [*shop.payments.statement(clock.now().date()), shopify_line]

        report = reconcile_payments([shop.order()], statement)

        assert [(d.kind.value, d.transaction_id) for d in report.discrepancies] == []
        short = attrs.evolve(shopify_line, amount=usd("10.00"))
        stale = reconcile_payments([shop.order()], [*statement[:-1], short])
        assert [("amount_mismatch", "9901")] == [
            (d.kind.value, d.transaction_id) for d in stale.discrepancies
        ]

    def test_a_growth_beyond_the_payment_holds_the_order(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        # The desk sent the rest back before Shopify's second transaction
        # settled: the buyer got 19.00 twice, which a person settles.
        shop = paid_shop(unit, clock)
        shop.refund(reading(clock, "pending"))
        shop.desk.cancel(SHOP, SHOP_ID, reason="buyer", actor="cs")
        Refunds(unit, clock, shop.payments).send_due()
        before = refunds_of(shop.order())

        with pytest.raises(RefundExceedsCapture) as refused:
            shop.refund(reading(clock, "success"))

        assert refused.value.field == "amount"
        order = shop.order()
        assert "refund" in order.review
        assert refunds_of(order) == before
        ledger = order.payment_ledger
        assert ledger is not None
        assert ledger.refunded <= ledger.captured


# ----------------------------------------------------------------------
# FieldMap: a refund keyed by its id and amount


SPEC = """
channel = "pinduoduo"
topics = ["orders"]
currency = "CNY"
region = "CN"
zone = "Asia/Shanghai"

[fields]
order_id = "order_sn"
placed_at = "created_time"
"buyer.buyer_id" = "buyer_id"
"address.country" = { const = "CN" }
total = { path = "pay_amount", as = "minor" }

[fields.status]
path = "order_status"
as = "id"
map = { "1" = "paid", "2" = "shipped", "5" = "cancelled" }

[lines]
path = "item_list"

[lines.fields]
line_id = { path = "sku_id", as = "id" }
sku = "outer_id"
quantity = { path = "goods_count", as = "integer" }
unit_price = { path = "goods_price", as = "minor" }

[[events]]
type = "payment_captured"
when = "confirm_time"

[events.fields]
occurred_at = "confirm_time"
payment_id = "pay_no"
amount = { path = "pay_amount", as = "minor" }

[[events]]
type = "refund"
when = "refund_time"

[events.fields]
occurred_at = "refund_time"
refund_id = { path = "refund_id", as = "id" }
amount = { path = "refund_amount", as = "minor" }
reason = "refund_reason"
"""

SN = "261111-998877665544332"
TEA = "TEA-LONGJING-250G"


def pdd(refund_fen: int | None = None) -> ChannelOrder:
    """Pinduoduo's paid order of 2 teas, 258.00 CNY, refunded `refund_fen` so far."""
    item: dict[str, Any] = {
        "order_sn": SN,
        "order_status": 1,
        "created_time": "2026-11-11 00:00:12",
        "confirm_time": "2026-11-11 00:01:05",
        "pay_no": "4200002611112026111100001234",
        "buyer_id": "pdd_uid_5120",
        "pay_amount": 25800,
        "item_list": [
            {
                "sku_id": 1100223344,
                "outer_id": TEA,
                "goods_count": 2,
                "goods_price": 12900,
            }
        ],
    }
    if refund_fen is not None:
        item |= {
            "refund_id": 88001,
            "refund_time": "2026-11-11 08:00:00",
            "refund_amount": refund_fen,
            "refund_reason": "少发一件",
        }
    (record,) = FieldMap.from_toml(SPEC).parse(item, topic="orders")
    assert isinstance(record, ChannelOrder)
    return record


class TestFieldMapRunningTotal:
    """A refund's running total under one id: each reading its own key."""

    def test_the_larger_total_grows_the_refund(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        desk = stocked_desk(unit, clock, TEA)
        desk.accept(pdd())
        (first,) = pdd(10000).refunds
        (later,) = pdd(15000).refunds
        assert first.key != later.key
        desk.update(pdd(10000))

        desk.update(pdd(15000))

        order = desk.order("pinduoduo", SN)
        assert refunds_of(order) == [("88001", "150.00", RefundState.REFUNDED)]
        for again in (first, later):
            assert isinstance(desk.record_refund("pinduoduo", SN, again), Unchanged)
        assert desk.order("pinduoduo", SN) == order

    def test_the_smaller_total_delivered_late_changes_nothing(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        desk = stocked_desk(unit, clock, TEA)
        desk.accept(pdd())
        desk.update(pdd(15000))
        before = desk.order("pinduoduo", SN)
        (first,) = pdd(10000).refunds

        assert isinstance(desk.record_refund("pinduoduo", SN, first), Unchanged)

        assert desk.order("pinduoduo", SN) == before


# ----------------------------------------------------------------------
# Payments, units: the rules a grown refund keeps

ID = "DY-3001"


def two_payments_order() -> ChannelOrder:
    """DY-3001 (two jade teapots, 576.00) paid in two: 300.00 and 276.00."""
    order = placed(order_id=ID)
    paid = [
        PaymentCaptured(
            order_id=ID,
            key=IdempotencyKey(CH, "trade.paid", ID, payment_id),
            occurred_at=T0.add(minutes=minutes),
            payment_id=payment_id,
            amount=cny(amount),
        )
        for payment_id, amount, minutes in (
            ("alipay-77", "300.00", 5),
            ("alipay-78", "276.00", 6),
        )
    ]
    return ChannelOrder(
        placed=order,
        quote=Quote(ID, CH, order.lines),
        status=OrderStatus.PAID,
        channel_status="paid",
        events=tuple(paid),
    )


def douyin_refund(
    amount: str, payment_id: str = "alipay-77", lines: tuple[RefundLine, ...] = ()
) -> ChannelRefund:
    """Refund RF-1 of DY-3001, under the one key the channel gives every reading."""
    return ChannelRefund(
        refund_id="RF-1",
        order_id=ID,
        key=IdempotencyKey(CH, "refund", ID, "RF-1"),
        amount=cny(amount),
        created_at=T0.add(hours=1),
        payment_id=payment_id,
        lines=lines,
    )


@pytest.fixture
def douyin(unit: UnitOfWork) -> OrderDesk:
    clock = FrozenClock(T0.add(hours=3))
    with unit as uow:
        Ledger(uow.ledger, clock).receive("JADE-TEAPOT", "SH-1", 10)
        uow.commit()
    policy = DeskPolicy(locations=["SH-1"])
    desk = OrderDesk(unit, clock, policy, Fingerprinter(b"refund-grows-secret-16"))
    desk.accept(two_payments_order())
    return desk


class TestRules:
    def test_another_payment_under_the_same_id_is_a_conflict(
        self, douyin: OrderDesk
    ) -> None:
        douyin.record_refund(CH, ID, douyin_refund("100.00"))
        before = douyin.order(CH, ID)

        for amount in ("150.00", "100.00", "50.00"):
            moved = attrs.evolve(
                douyin_refund(amount, "alipay-78"),
                key=IdempotencyKey(CH, "refund", ID, f"RF-1/{amount}"),
            )
            with pytest.raises(IdempotencyConflict):
                douyin.record_refund(CH, ID, moved)

        assert douyin.order(CH, ID) == before

    def test_it_grows_within_its_payment_only(self, douyin: OrderDesk) -> None:
        douyin.record_refund(CH, ID, douyin_refund("100.00"))
        # 300.00 captured on alipay-77: 276.00 on the other payment is not its.
        with pytest.raises(RefundExceedsCapture):
            douyin.record_refund(CH, ID, douyin_refund("301.00"))

        douyin.record_refund(CH, ID, douyin_refund("300.00"))

        assert refunds_of(douyin.order(CH, ID)) == [
            ("RF-1", "300.00", RefundState.REFUNDED)
        ]

    def test_units_named_once_are_cancelled_once(self, douyin: OrderDesk) -> None:
        one = (RefundLine("L1", 1),)
        douyin.record_refund(CH, ID, douyin_refund("100.00", lines=one))
        assert douyin.order(CH, ID).cancelled_units == one

        douyin.record_refund(CH, ID, douyin_refund("288.00", lines=one))

        order = douyin.order(CH, ID)
        assert order.cancelled_units == one
        assert refunds_of(order) == [("RF-1", "288.00", RefundState.REFUNDED)]

    def test_units_named_first_by_the_larger_reading_are_cancelled(
        self, douyin: OrderDesk
    ) -> None:
        douyin.record_refund(CH, ID, douyin_refund("100.00"))

        grown = douyin.record_refund(
            CH, ID, douyin_refund("288.00", lines=(RefundLine("L1", 1),))
        )

        assert isinstance(grown, Recorded)
        order = douyin.order(CH, ID)
        assert order.cancelled_units == (RefundLine("L1", 1),)
        ledger = order.payment_ledger
        assert ledger is not None
        assert ledger.refund("RF-1").lines == (RefundLine("L1", 1),)


# ----------------------------------------------------------------------
# The ledger's method


def ledger_with_refund(state: RefundState = RefundState.REFUNDED) -> PaymentLedger:
    ledger = (
        PaymentLedger("O-1", "USD")
        .authorise("P-1", usd("87.00"), START)
        .capture("P-1", usd("87.00"), START)
        .request_refund("R-1", "P-1", usd("10.00"), "buyer", START)
    )
    if state is RefundState.REFUNDED:
        return ledger.settle_refund("R-1", START)
    if state is RefundState.FAILED:
        return ledger.fail_refund("R-1", START)
    return ledger


class TestGrowRefund:
    def test_a_settled_refund_grows_and_stays_settled(self) -> None:
        ledger = ledger_with_refund()

        grown = ledger.grow_refund("R-1", usd("29.00"))

        assert grown.refund("R-1") == attrs.evolve(
            ledger.refund("R-1"), amount=usd("29.00")
        )
        assert grown.refunded == usd("29.00")
        assert grown.grow_refund("R-1", usd("29.00")) is grown

    def test_it_never_shrinks_nor_goes_beyond_the_capture(self) -> None:
        ledger = ledger_with_refund()
        with pytest.raises(ValidationError) as smaller:
            ledger.grow_refund("R-1", usd("9.99"))
        assert smaller.value.field == "amount"
        with pytest.raises(RefundExceedsCapture):
            ledger.grow_refund("R-1", usd("87.01"))
        assert ledger.grow_refund("R-1", usd("87.00")).refundable == usd("0.00")

    @pytest.mark.parametrize("state", [RefundState.PENDING, RefundState.FAILED])
    def test_only_a_settled_refund_grows(self, state: RefundState) -> None:
        with pytest.raises(ValidationError) as refused:
            ledger_with_refund(state).grow_refund("R-1", usd("29.00"))
        assert refused.value.field == "refund_id"

    def test_an_unknown_refund_or_another_currency_is_refused(self) -> None:
        ledger = ledger_with_refund()
        with pytest.raises(UnknownRefund):
            ledger.grow_refund("R-2", usd("29.00"))
        with pytest.raises(ValidationError):
            ledger.grow_refund("R-1", cny("29.00"))

    def test_request_refund_under_its_id_for_more_stays_a_conflict(self) -> None:
        with pytest.raises(IdempotencyConflict):
            ledger_with_refund().request_refund(
                "R-1", "P-1", usd("29.00"), "buyer", START
            )


# ----------------------------------------------------------------------
# Any arrival order


@st.composite
def readings(draw: st.DrawFn) -> tuple[list[str], list[int]]:
    """One refund's transactions, and the readings delivered (settled counts).

    The transactions settle in order; a reading sees the first k settled
    (at least one), and readings arrive in any order, repeated or not.
    """
    cents = draw(st.lists(st.integers(100, 2900), min_size=1, max_size=4))
    amounts = [f"{c // 100}.{c % 100:02d}" for c in cents]
    delivered = draw(st.lists(st.integers(1, len(amounts)), min_size=1, max_size=6))
    return amounts, delivered


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(readings())
def test_any_arrival_order_ends_with_the_largest_reading(
    case: tuple[list[str], list[int]],
) -> None:
    amounts, delivered = case
    unit = MemoryUnitOfWork()
    clock = FrozenClock(START)
    # Up to 4 transactions of at most 29.00: 116.00 at most, captured 174.00.
    desk = stocked_desk(unit, clock, FAN)
    order = shopify_order(clock)
    order["line_items"][0]["quantity"] = 6
    order["total_price"] = "174.00"
    (incoming,) = ShopifyPayloads().parse(order, topic="orders/create")
    assert isinstance(incoming, ChannelOrder)
    desk.accept(incoming)
    Checkout(unit, clock, desk, FakePayments(clock)).pay(
        SHOP, SHOP_ID, PAYMENT, usd("174.00")
    )
    for settled in delivered:
        parts = [
            (amount, "success" if i < settled else "pending")
            for i, amount in enumerate(amounts)
        ]
        (refund,) = ShopifyPayloads().parse(
            shopify_refund(clock, *parts), topic="refunds/create"
        )
        assert isinstance(refund, ChannelRefund)
        desk.record_refund(SHOP, SHOP_ID, refund)
        ledger = desk.order(SHOP, SHOP_ID).payment_ledger
        assert ledger is not None
        assert ledger.refunded <= ledger.captured

    largest = sum((usd(a) for a in amounts[: max(delivered)]), usd("0.00"))
    ledger = desk.order(SHOP, SHOP_ID).payment_ledger
    assert ledger is not None
    assert [(r.refund_id, r.amount, r.state) for r in ledger.refunds] == [
        ("9901", largest, RefundState.REFUNDED)
    ]
