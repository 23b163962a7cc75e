"""`Order.cancelled_units`: units a refund paid back before any parcel carried them.

No parcel will carry them: `unshipped_lines` leaves them out, and the order
has shipped in full once every other unit of its stocked lines has. The
order refuses cancelled units it cannot have; stored orders of before read
back with none, and are written back as they were.
"""

from __future__ import annotations

import json

import attrs
import pytest
from tests.orders.test_unstocked_lines import CLOCK, GIFT_CARD, T0, parcel, picking
from tests.serialization.test_refund_provider_ids import CONVERTERS

from orderkit.errors import StructureError, ValidationError
from orderkit.money import Money
from orderkit.orders import (
    Applied,
    Order,
    OrderLine,
    OrderStatus,
    ShipmentLine,
    apply,
    unshipped_lines,
)
from orderkit.pricing import RefundLine
from orderkit.serialization import Converter


IDS = ["fast", "detailed", "slow", "stdlib"]
TEAPOT = OrderLine("L4", "JADE-TEAPOT", 3, Money("88.00", "CNY"))


def cancelling(order: Order, *units: RefundLine) -> Order:
    return attrs.evolve(order, cancelled_units=units)


def test_cancelled_units_are_not_left_to_ship() -> None:
    order = cancelling(picking(CLOCK, TEAPOT), RefundLine("L4", 2))
    assert unshipped_lines(order) == (ShipmentLine("L1", 2), ShipmentLine("L4", 1))
    every = cancelling(picking(CLOCK, TEAPOT), RefundLine("L4", 3))
    assert unshipped_lines(every) == (ShipmentLine("L1", 2),)


def test_the_rest_shipped_ships_the_order() -> None:
    order = cancelling(picking(CLOCK, TEAPOT), RefundLine("L4", 1))
    outcome = apply(order, parcel(ShipmentLine("L1", 2), ShipmentLine("L4", 2)), now=T0)
    assert outcome.order is not None
    assert outcome.order.status is OrderStatus.SHIPPED
    assert outcome.order.cancelled_units == (RefundLine("L4", 1),)
    assert unshipped_lines(outcome.order) == ()


def test_a_parcel_carrying_cancelled_units_ships_them() -> None:
    order = cancelling(picking(CLOCK, TEAPOT), RefundLine("L4", 2))
    outcome = apply(order, parcel(ShipmentLine("L1", 2), ShipmentLine("L4", 2)), now=T0)
    assert isinstance(outcome, Applied)
    new = outcome.order
    assert new.status is OrderStatus.SHIPPED
    # One of the two cancelled left in the parcel: one stays cancelled.
    assert new.cancelled_units == (RefundLine("L4", 1),)
    (record,) = outcome.records
    assert ("cancelled_units[L4]", "2", "1") in [
        (c.field, c.old, c.new) for c in record.changes
    ]


def test_over_shipping_is_judged_by_the_units_ordered() -> None:
    order = cancelling(picking(CLOCK, TEAPOT), RefundLine("L4", 3))
    outcome = apply(order, parcel(ShipmentLine("L4", 3)), now=T0)
    assert outcome.order is not None
    assert outcome.order.cancelled_units == ()
    assert outcome.order.status is OrderStatus.PARTIALLY_SHIPPED


@pytest.mark.parametrize(
    ("units", "field"),
    [
        ((RefundLine("L9", 1),), "cancelled_units[0].line_id"),
        ((RefundLine("L4", 1), RefundLine("L4", 1)), "cancelled_units[1].line_id"),
        ((RefundLine("L4", 4),), "cancelled_units[0].quantity"),
    ],
)
def test_the_order_refuses_cancelled_units_it_cannot_have(
    units: tuple[RefundLine, ...], field: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        cancelling(picking(CLOCK, TEAPOT), *units)
    assert refused.value.field == field


def test_shipped_units_cannot_be_cancelled() -> None:
    shipped = apply(picking(CLOCK, TEAPOT), parcel(ShipmentLine("L4", 2)), now=T0)
    assert shipped.order is not None
    cancelling(shipped.order, RefundLine("L4", 1))
    with pytest.raises(ValidationError) as refused:
        cancelling(shipped.order, RefundLine("L4", 2))
    assert refused.value.field == "cancelled_units[0].quantity"


def test_a_partly_shipped_order_with_the_rest_cancelled_has_shipped() -> None:
    shipped = apply(
        picking(CLOCK, TEAPOT),
        parcel(ShipmentLine("L1", 2), ShipmentLine("L4", 2)),
        now=T0,
    )
    assert shipped.order is not None
    with pytest.raises(ValidationError) as refused:
        cancelling(shipped.order, RefundLine("L4", 1))
    assert refused.value.field == "status"
    done = attrs.evolve(
        shipped.order,
        cancelled_units=(RefundLine("L4", 1),),
        status=OrderStatus.SHIPPED,
    )
    assert unshipped_lines(done) == ()


@pytest.mark.parametrize("converter", CONVERTERS, ids=IDS)
def test_cancelled_units_are_written_and_read_back(converter: Converter) -> None:
    order = cancelling(picking(CLOCK, GIFT_CARD), RefundLine("L1", 1))
    written = converter.dumps(order)
    assert json.loads(written)["cancelled_units"] == [
        {"line_id": "L1", "quantity": 1, "restock": False}
    ]
    assert converter.loads(written, Order) == order
    assert converter.structure(converter.unstructure(order), Order) == order


@pytest.mark.parametrize("converter", CONVERTERS, ids=IDS)
def test_an_order_of_before_reads_back_with_none(converter: Converter) -> None:
    order = picking(CLOCK, GIFT_CARD)
    written = converter.dumps(order)
    # Written as before: no key for what an order of before never had.
    assert "cancelled_units" not in json.loads(written)
    read = converter.loads(written, Order)
    assert read.cancelled_units == ()
    assert converter.dumps(read) == written


@pytest.mark.parametrize("converter", CONVERTERS, ids=IDS)
def test_a_document_with_bad_cancelled_units_is_refused(converter: Converter) -> None:
    document = json.loads(converter.dumps(picking(CLOCK, GIFT_CARD)))
    document["cancelled_units"] = [{"line_id": "L1", "quantity": 3}]
    with pytest.raises(StructureError, match="cancelled_units"):
        converter.loads(json.dumps(document).encode(), Order)
