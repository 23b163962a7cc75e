"""FieldMap `shipped` events: the parcel a channel's order payload states.

Pinduoduo (`tracking_number`, `logistics_id`, `shipping_time`), Taobao
(`out_sid`, `company_name`, `consign_time`) and Douyin state the parcel of
an order that comes in shipped; a FieldMap could not say so, and the order
stopped short of the status its channel states.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Sequence
from typing import Any

import pendulum
import pytest

from orderkit.adapters.channels.mapping import FieldMap
from orderkit.adapters.memory import MemoryUnitOfWork
from orderkit.dedupe import Fingerprinter, IdempotencyKey
from orderkit.errors import MappingError, ValidationError
from orderkit.integrations import ChannelOrder
from orderkit.orders import (
    OrderStatus,
    PaymentCaptured,
    PickingStarted,
    ShipmentLine,
    ShipmentStatus,
    Shipped,
)
from orderkit.ports import ChannelPayloads, UnitOfWork
from orderkit.services import Accepted, DeskPolicy, Ledger, OrderDesk
from orderkit.testing import FrozenClock
from orderkit.testing.contracts import ChannelContract, Sample


ROOT = "order_sn_increment_get_response.order_sn_list"
ORDER_SN = "261111-012345678901234"
TEA, CUP = "TEA-LONGJING-250G", "CUP-GLASS-300"
TRACKING = 773012345678901  # a JSON number, as Pinduoduo sends it

# Pinduoduo's pdd.order.number.list.increment.get, amounts in fen. Status 1
# is 待发货 (paid), 2 已发货待签收 (shipped), 3 已签收 (delivered).
SPEC = """
channel = "pinduoduo"
topics = ["orders"]
root = "order_sn_increment_get_response.order_sn_list[]"
currency = "CNY"
region = "CN"
zone = "Asia/Shanghai"

[fields]
order_id = "order_sn"
placed_at = "created_time"
"buyer.buyer_id" = "buyer_id"
"address.country" = { const = "CN" }
shipping = { path = "postage", as = "minor" }
total = { path = "pay_amount", as = "minor" }

[fields.status]
path = "order_status"
as = "id"
map = { "1" = "paid", "2" = "shipped", "3" = "delivered" }

[lines]
path = "item_list"

[lines.fields]
line_id = { path = "sku_id", as = "id" }
sku = "outer_id"
quantity = { path = "goods_count", as = "integer" }
unit_price = { path = "goods_price", as = "minor" }
stocked = { path = "is_virtual", map = { "true" = false } }

[[events]]
type = "payment_captured"
when = "confirm_time"

[events.fields]
occurred_at = "confirm_time"
payment_id = "pay_no"
amount = { path = "pay_amount", as = "minor" }

[[events]]
type = "shipped"
when = "tracking_number"
statuses = ["shipped", "delivered"]

