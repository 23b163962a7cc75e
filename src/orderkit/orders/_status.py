"""Canonical order and shipment statuses."""

from __future__ import annotations

import enum
from typing import Final, final

from orderkit.errors import UnknownStatus


@final
class OrderStatus(enum.StrEnum):
    """Where an order stands in its lifecycle.

    The value is the stable string stored and serialized (`"in_transit"`).
    `OrderStatus("bogus")` raises `UnknownStatus`.

    .. versionadded:: 0.1.0
    """

    PENDING_PAYMENT = "pending_payment"
    PAID = "paid"
    PICKING = "picking"
    PARTIALLY_SHIPPED = "partially_shipped"
    SHIPPED = "shipped"
    IN_TRANSIT = "in_transit"
    DELIVERED = "delivered"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    CLOSED = "closed"

    # Enum hashes in Python; str hashes in C, and equal values hash equal.
    __hash__ = str.__hash__

    @classmethod
    def _missing_(cls, value: object) -> OrderStatus:
        raise UnknownStatus("status", value, "not a canonical order status")

    @property
    def is_terminal(self) -> bool:
        """Whether no event can move the order on from here."""
        return self in _TERMINAL


ENDED: Final = frozenset({OrderStatus.CANCELLED, OrderStatus.CLOSED})
"""Where an order stops without being fulfilled: it takes no stock, and the
money it holds is owed back."""

_TERMINAL: Final = frozenset({OrderStatus.COMPLETED, *ENDED})


@final
class ShipmentStatus(enum.StrEnum):
    """Where one shipment (one parcel, one tracking number) stands.

    .. versionadded:: 0.1.0
    """

    SHIPPED = "shipped"
    IN_TRANSIT = "in_transit"
    DELIVERED = "delivered"

    __hash__ = str.__hash__

    @classmethod
    def _missing_(cls, value: object) -> ShipmentStatus:
        raise UnknownStatus("status", value, "not a shipment status")
