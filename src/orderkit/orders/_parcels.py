"""The steps of `apply` that move parcels: shipped, in transit, delivered."""

from __future__ import annotations

from operator import attrgetter
from typing import Final

import attrs
import pendulum

from orderkit._fast import builder, changer
from orderkit.errors import ValidationError
from orderkit.orders._audit import FieldChange
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
from orderkit.orders._payments import RefundLine
from orderkit.orders._status import OrderStatus, ShipmentStatus
from orderkit.orders._table import SHIPMENT_TRANSITIONS, Verdict


_SS = ShipmentStatus
_new_shipment: Final = builder(Shipment)
_with_status: Final = changer(Shipment, "status")
# A parcel that carried units cancelled before it shipped (see `shipped`).
_with_shipments_cancelled: Final = changer(
    Order, "status", "version", "applied_keys", "shipments", "cancelled_units"
)
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
_EARLY: Final = Verdict.EARLY
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


def cancelled_by_line(order: Order) -> dict[str, int]:
    """The units refunded before they shipped, by line id (lines with none absent).

    See `Order.cancelled_units`: no parcel will carry them.
    """
    return {part.line_id: part.quantity for part in order.cancelled_units}


def unshipped_lines(order: Order) -> tuple[ShipmentLine, ...]:
    """The units no parcel of the order has carried yet, one part per line.

    What a `Shipped` event's `lines` are when one parcel takes the rest of
    the order: ship with a tracking number you already have (a 3PL's)
    without asking a carrier for a label (`Shipping.ship` does that). In
    the order's line order; empty once every unit has shipped. Units a
    refund paid back before they shipped (`Order.cancelled_units`) are not
    among them: no parcel will carry them. The order desk page shows it in
    use.

    .. versionadded:: 0.1.0
    """
    shipped = shipped_by_line(order)
    cancelled = cancelled_by_line(order) if order.cancelled_units else {}
    parts = []
    for line in order.lines:
        line_id = line.line_id
        left = line.quantity - shipped.get(line_id, 0) - cancelled.get(line_id, 0)
        if left > 0:
            parts.append(ShipmentLine(line_id, left))
    return tuple(parts)


def status_once_shipped(order: Order) -> OrderStatus:
    """The order's status once every stocked unit has shipped or been cancelled.

    Its slowest parcel's; a `PARTIALLY_SHIPPED` order whose last unshipped
    units a refund cancelled (`Order.cancelled_units`) moves on to it. The
    order's own status when it has no parcel, or is not shipped in full.
    """
    if not order.shipments or order.status is not _PARTIALLY_SHIPPED:
        return order.status
    shipped = shipped_by_line(order)
    cancelled = cancelled_by_line(order)
    for line in order.lines:
        done = shipped.get(line.line_id, 0) + cancelled.get(line.line_id, 0)
        if line.stocked and done < line.quantity:
            return order.status
    return _slowest(order.shipments)


def shipped(order: Order, event: Shipped, now: pendulum.DateTime) -> Outcome:
    """Add the event's parcel; the order follows its units and parcels."""
    shipment_id = event.shipment_id
    for shipment in order.shipments:
        if shipment.shipment_id == shipment_id:
            reason = f"shipment {shipment_id!r} has shipped already"
            return Stale(order, event, reason)
        if _same_parcel(event, shipment):
            reason = (
                f"tracking number {event.tracking_number!r} with the same units"
                f" is shipment {shipment.shipment_id!r}, shipped already"
            )
            return Stale(order, event, reason)
    cell = CELLS[order.status, Shipped]
    if cell is not _BY_SHIPMENTS:
        if order.status in _SHIPPED_IN_FULL and unstocked_alone(order, event):
            return _after_the_last(order, event)
        if cell is _EARLY:
            # A parcel the order can never take (a line it lacks, more units
            # than ordered) is refused now, not parked for good.
            _check_shipment(order, event)
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
    if order.cancelled_units:
        carried = _carried_cancelled(order, event)
        if carried is not None:
            cancelled, changes = carried
            return commit(
                order,
                event,
                now,
                status,
                (change, *changes),
                _with_shipments_cancelled,
                shipments,
                cancelled,
            )
    return commit(order, event, now, status, (change,), with_shipments, shipments)


def _carried_cancelled(
    order: Order, event: Shipped
) -> tuple[tuple[RefundLine, ...], tuple[FieldChange, ...]] | None:
    """The cancelled units left once the event's parcel carried some of them.

    A parcel that carried units cancelled before it shipped (the packer
    left them in the box) shipped them all the same: they are no longer
    cancelled, and the refund paid back shipped units. `None` when the
    parcel carried none of them.
    """
    shipped = shipped_by_line(order)
    for part in event.lines:
        shipped[part.line_id] = shipped.get(part.line_id, 0) + part.quantity
    ordered = {line.line_id: line.quantity for line in order.lines}
    kept: list[RefundLine] = []
    changes: list[FieldChange] = []
    for unit in order.cancelled_units:
        line_id = unit.line_id
        left = min(unit.quantity, ordered[line_id] - shipped.get(line_id, 0))
        if left != unit.quantity:
            changes.append(
                new_change(f"cancelled_units[{line_id}]", str(unit.quantity), str(left))
            )
        if left > 0:
            kept.append(
                unit if left == unit.quantity else attrs.evolve(unit, quantity=left)
            )
    if not changes:
        return None
    return tuple(kept), tuple(changes)


def _same_parcel(event: Shipped, shipment: Shipment) -> bool:
    """Whether `event` reports `shipment` again, under another shipment id.

    A 3PL that retries its report may give the parcel a new id, and two
    sources (the channel, the warehouse) may report one parcel under ids of
    their own: the same tracking number with the same units is the parcel
    shipped already. Counted twice, it would ship the order's other units
    on paper and take their stock a second time. Other units under the
    same number are another record of the same box (a shop that fulfils
    two lines apart and packs them together): shipped as well.
    """
    return shipment.tracking_number == event.tracking_number and sorted(
        event.lines, key=_line_of
    ) == sorted(shipment.lines, key=_line_of)


_line_of: Final = attrgetter("line_id", "quantity")


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
    though a parcel may carry it, and nor do units refunded before they
    shipped (`Order.cancelled_units`). Over-shipping is judged against the
    units ordered alone: a parcel that carried a cancelled unit all the same
    left the warehouse, and is kept.
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
    cancelled = cancelled_by_line(order) if order.cancelled_units else {}
    for line in order.lines:
        line_id = line.line_id
        # A parcel that carried cancelled units goes past the quantity: done.
        done = shipping.get(line_id, 0) + cancelled.get(line_id, 0)
        if line.stocked and done < line.quantity:
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
