"""An order whose parcels' notices came before the order: its stock ends the same.

DY-1001 is two retro clocks from BJ-1, which holds ten. Its channel says
"paid", "picking", "parcel S1 (one clock)" and "parcel S2 (the other)";
a channel's callbacks arrive in any order, and the order's first notice to
reach the desk may already state parcels. Whichever notice the desk sees
first, the ledger ends with eight clocks on hand, none reserved, none
allocated, one `SHIP` movement per parcel, and a `sellable` message told.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
from tests.services.test_desk import (
    T0,
    balance,
    desk,
    incoming,
    key,
    paid,
    parcel_shipped,
    picking_started,
    stock,
)

from orderkit.inventory import MovementKind
from orderkit.orders import OrderEvent, OrderStatus, ShipmentLine, Shipped
from orderkit.ports import UnitOfWork
from orderkit.services import AlreadyAccepted, Held, Ledger, OrderDesk
from orderkit.testing import FrozenClock


def second_parcel() -> Shipped:
    """DY-1001's parcel S2, the other clock, four hours in."""
    return Shipped(
        order_id="DY-1001",
        key=key("DY-1001", "wms.shipped", "2"),
        occurred_at=T0.add(hours=4),
        shipment_id="S2",
        lines=[ShipmentLine("L1", 1)],
        carrier="SF",
        tracking_number="SF1400123457",
    )


def notices() -> list[OrderEvent]:
    return [paid(), picking_started(), parcel_shipped(1), second_parcel()]


def ships(unit: UnitOfWork) -> list[tuple[str, int]]:
    """The `SHIP` movements: their location and the change to on hand."""
    with unit as uow:
        found = uow.ledger.movements()
    return [(m.location, m.on_hand) for m in found if m.kind is MovementKind.SHIP]


def sellable_told(unit: UnitOfWork) -> list[int]:
    with unit as uow:
        return [
            int(json.loads(m.payload)["sellable"])
            for m in uow.outbox.unsent()
            if m.topic == "sellable"
        ]


@pytest.mark.parametrize("known", [0, 1, 2, 3, 4])
def test_the_ledger_ends_the_same_however_many_notices_came_with_the_order(
    unit: UnitOfWork, clock: FrozenClock, known: int
) -> None:
    stock(unit, clock)
    the_desk = desk(unit, clock)
    events = notices()

    the_desk.accept(incoming(events=tuple(events[:known])))
    for event in events[known:]:
        the_desk.record("douyin", "DY-1001", event)

    with unit as uow:
        order = uow.orders.get("douyin", "DY-1001")
    assert order is not None
    assert order.status is OrderStatus.SHIPPED
    assert order.review == ()
    assert balance(unit, clock) == (8, 0, 0)
    assert sorted(ships(unit)) == [("BJ-1", -1), ("BJ-1", -1)]
    assert sellable_told(unit)[-1] == 8


def test_an_order_that_comes_in_shipped_takes_its_units_out_once(
    unit: UnitOfWork, clock: FrozenClock
) -> None:
    stock(unit, clock)
    the_desk = desk(unit, clock)
    record = incoming(events=tuple(notices()))

    the_desk.accept(record)
    again = the_desk.accept(record)
    the_desk.update(record)

    assert isinstance(again, AlreadyAccepted)
    assert balance(unit, clock) == (8, 0, 0)
    assert len(ships(unit)) == 2


def test_a_parcel_the_stock_cannot_cover_waits_for_a_person(
    unit: UnitOfWork, clock: FrozenClock
) -> None:
    stock(unit, clock, quantity=1)
    the_desk = desk(unit, clock)

    held = the_desk.accept(incoming(events=tuple(notices())))

    # Two clocks left while the ledger counts one: nothing moved, and a
    # person finds out why (a receipt not booked, a count gone wrong).
    assert isinstance(held, Held)
    assert held.order.review == ("stock",)
    assert balance(unit, clock) == (1, 0, 0)
    assert ships(unit) == []
    stock(unit, clock, quantity=1)
    released = the_desk.release("douyin", "DY-1001", actor="ops.wu")
    assert released.order.review == ()
    assert balance(unit, clock) == (0, 0, 0)
    assert len(ships(unit)) == 2


def test_a_desk_taking_in_history_leaves_the_stock_alone(
    unit: UnitOfWork, clock: FrozenClock
) -> None:
    stock(unit, clock)
    the_desk = desk(unit, clock, take_shipped_stock=False)

    the_desk.accept(incoming(events=tuple(notices())))

    assert balance(unit, clock) == (10, 0, 0)
    assert ships(unit) == []


@pytest.mark.parametrize("order_of_parcels", list(itertools.permutations(range(2))))
def test_parcels_recorded_after_a_shipped_intake_take_nothing_twice(
    unit: UnitOfWork, clock: FrozenClock, order_of_parcels: tuple[int, ...]
) -> None:
    """The channel sends each parcel's notice again after the order came in."""
    stock(unit, clock)
    the_desk: OrderDesk = desk(unit, clock)
    the_desk.accept(incoming(events=tuple(notices())))
    parcels: list[Any] = [parcel_shipped(1), second_parcel()]

    for i in order_of_parcels:
        the_desk.record("douyin", "DY-1001", parcels[i])

    assert balance(unit, clock) == (8, 0, 0)
    assert len(ships(unit)) == 2
    with unit as uow:
        assert Ledger(uow.ledger, clock).balance("RETRO-CLOCK", "BJ-1").reserved == 0
