"""What warehouses and carriers report: pick tasks, confirmations, labels, tracking.

A warehouse (WMS) receives a `PickTask` and confirms its stages; a carrier
issues a `Label` and reports `TrackingEvent`s, each carrier's own codes
normalised onto four `TrackingStatus`es.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterable
from typing import final

import attrs
import pendulum

from orderkit._time import to_utc
from orderkit._validate import (
    as_tuple,
    instance_of,
    items_of,
    optional_text,
    plain_text,
    positive_int,
    text,
)
from orderkit.dedupe import IdempotencyKey
from orderkit.errors import UnknownStatus, ValidationError


__all__ = [
    "FulfilmentStage",
    "Label",
    "PickLine",
    "PickTask",
    "TrackingEvent",
    "TrackingStatus",
    "WarehouseConfirmation",
]


def _at(value: dt.datetime) -> pendulum.DateTime:
    return to_utc(value, "at")


def _created_at(value: dt.datetime) -> pendulum.DateTime:
    return to_utc(value, "created_at")


@final
@attrs.frozen(slots=True)
class PickLine:
    """Units of one order line to pick.

    Attributes:
        line_id: The order line.
        sku: What to pick.
        quantity: How many units.

    .. versionadded:: 0.1.0
    """

    line_id: str = attrs.field(validator=text("line_id"))
    sku: str = attrs.field(validator=text("sku"))
    quantity: int = attrs.field(validator=positive_int("quantity"))


def _pick_lines(value: Iterable[PickLine]) -> tuple[PickLine, ...]:
    return as_tuple(value, "lines", PickLine)


@final
@attrs.frozen(slots=True, kw_only=True)
class PickTask:
    """An order's units for one warehouse to pick, pack and ship.

    Attributes:
        task_id: orderkit's id of the task; the warehouse's idempotency key.
        order_id: The order.
        location: The warehouse.
        lines: What to pick, at least one line.
        key: What makes a re-sent task the same task.

    .. versionadded:: 0.1.0
    """

    task_id: str = attrs.field(validator=text("task_id"))
    order_id: str = attrs.field(validator=text("order_id"))
    location: str = attrs.field(validator=text("location"))
    lines: tuple[PickLine, ...] = attrs.field(
        converter=_pick_lines, validator=items_of("lines", PickLine)
    )
    key: IdempotencyKey = attrs.field(validator=instance_of("key", IdempotencyKey))


@final
class FulfilmentStage(enum.StrEnum):
    """How far a warehouse has come with a pick task.

    .. versionadded:: 0.1.0
    """

    @classmethod
    def _missing_(cls, value: object) -> FulfilmentStage:
        known = ", ".join(stage.value for stage in cls)
        raise ValidationError("stage", value, f"is not a fulfilment stage ({known})")

    PICKED = "picked"
    """Every unit is off the shelf."""
    PACKED = "packed"
    """In a parcel, waiting for the carrier."""
    SHIPPED = "shipped"
    """The carrier took the parcel: it has a tracking number."""


@final
@attrs.frozen(slots=True, kw_only=True)
class WarehouseConfirmation:
    """A warehouse confirming a stage of a pick task.

    Attributes:
        task_id: The pick task.
        order_id: The order.
        stage: Picked, packed or shipped.
        at: When the warehouse did it (UTC).
        key: What makes a re-sent confirmation the same one.
        carrier: The carrier, for `SHIPPED`.
        tracking_number: The carrier's acknowledgement, required for
            `SHIPPED`: an order is shipped only with one.

    Raises:
        ValidationError: A field is invalid, or `SHIPPED` lacks a carrier
            or tracking number.

    .. versionadded:: 0.1.0
    """

    task_id: str = attrs.field(validator=text("task_id"))
    order_id: str = attrs.field(validator=text("order_id"))
    stage: FulfilmentStage = attrs.field(converter=FulfilmentStage)
    at: pendulum.DateTime = attrs.field(converter=_at)
    key: IdempotencyKey = attrs.field(validator=instance_of("key", IdempotencyKey))
    carrier: str | None = attrs.field(default=None, validator=optional_text("carrier"))
    tracking_number: str | None = attrs.field(
        default=None, validator=optional_text("tracking_number")
    )

    def __attrs_post_init__(self) -> None:
        if self.stage is FulfilmentStage.SHIPPED:
            text("carrier")(self, None, self.carrier)
            text("tracking_number")(self, None, self.tracking_number)


@final
@attrs.frozen(slots=True, kw_only=True)
class Label:
    """A shipping label a carrier issued.

    Attributes:
        carrier: The carrier's code (`"SF"`).
        tracking_number: The number the parcel is tracked by.
        document: Where the printable label is (a URL or a storage key).
        created_at: When the carrier issued it (UTC).

    .. versionadded:: 0.1.0
    """

    carrier: str = attrs.field(validator=text("carrier"))
    tracking_number: str = attrs.field(validator=text("tracking_number"))
    document: str = attrs.field(validator=text("document"))
    created_at: pendulum.DateTime = attrs.field(converter=_created_at)


@final
class TrackingStatus(enum.StrEnum):
    """A carrier's scan, normalised: every carrier's codes map onto these.

    .. versionadded:: 0.1.0
    """

    @classmethod
    def _missing_(cls, value: object) -> TrackingStatus:
        known = ", ".join(status.value for status in cls)
        raise UnknownStatus("status", value, f"not a tracking status ({known})")

    IN_TRANSIT = "in_transit"
    """Moving through the carrier's network."""
    OUT_FOR_DELIVERY = "out_for_delivery"
    """On the last vehicle to the buyer."""
    DELIVERED = "delivered"
    """Handed over or left as agreed."""
    EXCEPTION = "exception"
    """Held, damaged, refused or lost: a person must look."""


@final
@attrs.frozen(slots=True, kw_only=True)
class TrackingEvent:
    """One scan of a parcel, as a carrier reports it.

    Attributes:
        carrier: The carrier's code.
        tracking_number: The parcel.
        status: The scan, normalised.
        at: When the scan happened (UTC).
        key: What makes a re-sent scan the same scan.
        carrier_code: The carrier's own code for the scan, as sent.
        description: The carrier's text, for people (`"已签收"`).

    .. versionadded:: 0.1.0
    """

    carrier: str = attrs.field(validator=text("carrier"))
    tracking_number: str = attrs.field(validator=text("tracking_number"))
    status: TrackingStatus = attrs.field(converter=TrackingStatus)
    at: pendulum.DateTime = attrs.field(converter=_at)
    key: IdempotencyKey = attrs.field(validator=instance_of("key", IdempotencyKey))
    carrier_code: str = attrs.field(validator=text("carrier_code"))
    description: str = attrs.field(default="", validator=plain_text("description"))
