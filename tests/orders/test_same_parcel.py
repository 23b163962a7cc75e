"""One parcel reported twice under two shipment ids is one parcel.

A 3PL that retries its report may give the parcel a new shipment id, and a
channel and a warehouse each report the parcel under ids of their own. The
tracking number is the same: counted twice, the parcel shipped the order's
other units on paper, and the desk took their stock a second time.
"""

from __future__ import annotations

import attrs
from tests.orders.test_unstocked_lines import CLOCK, T0, parcel, picking

from orderkit.orders import (
    Applied,
    Order,
    OrderStatus,
    ShipmentLine,
    Shipped,
    Stale,
    apply,
    unshipped_lines,
)


def half_shipped() -> Order:
    """Two clocks ordered; a parcel S1 (SF1) carried one."""
    outcome = apply(picking(CLOCK), parcel(ShipmentLine("L1", 1)), now=T0)
    assert isinstance(outcome, Applied)
    assert outcome.order.status is OrderStatus.PARTIALLY_SHIPPED
    return outcome.order


def again(event: Shipped, shipment_id: str, n: str) -> Shipped:
    """`event` reported again: another shipment id and key, its tracking number."""
    return attrs.evolve(
        event, shipment_id=shipment_id, key=attrs.evolve(event.key, event_id=n)
    )


def test_the_same_units_under_the_same_tracking_number_are_stale() -> None:
    order = half_shipped()

    outcome = apply(
        order, again(parcel(ShipmentLine("L1", 1)), "S1-retry", "2"), now=T0
    )

    assert isinstance(outcome, Stale)
    assert "SF1" in outcome.reason
    assert outcome.order.shipments == order.shipments
    assert unshipped_lines(outcome.order) == (ShipmentLine("L1", 1),)


def test_other_units_under_the_same_tracking_number_ship_as_well() -> None:
    # Three clocks: one recorded as S1, the other two packed in the same box
    # and recorded apart (a shop that fulfils a line in two records).
    three = apply(
        picking(attrs.evolve(CLOCK, quantity=3)), parcel(ShipmentLine("L1", 1)), now=T0
    ).order
    assert three is not None

    more = apply(three, again(parcel(ShipmentLine("L1", 2)), "S2", "2"), now=T0)

    assert isinstance(more, Applied)
    assert [s.shipment_id for s in more.order.shipments] == ["S1", "S2"]
    assert more.order.status is OrderStatus.SHIPPED


def test_another_tracking_number_is_another_parcel() -> None:
    order = half_shipped()

    outcome = apply(order, parcel(ShipmentLine("L1", 1), n="2"), now=T0)

    assert isinstance(outcome, Applied)
    assert outcome.order.status is OrderStatus.SHIPPED
