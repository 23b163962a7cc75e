"""Audit records: what every applied event changed, by whom, and when."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import final

import attrs
import pendulum

from orderkit._time import to_utc
from orderkit._validate import (
    as_tuple,
    instance_of,
    plain_text,
    positive_int,
    renamed,
    text,
)
from orderkit.dedupe import IdempotencyKey
from orderkit.orders._status import OrderStatus


def _occurred_at(value: dt.datetime) -> pendulum.DateTime:
    return to_utc(value, "occurred_at")


def _recorded_at(value: dt.datetime) -> pendulum.DateTime:
    return to_utc(value, "recorded_at")


def _changes(value: Iterable[FieldChange]) -> tuple[FieldChange, ...]:
    return as_tuple(value, "changes", FieldChange)


def _from_status(value: OrderStatus | str | None) -> OrderStatus | None:
    return None if value is None else renamed(OrderStatus, "from_status", value)


def _to_status(value: OrderStatus | str) -> OrderStatus:
    return renamed(OrderStatus, "to_status", value)


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

    field: str = attrs.field(validator=text("field"))
    old: str = attrs.field(validator=plain_text("old"))
    new: str = attrs.field(validator=plain_text("new"))


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

    order_id: str = attrs.field(validator=text("order_id"))
    version: int = attrs.field(validator=positive_int("version"))
    from_status: OrderStatus | None = attrs.field(converter=_from_status)
    to_status: OrderStatus = attrs.field(converter=_to_status)
    event_type: str = attrs.field(validator=text("event_type"))
    key: IdempotencyKey = attrs.field(validator=instance_of("key", IdempotencyKey))
    actor: str = attrs.field(validator=text("actor"))
    source: str = attrs.field(validator=text("source"))
    occurred_at: pendulum.DateTime = attrs.field(converter=_occurred_at)
    recorded_at: pendulum.DateTime = attrs.field(converter=_recorded_at)
    changes: tuple[FieldChange, ...] = attrs.field(default=(), converter=_changes)
