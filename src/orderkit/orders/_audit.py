"""Audit records: what every applied event changed, by whom, and when."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import final

import attrs
import pendulum

from orderkit._time import to_utc
from orderkit.dedupe import IdempotencyKey
from orderkit.orders._status import OrderStatus


def _occurred_at(value: dt.datetime) -> pendulum.DateTime:
    return to_utc(value, "occurred_at")


def _recorded_at(value: dt.datetime) -> pendulum.DateTime:
    return to_utc(value, "recorded_at")


def _changes(value: Iterable[FieldChange]) -> tuple[FieldChange, ...]:
    return tuple(value)


@final
@attrs.frozen(slots=True)
class FieldChange:
    """One field's old and new value, as text a person can read.

    Attributes:
        field: The path of the field (`"address"`, `"shipments[S1].status"`).
        old: Its value before, `""` when it did not exist.
        new: Its value after.

    .. versionadded:: 0.1.0
    """

    field: str
    old: str
    new: str


@final
@attrs.frozen(slots=True)
class AuditRecord:
    """One applied event, as the audit trail keeps it.

    Attributes:
        order_id: The order it changed.
        version: The order's version after the change: the trail's sequence.
        from_status: The status before; `None` when the event created the order.
        to_status: The status after (the same when only data changed).
        event_type: The event's class name (`"Shipped"`).
        key: The event's idempotency key.
        actor: Who caused it.
        source: The system that reported it.
        occurred_at: When it happened at its source (UTC).
        recorded_at: When orderkit applied it (UTC).
        changes: Fields that changed beside the status.

    .. versionadded:: 0.1.0
    """

    order_id: str
    version: int
    from_status: OrderStatus | None
    to_status: OrderStatus
    event_type: str
    key: IdempotencyKey
    actor: str
    source: str
    occurred_at: pendulum.DateTime = attrs.field(converter=_occurred_at)
    recorded_at: pendulum.DateTime = attrs.field(converter=_recorded_at)
    changes: tuple[FieldChange, ...] = attrs.field(default=(), converter=_changes)
