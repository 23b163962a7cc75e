"""`apply`: one pure step of the lifecycle, with its audit record."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from operator import attrgetter
from typing import Any, Final

import attrs
import pendulum

from orderkit._fast import builder
from orderkit._time import to_utc
from orderkit.errors import (
    CurrencyMismatch,
    OrderMismatch,
    ValidationError,
)
from orderkit.orders._commit import (
    CELLS,
    commit,
    in_time_order,
    moved,
    new_applied,
    new_change,
    new_record,
    refuse,
    unchanged,
    with_address,
    with_cancel_reason,
    with_payments,
)
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
from orderkit.orders._model import Address, Payment
from orderkit.orders._order import Order
from orderkit.orders._outcomes import (
    Applied,
    Duplicate,
    Early,
    Outcome,
    RefundDue,
    Stale,
)
from orderkit.orders._owed import left_on, owed_back
from orderkit.orders._parcels import parcel_moved, shipped
from orderkit.orders._status import OrderStatus
from orderkit.orders._table import Verdict


# The parts of every instance built here come from an order and an event that
# were validated already: skip validating them again.
_new_order: Final = builder(Order)
_new_payment: Final = builder(Payment)
_new_duplicate: Final = builder(Duplicate)
_DateTime: Final = pendulum.DateTime
_UTC: Final = pendulum.UTC
_payment_when: Final = attrgetter("captured_at", "payment_id")
# The members the steps test, as constants: a member looked up on its enum
# class costs some 50ns (Python 3.11). Both classes are final, so
# `type(cell) is OrderStatus` says what `isinstance` says, without the
# enum metaclass's slower instance check.
_PENDING_PAYMENT: Final = OrderStatus.PENDING_PAYMENT
_KEEP: Final = Verdict.KEEP
_STALE: Final = Verdict.STALE
_REFUND_DUE: Final = Verdict.REFUND_DUE
# The fields `_placed` gives `_new_order` positionally, in this order: checked
# when the module loads, so a field added or moved fails there, not silently.
_PLACED_FIELDS: Final = (
    "order_id",
    "channel",
    "buyer",
    "address",
    "lines",
    "placed_at",
    "status",
    "version",
    "pay_by",
    "payments",
    "shipments",
    "cancel_reason",
    "applied_keys",
    "address_changed_at",
    "payment_ledger",
    "after_sales",
    "price_changes",
    "parked",
    "review",
    "saga",
    "cancelled_units",
)
if tuple(a.name for a in attrs.fields(Order)) != _PLACED_FIELDS:  # pragma: no cover
    msg = "Order's fields moved: update `_placed` and `_PLACED_FIELDS`"
    raise TypeError(msg)


def _placed(event: OrderPlaced, now: pendulum.DateTime) -> Applied:
    # OrderPlaced validated its lines as Order does; a new order has nothing
    # else (payments, parcels) that could contradict them.
    key = event.key
    # Positional, in field order (`_PLACED_FIELDS`): keywords cost twice as
    # much to match, and every order taken in starts here.
    order = _new_order(
        event.order_id,
        event.channel,
        event.buyer,
        event.address,
        event.lines,
        event.occurred_at,  # placed_at
        _PENDING_PAYMENT,  # status
        1,  # version
        event.pay_by,
        (),  # payments
        (),  # shipments
        None,  # cancel_reason
        frozenset((key,)),  # applied_keys
        None,  # address_changed_at
        None,  # payment_ledger
        (),  # after_sales
        (),  # price_changes
        (),  # parked
        (),  # review
        None,  # saga
        (),  # cancelled_units
    )
    record = new_record(
        event.order_id,
        1,
        None,
        _PENDING_PAYMENT,
        "OrderPlaced",
        key,
        event.actor,
        event.source,
        event.occurred_at,
        now,
        (),
    )
    return new_applied(order, (record,), event)


def _payment(order: Order, event: PaymentCaptured, now: pendulum.DateTime) -> Outcome:
    payment_id = event.payment_id
    # Before the known payments: a capture in another currency is refused as
    # such whatever payment it names, not read as another amount of one.
    if event.amount.currency.code != order.currency:
        raise CurrencyMismatch("amount", event.amount.currency.code, order.currency)
    for payment in order.payments:
        if payment.payment_id == payment_id:
            return _captured_again(order, event, payment)
    cell = CELLS[order.status, PaymentCaptured]
    if not event.amount.amount:
        return _free(order, event, now, cell)
    if cell is _KEEP or cell is _REFUND_DUE:
        status = order.status
    elif type(cell) is OrderStatus:
        status = cell
    else:  # pragma: no cover - the table has no other verdict for payments
        return unchanged(order, event, cell)
    payment = _new_payment(payment_id, event.amount, event.occurred_at)
    payments = in_time_order(order.payments, payment, _payment_when)
    change = new_change(f"payments[{payment_id}]", "", str(event.amount))
    applied = commit(order, event, now, status, (change,), with_payments, payments)
    if cell is _REFUND_DUE:
        # What the payment ledger shows refunded on this payment already (the
        # provider's notice came before the channel's) is not owed again.
        owed = left_on(applied.order, payment)
        if owed.amount <= 0:
            return applied
        return RefundDue(applied.order, applied.records, event, owed)
    return applied


def _captured_again(order: Order, event: PaymentCaptured, payment: Payment) -> Stale:
    """A capture of a payment the order records already: stale, or refused.

    The same amount under a new key is the channel stating the same fact
    again, which must not be kept or refunded twice: stale. Another amount
    is another capture of that payment (a partial capture) or a contradiction:
    keeping one payment per id, the lifecycle can take neither, and leaving
    it stale would lose money the buyer paid without a word, so it is
    refused. A capture of zero captured nothing and is stale.

    Raises:
        IllegalTransition: `event` states another amount for the payment.
    """
    amount = event.amount
    if amount == payment.amount or not amount.amount:
        return Stale(
            order, event, f"payment {payment.payment_id!r} is already captured"
        )
    reason = (
        f"payment {payment.payment_id!r} is already captured for {payment.amount},"
        f" and this notice states {amount}: a further capture of it (a partial"
        " capture) or a contradiction; the order keeps one capture per payment"
        " id, so a person settles it (refunds the rest by hand, or releases)"
    )
    raise refuse(order, event, reason)


def _free(
    order: Order,
    event: PaymentCaptured,
    now: pendulum.DateTime,
    cell: OrderStatus | Verdict,
) -> Outcome:
    # A free order paid: nothing was captured, so no Payment is kept (nothing
    # to refund, reconcile or store), and only an unpaid order moves. On an
    # order paid or ended already it changes nothing: where a capture keeps
    # the status or is owed back, zero is neither kept nor owed.
    if type(cell) is not OrderStatus:
        return unchanged(order, event, _STALE)
    change = new_change(f"zero_capture[{event.payment_id}]", "", str(event.amount))
    return commit(order, event, now, cell, (change,), moved)


def _move(order: Order, event: OrderEvent, now: pendulum.DateTime) -> Outcome:
    cell = CELLS[order.status, type(event)]
    if type(cell) is not OrderStatus:
        return unchanged(order, event, cell)
    if type(event) is PickingStarted and event.location is not None:
        change = new_change("location", "", event.location)
        return commit(order, event, now, cell, (change,), moved)
    return commit(order, event, now, cell, (), moved)


def _ended(order: Order, event: Cancelled | Closed, now: pendulum.DateTime) -> Outcome:
    cell = CELLS[order.status, type(event)]
    if type(cell) is not OrderStatus:
        return unchanged(order, event, cell)
    if (
        isinstance(event, Closed)
        and order.pay_by is not None
        and event.occurred_at < order.pay_by
    ):
        reason = f"its payment deadline {order.pay_by.isoformat()} has not passed"
        raise refuse(order, event, reason)
    change = new_change("cancel_reason", "", event.reason)
    applied = commit(
        order, event, now, cell, (change,), with_cancel_reason, event.reason
    )
    if not order.payments:
        return applied
    # The money captured must go back, whichever of payment and cancellation
    # arrived first: here when the capture came first, in _payment otherwise.
    # What was refunded already (the payment ledger says so) is not owed.
    owed = owed_back(order)
    if owed.amount <= 0:
        return applied
    return RefundDue(applied.order, applied.records, event, owed)


def _address(order: Order, event: AddressChanged, now: pendulum.DateTime) -> Outcome:
    cell = CELLS[order.status, AddressChanged]
    if cell is not _KEEP:
        return unchanged(order, event, cell)
    last = order.address_changed_at
    if last is not None and event.occurred_at < last:
        reason = f"a later address change (made {last.isoformat()}) is applied"
        return Stale(order, event, reason)
    if event.occurred_at == last and _rank(event.address) <= _rank(order.address):
        # Two changes made at one instant: the one whose address sorts last
        # wins, so that every arrival order ends with the same address.
        reason = f"an address change made at the same instant ({last.isoformat()}) wins"
        return Stale(order, event, reason)
    change = new_change("address", _describe(order.address), _describe(event.address))
    return commit(
        order,
        event,
        now,
        order.status,
        (change,),
        with_address,
        event.address,
        event.occurred_at,
    )


def _rank(address: Address) -> tuple[tuple[str, ...], bool, str]:
    # A total order on every field: two addresses that differ must rank
    # apart, or the one applied first would stay. No phone (None) ranks
    # below any phone, "" included.
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


def _placed_again(order: Order, event: OrderPlaced, _now: pendulum.DateTime) -> Outcome:
    return unchanged(order, event, Verdict.STALE)


_Step = Callable[[Order, Any, pendulum.DateTime], Outcome]
_STEPS: Final[Mapping[type[Event], _Step]] = {
    OrderPlaced: _placed_again,
    PaymentCaptured: _payment,
    PickingStarted: _move,
    Shipped: shipped,
    InTransit: parcel_moved,
    Delivered: parcel_moved,
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
        and for the cancellation of an order that has captured money, each
        owing what the payment ledger does not show refunded already. A
        capture of zero (a free order) moves an unpaid order to `paid`
        without recording a payment, and is `Stale` on any other order. A
        capture of a payment the order records already is `Stale` when it
        states the same amount (the channel saying it again).
        Only `Applied` and `RefundDue` carry a changed order.

    Raises:
        IllegalTransition: The event contradicts the order's status (a
            cancellation after shipping, more units shipped than ordered),
            or is a capture of a payment the order records already with
            another amount (a further capture of it, or a contradiction:
            the order keeps one capture per payment id, and a person
            settles it).
        OrderMismatch: The event is for another order.
        NaiveDatetime: `now` has no UTC offset.
        ValidationError: The event does not fit the order (an unknown line,
            a payment in another currency, not an order event at all).
        InvalidQuantity: The event would change an order at version
            2**63 - 1, the highest `Order` holds (`field` is `"version"`).

    .. versionadded:: 0.1.0
    """
    # The common case, a UTC pendulum instant, is the one to_utc returns as is.
    if type(now) is _DateTime and now.tzinfo is _UTC:
        instant = now
    else:
        instant = to_utc(now, "now")
    step = _STEPS.get(type(event))
    if step is None:
        raise ValidationError("event", event, "is not an order event")
    if order is None:
        if type(event) is OrderPlaced:
            return _placed(event, instant)
        return Early(None, event, "OrderPlaced has not been applied")
    if type(order) is not Order:
        raise ValidationError("order", order, "must be an Order or None")
    if event.order_id != order.order_id:
        raise OrderMismatch(order.order_id, event.order_id)
    if event.key in order.applied_keys:
        return _new_duplicate(order, event)
    return step(order, event, instant)
