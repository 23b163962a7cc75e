"""The lifecycle's `apply` as it was before its fast paths: the reference.

A copy of `orderkit.orders._machine` as it stood before `apply` built its
instances without validation; the properties in test_apply_reference.py
check that the fast `apply` returns and raises what this one does.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any, Final, TypeVar

import attrs
import pendulum

from orderkit._time import to_utc
from orderkit.errors import (
    CurrencyMismatch,
    IllegalTransition,
    OrderMismatch,
    ValidationError,
)
from orderkit.money import Money
from orderkit.orders._audit import AuditRecord, FieldChange
from orderkit.orders._events import (
    AddressChanged,
    Cancelled,
    Closed,
    Completed,
    Delivered,
    Event,
    InTransit,
    OrderEvent,
    OrderPlaced,
    PaymentCaptured,
    PickingStarted,
    Shipped,
)
from orderkit.orders._model import Address, Payment, Shipment
from orderkit.orders._order import Order
from orderkit.orders._outcomes import (
    Applied,
    Duplicate,
    Early,
    Outcome,
    RefundDue,
    Stale,
)
from orderkit.orders._payments import RefundState
from orderkit.orders._status import OrderStatus, ShipmentStatus
from orderkit.orders._table import SHIPMENT_TRANSITIONS, TRANSITIONS, Verdict


_S = OrderStatus
_SS = ShipmentStatus
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
_SHIPMENT_RANK: Final = {_SS.SHIPPED: 0, _SS.IN_TRANSIT: 1, _SS.DELIVERED: 2}
_SHIPPED_IN_FULL: Final = frozenset(
    {
        OrderStatus.SHIPPED,
        OrderStatus.IN_TRANSIT,
        OrderStatus.DELIVERED,
        OrderStatus.COMPLETED,
    }
)
_Timed = TypeVar("_Timed", Payment, Shipment)
# The reference builds every instance with its validating constructor, so a
# fast path that builds an instance its class would refuse shows up here.
_new_order: Final = Order
_new_record: Final = AuditRecord
_new_shipment: Final = Shipment
_new_payment: Final = Payment
_new_applied: Final = Applied
_new_change: Final = FieldChange


def _evolve_order(order: Order, **changes: Any) -> Order:
    return attrs.evolve(order, **changes)


def _evolve_shipment(shipment: Shipment, **changes: Any) -> Shipment:
    return attrs.evolve(shipment, **changes)


_ORDER_STATUS_OF: Final = {
    _SS.SHIPPED: _S.SHIPPED,
    _SS.IN_TRANSIT: _S.IN_TRANSIT,
    _SS.DELIVERED: _S.DELIVERED,
}


def _commit(
    order: Order,
    event: OrderEvent,
    now: pendulum.DateTime,
    status: OrderStatus,
    changes: tuple[FieldChange, ...] = (),
    **updates: object,
) -> Applied:
    """Apply the event: the new order, one version on, and its audit record."""
    version = order.version + 1
    record = _new_record(
        order.order_id,
        version,
        order.status,
        status,
        type(event).__name__,
        event.key,
        event.actor,
        event.source,
        event.occurred_at,
        now,
        changes,
    )
    new = _evolve_order(
        order,
        status=status,
        version=version,
        applied_keys=order.applied_keys | {event.key},
        **updates,
    )
    return _new_applied(new, (record,), event)


def _refuse(
    order: Order, event: OrderEvent, reason: str | None = None
) -> IllegalTransition:
    if reason is None:
        if order.status.is_terminal:
            reason = f"the order is {order.status}"
        else:
            reason = _WHY_ILLEGAL.get(type(event), "not allowed in this status")
    return IllegalTransition(order.order_id, order.status, type(event).__name__, reason)


def _unchanged(
    order: Order, event: OrderEvent, verdict: OrderStatus | Verdict
) -> Outcome:
    """Turn a verdict that changes nothing into its outcome, or raise."""
    if verdict is Verdict.STALE:
        return Stale(order, event, f"the order is already {order.status}")
    if verdict is Verdict.EARLY:
        return Early(order, event, f"{_PREDECESSOR[type(event)]} has not been applied")
    raise _refuse(order, event)


def _placed(event: OrderPlaced, now: pendulum.DateTime) -> Applied:
    # OrderPlaced validated its lines as Order does; a new order has nothing
    # else (payments, parcels) that could contradict them.
    order = _new_order(
        order_id=event.order_id,
        channel=event.channel,
        buyer=event.buyer,
        address=event.address,
        lines=event.lines,
        placed_at=event.occurred_at,
        status=OrderStatus.PENDING_PAYMENT,
        version=1,
        pay_by=event.pay_by,
        payments=(),
        shipments=(),
        cancel_reason=None,
        applied_keys=frozenset((event.key,)),
        address_changed_at=None,
        payment_ledger=None,
        after_sales=(),
        price_changes=(),
        parked=(),
        review=(),
        saga=None,
    )
    record = _new_record(
        order.order_id,
        1,
        None,
        order.status,
        "OrderPlaced",
        event.key,
        event.actor,
        event.source,
        event.occurred_at,
        now,
        (),
    )
    return _new_applied(order, (record,), event)


def _payment(order: Order, event: PaymentCaptured, now: pendulum.DateTime) -> Outcome:
    # Since the fix of the payment in another currency: refused as such even
    # when it names a payment the order has.
    if event.amount.currency.code != order.currency:
        raise CurrencyMismatch("amount", event.amount.currency.code, order.currency)
    for payment in order.payments:
        if payment.payment_id != event.payment_id:
            continue
        # Since the fix of the second capture: only the same amount again (or
        # nothing) is a re-statement; another amount is refused, not lost.
        if event.amount == payment.amount or not event.amount.amount:
            return Stale(
                order, event, f"payment {event.payment_id!r} is already captured"
            )
        reason = (
            f"payment {event.payment_id!r} is already captured for {payment.amount},"
            f" and this notice states {event.amount}: a further capture of it (a"
            " partial capture) or a contradiction; the order keeps one capture per"
            " payment id, so a person settles it (refunds the rest by hand, or"
            " releases)"
        )
        raise _refuse(order, event, reason)
    cell = TRANSITIONS[order.status, PaymentCaptured]
    if cell is Verdict.KEEP or cell is Verdict.REFUND_DUE:
        status = order.status
    elif isinstance(cell, OrderStatus):
        status = cell
    else:  # pragma: no cover - the table has no other verdict for payments
        return _unchanged(order, event, cell)
    payment = _new_payment(event.payment_id, event.amount, event.occurred_at)
    change = _new_change(f"payments[{event.payment_id}]", "", str(event.amount))
    applied = _commit(
        order, event, now, status, (change,), payments=_by_time(order.payments, payment)
    )
    if cell is Verdict.REFUND_DUE:
        # Since the fix of the late capture notice: less what the payment
        # ledger shows refunded or pending on this payment.
        left = _left(order, payment)
        if left.amount <= 0:
            return applied
        return RefundDue(applied.order, applied.records, event, left)
    return applied


def _by_time(items: tuple[_Timed, ...], item: _Timed) -> tuple[_Timed, ...]:
    # Sorted by when it happened at the source, not by arrival, so that any
    # delivery order of the same events builds the same order.
    if not items or _when(items[-1]) <= _when(item):
        return items + (item,)  # noqa: RUF005 - mypy cannot type (*items, item) here
    merged = list(items)
    merged.append(item)
    merged.sort(key=_when)
    return tuple(merged)


def _when(item: Payment | Shipment) -> tuple[pendulum.DateTime, str]:
    if isinstance(item, Payment):
        return item.captured_at, item.payment_id
    return item.shipped_at, item.shipment_id


def _move(order: Order, event: OrderEvent, now: pendulum.DateTime) -> Outcome:
    cell = TRANSITIONS[order.status, type(event)]
    if not isinstance(cell, OrderStatus):
        return _unchanged(order, event, cell)
    if isinstance(event, PickingStarted) and event.location is not None:
        change = _new_change("location", "", event.location)
        return _commit(order, event, now, cell, (change,))
    return _commit(order, event, now, cell)


def _ended(order: Order, event: Cancelled | Closed, now: pendulum.DateTime) -> Outcome:
    cell = TRANSITIONS[order.status, type(event)]
    if not isinstance(cell, OrderStatus):
        return _unchanged(order, event, cell)
    if (
        isinstance(event, Closed)
        and order.pay_by is not None
        and event.occurred_at < order.pay_by
    ):
        reason = f"its payment deadline {order.pay_by.isoformat()} has not passed"
        raise _refuse(order, event, reason)
    change = _new_change("cancel_reason", "", event.reason)
    applied = _commit(order, event, now, cell, (change,), cancel_reason=event.reason)
    if not order.payments:
        return applied
    # The money captured must go back, whichever of payment and cancellation
    # arrived first: here when the capture came first, in _payment otherwise.
    # Since the fix of the refund owed: less what the payment ledger shows
    # refunded or pending on each payment.
    owed = Money.zero(order.currency)
    for payment in order.payments:
        owed += _left(order, payment)
    if owed.amount <= 0:
        return applied
    return RefundDue(applied.order, applied.records, event, owed)


def _left(order: Order, payment: Payment) -> Money:
    """What `payment` holds: less the refunds its ledger shows, never below zero."""
    left = payment.amount
    ledger = order.payment_ledger
    kept = set() if ledger is None else {p.payment_id for p in ledger.payments}
    if ledger is not None and payment.payment_id in kept:
        for refund in ledger.refunds:
            if refund.payment_id == payment.payment_id and refund.state in (
                RefundState.REFUNDED,
                RefundState.PENDING,
            ):
                left -= refund.amount
    return left if left.amount > 0 else Money.zero(order.currency)


def _address(order: Order, event: AddressChanged, now: pendulum.DateTime) -> Outcome:
    cell = TRANSITIONS[order.status, AddressChanged]
    if cell is not Verdict.KEEP:
        return _unchanged(order, event, cell)
    last = order.address_changed_at
    if last is not None and event.occurred_at < last:
        reason = f"a later address change (made {last.isoformat()}) is applied"
        return Stale(order, event, reason)
    if event.occurred_at == last and _rank(event.address) <= _rank(order.address):
        # Two changes made at one instant: the one whose address sorts last
        # wins, so that every arrival order ends with the same address.
        reason = f"an address change made at the same instant ({last.isoformat()}) wins"
        return Stale(order, event, reason)
    change = _new_change("address", _describe(order.address), _describe(event.address))
    return _commit(
        order,
        event,
        now,
        order.status,
        (change,),
        address=event.address,
        address_changed_at=event.occurred_at,
    )


def _rank(address: Address) -> tuple[tuple[str, ...], bool, str]:
    fields = (
        address.country,
        address.province,
        address.city,
        address.district,
        address.street,
        address.postcode,
        address.recipient,
    )
    return (fields, address.phone is not None, address.phone or "")


def _describe(address: Address) -> str:
    parts = (address.country, address.province, address.city, address.district)
    place = " ".join(p for p in (*parts, address.street, address.postcode) if p)
    who = " ".join(p for p in (address.recipient, address.phone) if p)
    return f"{who} {place}".strip()


def _fulfilment(order: Order, shipments: tuple[Shipment, ...]) -> OrderStatus:
    shipped: dict[str, int] = {}
    for shipment in shipments:
        for part in shipment.lines:
            shipped[part.line_id] = shipped.get(part.line_id, 0) + part.quantity
    for line in order.lines:
        if line.stocked and shipped.get(line.line_id, 0) < line.quantity:
            return OrderStatus.PARTIALLY_SHIPPED
    return _slowest(shipments)


def _slowest(shipments: tuple[Shipment, ...]) -> OrderStatus:
    """The order's status once every unit has shipped: its slowest parcel's."""
    slowest = ShipmentStatus.DELIVERED
    for shipment in shipments:
        if _SHIPMENT_RANK[shipment.status] < _SHIPMENT_RANK[slowest]:
            slowest = shipment.status
    return _ORDER_STATUS_OF[slowest]


def _check_shipment(order: Order, event: Shipped) -> None:
    ordered = {line.line_id: line.quantity for line in order.lines}
    shipping: dict[str, int] = {}
    for shipment in order.shipments:
        for part in shipment.lines:
            shipping[part.line_id] = shipping.get(part.line_id, 0) + part.quantity
    for i, part in enumerate(event.lines):
        if part.line_id not in ordered:
            raise ValidationError(
                f"lines[{i}].line_id",
                part.line_id,
                f"order {order.order_id!r} has no such line",
            )
        shipping[part.line_id] = shipping.get(part.line_id, 0) + part.quantity
        if shipping[part.line_id] > ordered[part.line_id]:
            reason = (
                f"line {part.line_id!r} would ship {shipping[part.line_id]} units "
                f"of {ordered[part.line_id]} ordered"
            )
            raise _refuse(order, event, reason)


def _shipped(order: Order, event: Shipped, now: pendulum.DateTime) -> Outcome:
    # The parcel shipped already, or reported again under another shipment
    # id: the same tracking number with the same units.
    units = sorted((part.line_id, part.quantity) for part in event.lines)
    for shipment in order.shipments:
        if shipment.shipment_id == event.shipment_id:
            reason = f"shipment {event.shipment_id!r} has shipped already"
            return Stale(order, event, reason)
        same = sorted((part.line_id, part.quantity) for part in shipment.lines)
        if shipment.tracking_number == event.tracking_number and same == units:
            reason = (
                f"tracking number {event.tracking_number!r} with the same units"
                f" is shipment {shipment.shipment_id!r}, shipped already"
            )
            return Stale(order, event, reason)
    cell = TRANSITIONS[order.status, Shipped]
    unstocked = {line.line_id for line in order.lines if not line.stocked}
    if (
        order.status in _SHIPPED_IN_FULL
        and event.lines
        and all(part.line_id in unstocked for part in event.lines)
    ):
        _check_shipment(order, event)
        reason = (
            f"shipment {event.shipment_id!r} carries unstocked lines alone, "
            "and every stocked unit has shipped already"
        )
        return Stale(order, event, reason)
    if cell is Verdict.EARLY:
        _check_shipment(order, event)
    if cell is not Verdict.BY_SHIPMENTS:
        return _unchanged(order, event, cell)
    _check_shipment(order, event)
    shipment = _new_shipment(
        event.shipment_id,
        event.lines,
        event.carrier,
        event.tracking_number,
        event.occurred_at,
        _SS.SHIPPED,
    )
    shipments = _by_time(order.shipments, shipment)
    change = _new_change(
        f"shipments[{event.shipment_id}]",
        "",
        f"{event.carrier} {event.tracking_number}",
    )
    status = _fulfilment(order, shipments)
    return _commit(order, event, now, status, (change,), shipments=shipments)


def _parcel_moved(
    order: Order, event: InTransit | Delivered, now: pendulum.DateTime
) -> Outcome:
    cell = TRANSITIONS[order.status, type(event)]
    if cell is not Verdict.BY_SHIPMENTS:
        return _unchanged(order, event, cell)
    shipments = order.shipments
    current = None
    for i, shipment in enumerate(shipments):  # noqa: B007 - i is used after the loop
        if shipment.shipment_id == event.shipment_id:
            current = shipment
            break
    before = None if current is None else current.status
    step = SHIPMENT_TRANSITIONS[before, type(event)]
    if step is Verdict.STALE:
        reason = f"shipment {event.shipment_id!r} is already {before}"
        return Stale(order, event, reason)
    if current is None or isinstance(step, Verdict):
        return Early(order, event, f"{_PREDECESSOR[type(event)]} has not been applied")
    moved = _evolve_shipment(current, status=step)
    shipments = (*shipments[:i], moved, *shipments[i + 1 :])
    status: OrderStatus = order.status
    if status is not OrderStatus.PARTIALLY_SHIPPED:
        # Once every unit has shipped, the order is as far as its slowest parcel.
        status = _slowest(shipments)
    change = _new_change(
        f"shipments[{event.shipment_id}].status", str(before), str(step)
    )
    return _commit(order, event, now, status, (change,), shipments=shipments)


def _placed_again(order: Order, event: OrderPlaced, _now: pendulum.DateTime) -> Outcome:
    return _unchanged(order, event, Verdict.STALE)


_Step = Callable[[Order, Any, pendulum.DateTime], Outcome]
_STEPS: Final[Mapping[type[Event], _Step]] = {
    OrderPlaced: _placed_again,
    PaymentCaptured: _payment,
    PickingStarted: _move,
    Shipped: _shipped,
    InTransit: _parcel_moved,
    Delivered: _parcel_moved,
    Completed: _move,
    Cancelled: _ended,
    Closed: _ended,
    AddressChanged: _address,
}


def apply(order: Order | None, event: OrderEvent, *, now: dt.datetime) -> Outcome:
    """Apply one event to an order: a pure function, the lifecycle's one step.

    Args:
        order: The order as it stands, or `None` if it has not been placed.
        event: The event to apply.
        now: When orderkit applies it (a timezone-aware datetime); the audit
            records' `recorded_at`.

    Returns:
        `Applied` with the new order and its audit records; `Duplicate` if an
        event with the same idempotency key was applied before; `Stale` if
        the order has passed the event's stage; `Early` if the event's
        predecessor has not arrived (also for any event but `OrderPlaced`
        on `None`); `RefundDue` for a capture on a cancelled or closed order,
        and for the cancellation of an order that has captured money.
        Only `Applied` and `RefundDue` carry a changed order.

    Raises:
        IllegalTransition: The event contradicts the order's status (a
            cancellation after shipping, more units shipped than ordered).
        OrderMismatch: The event is for another order.
        NaiveDatetime: `now` has no UTC offset.
        ValidationError: The event does not fit the order (an unknown line,
            a payment in another currency, not an order event at all).

    .. versionadded:: 0.1.0
    """
    instant = to_utc(now, "now")
    step = _STEPS.get(type(event))
    if step is None:
        raise ValidationError("event", event, "is not an order event")
    if order is None:
        if isinstance(event, OrderPlaced):
            return _placed(event, instant)
        return Early(None, event, "OrderPlaced has not been applied")
    if type(order) is not Order:
        raise ValidationError("order", order, "must be an Order or None")
    if event.order_id != order.order_id:
        raise OrderMismatch(order.order_id, event.order_id)
    if event.key in order.applied_keys:
        return Duplicate(order, event)
    return step(order, event, instant)
