"""unshipped_lines: what is left to ship, and one parcel of it ships the rest."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from tests.orders.test_unstocked_lines import CLOCK, GIFT_CARD, T0, parcel, picking

from orderkit.money import Money
from orderkit.orders import (
    OrderLine,
    OrderStatus,
    ShipmentLine,
    apply_all,
    unshipped_lines,
)


TEAPOT = OrderLine("L4", "JADE-TEAPOT", 3, Money("88.00", "CNY"))


def test_every_unit_before_a_parcel() -> None:
    order = picking(CLOCK, TEAPOT)
    assert unshipped_lines(order) == (ShipmentLine("L1", 2), ShipmentLine("L4", 3))


def test_what_a_parcel_left() -> None:
    order = picking(CLOCK, TEAPOT)
    first = parcel(ShipmentLine("L1", 2), ShipmentLine("L4", 1))
    shipped = apply_all(order, [first], now=T0).order
    assert shipped is not None
    assert shipped.status is OrderStatus.PARTIALLY_SHIPPED
    assert unshipped_lines(shipped) == (ShipmentLine("L4", 2),)


def test_unstocked_lines_are_units_to_ship_too() -> None:
    # A gift card goes in the parcel's list as any line does.
    assert unshipped_lines(picking(CLOCK, GIFT_CARD)) == (
        ShipmentLine("L1", 2),
        ShipmentLine("L2", 1),
    )


@given(
    clocks=st.integers(0, 2),
    teapots=st.integers(0, 3),
)
def test_one_parcel_of_the_rest_ships_the_order(clocks: int, teapots: int) -> None:
    order = picking(CLOCK, TEAPOT)
    first = [
        ShipmentLine(line_id, quantity)
        for line_id, quantity in (("L1", clocks), ("L4", teapots))
        if quantity
    ]
    if first:
        moved = apply_all(order, [parcel(*first)], now=T0).order
        assert moved is not None
        order = moved
    rest = unshipped_lines(order)
    if not rest:
        assert order.status is OrderStatus.SHIPPED
        return
    done = apply_all(order, [parcel(*rest, n="2")], now=T0).order
    assert done is not None
    assert done.status is OrderStatus.SHIPPED
    assert unshipped_lines(done) == ()