[events.fields]
occurred_at = "shipping_time"
carrier = { path = "logistics_id", as = "id" }
tracking_number = "tracking_number"
"""

SHIPPED_EVENT = 1  # the place of the shipped event in SPEC's [[events]]


def fieldmap() -> FieldMap:
    return FieldMap.from_toml(SPEC)


def spec_dict() -> dict[str, Any]:
    """The spec as a plain dict, to change one part of it."""
    return tomllib.loads(SPEC)


def order(*, shipped: bool = True, **changes: object) -> dict[str, Any]:
    """One Pinduoduo order, paid, and shipped unless `shipped` is false."""
    item: dict[str, Any] = {
        "order_sn": ORDER_SN,
        "order_status": 2 if shipped else 1,
        "created_time": "2026-11-11 00:00:12",
        "confirm_time": "2026-11-11 00:01:05",
        "pay_no": "4200002611112026111100009999",
        "buyer_id": "pdd_uid_88231",
        "postage": 0,
        "pay_amount": 31700,
        "item_list": [
            {
                "sku_id": 1100223344,
                "outer_id": TEA,
                "goods_count": 2,
                "goods_price": 12900,
            },
            {
                "sku_id": 1100223345,
                "outer_id": CUP,
                "goods_count": 1,
                "goods_price": 5900,
            },
        ],
    }
    if shipped:
        item |= {
            "tracking_number": TRACKING,
            "logistics_id": 115,
            "shipping_time": "2026-11-11 09:30:00",
        }
    item |= changes
    return item


def page(*orders: dict[str, Any]) -> dict[str, Any]:
    return {"order_sn_increment_get_response": {"order_sn_list": list(orders)}}


def parse_one(data: Any, fm: FieldMap | None = None) -> ChannelOrder:
    (record,) = (fm or fieldmap()).parse(data, topic="orders")
    assert isinstance(record, ChannelOrder)
    return record


def refused(spec: dict[str, Any]) -> dict[str, str]:
    """Each problem of a refused spec: its place and what is wrong."""
    with pytest.raises(ValidationError) as caught:
        FieldMap.from_dict(spec)
    error = caught.value
    problems = error.errors if isinstance(error, MappingError) else (error,)
    return {problem.field: problem.problem for problem in problems}


class TestParcelRead:
    """A payload with the parcel's fields states picking, then the parcel."""

    def test_picking_then_the_parcel_of_every_line(self) -> None:
        record = parse_one(page(order()))

        paid, picking, shipped = record.events
        assert isinstance(paid, PaymentCaptured)
        assert isinstance(picking, PickingStarted)
        assert isinstance(shipped, Shipped)
        at = pendulum.datetime(2026, 11, 11, 1, 30)  # 09:30 Beijing time
        assert picking.occurred_at == shipped.occurred_at == at
        assert shipped.lines == (
            ShipmentLine("1100223344", 2),
            ShipmentLine("1100223345", 1),
        )
        assert (shipped.carrier, shipped.tracking_number) == ("115", str(TRACKING))
        assert shipped.shipment_id == str(TRACKING)
        assert record.status is OrderStatus.SHIPPED

    def test_keys_follow_the_parcel(self) -> None:
        _, picking, shipped = parse_one(page(order())).events

        when = "2026-11-11T01:30:00+00:00"
        assert shipped.key == IdempotencyKey("pinduoduo", "shipped", ORDER_SN, when)
        assert picking.key == IdempotencyKey(
            "pinduoduo", "shipped.picking", ORDER_SN, when
        )

    def test_an_event_id_and_a_shipment_id_are_read_when_mapped(self) -> None:
        spec = spec_dict()
        fields = spec["events"][SHIPPED_EVENT]["fields"]
        fields["shipment_id"] = "package_sn"
        fields["event_id"] = {"path": "logistics_seq", "as": "id"}
        data = page(order(package_sn="PKG-0001", logistics_seq=42))

        _, picking, shipped = parse_one(data, FieldMap.from_dict(spec)).events

        assert isinstance(shipped, Shipped)
        assert shipped.shipment_id == "PKG-0001"
        assert shipped.key == IdempotencyKey("pinduoduo", "shipped", ORDER_SN, "42")
        assert picking.key == IdempotencyKey(
            "pinduoduo", "shipped.picking", ORDER_SN, "42"
        )

    def test_a_tracking_number_as_text(self) -> None:
        data = page(order(tracking_number="YT7512345678901", logistics_id="YTO"))

        shipped = parse_one(data).events[-1]

        assert isinstance(shipped, Shipped)
        assert (shipped.carrier, shipped.tracking_number) == ("YTO", "YT7512345678901")

    def test_an_unstocked_line_goes_in_the_parcel(self) -> None:
        data = order()
        data["item_list"][1]["is_virtual"] = True

        record = parse_one(page(data))

        assert [line.stocked for line in record.placed.lines] == [True, False]
        shipped = record.events[-1]
        assert isinstance(shipped, Shipped)
        assert [part.line_id for part in shipped.lines] == ["1100223344", "1100223345"]

    def test_without_the_parcel_neither_is_stated(self) -> None:
        record = parse_one(page(order(shipped=False)))

        assert [type(event) for event in record.events] == [PaymentCaptured]

    def test_a_status_not_listed_states_no_parcel(self) -> None:
        # Pinduoduo fills tracking_number before the parcel leaves, at times.
        record = parse_one(page(order(order_status=1)))

        assert record.status is OrderStatus.PAID
        assert [type(event) for event in record.events] == [PaymentCaptured]

    def test_a_missing_carrier_is_named_at_its_path(self) -> None:
        data = order()
        del data["logistics_id"]

        with pytest.raises(ValidationError) as caught:
            fieldmap().parse(page(data), topic="orders")

        assert (caught.value.field, caught.value.problem) == (
            f"{ROOT}[0].logistics_id",
            "is missing",
        )

    def test_a_malformed_tracking_number_is_named_at_its_path(self) -> None:
        with pytest.raises(ValidationError) as caught:
            fieldmap().parse(page(order(tracking_number=-1)), topic="orders")

        assert caught.value.field == f"{ROOT}[0].tracking_number"

    def test_a_bad_line_is_reported_not_shipped(self) -> None:
        data = order()
        data["item_list"][0]["goods_count"] = "two"

        with pytest.raises(ValidationError) as caught:
            fieldmap().parse(page(data), topic="orders")

        assert caught.value.field == f"{ROOT}[0].item_list[0].goods_count"


class TestRedelivery:
    """The same payload again gives the same events under the same keys."""

    def test_the_same_payload_twice(self) -> None:
        first = parse_one(page(order()))
        again = parse_one(json.loads(json.dumps(page(order()))))

        assert first == again
        assert [event.key for event in first.events] == [
            event.key for event in again.events
        ]

    def test_no_key_repeats(self) -> None:
        record = parse_one(page(order()))

        keys = [record.placed.key, *(event.key for event in record.events)]
        assert len(set(keys)) == len(keys)


