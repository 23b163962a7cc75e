"""A parked event the order refuses is no refusal of the step that let it through.

`OrderDesk.record` applies an event, then the parked events it lets through;
its outcomes hold a `Rejected` for each of those the order refuses (a
channel parcel re-sent under a new id, shipping more units than ordered).
`start_picking`, `Shipping.ship` and `Checkout.pay` fail only when the order
refuses their own event: picking started, the parcel shipped, the capture
recorded all the same, and the refused parked event is dropped as `record`
drops it.
"""

from __future__ import annotations

import attrs
import pendulum
import pytest
from tests.services._samples import cny

from orderkit.dedupe import Fingerprinter, IdempotencyKey
from orderkit.errors import IllegalTransition
from orderkit.orders import (
    Order,
    OrderEvent,
    OrderStatus,
    PickingStarted,
    Rejected,
    ShipmentLine,
    Shipped,
)
from orderkit.ports import UnitOfWork
from orderkit.services import (
    Captured,
    Checkout,
    DeskPolicy,
    Dispatched,
    EventRecorded,
    Ledger,
    OrderDesk,
    Shipping,
    recover,
)
from orderkit.testing import FrozenClock, channel_order
from orderkit.testing.fakes import FakeCarrier, FakePayments, FakeWarehouse


T0 = pendulum.datetime(2026, 11, 11, 2)
SECRET = b"parked-rejections-secret-0123456789"
ORDER = "DY-1001"


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(T0)


def desk_with(unit: UnitOfWork, clock: FrozenClock, *, paid: bool) -> OrderDesk:
    """A desk with DY-1001 (two teas at SH-1) taken in, paid or not."""
    with unit as uow:
        Ledger(uow.ledger, clock).receive("TEA", "SH-1", 10)
        uow.commit()
    desk = OrderDesk(unit, clock, DeskPolicy(locations=["SH-1"]), Fingerprinter(SECRET))
    desk.accept(channel_order([("TEA", 2, "10.00")], order_id=ORDER, paid=paid, at=T0))
    return desk


def channel_key(kind: str, event_id: str) -> IdempotencyKey:
    return IdempotencyKey("douyin", kind, ORDER, event_id)


def parcel(shipment_id: str, units: int) -> Shipped:
    """The channel's notice of a parcel of `units` teas."""
    return Shipped(
        order_id=ORDER,
        key=channel_key("trade.shipped", shipment_id),
        occurred_at=T0,
        shipment_id=shipment_id,
        lines=[ShipmentLine("L1", units)],
        carrier="SF",
        tracking_number=f"TN-{shipment_id}",
    )


def park_parcels(desk: OrderDesk) -> None:
    """One tea shipped, then a parcel of two more: 3 of 2, it will be refused."""
    for event in (parcel("S1", 1), parcel("S2", 2)):
        recorded = desk.record("douyin", ORDER, event)
        assert recorded.outcomes == ()
        assert event in recorded.parked


def stored(unit: UnitOfWork) -> Order:
    with unit as uow:
        order = uow.orders.get("douyin", ORDER)
    assert order is not None
    return order


def shipment_ids(order: Order) -> list[str]:
    return [s.shipment_id for s in order.shipments]


def test_start_picking_is_done_though_a_parcel_it_lets_through_is_refused(
    unit: UnitOfWork, clock: FrozenClock
) -> None:
    desk = desk_with(unit, clock, paid=True)
    park_parcels(desk)
    warehouse = FakeWarehouse(clock)

    recorded = desk.start_picking("douyin", ORDER, warehouse)

    order = stored(unit)
    assert order.status is OrderStatus.PARTIALLY_SHIPPED
    assert order.saga is None
    assert shipment_ids(order) == ["S1"]
    assert list(warehouse.effects.values()) == [1]
    # The refused parcel is told to the caller and dropped, as `record` does,
    # and to a person: what the channel said shipped is no pick's concern.
    assert [r.event.key for r in recorded.rejected] == [parcel("S2", 2).key]
    assert order.parked == ()
    assert order.review == ("event",)
    with unit as uow:
        held = list(uow.audit.records("douyin", ORDER))[-1]
    assert held.event_type == "HeldForReview"
    assert "Shipped" in held.changes[-1].new
    assert "3 units of 2 ordered" in held.changes[-1].new


def test_ship_ships_what_is_left_though_a_parcel_picking_lets_through_is_refused(
    unit: UnitOfWork, clock: FrozenClock
) -> None:
    desk = desk_with(unit, clock, paid=True)
    park_parcels(desk)
    carrier = FakeCarrier(clock)

    done = Shipping(unit, clock, desk, carrier).ship("douyin", ORDER, "SHIP-1")

    assert isinstance(done, Dispatched)
    order = stored(unit)
    assert order.status is OrderStatus.SHIPPED
    assert "label" not in order.review
    assert order.saga is None
    assert shipment_ids(order) == ["S1", "SHIP-1"]
    assert order.shipment("SHIP-1").lines == (ShipmentLine("L1", 1),)  # type: ignore[union-attr]
    assert order.parked == ()


def test_ship_is_done_though_an_event_refused_behind_its_shipment_is_recorded(
    unit: UnitOfWork, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only the order refusing the shipment itself leaves a label to void."""
    desk = desk_with(unit, clock, paid=True)
    record = desk.record
    refused = parcel("S9", 5)

    def record_then_refuse(
        channel: str, order_id: str, event: OrderEvent
    ) -> EventRecorded:
        # Some parked event settled behind the shipment, and refused.
        recorded = record(channel, order_id, event)
        if not isinstance(event, Shipped):
            return recorded
        error = IllegalTransition(
            order_id, recorded.order.status, "Shipped", "too many"
        )
        rejected = Rejected(recorded.order, refused, error)
        return attrs.evolve(recorded, outcomes=(*recorded.outcomes, rejected))

    monkeypatch.setattr(desk, "record", record_then_refuse)

    done = Shipping(unit, clock, desk, FakeCarrier(clock)).ship(
        "douyin", ORDER, "SHIP-1"
    )

    assert isinstance(done, Dispatched)
    order = stored(unit)
    assert order.status is OrderStatus.SHIPPED
    assert order.review == ()
    assert order.saga is None


def test_pay_is_captured_though_a_parcel_the_capture_lets_through_is_refused(
    unit: UnitOfWork, clock: FrozenClock
) -> None:
    desk = desk_with(unit, clock, paid=False)
    picking = PickingStarted(
        order_id=ORDER, key=channel_key("trade.picking", "1"), occurred_at=T0
    )
    assert desk.record("douyin", ORDER, picking).outcomes == ()
    park_parcels(desk)
    payments = FakePayments(clock)
    checkout = Checkout(unit, clock, desk, payments)

    paid = checkout.pay("douyin", ORDER, "AUTH-1", cny("20.00"))

    assert isinstance(paid, Captured)
    order = stored(unit)
    assert order.saga is None
    assert [p.payment_id for p in order.payments] == ["AUTH-1"]
    assert order.status is OrderStatus.PARTIALLY_SHIPPED
    assert shipment_ids(order) == ["S1"]
    assert order.parked == ()
    assert list(payments.effects.values()) == [1]
    # Nothing left in flight for `recover` to retry or report stalled.
    recovery = recover(unit, checkout=checkout)
    assert recovery.finished == ()
    assert recovery.stalled == ()
