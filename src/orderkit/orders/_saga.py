"""A multi-step use case in flight on an order, persisted with its effects."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import final

import attrs
import pendulum

from orderkit._time import to_utc
from orderkit._validate import as_tuple, optional_name, optional_text, text
from orderkit.errors import ValidationError
from orderkit.money import Money
from orderkit.orders._model import ShipmentLine


__all__ = ["Saga"]


def _started_at(value: dt.datetime) -> pendulum.DateTime:
    return to_utc(value, "started_at")


def _optional_money(_instance: object, _attribute: object, value: Money | None) -> None:
    if value is not None and type(value) is not Money:
        raise ValidationError("amount", value, "must be Money or None")


def _as_parts(value: Iterable[tuple[str, Money]]) -> tuple[tuple[str, Money], ...]:
    given: object = value  # from a stored document too: any shape
    if isinstance(given, str | bytes) or not isinstance(given, Iterable):
        raise ValidationError("parts", value, "must be a sequence of (id, Money)")
    return tuple(value)


def _parts(_instance: object, _attribute: object, value: tuple[object, ...]) -> None:
    # The parts come from stored documents too: check their shape at runtime.
    for i, part in enumerate(value):
        if not isinstance(part, tuple) or len(part) != 2 or type(part[1]) is not Money:
            raise ValidationError(
                f"parts[{i}]", part, "must be a (payment id, Money) pair"
            )
        # As every payment id: an id no store can hold would fail the order's
        # next save, long after the saga that made it.
        text(f"parts[{i}][0]")(None, None, part[0])


def _as_tasks(value: Iterable[str]) -> tuple[str, ...]:
    return as_tuple(value, "tasks", str)


def _tasks(_instance: object, _attribute: object, value: tuple[object, ...]) -> None:
    # From stored documents too: each id must be one a warehouse and a store take.
    for i, task_id in enumerate(value):
        text(f"tasks[{i}]")(None, None, task_id)


def _as_lines(value: Iterable[ShipmentLine]) -> tuple[ShipmentLine, ...]:
    return as_tuple(value, "lines", ShipmentLine)


def _lines(
    _instance: object, _attribute: object, value: tuple[ShipmentLine, ...]
) -> None:
    # From stored documents too: a parcel names each order line once, or the
    # shipment it records would be refused long after the label was booked.
    seen: set[str] = set()
    for i, line in enumerate(value):
        if line.line_id in seen:
            raise ValidationError(
                f"lines[{i}].line_id", line.line_id, "names a line twice"
            )
        seen.add(line.line_id)


@final
@attrs.frozen(slots=True, kw_only=True)
class Saga:
    """A use case of several steps that calls the outside, and how far it got.

    It is stored with the order in the same transaction as each step's
    effects, so after a crash a recovery reads the step and goes on from
    there. Calls to the outside carry `key`, so a step repeated after a crash
    never acts twice.

    Attributes:
        name: The use case (`"capture"`, `"pick"`, `"ship"`, `"refund"`).
        step: The last step done (`"requested"`, `"sent"`).
        key: The idempotency key of its calls to the outside.
        started_at: When it started (UTC).
        amount: The money it moves, if any.
        reference: What it acts on: a payment id, a shipment id.
        parts: For a refund owed back to several payments: each payment and
            its share of `amount`, fixed when the saga starts, so that every
            attempt sends the same refunds. Empty: all of it to `reference`.
        tasks: For a pick: the ids of the pick tasks it sends to the
            warehouse, fixed when the saga starts, so that every attempt
            sends the same tasks and a person knows which to void when the
            order moves on. Empty for the other sagas.
        lines: For a ship: the units its parcel carries, fixed when the saga
            starts, so that every attempt ships the same units. Empty: every
            unit the order has not shipped when the shipment is recorded.
        location: For a ship: the stock location the parcel leaves (see
            `Shipped.location`), fixed when the saga starts; `None` when the
            caller named none.

    .. versionadded:: 0.1.0
    """

    name: str = attrs.field(validator=text("name"))
    step: str = attrs.field(validator=text("step"))
    key: str = attrs.field(validator=text("key"))
    started_at: pendulum.DateTime = attrs.field(converter=_started_at)
    amount: Money | None = attrs.field(default=None, validator=_optional_money)
    reference: str | None = attrs.field(
        default=None, validator=optional_text("reference")
    )
    parts: tuple[tuple[str, Money], ...] = attrs.field(
        default=(), converter=_as_parts, validator=_parts
    )
    tasks: tuple[str, ...] = attrs.field(
        default=(), converter=_as_tasks, validator=_tasks
    )
    lines: tuple[ShipmentLine, ...] = attrs.field(
        default=(), converter=_as_lines, validator=_lines
    )
    location: str | None = attrs.field(
        default=None, validator=optional_name("location")
    )
