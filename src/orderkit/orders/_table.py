"""The lifecycle as data: what each event does to an order in each status."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Final, final

from orderkit.orders._events import (
    AddressChanged,
    Cancelled,
    Closed,
    Completed,
    Delivered,
    Event,
    InTransit,
    OrderPlaced,
    PaymentCaptured,
    PickingStarted,
    Shipped,
)
from orderkit.orders._status import OrderStatus, ShipmentStatus


@final
class Verdict(enum.Enum):
    """What an event does to an order, where the table names no status.

    .. versionadded:: 0.1.0
    """

    KEEP = "keep"
    """Applied; the data changes, the status stays."""
    BY_SHIPMENTS = "by shipments"
    """Applied to one shipment; the order's status follows its shipments."""
    STALE = "stale"
    """The order has passed this stage: nothing changes (`Stale`)."""
    EARLY = "early"
    """A predecessor is missing: nothing changes yet (`Early`)."""
    REFUND_DUE = "refund due"
    """Money arrived for an order that will not ship (`RefundDue`)."""
    ILLEGAL = "illegal"
    """The event contradicts the order: `IllegalTransition` is raised."""


_S = OrderStatus
_PRE_SHIPPING = (_S.PENDING_PAYMENT, _S.PAID, _S.PICKING)
_SHIPPING = (_S.PARTIALLY_SHIPPED, _S.SHIPPED, _S.IN_TRANSIT)
_DONE = (_S.DELIVERED, _S.COMPLETED)
# `_status.ENDED` as a tuple: the table's cells, and so the order of
# `TRANSITIONS`, must not depend on a set's order.
_ENDED = (_S.CANCELLED, _S.CLOSED)


def _row(
    event: type[Event], cells: Mapping[OrderStatus, OrderStatus | Verdict]
) -> dict[tuple[OrderStatus, type[Event]], OrderStatus | Verdict]:
    missing = set(OrderStatus) - set(cells)
    if missing:  # pragma: no cover - a table edit that forgot a status
        msg = f"{event.__name__} row misses {sorted(missing)}"
        raise AssertionError(msg)
    return {(status, event): cell for status, cell in cells.items()}


def _cells(
    statuses: Iterable[OrderStatus], cell: OrderStatus | Verdict
) -> dict[OrderStatus, OrderStatus | Verdict]:
    return dict.fromkeys(statuses, cell)


TRANSITIONS: Final[Mapping[tuple[OrderStatus, type[Event]], OrderStatus | Verdict]] = (
    MappingProxyType(
        {
            **_row(OrderPlaced, _cells(OrderStatus, Verdict.STALE)),
            **_row(
                PaymentCaptured,
                {
                    _S.PENDING_PAYMENT: _S.PAID,
                    **_cells((_S.PAID, _S.PICKING, *_SHIPPING, *_DONE), Verdict.KEEP),
                    **_cells(_ENDED, Verdict.REFUND_DUE),
                },
            ),
            **_row(
                PickingStarted,
                {
                    _S.PENDING_PAYMENT: Verdict.EARLY,
                    _S.PAID: _S.PICKING,
                    **_cells((_S.PICKING, *_SHIPPING, *_DONE), Verdict.STALE),
                    **_cells(_ENDED, Verdict.ILLEGAL),
                },
            ),
            **_row(
                Shipped,
                {
                    **_cells((_S.PENDING_PAYMENT, _S.PAID), Verdict.EARLY),
                    **_cells((_S.PICKING, _S.PARTIALLY_SHIPPED), Verdict.BY_SHIPMENTS),
                    **_cells((_S.SHIPPED, _S.IN_TRANSIT, *_DONE), Verdict.ILLEGAL),
                    **_cells(_ENDED, Verdict.ILLEGAL),
                },
            ),
            **{
                key: cell
                for event in (InTransit, Delivered)
                for key, cell in _row(
                    event,
                    {
                        **_cells(_PRE_SHIPPING, Verdict.EARLY),
                        **_cells(_SHIPPING, Verdict.BY_SHIPMENTS),
                        **_cells(_DONE, Verdict.STALE),
                        **_cells(_ENDED, Verdict.ILLEGAL),
                    },
                ).items()
            },
            **_row(
                Completed,
                {
                    **_cells((*_PRE_SHIPPING, *_SHIPPING), Verdict.EARLY),
                    _S.DELIVERED: _S.COMPLETED,
                    _S.COMPLETED: Verdict.STALE,
                    **_cells(_ENDED, Verdict.ILLEGAL),
                },
            ),
            **_row(
                Cancelled,
                {
                    **_cells(_PRE_SHIPPING, _S.CANCELLED),
                    **_cells((*_SHIPPING, *_DONE), Verdict.ILLEGAL),
                    **_cells(_ENDED, Verdict.STALE),
                },
            ),
            **_row(
                Closed,
                {
                    _S.PENDING_PAYMENT: _S.CLOSED,
                    **_cells((_S.PAID, _S.PICKING, *_SHIPPING, *_DONE), Verdict.STALE),
                    **_cells(_ENDED, Verdict.STALE),
                },
            ),
            **_row(
                AddressChanged,
                {
                    **_cells(_PRE_SHIPPING, Verdict.KEEP),
                    **_cells((*_SHIPPING, *_DONE, *_ENDED), Verdict.ILLEGAL),
                },
            ),
        }
    )
)
"""The order lifecycle: `(status, event class) -> new status or Verdict`.

Every pair of a status and an event class has exactly one cell. A status
means the event moves the order there; a `Verdict` says what happens instead.
`SHIPMENT_TRANSITIONS` refines the cells marked `Verdict.BY_SHIPMENTS`.

.. versionadded:: 0.1.0
"""

_SS = ShipmentStatus
SHIPMENT_TRANSITIONS: Final[
    Mapping[tuple[ShipmentStatus | None, type[Event]], ShipmentStatus | Verdict]
] = MappingProxyType(
    {
        (None, Shipped): _SS.SHIPPED,
        **{(status, Shipped): Verdict.STALE for status in ShipmentStatus},
        (None, InTransit): Verdict.EARLY,
        (_SS.SHIPPED, InTransit): _SS.IN_TRANSIT,
        (_SS.IN_TRANSIT, InTransit): Verdict.STALE,
        (_SS.DELIVERED, InTransit): Verdict.STALE,
        (None, Delivered): Verdict.EARLY,
        (_SS.SHIPPED, Delivered): Verdict.EARLY,
        (_SS.IN_TRANSIT, Delivered): _SS.DELIVERED,
        (_SS.DELIVERED, Delivered): Verdict.STALE,
    }
)
"""One shipment's lifecycle: `(shipment status or None, event class) -> result`.

`None` is a shipment the order does not know yet. A parcel is delivered only
after it was in transit, so the audit trail reads the same whatever order the
carrier's events arrive in.

.. versionadded:: 0.1.0
"""
