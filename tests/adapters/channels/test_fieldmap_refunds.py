"""FieldMap `refund` tables: money the channel's order payload says it sent back.

Pinduoduo states `refund_status`/`refund_amount`, Taobao `refund_fee`, on the
order itself. A FieldMap channel could not say so: an order accepted paid,
then pulled again refunded and cancelled, owed its whole payment back, and
the desk would send the buyer the money the channel had sent already.
"""

from __future__ import annotations

import json
import tomllib
from typing import Any

import pendulum
import pytest

from orderkit.adapters.channels.mapping import FieldMap
from orderkit.adapters.memory import MemoryUnitOfWork
from orderkit.dedupe import Fingerprinter, IdempotencyKey
from orderkit.errors import IllegalTransition, MappingError, ValidationError
from orderkit.integrations import ChannelOrder
from orderkit.money import Money
from orderkit.orders import OrderStatus
from orderkit.ports import UnitOfWork
from orderkit.services import Accepted, DeskPolicy, Ledger, OrderDesk
from orderkit.testing import FrozenClock


ORDER_SN = "261111-998877665544332"
TEA = "TEA-LONGJING-250G"

# Pinduoduo's order, amounts in fen: order_status 1 is 待发货 (paid);
# refund_status 4 is 退款成功 (refunded), which the status map does not read:
# the order is cancelled when the channel closes it (`closed` here).
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

[[events]]
type = "cancelled"
when = "close_time"
statuses = ["cancelled"]