class TestSpec:
    """A `shipped` event's spec is checked when the spec is loaded."""

    def test_the_required_fields_are_named(self) -> None:
        spec = spec_dict()
        fields = spec["events"][SHIPPED_EVENT]["fields"]
        del fields["carrier"], fields["tracking_number"]

        assert refused(spec) == {
            "events[1].fields.carrier": "is a required target: map it",
            "events[1].fields.tracking_number": "is a required target: map it",
        }

    def test_an_unknown_field_is_named(self) -> None:
        spec = spec_dict()
        spec["events"][SHIPPED_EVENT]["fields"]["weight"] = "parcel_weight"

        assert refused(spec) == {
            "events[1].fields.weight": "is not a target; known: carrier, event_id,"
            " occurred_at, shipment_id, tracking_number"
        }

    def test_parcel_lines_are_not_a_key(self) -> None:
        # The parcel carries every line: there is nothing to map.
        spec = spec_dict()
        spec["events"][SHIPPED_EVENT]["lines"] = "item_list"

        (place,) = refused(spec)
        assert place == "events[1].lines"

    def test_a_tracking_number_is_an_id(self) -> None:
        spec = spec_dict()
        spec["events"][SHIPPED_EVENT]["fields"]["tracking_number"] = {
            "path": "tracking_number",
            "as": "money",
        }

        assert refused(spec) == {
            "events[1].fields.tracking_number.as": "is not a converter for"
            " tracking_number; use id or text"
        }

    def test_the_type_is_listed_among_the_known(self) -> None:
        spec = spec_dict()
        spec["events"][SHIPPED_EVENT]["type"] = "delivered"

        assert refused(spec) == {
            "events[1].type": "is not an event type; known: cancelled, closed,"
            " payment_captured, refund, shipped"
        }


class TestShippedContract(ChannelContract):
    """The contract passes on an order that comes in shipped, events and all."""

    def make_channel(self) -> ChannelPayloads:
        return fieldmap()

    def samples(self) -> Sequence[Sample]:
        with_card = order(order_sn="261111-012345678909999")
        with_card["item_list"][1]["is_virtual"] = "true"
        return [
            Sample("shipped", "orders", json.dumps(page(order()))),
            Sample("paid", "orders", json.dumps(page(order(shipped=False)))),
            Sample("shipped-with-unstocked", "orders", json.dumps(page(with_card))),
        ]

    def with_status(self, payload: Any, topic: str, status: str) -> Any:
        assert topic == "orders"
        payload["order_sn_increment_get_response"]["order_sn_list"][0][
            "order_status"
        ] = status
        return payload


def stocked_desk(unit: UnitOfWork, clock: FrozenClock) -> OrderDesk:
    with unit as uow:
        ledger = Ledger(uow.ledger, clock, outbox=uow.outbox)
        ledger.receive(TEA, "HZ-1", 10, key="PO-1")
        ledger.receive(CUP, "HZ-1", 5, key="PO-2")
        uow.commit()
    return OrderDesk(
        unit,
        clock,
        DeskPolicy(locations=["HZ-1"]),
        Fingerprinter(b"shipped-secret-of-16-bytes"),
    )


def on_hand(unit: UnitOfWork, clock: FrozenClock, sku: str) -> tuple[int, int, int]:
    with unit as uow:
        b = Ledger(uow.ledger, clock).balance(sku, "HZ-1")
    return (b.on_hand, b.reserved, b.allocated)


class TestDesk:
    """The desk takes an order in shipped, its units out of stock."""

    def test_an_order_that_comes_in_shipped(self) -> None:
        unit = MemoryUnitOfWork()
        clock = FrozenClock(pendulum.datetime(2026, 11, 11, 2, 0))
        desk = stocked_desk(unit, clock)

        outcome = desk.accept(parse_one(page(order())))

        assert isinstance(outcome, Accepted)
        assert outcome.order.status is OrderStatus.SHIPPED
        (shipment,) = outcome.order.shipments
        assert shipment.status is ShipmentStatus.SHIPPED
        assert shipment.tracking_number == str(TRACKING)
        assert on_hand(unit, clock, TEA) == (8, 0, 0)
        assert on_hand(unit, clock, CUP) == (4, 0, 0)

    def test_a_paid_order_shipped_later(self) -> None:
        unit = MemoryUnitOfWork()
        clock = FrozenClock(pendulum.datetime(2026, 11, 11, 2, 0))
        desk = stocked_desk(unit, clock)
        accepted = desk.accept(parse_one(page(order(shipped=False))))
        assert isinstance(accepted, Accepted)
        assert accepted.order.status is OrderStatus.PAID

        desk.update(parse_one(page(order())))

        assert desk.order("pinduoduo", ORDER_SN).status is OrderStatus.SHIPPED
        assert on_hand(unit, clock, TEA) == (8, 0, 0)
        assert on_hand(unit, clock, CUP) == (4, 0, 0)

    def test_the_unstocked_line_takes_no_stock(self) -> None:
        unit = MemoryUnitOfWork()
        clock = FrozenClock(pendulum.datetime(2026, 11, 11, 2, 0))
        desk = stocked_desk(unit, clock)
        data = order()
        data["item_list"][1]["is_virtual"] = True

        outcome = desk.accept(parse_one(page(data)))

        assert isinstance(outcome, Accepted)
        assert outcome.order.status is OrderStatus.SHIPPED
        assert on_hand(unit, clock, TEA) == (8, 0, 0)
        assert on_hand(unit, clock, CUP) == (5, 0, 0)
