"""FieldMap `refund` tables that name the units they pay back.

A marketplace's 仅退款 (refund only) of units not shipped yet is how the
buyer stops the rest of a partly shipped order: the channel refunds them,
naming the lines, and the desk cancels them (`Order.cancelled_units`). A
FieldMap refund could state money alone (`lines` was "not a target"), so
such an order sat `partially_shipped` for good. A refund table's `lines`
table, written as the order's `[lines]` is, reads the units.
"""

from __future__ import annotations

import copy
import json
import tomllib
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pendulum
import pytest
from tests.services._samples import backend

from orderkit.adapters.channels.mapping import FieldMap
from orderkit.dedupe import Fingerprinter, IdempotencyKey
from orderkit.errors import (
    InvalidQuantity,
    MappingError,
    StructureError,
    ValidationError,
)
from orderkit.integrations import ChannelOrder, ChannelRefund, RefundLine
from orderkit.money import Money
from orderkit.orders import (
    OrderStatus,
    PickingStarted,
    ShipmentLine,
    Shipped,
    unshipped_lines,
)
from orderkit.ports import UnitOfWork
from orderkit.services import Accepted, DeskPolicy, Ledger, OrderDesk
from orderkit.testing import FrozenClock


CH = "pinduoduo"
ORDER_SN = "261111-556677889900112"
TEA, CUP = "TEA-LONGJING-250G", "TEA-CUP-WHITE"
# The order lines' ids, as `[lines]` reads Pinduoduo's numeric `sku_id`.
TEA_LINE, CUP_LINE = "1100223344", "1100223399"

# Pinduoduo-like order payloads, amounts in fen. The refund's goods list
# (`refund_goods`) names each line by the `sku_id` the order's lines have.
BASE_SPEC = """
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
map = { "1" = "paid", "2" = "shipped" }

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

SPEC = (
    BASE_SPEC
    + """
[events.lines]
path = "refund_goods"

