"""The steps of `apply` that move parcels: shipped, in transit, delivered."""

from __future__ import annotations

from operator import attrgetter
from typing import Final

import pendulum

from orderkit._fast import builder, changer
from orderkit.errors import ValidationError
from orderkit.orders._commit import (
    CELLS,
    commit,
    early,
    in_time_order,
    new_change,
    refuse,
    unchanged,
    with_shipments,
)
from orderkit.orders._events import Delivered, InTransit, Shipped
from orderkit.orders._model import Shipment, ShipmentLine
from orderkit.orders._order import Order
from orderkit.orders._outcomes import Outcome, Stale
from orderkit.orders._status import OrderStatus, ShipmentStatus
from orderkit.orders._table import SHIPMENT_TRANSITIONS, Verdict


_SS = ShipmentStatus
_new_shipment: Final = builder(Shipment)
_with_status: Final = changer(Shipment, "status")
_SHIPMENT_RANK: Final = {_SS.SHIPPED: 0, _SS.IN_TRANSIT: 1, _SS.DELIVERED: 2}
_DELIVERED_RANK: Final = 2
# The order's status once every stocked unit has shipped, by its slowest parcel's
# rank.
_ORDER_STATUS_AT: Final = (
    OrderStatus.SHIPPED,
    OrderStatus.IN_TRANSIT,
    OrderStatus.DELIVERED,
)
# The parcel table as a plain dict (see `CELLS`), and the members the steps
# test, as constants: a member looked up on its enum class costs some 50ns
# (Python 3.11). ShipmentStatus is final, so `type(step) is ShipmentStatus`
# says what `isinstance` says, without the enum metaclass's slower instance
# check.
_PARCEL_STEPS: Final = dict(SHIPMENT_TRANSITIONS)
_BY_SHIPMENTS: Final = Verdict.BY_SHIPMENTS
_STALE: Final = Verdict.STALE
_SHIPPED: Final = _SS.SHIPPED
_PARTIALLY_SHIPPED: Final = OrderStatus.PARTIALLY_SHIPPED
# The statuses of an order whose stocked units have all shipped, where the
# table refuses a parcel.
_SHIPPED_IN_FULL: Final = frozenset(
    {
        OrderStatus.SHIPPED,
        OrderStatus.IN_TRANSIT,
        OrderStatus.DELIVERED,
        OrderStatus.COMPLETED,
    }
)
# A status's text as `str()` gives it, once rather than per record.
_TEXT: Final = {status: str(status) for status in ShipmentStatus}
# Parcels are sorted by when they shipped at the source, not by arrival, so
# that any delivery order of the same events builds the same order.
_shipped_when: Final = attrgetter("shipped_at", "shipment_id")


def shipped_by_line(order: Order) -> dict[str, int]:
    """The units the order's parcels carry, by line id (lines with none absent)."""
    shipped: dict[str, int] = {}
    for shipment in order.shipments:
        for part in shipment.lines:
            shipped[part.line_id] = shipped.get(part.line_id, 0) + part.quantity
    return shipped


def unshipped_lines(order: Order) -> tuple[ShipmentLine, ...]:
    """The units no parcel of the order has carried yet, one part per line.

    What a `Shipped` event's `lines` are when one parcel takes the rest of
    the order: ship with a tracking number you already have (a 3PL's)
    without asking a carrier for a label (`Shipping.ship` does that). In
    the order's line order; empty once every unit has shipped. The order
    desk page shows it in use.

    .. versionadded:: 0.1.0
    """
    shipped = shipped_by_line(order)
    return tuple(
        ShipmentLine(line.line_id, line.quantity - shipped.get(line.line_id, 0))
        for line in order.lines
        if line.quantity > shipped.get(line.line_id, 0)
    )


def shipped(order: Order, event: Shipped, now: pendulum.DateTime) -> Outcome:
    """Add the event's parcel; the order follows its units and parcels."""
    shipment_id = event.shipment_id
    for shipment in order.shipments:
        if shipment.shipment_id == shipment_id:
            reason = f"shipment {shipment_id!r} has shipped already"
            return Stale(order, event, reason)
    cell = CELLS[order.status, Shipped]
    if cell is not _BY_SHIPMENTS:
        if order.status in _SHIPPED_IN_FULL and unstocked_alone(order, event):
            return _after_the_last(order, event)
        return unchanged(order, event, cell)
    all_shipped = _check_shipment(order, event)
    shipment = _new_shipment(
        shipment_id,
        event.lines,
        event.carrier,
        event.tracking_number,
        event.occurred_at,
        _SHIPPED,
    )
    shipments = in_time_order(order.shipments, shipment, _shipped_when)
    change = new_change(
        f"shipments[{shipment_id}]", "", f"{event.carrier} {event.tracking_number}"
    )
    status = _slowest(shipments) if all_shipped else _PARTIALLY_SHIPPED
    return commit(order, event, now, status, (change,), with_shipments, shipments)


