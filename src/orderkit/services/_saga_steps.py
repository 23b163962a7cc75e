"""The steps every saga shares: store it, end it, find it, and what it acts on.

A saga's step is stored with the order, one version on, with an audit
record (`SagaStarted`, `SagaEnded`), so the audit trail tells every step.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Final, NamedTuple

import attrs
import pendulum

from orderkit._fast import changer
from orderkit._validate import as_tuple, positive_int
from orderkit.dedupe import IdempotencyKey
from orderkit.errors import (
    CaptureExceedsAuthorisation,
    CircuitOpen,
    ConcurrencyConflict,
    IdempotencyConflict,
    IllegalTransition,
    KeyInProgress,
    OrderkitError,
    StoreError,
    TransientError,
    UnknownOrder,
    ValidationError,
)
from orderkit.integrations import ChannelTransaction
from orderkit.money import Money
from orderkit.orders import (
    AuditRecord,
    FieldChange,
    Order,
    OrderEvent,
    OrderStatus,
    Payment,
    Recorded,
    Saga,
    ShipmentLine,
    record_payments,
    waits,
)
from orderkit.orders._owed import left_on, owed_back
from orderkit.orders._parcels import unshipped_lines
from orderkit.orders._status import ENDED
from orderkit.ports import Clock, UnitOfWork
from orderkit.pricing import PaymentLedger
from orderkit.services._desk_notes import owed_parts, refund_key, refunded_payment
from orderkit.services._intake import EventRecorded
from orderkit.services._order_pages import orders_in, waiting
from orderkit.services._saga_outcomes import Stalled


_S = OrderStatus
# A saga step changes an order's saga alone: the rest was checked already.
_with_saga: Final = changer(Order, "saga", "version")
SHIPPABLE: Final = frozenset({_S.PAID, _S.PICKING, _S.PARTIALLY_SHIPPED})
ACTOR: Final = "orderkit"
"""Who the sagas' own audit records and events name as actor and source."""
REFUND: Final = "refund"
SHIP: Final = "ship"
"""The ship saga's name (`Shipping`), for the modules `_sagas` imports."""
REQUESTED: Final = "requested"
RETRY_LATER: Final = (
    TransientError,
    CircuitOpen,
    KeyInProgress,
    ConcurrencyConflict,
    StoreError,
)
"""Errors from a call to the outside that are no refusal: asked again, it may
succeed, so the saga stays. Any other `OrderkitError` is the outside's no."""


def scan_waiting(unit: UnitOfWork, *, page: int = 100) -> Iterator[Order]:
    """Every order that waits (`waits`), a page per unit, so no unit stays open long.

    Read through the store's index when it has one (`waiting()`, as
    orderkit's stores do); from a host's store without one, every order is
    read and checked.
    """
    return (order for order in orders_in(unit, waiting, page=page) if waits(order))


def order_of(uow: UnitOfWork, channel: str, order_id: str) -> Order:
    order = uow.orders.get(channel, order_id)
    if order is None:
        raise UnknownOrder(channel, order_id)
    return order


def in_flight(unit: UnitOfWork, channel: str, order_id: str, name: str) -> Saga | None:
    with unit as uow:
        saga = order_of(uow, channel, order_id).saga
    return saga if saga is not None and saga.name == name else None


def check_same(order: Order, saga: Saga, name: str, key: str, action: str) -> None:
    """Refuse `action` unless `saga` is the one it would start (same name and key)."""
    if saga.name != name or saga.key != key:
        of = "" if saga.reference is None else f" for {saga.reference}"
        raise IllegalTransition(
            order.order_id,
            order.status,
            action,
            f"a {saga.name} saga is in flight{of}",
            retry=True,
        )


def check_same_parcel(
    saga: Saga, lines: tuple[ShipmentLine, ...] | None, location: str | None
) -> None:
    """Refuse a ship saga asked again for other units or another location.

    `lines` as `parcel_of` made them, `None` for the rest of the order (a
    saga that stores no lines). Their order does not matter.

    Raises:
        IdempotencyConflict: The saga ships other units, or from another
            location (its key is the shipment id).
    """
    asked = {} if lines is None else {p.line_id: p.quantity for p in lines}
    kept = {p.line_id: p.quantity for p in saga.lines}
    if asked != kept or location != saga.location:
        raise IdempotencyConflict(saga.key)


