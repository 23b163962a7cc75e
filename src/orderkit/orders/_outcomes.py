"""What `apply` returns: one outcome per event, never a half-applied order."""

from __future__ import annotations

from typing import final

import attrs

from orderkit.errors import OrderkitError
from orderkit.money import Money
from orderkit.orders._audit import AuditRecord
from orderkit.orders._events import OrderEvent
from orderkit.orders._order import Order


@final
@attrs.frozen(slots=True)
class Applied:
    """The event changed the order.

    Attributes:
        order: The new order, `version` one higher.
        records: The audit records of the change.
        event: The event applied.

    .. versionadded:: 0.1.0
    """

    order: Order
    records: tuple[AuditRecord, ...]
    event: OrderEvent


@final
@attrs.frozen(slots=True)
class Duplicate:
    """An event with this idempotency key was applied before; nothing changed.

    Attributes:
        order: The order, unchanged.
        event: The re-delivered event.

    .. versionadded:: 0.1.0
    """

    order: Order
    event: OrderEvent


@final
@attrs.frozen(slots=True)
class Stale:
    """The event is for a stage the order has passed; nothing changed.

    Status never moves backwards: a late `InTransit` after `Delivered`, or a
    `Closed` timer that fires after the buyer paid, is stale.

    Attributes:
        order: The order, unchanged.
        event: The late event.
        reason: Why it is stale.

    .. versionadded:: 0.1.0
    """

    order: Order
    event: OrderEvent
    reason: str


@final
@attrs.frozen(slots=True)
class Early:
    """The event's predecessor has not arrived yet; nothing changed.

    Park the event and apply it again after the next applied event
    (`apply_all` does this for you).

    Attributes:
        order: The order, unchanged, or `None` when it has not been placed yet.
        event: The early event.
        reason: Which predecessor is missing.

    .. versionadded:: 0.1.0
    """

    order: Order | None
    event: OrderEvent
    reason: str


@final
@attrs.frozen(slots=True)
class RefundDue:
    """Applied, and money the order holds must go back to the buyer.

    Two events lead here, whichever arrives first: a capture for an order
    that is cancelled or closed (the payment is recorded, so a re-delivery is
    a duplicate), and the cancellation of an order that has captured money.
    Either way the refund is owed exactly once.

    Attributes:
        order: The new order, `version` one higher.
        records: The audit records of the change.
        event: The event applied.
        amount: How much must be refunded.

    .. versionadded:: 0.1.0
    """

    order: Order
    records: tuple[AuditRecord, ...]
    event: OrderEvent
    amount: Money


@final
@attrs.frozen(slots=True)
class Rejected:
    """`apply_all` could not apply an event: `apply` raised; nothing changed.

    `apply` itself raises; `apply_all` records the error instead, so one bad
    event (or a parked event that has become illegal) does not lose the rest
    of the batch.

    Attributes:
        order: The order, unchanged, or `None`.
        event: The refused event.
        error: What `apply` raised (`IllegalTransition`, `ValidationError`...).

    .. versionadded:: 0.1.0
    """

    order: Order | None
    event: OrderEvent
    error: OrderkitError


Outcome = Applied | Duplicate | Stale | Early | RefundDue
"""Any outcome of `apply`."""
