"""A parcel reported before its picking waits for it, unless no order could take it.

A `Shipped` event that overtook its `PickingStarted` is parked until the
picking comes. One naming a line the order lacks, or more units than were
ordered, can never apply: it used to be parked all the same, with no error,
and wait for good. It is refused at once, as it is refused once picking
started.
"""

from __future__ import annotations

import pytest
from tests.orders.test_unstocked_lines import CLOCK, T0, _key, parcel

from orderkit.errors import IllegalTransition, ValidationError
from orderkit.orders import (
    Address,
    Buyer,
    Early,
    Order,
    OrderPlaced,
    OrderStatus,
    PaymentCaptured,
    ShipmentLine,
    apply,
    apply_all,
)


def paid() -> Order:
    """Two clocks ordered and paid; picking not reported yet."""
    placed = OrderPlaced(
        order_id="DY-1",
        key=_key("placed"),
        occurred_at=T0,
        channel="douyin",
        buyer=Buyer("b-1"),
        address=Address("CN"),
        lines=(CLOCK,),
    )
    captured = PaymentCaptured(
        order_id="DY-1",
        key=_key("paid"),
        occurred_at=T0.add(minutes=1),
        payment_id="P-1",
        amount=CLOCK.amount,
    )
    order = apply_all(None, [placed, captured], now=T0).order
    assert order is not None
    assert order.status is OrderStatus.PAID
    return order


def test_a_parcel_of_a_line_the_order_lacks_is_refused_not_parked() -> None:
    with pytest.raises(ValidationError) as refused:
        apply(paid(), parcel(ShipmentLine("L99", 1)), now=T0)

    assert (refused.value.field, refused.value.value) == ("lines[0].line_id", "L99")


def test_a_parcel_of_more_units_than_ordered_is_refused_not_parked() -> None:
    with pytest.raises(IllegalTransition, match="would ship 5 units of 2 ordered"):
        apply(paid(), parcel(ShipmentLine("L1", 5)), now=T0)


def test_a_parcel_the_order_can_take_still_waits_for_its_picking() -> None:
    order = paid()
    shipped = parcel(ShipmentLine("L1", 2))

    early = apply(order, shipped, now=T0)

    assert isinstance(early, Early)  # the desk parks it on the order
    assert early.order == order