def parcel_of(lines: Iterable[ShipmentLine]) -> tuple[ShipmentLine, ...]:
    """`lines` as a parcel's: at least one, each line named once, units positive.

    Raises:
        ValidationError: `lines` is no sequence of `ShipmentLine`s, is
            empty, or names a line twice (`field` is the path:
            `lines[1].line_id`); `InvalidQuantity` for a quantity below 1.
    """
    parcel = as_tuple(lines, "lines", ShipmentLine)
    if not parcel:
        raise ValidationError(
            "lines",
            parcel,
            "must name at least one unit (None ships every unit not shipped yet)",
        )
    seen: set[str] = set()
    for i, part in enumerate(parcel):
        # A ShipmentLine refuses it; one changed behind its back must not ship.
        positive_int(f"lines[{i}].quantity")(None, None, part.quantity)
        if part.line_id in seen:
            raise ValidationError(
                f"lines[{i}].line_id",
                part.line_id,
                "names a line named before: give each line once, with all its units",
            )
        seen.add(part.line_id)
    return parcel


def check_parcel(
    order: Order, parcel: tuple[ShipmentLine, ...]
) -> tuple[ShipmentLine, ...]:
    """`parcel` in the order's line order, if the order has its units to ship.

    Units to ship are those of `unshipped_lines`: neither shipped nor
    cancelled (`Order.cancelled_units`).

    Raises:
        ValidationError: A line is not the order's, or asks for more units
            than it has not shipped (`field` is the path, `value` the id or
            the quantity).
    """
    rank = {line.line_id: i for i, line in enumerate(order.lines)}
    left = {part.line_id: part.quantity for part in unshipped_lines(order)}
    for i, part in enumerate(parcel):
        if part.line_id not in rank:
            raise ValidationError(
                f"lines[{i}].line_id",
                part.line_id,
                f"order {order.order_id!r} has no such line",
            )
        unshipped = left.get(part.line_id, 0)
        if part.quantity > unshipped:
            raise ValidationError(
                f"lines[{i}].quantity",
                part.quantity,
                f"line {part.line_id!r} of order {order.order_id!r} has "
                f"{unshipped} units neither shipped nor cancelled",
            )
    return tuple(sorted(parcel, key=lambda part: rank[part.line_id]))


def reference(saga: Saga) -> str:
    if saga.reference is None:
        raise ValidationError("saga.reference", None, f"a {saga.name} saga needs one")
    return saga.reference


def amount(saga: Saga) -> Money:
    if saga.amount is None:
        raise ValidationError("saga.amount", None, f"a {saga.name} saga needs one")
    return saga.amount


def describe(transaction: ChannelTransaction) -> str:
    verdict = "succeeded" if transaction.succeeded else "declined"
    return f"{transaction.transaction_id} {verdict}"


def reason_text(error: Exception, most: int = 500) -> str:
    """An outside's refusal as text an audit record can hold, at most `most` long.

    A gateway's message may carry a lone surrogate, which no store can hold:
    the record that ends the saga must never fail on it.
    """
    text = str(error).encode("utf-8", "backslashreplace").decode("utf-8")
    return text if len(text) <= most else f"{text[: most - 1]}\u2026"


def refusal(recorded: EventRecorded, event: OrderEvent) -> OrderkitError | None:
    """Why the order refused `event` itself, or `None` if it did not.

    `recorded.rejected` also holds the parked events `event` let through
    that the order refused (a channel parcel shipping too much): those
    leave `event`'s own step done, and `record` dropped them as ever.
    """
    for outcome in recorded.rejected:
        if outcome.event.key == event.key:
            return outcome.error
    return None


def _label(saga: Saga | None) -> str:
    return "" if saga is None else f"{saga.name}/{saga.step}"