[events.fields]
occurred_at = "close_time"
reason = { const = "closed by the channel" }
"""


def fieldmap(spec: str = SPEC) -> FieldMap:
    return FieldMap.from_toml(spec)


def order(**changes: object) -> dict[str, Any]:
    """One paid order of 2 teas at 129.00 CNY."""
    item: dict[str, Any] = {
        "order_sn": ORDER_SN,
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
    item |= changes
    return item


def refunded(amount: int = 25800, **changes: object) -> dict[str, Any]:
    """The order again, once the channel refunded `amount` fen and closed it."""
    return order(
        order_status=5,
        refund_id=88001,
        refund_time="2026-11-11 08:00:00",
        refund_amount=amount,
        refund_reason="不想要了",
        close_time="2026-11-11 08:00:01",
        **changes,
    )


def parse_one(data: dict[str, Any], fm: FieldMap | None = None) -> ChannelOrder:
    (record,) = (fm or fieldmap()).parse(data, topic="orders")
    assert isinstance(record, ChannelOrder)
    return record


def spec_refused(spec: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(ValidationError) as caught:
        FieldMap.from_dict(spec)
    error = caught.value
    problems = error.errors if isinstance(error, MappingError) else (error,)
    return {problem.field: problem.problem for problem in problems}


class TestParse:
    def test_a_refund_is_stated_with_its_id_amount_and_time(self) -> None:
        record = parse_one(refunded(10000))

        (refund,) = record.refunds
        assert refund.refund_id == "88001"
        assert refund.key == IdempotencyKey(
            "pinduoduo", "refund", ORDER_SN, "88001:100.00"
        )
        assert refund.amount == Money("100.00", "CNY")
        assert refund.created_at == pendulum.datetime(2026, 11, 11, 0, 0, 0)
        assert refund.reason == "不想要了"
        assert refund.payment_id is None
        # A refund is money, not a step of the lifecycle.
        assert [type(e).__name__ for e in record.events] == [
            "PaymentCaptured",
            "Cancelled",
        ]

    def test_no_refund_time_states_no_refund(self) -> None:
        assert parse_one(order()).refunds == ()

    def test_an_amount_of_zero_is_no_refund(self) -> None:
        assert parse_one(refunded(0)).refunds == ()

    def test_a_negative_amount_is_refused_at_its_path(self) -> None:
        with pytest.raises(ValidationError) as caught:
            fieldmap().parse(refunded(-100), topic="orders")
        assert caught.value.field == "refund_amount"

    def test_a_refund_beyond_the_capture_is_refused(self) -> None:
        with pytest.raises(ValidationError) as caught:
            fieldmap().parse(refunded(25801), topic="orders")
        assert caught.value.field == "refund_amount"

    def test_the_same_payload_twice_states_the_same_refund(self) -> None:
        assert parse_one(refunded()).refunds == parse_one(refunded()).refunds

    def test_a_payment_id_names_the_capture_it_comes_off(self) -> None:
        spec = tomllib.loads(SPEC)
        spec["events"][1]["fields"]["payment_id"] = "pay_no"

        record = parse_one(refunded(), FieldMap.from_dict(spec))

        (refund,) = record.refunds
        assert refund.payment_id == "4200002611112026111100001234"


class TestSpec:
    def test_a_refund_needs_its_id_and_amount(self) -> None:
        spec = tomllib.loads(SPEC)
        del spec["events"][1]["fields"]["refund_id"]
        del spec["events"][1]["fields"]["amount"]

        problems = spec_refused(spec)

        assert "events[1].fields" in "".join(problems)
        assert "refund_id" in json.dumps(problems, ensure_ascii=False)
        assert "amount" in json.dumps(problems, ensure_ascii=False)

    def test_a_refund_takes_no_event_id(self) -> None:
        spec = tomllib.loads(SPEC)
        spec["events"][1]["fields"]["event_id"] = "refund_id"

        assert "events[1].fields.event_id" in spec_refused(spec)


def desk(unit: UnitOfWork, clock: FrozenClock) -> OrderDesk:
    with unit as uow:
        Ledger(uow.ledger, clock, outbox=uow.outbox).receive(TEA, "HZ-1", 10, key="PO")
        uow.commit()
    return OrderDesk(
        unit,
        clock,
        DeskPolicy(locations=["HZ-1"]),
        Fingerprinter(b"refunds-secret-of-16-bytes"),
    )


def owed(unit: UnitOfWork) -> list[str]:
    """The amounts of the `refund` messages: money the desk would send."""
    with unit as uow:
        messages = uow.outbox.unsent()
    return [json.loads(m.payload)["amount"] for m in messages if m.topic == "refund"]


def balance(unit: UnitOfWork, clock: FrozenClock) -> tuple[int, int, int]:
    with unit as uow:
        b = Ledger(uow.ledger, clock).balance(TEA, "HZ-1")
    return (b.on_hand, b.reserved, b.allocated)


class TestDesk:
    """The desk owes back only what the channel did not send back itself."""

    def test_an_order_refunded_and_closed_later_owes_nothing(self) -> None:
        unit = MemoryUnitOfWork()
        clock = FrozenClock(pendulum.datetime(2026, 11, 11, 2, 0))
        orders = desk(unit, clock)
        assert isinstance(orders.accept(parse_one(order())), Accepted)
        assert balance(unit, clock) == (10, 0, 2)

        orders.update(parse_one(refunded()))

        taken = orders.order("pinduoduo", ORDER_SN)
        assert taken.status is OrderStatus.CANCELLED
        assert owed(unit) == []
        assert taken.saga is None
        assert taken.payment_ledger is not None
        assert taken.payment_ledger.refunded == Money("258.00", "CNY")
        assert balance(unit, clock) == (10, 0, 0)

    def test_a_partial_refund_leaves_only_the_rest_owed(self) -> None:
        unit = MemoryUnitOfWork()
        clock = FrozenClock(pendulum.datetime(2026, 11, 11, 2, 0))
        orders = desk(unit, clock)
        orders.accept(parse_one(order()))

        orders.update(parse_one(refunded(10000)))

        assert owed(unit) == ["158.00"]

    def test_an_order_that_comes_in_refunded_owes_nothing(self) -> None:
        unit = MemoryUnitOfWork()
        clock = FrozenClock(pendulum.datetime(2026, 11, 11, 2, 0))
        orders = desk(unit, clock)

        taken = orders.accept(parse_one(refunded()))

        assert isinstance(taken, Accepted)
        assert taken.order.status is OrderStatus.CANCELLED
        assert owed(unit) == []
        assert balance(unit, clock) == (10, 0, 0)

    def test_the_same_refunded_payload_again_changes_nothing(self) -> None:
        unit = MemoryUnitOfWork()
        clock = FrozenClock(pendulum.datetime(2026, 11, 11, 2, 0))
        orders = desk(unit, clock)
        orders.accept(parse_one(order()))
        orders.update(parse_one(refunded(10000)))
        before = orders.order("pinduoduo", ORDER_SN)

        orders.update(parse_one(refunded(10000)))

        assert orders.order("pinduoduo", ORDER_SN) == before
        assert owed(unit) == ["158.00"]

    def test_a_refund_restated_for_more_waits_for_the_refund_saga(self) -> None:
        # An order's running total of refunds under one id: 100.00, then
        # 150.00: the channel sent 50.00 more back, and the refund grows to
        # it. The refund saga the cancellation started may be at the
        # provider with the 158.00 sized before: it is recorded once the
        # saga has ended, never ignored.
        unit = MemoryUnitOfWork()
        clock = FrozenClock(pendulum.datetime(2026, 11, 11, 2, 0))
        orders = desk(unit, clock)
        orders.accept(parse_one(order()))
        orders.update(parse_one(refunded(10000)))
        before = orders.order("pinduoduo", ORDER_SN)

        with pytest.raises(IllegalTransition) as refused:
            orders.update(parse_one(refunded(15000)))

        assert refused.value.retry
        assert orders.order("pinduoduo", ORDER_SN) == before
        assert owed(unit) == ["158.00"]
