"""How one step of `apply` ends: committed with its audit record, or not at all."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, TypeVar

import pendulum

from orderkit._fast import builder, changer
from orderkit._validate import MAX_INT
from orderkit.errors import IllegalTransition, InvalidQuantity
from orderkit.orders._audit import AuditRecord, FieldChange
from orderkit.orders._events import (
    AddressChanged,
    Cancelled,
    Completed,
    Delivered,
    InTransit,
    OrderEvent,
    PickingStarted,
    Shipped,
)
from orderkit.orders._order import Order
from orderkit.orders._outcomes import Applied, Early, Outcome, Stale
from orderkit.orders._status import OrderStatus
from orderkit.orders._table import TRANSITIONS, Verdict


# The parts of every instance built here come from an order and an event that
# were validated already: skip validating them again.
new_record: Final = builder(AuditRecord)
new_applied: Final = builder(Applied)
new_change: Final = builder(FieldChange)
# Each changer takes the new status, version and applied keys, then the parts
# its name says; the order's other fields stay.
moved: Final = changer(Order, "status", "version", "applied_keys")
with_payments: Final = changer(Order, "status", "version", "applied_keys", "payments")
with_shipments: Final = changer(Order, "status", "version", "applied_keys", "shipments")
with_address: Final = changer(
    Order, "status", "version", "applied_keys", "address", "address_changed_at"
)
with_cancel_reason: Final = changer(
    Order, "status", "version", "applied_keys", "cancel_reason"
)

T = TypeVar("T")

# The table as a plain dict: a mapping proxy adds a call to every look-up.
CELLS: Final = dict(TRANSITIONS)


def in_time_order(
    items: tuple[T, ...], item: T, when: Callable[[T], Any]
) -> tuple[T, ...]:
    """`items` with `item`, sorted by `when`, as `sorted` would place it.

    By when it happened at the source, not by arrival, so that any delivery
    order of the same events builds the same order. Most arrive in order:
    then `item` goes last, without sorting.
    """
    if not items or when(items[-1]) <= when(item):
        return (*items, item)
    return tuple(sorted((*items, item), key=when))


_PREDECESSOR: Final = {
    PickingStarted: "PaymentCaptured",
    Shipped: "PickingStarted",
    InTransit: "Shipped for this shipment",
    Delivered: "InTransit for this shipment",
    Completed: "Delivered for every shipment",
}
_WHY_ILLEGAL: Final = {
    Cancelled: (
        "something has shipped: a refund naming the units not shipped yet cancels"
        " them (`OrderDesk.record_refund`); open an after-sales case for the rest"
    ),
    AddressChanged: "the address cannot change once something has shipped",
    Shipped: "every stocked unit has shipped; only unstocked lines may follow",
}


def next_version(order: Order) -> int:
    """The version of `order` once changed: one higher, at most 2**63 - 1.

    The changers skip `Order`'s validators, so the bound is checked here: an
    order at 2**63 would dump, but neither load back nor fit a store.

    Raises:
        InvalidQuantity: `order` is at version 2**63 - 1 already, as `Order`
            refuses a version past it (`field` is `"version"`).
    """
    version = order.version + 1
    if version > MAX_INT:
        raise InvalidQuantity("version", version, "must be at most 2**63 - 1")
    return version


def commit(  # noqa: PLR0913, PLR0917 - the step, what it changes, and how
    order: Order,
    event: OrderEvent,
    now: pendulum.DateTime,
    status: OrderStatus,
    changes: tuple[FieldChange, ...],
    copy: Callable[..., Order],
    *parts: object,
) -> Applied:
    """Apply the event: the new order, one version on, and its audit record.

    `copy` is one of this module's changers, and `parts` the values it takes
    after the status, version and keys.
    """
    version = next_version(order)
    key = event.key
    record = new_record(
        order.order_id,
        version,
        order.status,
        status,
        type(event).__name__,
        key,
        event.actor,
        event.source,
        event.occurred_at,
        now,
        changes,
    )
    new = copy(order, status, version, order.applied_keys | {key}, *parts)
    return new_applied(new, (record,), event)


def refuse(
    order: Order, event: OrderEvent, reason: str | None = None
) -> IllegalTransition:
    """The error for an event that contradicts the order."""
    if reason is None:
        if order.status.is_terminal:
            reason = f"the order is {order.status}"
        else:
            reason = _WHY_ILLEGAL.get(type(event), "not allowed in this status")
    return IllegalTransition(order.order_id, order.status, type(event).__name__, reason)


def unchanged(
    order: Order, event: OrderEvent, verdict: OrderStatus | Verdict
) -> Outcome:
    """Turn a verdict that changes nothing into its outcome, or raise."""
    if verdict is Verdict.STALE:
        return Stale(order, event, f"the order is already {order.status}")
    if verdict is Verdict.EARLY:
        return early(order, event)
    raise refuse(order, event)


def early(order: Order, event: OrderEvent) -> Early:
    """The outcome of an event whose predecessor has not been applied."""
    return Early(order, event, f"{_PREDECESSOR[type(event)]} has not been applied")
