"""What a carrier's scan does to an order: a parcel event, or a hold for a person."""

from __future__ import annotations

import attrs
import pendulum

from orderkit._fast import copier
from orderkit.errors import ValidationError
from orderkit.integrations import TrackingEvent, TrackingStatus
from orderkit.orders import (
    AuditRecord,
    Delivered,
    FieldChange,
    InTransit,
    Order,
    OrderStatus,
    Shipment,
    ShipmentStatus,
    Shipped,
)
from orderkit.services._desk_notes import review_record


_evolve_order = copier(Order)


def _delivered(order: Order, scan: TrackingEvent) -> bool:
    if order.status in {OrderStatus.DELIVERED, OrderStatus.COMPLETED}:
        return True
    scanned = (scan.carrier, scan.tracking_number)
    return any(
        (p.carrier, p.tracking_number) == scanned
        and p.status is ShipmentStatus.DELIVERED
        for p in order.shipments
    )


def parcel_event(order: Order, scan: TrackingEvent) -> InTransit | Delivered | None:
    """The event a scan of one of the order's parcels applies; `None` to hold it.

    A parcel whose `Shipped` event is parked (it came before its picking)
    is the order's all the same: the scan's event parks behind it.

    Raises:
        ValidationError: No parcel of the order, recorded or parked, has the
            scan's tracking number with its carrier (`field` is
            `"tracking_number"`).
    """
    scanned = (scan.carrier, scan.tracking_number)
    parcels: list[Shipment | Shipped] = [*order.shipments]
    parcels += (e for e in order.parked if isinstance(e, Shipped))
    parcel = next(
        (p for p in parcels if (p.carrier, p.tracking_number) == scanned), None
    )
    if parcel is None:
        raise ValidationError(
            "tracking_number",
            scan.tracking_number,
            f"no parcel of order {order.order_id!r} has it "
            f"with carrier {scan.carrier!r}: a scan that overtook the parcel's"
            " own notice applies once the Shipped event is recorded, so answer"
            " the carrier's push with a retry (or keep it and track it again)",
        )
    if scan.status is TrackingStatus.EXCEPTION:
        return None
    event_type = Delivered if scan.status is TrackingStatus.DELIVERED else InTransit
    return event_type(
        order_id=order.order_id,
        key=scan.key,
        occurred_at=scan.at,
        source=scan.carrier,
        shipment_id=parcel.shipment_id,
    )


def carrier_hold(
    order: Order, scan: TrackingEvent, now: pendulum.DateTime
) -> tuple[Order, AuditRecord] | None:
    """The order held for a person over a carrier exception; `None`: nothing to do.

    A scan holds the order once: its key joins the order's applied keys, so
    the carrier delivering it again after a person released the order
    changes nothing. One that comes while the order is held already is
    recorded the same way (its key kept, the hold unchanged), so that a
    carrier re-sending its whole history does not hold a released order
    again. An exception about a parcel, or an order, already delivered is
    stale: nothing to do.
    """
    if scan.key in order.applied_keys or _delivered(order, scan):
        return None
    review = order.review if "carrier" in order.review else (*order.review, "carrier")
    held = _evolve_order(
        order,
        review=review,
        version=order.version + 1,
        applied_keys=order.applied_keys | {scan.key},
    )
    record = review_record(held, now, review, before=order.review)
    note = f"{scan.carrier_code}: {scan.description}".strip(": ")
    record = attrs.evolve(
        record,
        key=scan.key,
        changes=(*record.changes, FieldChange("tracking", "", note)),
    )
    return held, record