[events.lines.fields]
line_id = { path = "sku_id", as = "id" }
quantity = "goods_number"
"""
)


def order(**changes: object) -> dict[str, Any]:
    """A paid order: 3 teas at 129.00 and a cup at 59.00, 446.00 in all."""
    item: dict[str, Any] = {
        "order_sn": ORDER_SN,
        "order_status": 1,
        "created_time": "2026-11-11 00:00:12",
        "confirm_time": "2026-11-11 00:01:05",
        "pay_no": "4200002611112026111100005555",
        "buyer_id": "pdd_uid_7788",
        "pay_amount": 44600,
        "item_list": [
            {"sku_id": 1100223344, "outer_id": TEA, "goods_count": 3},
            {"sku_id": 1100223399, "outer_id": CUP, "goods_count": 1},
        ],
    }
    item["item_list"][0]["goods_price"] = 12900
    item["item_list"][1]["goods_price"] = 5900
    item |= changes
    return item


def refunded(
    goods: object = ({"sku_id": 1100223344, "goods_number": 2},),
    amount: int = 25800,
    **changes: object,
) -> dict[str, Any]:
    """The order again, once the channel refunded `goods` (2 teas by default)."""
    stated = {
        "refund_id": 88002,
        "refund_time": "2026-11-11 10:00:00",
        "refund_amount": amount,
        "refund_reason": "仅退款: 未发货",
    }
    if goods is not None:
        stated["refund_goods"] = list(goods) if isinstance(goods, tuple) else goods
    return order(**stated, **changes)


def parse_one(data: dict[str, Any], spec: str = SPEC) -> ChannelOrder:
    (record,) = FieldMap.from_toml(spec).parse(data, topic="orders")
    assert isinstance(record, ChannelOrder)
    return record


def the_refund(data: dict[str, Any], spec: str = SPEC) -> ChannelRefund:
    (refund,) = parse_one(data, spec).refunds
    return refund


def refused(data: dict[str, Any], spec: str = SPEC) -> dict[str, ValidationError]:
    """Every problem reading `data`, by its payload path."""
    with pytest.raises(ValidationError) as caught:
        FieldMap.from_toml(spec).parse(data, topic="orders")
    error = caught.value
    problems = error.errors if isinstance(error, MappingError) else (error,)
    return {problem.field: problem for problem in problems}


def spec_refused(spec: dict[str, Any]) -> dict[str, str]:
    """Every problem with `spec`, by its place in the spec."""
    with pytest.raises(ValidationError) as caught:
        FieldMap.from_dict(spec)
    error = caught.value
    problems = error.errors if isinstance(error, MappingError) else (error,)
    return {problem.field: problem.problem for problem in problems}


def spec_dict() -> dict[str, Any]:
    return copy.deepcopy(tomllib.loads(SPEC))


class TestParse:
    def test_a_refund_names_the_units_it_pays_back(self) -> None:
        refund = the_refund(refunded())

        assert refund.lines == (RefundLine(TEA_LINE, 2),)
        assert refund.amount == Money("258.00", "CNY")

    def test_each_line_named_is_read(self) -> None:
        goods = (
            {"sku_id": 1100223344, "goods_number": 1},
            {"sku_id": "1100223399", "goods_number": "1"},
        )

        refund = the_refund(refunded(goods, amount=18800))

        # A line id as a JSON number or as text is the same line.
        assert refund.lines == (RefundLine(TEA_LINE, 1), RefundLine(CUP_LINE, 1))

    def test_a_line_named_twice_is_paid_back_for_both(self) -> None:
        goods = (
            {"sku_id": 1100223344, "goods_number": 1},
            {"sku_id": 1100223399, "goods_number": 1},
            {"sku_id": 1100223344, "goods_number": 2},
        )

        refund = the_refund(refunded(goods, amount=44600))

        assert refund.lines == (RefundLine(TEA_LINE, 3), RefundLine(CUP_LINE, 1))

    def test_an_empty_list_is_money_alone(self) -> None:
        assert the_refund(refunded(goods=[])).lines == ()

    def test_the_key_is_the_refund_id_and_amount_with_or_without_units(
        self,
    ) -> None:
        named = the_refund(refunded())
        money_only = the_refund(refunded(), BASE_SPEC)

        assert named.key == money_only.key
        assert str(named.key) == f"pinduoduo:refund:{ORDER_SN}:88002%3A258.00"

    def test_a_refund_table_without_lines_reads_as_before(self) -> None:
        refund = the_refund(refunded(), BASE_SPEC)

        assert refund == ChannelRefund(
            refund_id="88002",
            order_id=ORDER_SN,
            key=IdempotencyKey(CH, "refund", ORDER_SN, "88002:258.00"),
            amount=Money("258.00", "CNY"),
            created_at=pendulum.datetime(2026, 11, 11, 2, 0),
            reason="仅退款: 未发货",
        )

    def test_an_amount_of_zero_is_no_refund_and_its_units_are_not_read(
        self,
    ) -> None:
        assert parse_one(refunded(goods=None, amount=0)).refunds == ()

    def test_json_spec_reads_the_same(self) -> None:
        assert FieldMap.from_json(json.dumps(spec_dict())) == FieldMap.from_toml(SPEC)


class TestRefused:
    def test_a_missing_list_is_refused_at_its_path(self) -> None:
        problems = refused(refunded(goods=None))

        assert list(problems) == ["refund_goods"]
        assert "is missing" in problems["refund_goods"].problem

    def test_a_null_list_is_missing(self) -> None:
        assert list(refused(refunded(goods=None, refund_goods=None))) == [
            "refund_goods"
        ]

    def test_a_list_that_is_not_one_is_refused(self) -> None:
        problems = refused(refunded(goods={"sku_id": 1100223344}))

        assert isinstance(problems["refund_goods"], StructureError)

    def test_an_entry_that_is_not_an_object_is_refused(self) -> None:
        assert list(refused(refunded(goods=[1100223344]))) == ["refund_goods[0]"]

    @pytest.mark.parametrize(
        "quantity", [0, -1, Decimal("1.5"), "1.5", "two", True, None], ids=repr
    )
    def test_a_quantity_not_a_positive_integer_is_refused(
        self, quantity: object
    ) -> None:
        goods = (
            {"sku_id": 1100223399, "goods_number": 1},
            {"sku_id": 1100223344, "goods_number": quantity},
        )

        problems = refused(refunded(goods))

        where = "refund_goods[1].goods_number"
        assert list(problems) == [where]
        if quantity is None:
            assert problems[where].problem == "is missing"
        else:
            assert isinstance(problems[where], InvalidQuantity)
            assert problems[where].value == quantity

    def test_a_line_the_order_does_not_have_is_refused(self) -> None:
        goods = ({"sku_id": 1100223388, "goods_number": 1},)

        problems = refused(refunded(goods))

        problem = problems["refund_goods[0].sku_id"]
        assert problem.value == "1100223388"
        assert problem.problem == (
            f"is not a line of the order (its lines: {TEA_LINE}, {CUP_LINE})"
        )

    def test_a_missing_line_id_is_refused(self) -> None:
        problems = refused(refunded(({"goods_number": 1},)))

        assert problems["refund_goods[0].sku_id"].problem == "is missing"

    def test_every_problem_is_reported_at_once(self) -> None:
        goods = (
            {"sku_id": 1100223388, "goods_number": 1},
            {"sku_id": 1100223344, "goods_number": 0},
        )

        assert set(refused(refunded(goods))) == {
            "refund_goods[0].sku_id",
            "refund_goods[1].goods_number",
        }

    def test_units_of_lines_that_failed_to_read_are_not_judged(self) -> None:
        data = refunded()
        data["item_list"][0]["goods_count"] = 0

        assert list(refused(data)) == ["item_list[0].goods_count"]

    def test_a_line_id_read_as_text_says_to_read_it_as_an_id(self) -> None:
        spec = SPEC.replace(
            'line_id = { path = "sku_id", as = "id" }\nquantity',
            'line_id = { path = "sku_id", as = "text" }\nquantity',
        )
        assert spec != SPEC

        problem = refused(refunded(), spec)["refund_goods[0].sku_id"]

        assert 'as = "id"' in problem.problem


class TestSpec:
    def test_lines_mapped_as_a_target_says_where_they_go(self) -> None:
        spec = tomllib.loads(BASE_SPEC)
        spec["events"][1]["fields"]["lines"] = "refund_goods"

        problem = spec_refused(spec)["events[1].fields.lines"]

        assert problem.startswith("is not a target; known: amount, occurred_at")
        assert "its own table beside fields: lines = { path" in problem

    def test_only_a_refund_names_units(self) -> None:
        spec = spec_dict()
        spec["events"][0]["lines"] = spec["events"][1]["lines"]

        assert spec_refused(spec) == {
            "events[0].lines": (
                "a payment_captured event names no units: only a refund's"
                " table has lines"
            )
        }

    def test_the_lines_table_needs_a_path(self) -> None:
        spec = spec_dict()
        del spec["events"][1]["lines"]["path"]

        assert "events[1].lines.path" in spec_refused(spec)

    def test_the_lines_table_needs_a_line_id_and_a_quantity(self) -> None:
        spec = spec_dict()
        spec["events"][1]["lines"]["fields"] = {"sku": "outer_id"}

        assert set(spec_refused(spec)) == {
            "events[1].lines.fields.sku",
            "events[1].lines.fields.line_id",
            "events[1].lines.fields.quantity",
        }

    def test_the_lines_table_takes_path_and_fields_only(self) -> None:
        spec = spec_dict()
        spec["events"][1]["lines"]["restock"] = True

        assert list(spec_refused(spec)) == ["events[1].lines.restock"]

    def test_the_lines_table_must_be_a_table(self) -> None:
        spec = spec_dict()
        spec["events"][1]["lines"] = "refund_goods"

        assert list(spec_refused(spec)) == ["events[1].lines"]

    def test_a_quantity_is_read_as_an_integer(self) -> None:
        spec = spec_dict()
        spec["events"][1]["lines"]["fields"]["quantity"] = {
            "path": "goods_number",
            "as": "money",
        }

        assert list(spec_refused(spec)) == ["events[1].lines.fields.quantity.as"]


# ----------------------------------------------------------------------
# Through the desk


@pytest.fixture(params=["memory", "sqlite"])
def unit(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[UnitOfWork]:
    yield from backend(request.param, tmp_path / "desk.db")


def desk(unit: UnitOfWork, clock: FrozenClock) -> OrderDesk:
    with unit as uow:
        ledger = Ledger(uow.ledger, clock, outbox=uow.outbox)
        ledger.receive(TEA, "HZ-1", 10, key="PO-TEA")
        ledger.receive(CUP, "HZ-1", 10, key="PO-CUP")
        uow.commit()
    return OrderDesk(
        unit,
        clock,
        DeskPolicy(locations=["HZ-1"]),
        Fingerprinter(b"refund-lines-secret-of-16-bytes"),
    )


def allocated(unit: UnitOfWork, clock: FrozenClock, sku: str) -> int:
    with unit as uow:
        return Ledger(uow.ledger, clock).balance(sku, "HZ-1").allocated


def owed(unit: UnitOfWork) -> list[str]:
    """The amounts of the `refund` messages: money the desk would send."""
    with unit as uow:
        messages = uow.outbox.unsent()
    return [json.loads(m.payload)["amount"] for m in messages if m.topic == "refund"]


def partly_shipped(unit: UnitOfWork, clock: FrozenClock) -> OrderDesk:
    """The order accepted paid; the warehouse shipped the cup and one tea."""
    orders = desk(unit, clock)
    assert isinstance(orders.accept(parse_one(order())), Accepted)
    orders.record(
        CH,
        ORDER_SN,
        PickingStarted(
            order_id=ORDER_SN,
            key=IdempotencyKey("wms", "picking", ORDER_SN, "1"),
            occurred_at=pendulum.datetime(2026, 11, 11, 1, 0),
        ),
    )
    orders.record(
        CH,
        ORDER_SN,
        Shipped(
            order_id=ORDER_SN,
            key=IdempotencyKey("wms", "shipped", ORDER_SN, "S1"),
            occurred_at=pendulum.datetime(2026, 11, 11, 1, 30),
            shipment_id="S1",
            carrier="SF",
            tracking_number="SF1234567890",
            lines=(ShipmentLine(TEA_LINE, 1), ShipmentLine(CUP_LINE, 1)),
        ),
    )
    taken = orders.order(CH, ORDER_SN)
    assert taken.status is OrderStatus.PARTIALLY_SHIPPED
    assert unshipped_lines(taken) == (ShipmentLine(TEA_LINE, 2),)
    return orders


class TestDesk:
    """A 仅退款 of the unshipped units cancels them: the order has shipped."""

    def test_the_unshipped_units_refunded_are_cancelled(self, unit: UnitOfWork) -> None:
        clock = FrozenClock(pendulum.datetime(2026, 11, 11, 3, 0))
        orders = partly_shipped(unit, clock)
        assert allocated(unit, clock, TEA) == 2

        orders.update(parse_one(refunded()))

        taken = orders.order(CH, ORDER_SN)
        assert taken.cancelled_units == (RefundLine(TEA_LINE, 2),)
        assert taken.status is OrderStatus.SHIPPED
        assert unshipped_lines(taken) == ()
        assert taken.payment_ledger is not None
        (kept,) = taken.payment_ledger.refunds
        assert kept.lines == (RefundLine(TEA_LINE, 2),)
        assert kept.amount == Money("258.00", "CNY")
        assert allocated(unit, clock, TEA) == 0
        assert owed(unit) == []

    def test_the_same_payload_again_changes_nothing(self, unit: UnitOfWork) -> None:
        clock = FrozenClock(pendulum.datetime(2026, 11, 11, 3, 0))
        orders = partly_shipped(unit, clock)
        orders.update(parse_one(refunded()))
        before = orders.order(CH, ORDER_SN)

        orders.update(parse_one(refunded()))

        assert orders.order(CH, ORDER_SN) == before

    def test_a_refund_recorded_without_its_units_gains_them(
        self, unit: UnitOfWork
    ) -> None:
        # The key leaves the units out: a map that did not name them
        # recorded the refund first; the same refund with its units, under
        # the same key, gives the desk its units.
        clock = FrozenClock(pendulum.datetime(2026, 11, 11, 3, 0))
        orders = partly_shipped(unit, clock)
        orders.update(parse_one(refunded(), BASE_SPEC))
        assert orders.order(CH, ORDER_SN).status is OrderStatus.PARTIALLY_SHIPPED

        orders.update(parse_one(refunded()))

        taken = orders.order(CH, ORDER_SN)
        assert taken.cancelled_units == (RefundLine(TEA_LINE, 2),)
        assert taken.status is OrderStatus.SHIPPED