def unstocked_alone(order: Order, event: Shipped) -> bool:
    """Whether the event's parcel carries unstocked lines of the order alone."""
    unstocked = {line.line_id for line in order.lines if not line.stocked}
    return bool(event.lines) and all(part.line_id in unstocked for part in event.lines)


def _after_the_last(order: Order, event: Shipped) -> Stale:
    """A parcel of unstocked lines alone after every stocked unit has shipped.

    It changes nothing: the order has shipped already, and a channel may
    well send a gift card or a download its own way, after the goods (or
    read a line stocked before it was unstocked). It is not kept, but it
    may not ship more units than were ordered.
    """
    _check_shipment(order, event)
    reason = (
        f"shipment {event.shipment_id!r} carries unstocked lines alone, "
        "and every stocked unit has shipped already"
    )
    return Stale(order, event, reason)


def _check_shipment(order: Order, event: Shipped) -> bool:
    """Refuse lines the order lacks or over-shipped; say if it shipped in full.

    An order has shipped in full once every unit of its stocked lines has:
    an unstocked line (a gift card, a fee, a download) needs no parcel,
    though a parcel may carry it.
    """
    ordered = {line.line_id: line.quantity for line in order.lines}
    shipping: dict[str, int] = {}
    for shipment in order.shipments:
        for part in shipment.lines:
            shipping[part.line_id] = shipping.get(part.line_id, 0) + part.quantity
    for i, part in enumerate(event.lines):
        if part.line_id not in ordered:
            raise ValidationError(
                f"lines[{i}].line_id",
                part.line_id,
                f"order {order.order_id!r} has no such line",
            )
        shipping[part.line_id] = shipping.get(part.line_id, 0) + part.quantity
        if shipping[part.line_id] > ordered[part.line_id]:
            reason = (
                f"line {part.line_id!r} would ship {shipping[part.line_id]} units "
                f"of {ordered[part.line_id]} ordered"
            )
            raise refuse(order, event, reason)
    for line in order.lines:
        if line.stocked and shipping.get(line.line_id, 0) < line.quantity:
            return False
    return True


def _slowest(shipments: tuple[Shipment, ...]) -> OrderStatus:
    """The order's status once every unit has shipped: its slowest parcel's."""
    slowest = _DELIVERED_RANK
    for shipment in shipments:
        rank = _SHIPMENT_RANK[shipment.status]
        if rank < slowest:  # noqa: PLR1730 - min() would add a call per parcel
            slowest = rank
    return _ORDER_STATUS_AT[slowest]


def parcel_moved(
    order: Order, event: InTransit | Delivered, now: pendulum.DateTime
) -> Outcome:
    """Move the event's parcel on; the order follows its slowest parcel."""
    kind = type(event)
    cell = CELLS[order.status, kind]
    if cell is not _BY_SHIPMENTS:
        return unchanged(order, event, cell)
    shipment_id = event.shipment_id
    shipments = order.shipments
    current = None
    for i, shipment in enumerate(shipments):  # noqa: B007 - i is used after the loop
        if shipment.shipment_id == shipment_id:
            current = shipment
            break
    if current is None:
        step = _PARCEL_STEPS[None, kind]
        if step is _STALE:  # pragma: no cover - the table has none
            return Stale(order, event, f"shipment {shipment_id!r} is already None")
        return early(order, event)
    before = current.status
    step = _PARCEL_STEPS[before, kind]
    if type(step) is not ShipmentStatus:
        if step is _STALE:
            reason = f"shipment {shipment_id!r} is already {before}"
            return Stale(order, event, reason)
        return early(order, event)
    shipments = (*shipments[:i], _with_status(current, step), *shipments[i + 1 :])
    status: OrderStatus = order.status
    if status is not _PARTIALLY_SHIPPED:
        # Once every unit has shipped, the order is as far as its slowest parcel.
        status = _slowest(shipments)
    change = new_change(f"shipments[{shipment_id}].status", _TEXT[before], _TEXT[step])
    return commit(order, event, now, status, (change,), with_shipments, shipments)