def unshippable(order: Order) -> str | None:
    if order.status not in SHIPPABLE:
        return f"the order is {order.status}"
    if order.review:
        return "the order is held for review"
    if not unshipped_lines(order):
        return "every unit has shipped"
    return None


def _saga_record(
    old: Order, new: Order, saga: Saga, now: pendulum.DateTime, *, started: bool
) -> AuditRecord:
    what = "started" if started else "ended"
    return AuditRecord(
        order_id=new.order_id,
        version=new.version,
        from_status=old.status,
        to_status=new.status,
        event_type="SagaStarted" if started else "SagaEnded",
        key=IdempotencyKey(ACTOR, f"saga.{what}", new.order_id, saga.key),
        actor=ACTOR,
        source=ACTOR,
        occurred_at=now,
        recorded_at=now,
        changes=(FieldChange("saga", _label(old.saga), _label(new.saga)),),
    )


def started(order: Order, saga: Saga) -> tuple[Order, AuditRecord]:
    new = _with_saga(order, saga, order.version + 1)
    return new, _saga_record(order, new, saga, saga.started_at, started=True)


def ended(  # noqa: PLR0913 - the saga, its result, and what ending it changes
    order: Order,
    saga: Saga,
    result: str,
    now: pendulum.DateTime,
    then: Saga | None = None,
    *,
    review: str | None = None,
) -> tuple[Order, AuditRecord]:
    new = _with_saga(order, then, order.version + 1)
    held: tuple[FieldChange, ...] = ()
    if review is not None:
        new, held = with_review(new, review)
    record = _saga_record(order, new, saga, now, started=False)
    record = attrs.evolve(
        record,
        changes=(*record.changes, FieldChange("saga.result", "", result), *held),
    )
    return new, record


def write(uow: UnitOfWork, old: Order, new: Order, *records: AuditRecord) -> None:
    uow.orders.save(new, old.version)
    uow.audit.append(new.channel, sorted(records, key=lambda r: r.version))


def finish(  # noqa: PLR0913 - the saga, and what ending it records
    unit: UnitOfWork,
    clock: Clock,
    channel: str,
    order_id: str,
    saga: Saga,
    *,
    result: str,
    then: Callable[[UnitOfWork, Order], Saga | None] | None = None,
    review: str | None = None,
    change: Callable[[Order, pendulum.DateTime], Changed] | None = None,
) -> Order:
    """End the saga in a unit of its own; a saga ended already stays ended.

    `change` records what the saga did on the order (a capture in its
    payment ledger), `then` names the saga that follows on the order (a
    refund owed), and `review` a reason the order now waits for a person,
    all in the same unit as the end.
    """
    with unit as uow:
        order = order_of(uow, channel, order_id)
        if order.saga is None or order.saga.key != saga.key:
            return order
        now = clock.now()
        changed, records = (order, ()) if change is None else change(order, now)
        follow = None if then is None else then(uow, changed)
        new, record = ended(changed, saga, result, now, follow, review=review)
        write(uow, order, new, record, *records)
        uow.commit()
    return new


Changed = tuple[Order, tuple[AuditRecord, ...]]
"""An order changed, and the audit records of the change."""


def with_capture(order: Order, saga: Saga, now: pendulum.DateTime) -> Changed:
    """`order` with its payments captured in its payment ledger, if it keeps one.

    A host that keeps the ledger records the authorisation; the capture the
    saga made must show there too, or a refund of it is refused as beyond
    the capture and reconciliation misses it.

    Raises:
        CaptureExceedsAuthorisation: The ledger allows less than was captured.
    """
    ledger = order.payment_ledger
    if ledger is None:
        return order, ()
    recorded = record_payments(
        order,
        with_payments(ledger, order.payments),
        key=IdempotencyKey(ACTOR, "capture", order.order_id, saga.key),
        actor=ACTOR,
        source=ACTOR,
        now=now,
    )
    if isinstance(recorded, Recorded):
        return recorded.order, (recorded.record,)
    return order, ()


