"""The events a Shopify order payload states: paid, fulfilled, cancelled."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import pendulum

from orderkit.adapters.channels._common import (
    built,
    join,
    key,
    objects,
    oldest_first,
    read_label,
    read_optional_when,
    stamp,
)
from orderkit.integrations import read_id, read_instant, read_quantity
from orderkit.money import Money
from orderkit.orders import (
    Cancelled,
    OrderEvent,
    OrderLine,
    PaymentCaptured,
    PickingStarted,
    ShipmentLine,
    Shipped,
)


_CHANNEL: Final = "shopify"


def order_events(  # noqa: PLR0913 - the order, where, and what its parts say
    order: Mapping[str, Any],
    at: str,
    order_id: str,
    created: pendulum.DateTime,
    captured: Money | None,
    *,
    lines: tuple[OrderLine, ...],
) -> tuple[OrderEvent, ...]:
    """Every event the order states, oldest first, each under its own key.

    `captured` is the payment to state, if any (the caller decides it from
    the financial status and the order's refunds). A fulfilment states a
    shipment only when Shopify says it succeeded and names the carrier and
    the tracking number (the carrier's acknowledgement); the first such
    fulfilment also states that picking started, since the parcel cannot
    leave before it is picked. A fulfilment of unstocked `lines` alone (a
    gift card sent by post) is stated once a fulfilment carrying stocked
    units is (or when the order has none): the order's lines as stored say
    whether it ships the order, and after the last stocked unit it is
    `Stale` (an order stored before its gift card read unstocked needs it).
    Stated before the goods left, it would move a paid order past picking
    with its goods still on the shelf; nor does it say that picking started.
    """
    events: list[OrderEvent] = []
    if captured is not None:
        paid = (
            read_optional_when(order.get("processed_at"), path=join(at, "processed_at"))
            or created
        )
        events.append(
            built(
                at,
                PaymentCaptured,
                order_id=order_id,
                key=key(_CHANNEL, "order.paid", order_id, stamp(paid)),
                occurred_at=paid,
                payment_id=f"order-{order_id}",
                amount=captured,
            )
        )
    cancelled = read_optional_when(
        order.get("cancelled_at"), path=join(at, "cancelled_at")
    )
    if cancelled is not None:
        # Printable, as the event's reason must be: a line break is refused
        # here, at its payload path.
        why = read_label(
            order.get("cancel_reason"), path=join(at, "cancel_reason"), required=False
        )
        events.append(
            built(
                at,
                Cancelled,
                order_id=order_id,
                key=key(_CHANNEL, "order.cancelled", order_id, stamp(cancelled)),
                occurred_at=cancelled,
                reason=f"cancelled in Shopify: {why}"
                if why
                else "cancelled in Shopify",
            )
        )
    events += _fulfilled(order, at, order_id, lines)
    return oldest_first(events)


def _fulfilled(
    order: Mapping[str, Any], at: str, order_id: str, lines: tuple[OrderLine, ...]
) -> list[OrderEvent]:
    stocked = {line.line_id for line in lines if line.stocked}
    shipped: list[Shipped] = []
    for item_at, item in objects(
        order.get("fulfillments"), path=join(at, "fulfillments"), required=False
    ):
        if item.get("status") != "success":
            continue  # pending, open, cancelled, error, failure: nothing left
        if not item.get("tracking_number") or not item.get("tracking_company"):
            continue  # no carrier acknowledgement: not shipped yet
        fulfilment_id = read_id(item.get("id"), path=f"{item_at}.id")
        parcel = [
            built(
                part_at,
                ShipmentLine,
                read_id(part.get("id"), path=f"{part_at}.id"),
                read_quantity(part.get("quantity"), path=f"{part_at}.quantity"),
            )
            for part_at, part in objects(
                item.get("line_items"), path=f"{item_at}.line_items"
            )
        ]
        shipped.append(
            built(
                item_at,
                Shipped,
                order_id=order_id,
                key=key(_CHANNEL, "fulfillment", order_id, fulfilment_id),
                occurred_at=read_instant(
                    item.get("created_at"), path=f"{item_at}.created_at"
                ),
                shipment_id=fulfilment_id,
                lines=parcel,
                carrier=read_label(
                    item.get("tracking_company"), path=f"{item_at}.tracking_company"
                ),
                tracking_number=read_label(
                    item.get("tracking_number"), path=f"{item_at}.tracking_number"
                ),
            )
        )
    goods = [e for e in shipped if any(p.line_id in stocked for p in e.lines)]
    if stocked and not goods:
        return []  # nothing of the stock has left yet
    first = min(goods or shipped, key=lambda event: event.occurred_at)
    picking = built(
        at,
        PickingStarted,
        order_id=order_id,
        key=key(_CHANNEL, "order.picking", order_id, first.shipment_id),
        occurred_at=first.occurred_at,
    )
    return [picking, *shipped]