def check_capture(order: Order, payment_id: str, amount: Money) -> None:
    """Refuse a capture the order's payment ledger does not allow; change nothing.

    A ledger that does not keep `payment_id` allows it (the capture is
    added to it, in full, when recorded). One that keeps it allows at most
    what it authorised: a capture it shows already is the host's record of
    this one, made before asking the provider, and is not added again.

    Raises:
        CaptureExceedsAuthorisation: `amount` is more than the ledger
            authorised on `payment_id`.
    """
    ledger = order.payment_ledger
    kept = None if ledger is None else ledger.payments
    record = next((p for p in kept or () if p.payment_id == payment_id), None)
    if record is not None and amount > record.authorised:
        raise CaptureExceedsAuthorisation(
            "amount",
            amount,
            f"payment {payment_id!r} has {record.authorised} authorised in the "
            "order's payment ledger",
        )


def refund_after_capture(
    uow: UnitOfWork, order: Order, payment_id: str, now: pendulum.DateTime
) -> Saga | None:
    """The refund the desk could not start while the capture saga ran.

    `OrderDesk.record` starts a refund saga only on an order without one,
    and hands a refund owed meanwhile over to the capture saga (see
    `owe`), which starts it when it ends, declined or not: the refund of
    its own payment, captured on an order ended meanwhile (keyed by the
    version that applied the payment, whoever reported it first), or else
    the refund a cancellation made owed while it ran (keyed by the version
    that ended the order, as after a ship saga). Each is the `refund`
    outbox message already written; what the payment ledger shows refunded
    since is not sent again. When a refund owed meanwhile waits for a
    person (`review` has `"refund"`), nothing is handed over: that person
    settles what the order owes, and the machine sends none of it.
    """
    if order.status not in ENDED or REFUND in order.review:
        return None
    records = list(uow.audit.records(order.channel, order.order_id))
    # The record that applied this payment, under whichever key: the channel
    # may have reported it before the saga's own event came.
    change = f"payments[{payment_id}]"
    applied = next(
        (r for r in records if any(c.field == change for c in r.changes)), None
    )
    if applied is None or applied.from_status not in ENDED:
        # Captured before the order ended, or not at all: what ending it owes.
        return _ending_refund(order, records, now)
    payment = next(p for p in order.payments if p.payment_id == payment_id)
    owed = left_on(order, payment)
    if owed.amount <= 0:
        return None
    return Saga(
        name=REFUND,
        step=REQUESTED,
        # The version the refund became due at: its outbox message's id too.
        key=refund_key(order, applied.version),
        started_at=now,
        amount=owed,
        reference=payment_id,
    )


def refund_after_ship(
    uow: UnitOfWork, order: Order, now: pendulum.DateTime
) -> Saga | None:
    """The refund a cancellation made owed while the order's ship saga ran.

    `OrderDesk.record` leaves it to the ship saga: the cancellation's refund
    (its `refund` message is in the outbox, keyed by the version that ended
    the order) starts when the ship saga ends, in the same unit. Money
    captured after the order ended is owed by another message, which waits
    for a person (`review` has `"refund"`): then nothing is handed over,
    since the amount owed by the cancellation alone is no longer the
    order's payments.
    """
    if order.status not in ENDED or not order.payments:
        return None
    records = list(uow.audit.records(order.channel, order.order_id))
    return _ending_refund(order, records, now)


def _ending_refund(
    order: Order, records: Sequence[AuditRecord], now: pendulum.DateTime
) -> Saga | None:
    """The refund ending `order` owes, keyed by the version that ended it.

    None when nothing is owed, or when a person was given the order's
    refunds (`review` has `"refund"`: money captured after it ended, and
    owed back, came while the saga ran): that person settles the rest. A
    late capture the payment ledger shows refunded already owes nothing
    and gives the order to nobody.
    """
    end = next(
        (
            r
            for r in reversed(records)
            if r.to_status in ENDED and r.from_status not in ENDED
        ),
        None,
    )
    if end is None:
        return None
    if REFUND in order.review:
        return None
    owed = owed_back(order)
    if owed.amount <= 0:
        return None
    return Saga(
        name=REFUND,
        step=REQUESTED,
        key=refund_key(order, end.version),
        started_at=now,
        amount=owed,
        reference=refunded_payment(order, None),
        parts=owed_parts(order, owed),
    )


def stalled(order: Order, error: OrderkitError) -> Stalled:
    """The order's saga, reported as stalled: it stays for the next try."""
    saga = order.saga
    assert saga is not None  # noqa: S101 - only orders with a saga get here
    return Stalled(order.channel, order.order_id, saga, error)


def with_review(order: Order, reason: str) -> tuple[Order, tuple[FieldChange, ...]]:
    """The order waiting for a person for `reason` too, and the change to audit."""
    if reason in order.review:
        return order, ()
    review = (*order.review, reason)
    change = FieldChange("review", ", ".join(order.review), ", ".join(review))
    return attrs.evolve(order, review=review), (change,)


class SentRefund(NamedTuple):
    """A refund sent, and what the provider answered."""

    refund_id: str
    """The id it was sent under: the provider's idempotency key."""
    payment_id: str
    amount: Money
    succeeded: bool
    provider_id: str | None = None
    """The id the provider gave it, if it answered with one."""


def with_refunds(
    ledger: PaymentLedger,
    sent: Sequence[SentRefund],
    reason: str,
    now: pendulum.DateTime,
) -> PaymentLedger:
    """`ledger` with each refund requested, then settled or failed.

    Each keeps the id the provider gave it, which its statement may list it
    under, unless that id cannot tell it apart (see `_own_id`).
    """
    for refund in sent:
        ledger = ledger.request_refund(
            refund.refund_id,
            refund.payment_id,
            refund.amount,
            reason,
            now,
            provider_id=_own_id(ledger, refund),
        )
        if refund.succeeded:
            ledger = ledger.settle_refund(refund.refund_id, now)
        else:
            ledger = ledger.fail_refund(refund.refund_id, now)
    return ledger


def _own_id(ledger: PaymentLedger, refund: SentRefund) -> str | None:
    """The provider's id for `refund`, if it names this refund alone.

    The money left whatever the provider called it, so an id the ledger
    would refuse is dropped, never raised: the refund's own id adds
    nothing, and the payment's id (an adapter reporting the payment it
    refunded) or an id another refund holds would stand for more than
    this refund on a statement. A refund the ledger keeps already is
    left as it was recorded.
    """
    given = refund.provider_id
    if given is None or given in {refund.refund_id, refund.payment_id}:
        return None
    for other in ledger.refunds:
        if refund.refund_id == other.refund_id or given in {
            other.refund_id,
            other.provider_id,
        }:
            return None
    return given


def ledger_after(
    order: Order,
    sent: Sequence[SentRefund],
    reason: str,
    now: pendulum.DateTime,
) -> PaymentLedger:
    """The order's payment ledger with the refunds sent, settled or failed.

    The ledger keeps every payment of the order (an order without a ledger
    gets one, from its captured payments; a payment recorded after the
    ledger started is added): a refund sent must show in the ledger, or
    what the order still holds (`left_on`) would count it as never sent, a
    channel's refund of the same money recorded later would go unseen, and
    a refunded case must name a refund of the ledger.
    """
    ledger = order.payment_ledger
    if ledger is None:
        ledger = PaymentLedger(order.order_id, order.currency)
    return with_refunds(with_payments(ledger, order.payments), sent, reason, now)


def with_payments(ledger: PaymentLedger, payments: Iterable[Payment]) -> PaymentLedger:
    """`ledger` keeping each of `payments` (an order's) captured.

    A payment it lacks is added, authorised and captured in full; one it
    keeps with no capture (the host recorded only the authorisation) is
    captured as the order recorded it.

    Raises:
        CaptureExceedsAuthorisation: The order captured more of a payment
            than the ledger authorised.
    """
    kept = {p.payment_id: p for p in ledger.payments}
    for p in payments:
        if p.payment_id not in kept:
            ledger = ledger.authorise(p.payment_id, p.amount, p.captured_at)
        elif kept[p.payment_id].captures:
            continue
        ledger = ledger.capture(p.payment_id, p.amount, p.captured_at)
    return ledger
