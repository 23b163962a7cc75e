"""A channel's refunds in the order's payment ledger: money it sent back already.

A channel that refunds the buyer itself (Shopify's "Refund", WooCommerce's
refunds) took that money off the order's captures before orderkit could. The
desk records each such refund in the order's payment ledger, settled, under
the channel's refund id, so that what ending the order owes back (`owed_back`)
is only what the channel still holds, and a refund recorded twice (the order
payload and the refund webhook both state it) comes off once.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Final, overload

import attrs
import pendulum

from orderkit._fast import copier
from orderkit.errors import (
    CaptureExceedsAuthorisation,
    CurrencyMismatch,
    IdempotencyConflict,
    OrderMismatch,
    RefundExceedsCapture,
    UnknownPayment,
)
from orderkit.integrations import ChannelOrder, ChannelRefund
from orderkit.integrations._records import refund_payment, stated_captures
from orderkit.money import Money
from orderkit.orders import (
    AuditRecord,
    Batch,
    FieldChange,
    Order,
    OrderEvent,
    OutboxMessage,
    Payment,
    Recorded,
    Saga,
    Unchanged,
    apply_all,
    record_payments,
)
from orderkit.orders._parcels import (
    cancelled_by_line,
    shipped_by_line,
    status_once_shipped,
)
from orderkit.orders._payments import Refund, RefundLine
from orderkit.ports import UnitOfWork
from orderkit.pricing import PaymentLedger, RefundState
from orderkit.services._desk_notes import refund_correction
from orderkit.services._desk_parked_refunds import parked
from orderkit.services._saga_steps import REFUND, refund_after_ship, with_payments


_copy_order: Final = copier(Order)
# The sagas that move money: `refund`, and `capture` (`_sagas._CAPTURE`, not
# importable here: `_sagas` imports the desk). One of them may be at the
# provider with money sized before a channel's refund.
_MOVES_MONEY: Final = frozenset({REFUND, "capture"})


def moving_money(order: Order) -> Saga | None:
    """The order's saga in flight if it moves money (`refund`, `capture`), else `None`.

    A `pick` or `ship` saga moves none: a channel's refund recorded while it
    runs changes nothing it does.
    """
    saga = order.saga
    return saga if saga is not None and saga.name in _MOVES_MONEY else None


# The saga that hands an ended order's refund over when it ends and moves no
# money itself (`_sagas._SHIP`, not importable here): a channel's refund may
# be recorded while it runs, and lower what the refund it hands over sends.
_HANDS_OVER: Final = "ship"


def corrected_refund(
    uow: UnitOfWork,
    before: Order,
    after: Order,
    cause: tuple[str, str],
    now: pendulum.DateTime,
) -> OutboxMessage | None:
    """The `refund` message of what `cause` left owed, if it changed what is sent.

    A cancellation that overtook a ship saga wrote its `refund` message
    with what the order owed then; the ship saga starts the refund when it
    ends (`refund_after_ship`), sized by what the payments hold by then. A
    channel's refund, or a host's amendment of the payment ledger, recorded
    meanwhile (`before` to `after`) changes it: the corrected message
    (`refund_correction`, naming `cause`) says what the saga will send.
    `None` when it sends the same, or nothing was to go out by a saga: a
    refund sent already, or one a person settles (`review` has
    `"refund"`), which the person sizes.
    """
    saga = before.saga
    # A refund a person settles now (`"refund"`: the change left more owed
    # than a saga may send) is the person's to size: no message says it.
    if saga is None or saga.name != _HANDS_OVER or "refund" in after.review:
        return None
    # Read before `after` is stored: the records of the end are the same.
    owed = refund_after_ship(uow, before, now)
    if owed is None:
        return None
    left = refund_after_ship(uow, after, now)
    # Nothing left to send (the channel paid it all back): the message says
    # so, or a host acting on the first would pay the buyer again.
    amount = Money.zero(after.currency)
    if left is not None and left.amount is not None:
        amount = left.amount
    if owed.amount == amount:
        return None
    return refund_correction(after, owed.key, amount, cause, now)


def record_channel_refund(
    order: Order,
    refund: ChannelRefund,
    now: pendulum.DateTime,
    *,
    payments: Sequence[Payment] | None = None,
) -> Recorded | Unchanged:
    """The order with `refund` settled in its payment ledger, and the record.

    The refund comes off the payment `refund_payment` places it on, among
    `payments` (by default the order's): a payment the ledger does not
    keep yet is added to it first, captured as the order recorded it. An
    order without a ledger gets one keeping every one of `payments`, as the
    refund saga's does, so that reconciliation still expects their
    captures. Its ledger id is the channel's refund id, requested and
    settled when the channel made it, with the units it names
    (`Refund.lines`); one recorded pending under that id is settled.
    Recorded under the refund's key, by the channel. The units it names
    that no parcel carried yet are cancelled in the same record
    (`cancelled_before_shipment`); a refund recorded already cancels
    nothing more.

    A refund the ledger keeps under another id, whose provider id is the
    channel's refund id (one the desk sent through the channel's own
    payments), is the same refund.

    The channel's refund id names one refund, whose amount only grows as
    its transactions settle (Shopify's reading leaves a pending one out),
    under a key that may not change with it. Recorded again on the same
    payment for more than the ledger's settled refund of that id, whatever
    the key, it is money the channel sent back since: the refund grows to
    the new amount (`PaymentLedger.grow_refund`), recorded under a key of
    its own (`_grown`). The same or a smaller amount (an earlier reading
    delivered late) changes nothing. A refund an after-sales case names
    paid the case's amount, and one the desk sent (named by its provider
    id) what the desk sent: neither grows.

    Returns:
        `Recorded`; `Unchanged` when the ledger has the refund settled
        already, for as much or more, or its key was applied before and it
        is no more than the ledger's.

    Raises:
        OrderMismatch: The refund is for another order.
        CurrencyMismatch: The refund is in another currency than the order.
        UnknownPayment: The refund cannot be placed: the order has no
            payment, or several and it names none of them (`payment_id`).
        RefundExceedsCapture: The payment holds less than the refund, or
            than what a grown refund adds, not refunded or pending
            (`amount`).
        IdempotencyConflict: The ledger has a refund under this id for
            another payment, or one pending, failed, the desk's or a
            case's for another amount.
        RefundNotPending: The ledger has it failed.
        CaptureExceedsAuthorisation: The order's ledger keeps the payment
            with no capture and authorised less than the order captured
            (`field` is `payment_ledger`): amend the ledger with the
            capture first.
    """
    if refund.order_id != order.order_id:
        raise OrderMismatch(order.order_id, refund.order_id, "refund.order_id")
    if refund.amount.currency.code != order.currency:
        raise CurrencyMismatch("amount", refund.amount.currency.code, order.currency)
    itemised = _itemised(order, refund, now)
    if itemised is not None:
        return cancelled_before_shipment(itemised, refund.lines)
    kept = _settled(order, refund)
    # The channel keys every reading of a refund alike (Shopify): a larger
    # one under an applied key is money it sent back since.
    growing = kept is not None and refund.amount > kept.amount
    if refund.key in order.applied_keys and not growing:
        return Unchanged(order, f"key {refund.key} was applied before")
    known = order.payments if payments is None else payments
    payment = _placed(order, refund, known)
    payment_id = payment.payment_id
    ledger = order.payment_ledger
    if ledger is None:
        ledger = with_payments(PaymentLedger(order.order_id, order.currency), known)
    # The channel may name a refund the desk sent by the provider's id, when
    # the provider is the channel's own payments (Shopify Payments).
    existing = next(
        (r for r in ledger.refunds if r.refund_id == refund.refund_id),
        next((r for r in ledger.refunds if r.provider_id == refund.refund_id), None),
    )
    again = _read_again(order, ledger, kept, refund, payment_id, now=now)
    if again is not None:
        return again
    if existing is None:
        ledger = _holding(ledger, payment).request_refund(
            refund.refund_id,
            payment_id,
            refund.amount,
            _reason(refund),
            refund.created_at,
            lines=refund.lines,
        )
    elif (existing.payment_id, existing.amount) != (payment_id, refund.amount):
        raise IdempotencyConflict(f"refund:{refund.refund_id}")
    elif existing.state is RefundState.REFUNDED:
        return Unchanged(order, f"refund {refund.refund_id!r} is recorded already")
    # Settled when the channel made it; one the ledger had pending, never
    # before its request (the ledger refuses a settlement that precedes it).
    settled_at = (
        refund.created_at
        if existing is None
        else max(refund.created_at, existing.requested_at)
    )
    ledger = ledger.settle_refund(
        refund.refund_id if existing is None else existing.refund_id, settled_at
    )
    # One a host recorded pending gains the units the channel names; a
    # refund the desk sent, named by its provider id, is another id's.
    ledger = _with_units(ledger, refund)
    recorded = record_payments(
        order,
        ledger,
        key=refund.key,
        actor=refund.key.channel,
        source=refund.key.channel,
        now=now,
    )
    return cancelled_before_shipment(recorded, refund.lines)


@overload
def cancelled_before_shipment(
    recorded: Recorded, lines: Iterable[RefundLine]
) -> Recorded: ...
@overload
def cancelled_before_shipment(
    recorded: Recorded | Unchanged, lines: Iterable[RefundLine]
) -> Recorded | Unchanged: ...
def cancelled_before_shipment(
    recorded: Recorded | Unchanged, lines: Iterable[RefundLine]
) -> Recorded | Unchanged:
    """`recorded` with the refunded units no parcel carried yet cancelled.

    For each of the refund's `lines`, the units of its order line neither
    shipped nor cancelled already are cancelled (`Order.cancelled_units`),
    up to the refund line's quantity: no parcel will carry them. Units
    shipped already are a refund after shipment, and cancel nothing. The
    record names each change, `cancelled_units[<line id>]`, old to new
    quantity. A `PARTIALLY_SHIPPED` order whose last unshipped units are
    cancelled has shipped in full: it moves on to its slowest parcel's
    status in the same record. An order with no parcel keeps its status,
    even with every unit cancelled: its channel states its own
    cancellation. `Unchanged` is returned as it is: nothing was recorded.
    """
    if isinstance(recorded, Unchanged):
        return recorded
    order = recorded.order
    ordered = {line.line_id: line.quantity for line in order.lines}
    shipped = shipped_by_line(order)
    cancelled = cancelled_by_line(order)
    before = dict(cancelled)
    for part in lines:
        line_id = part.line_id
        if line_id not in ordered:
            continue
        done = shipped.get(line_id, 0) + cancelled.get(line_id, 0)
        more = min(part.quantity, ordered[line_id] - done)
        if more > 0:
            cancelled[line_id] = cancelled.get(line_id, 0) + more
    if cancelled == before:
        return recorded
    changes = tuple(
        FieldChange(
            f"cancelled_units[{line_id}]",
            str(before.get(line_id, 0)),
            str(cancelled[line_id]),
        )
        for line_id in ordered
        if cancelled.get(line_id, 0) != before.get(line_id, 0)
    )
    units = tuple(
        RefundLine(line_id, cancelled[line_id])
        for line_id in ordered
        if cancelled.get(line_id, 0)
    )
    # Judged on a copy first: cancelling the last units not shipped of a
    # partly shipped order moves its status, which `Order` then checks.
    status = status_once_shipped(_copy_order(order, cancelled_units=units))
    new = attrs.evolve(order, cancelled_units=units, status=status)
    record = attrs.evolve(
        recorded.record,
        to_status=status,
        changes=(*recorded.record.changes, *changes),
    )
    return Recorded(new, record)


def _itemised(
    order: Order, refund: ChannelRefund, now: pendulum.DateTime
) -> Recorded | None:
    """The order with the units `refund` names given to its ledger's copy without them.

    A channel's order notice may list a refund without its units
    (WooCommerce's `refunds`), under the key its refund list gives the same
    refund with them: the units are recorded all the same, under a key of
    their own (`<kind>.lines`), so that a case returning them is not paid
    again. `None` when there is nothing to add: no units named, no such
    refund, or one with units or of another amount.
    """
    ledger = order.payment_ledger
    if not refund.lines or ledger is None:
        return None
    kept = next((r for r in ledger.refunds if r.refund_id == refund.refund_id), None)
    # A pending one is settled with its units by the usual way.
    if (
        kept is None
        or kept.lines
        or kept.amount != refund.amount
        or kept.state is not RefundState.REFUNDED
    ):
        return None
    key = attrs.evolve(refund.key, event_type=f"{refund.key.event_type}.lines")
    outcome = record_payments(
        order,
        _with_units(ledger, refund),
        key=key,
        actor=key.channel,
        source=key.channel,
        now=now,
    )
    return outcome if isinstance(outcome, Recorded) else None


def _placed(order: Order, refund: ChannelRefund, known: Sequence[Payment]) -> Payment:
    """The payment among `known` that `refund` comes off (`refund_payment`).

    Raises:
        UnknownPayment: The order has no payment, or several and the refund
            names none of them.
    """
    payment_id = refund_payment(refund, tuple(p.payment_id for p in known))
    if payment_id is None:
        raise UnknownPayment(
            "payment_id",
            refund.payment_id,
            f"order {order.order_id!r} has {len(known)} payments and the refund "
            "names none of them",
        )
    return next(p for p in known if p.payment_id == payment_id)


def _read_again(  # noqa: PLR0913 - the order, its ledger, and the two refunds
    order: Order,
    ledger: PaymentLedger,
    kept: Refund | None,
    refund: ChannelRefund,
    payment_id: str,
    *,
    now: pendulum.DateTime,
) -> Recorded | Unchanged | None:
    """`refund` read again for another amount than the settled `kept` (`_settled`).

    Grown (`_grown`) when it is more; `Unchanged` when it is less (an
    earlier reading delivered late). `None` when it is no such reading:
    no refund kept, another payment, or the same amount.
    """
    if kept is None or kept.payment_id != payment_id or kept.amount == refund.amount:
        return None
    if refund.amount < kept.amount:
        return Unchanged(
            order, f"refund {refund.refund_id!r} is recorded already, for more"
        )
    return _grown(order, ledger, kept, refund, now)


def _settled(order: Order, refund: ChannelRefund) -> Refund | None:
    """The channel's refund settled in the order's ledger under its own id, if any.

    One whose amount the channel's later readings may raise: not a refund
    the desk sent (named by its provider id: the desk knows what it sent),
    nor one an after-sales case names (the case paid its own amount).
    """
    ledger = order.payment_ledger
    kept = (
        None
        if ledger is None
        else next((r for r in ledger.refunds if r.refund_id == refund.refund_id), None)
    )
    if kept is None or kept.state is not RefundState.REFUNDED:
        return None
    if any(case.refund_id == kept.refund_id for case in order.after_sales):
        return None
    return kept


def _grown(
    order: Order,
    ledger: PaymentLedger,
    kept: Refund,
    refund: ChannelRefund,
    now: pendulum.DateTime,
) -> Recorded | Unchanged:
    """The order with its settled refund `kept` grown to `refund`'s amount.

    The channel paid more back under the refund's id since it was recorded
    (a transaction of it settled): the ledger's refund grows
    (`PaymentLedger.grow_refund`), recorded under a key of its own,
    `<kind>.grown` with the amount (the channel keys every reading of the
    refund alike), so that the same reading again is `Unchanged`. Units the
    refund names are given to it when it had none, and those no parcel
    carried are cancelled; a refund that named units cancelled them already.

    Raises:
        RefundExceedsCapture: The payment holds less than the growth.
    """
    grown = ledger.grow_refund(kept.refund_id, refund.amount)
    lines = () if kept.lines else refund.lines
    grown = _with_units(grown, refund)
    key = attrs.evolve(
        refund.key,
        event_type=f"{refund.key.event_type}.grown",
        event_id=f"{refund.key.event_id}:{refund.amount.amount}",
    )
    recorded = record_payments(
        order, grown, key=key, actor=key.channel, source=key.channel, now=now
    )
    return cancelled_before_shipment(recorded, lines)


def _with_units(ledger: PaymentLedger, refund: ChannelRefund) -> PaymentLedger:
    """`ledger` with the units `refund` names given to its refund of that id."""
    refunds = tuple(
        attrs.evolve(r, lines=refund.lines)
        if r.refund_id == refund.refund_id and not r.lines
        else r
        for r in ledger.refunds
    )
    return attrs.evolve(ledger, refunds=refunds)


def with_stated(order: Order, events: Iterable[OrderEvent]) -> tuple[Payment, ...]:
    """The order's payments, then the captures `events` state that it lacks.

    A notice may state a payment the desk has not recorded yet beside a
    refund of it: the refund comes off that payment all the same.
    """
    known = {payment.payment_id for payment in order.payments}
    return (
        *order.payments,
        *(
            Payment(payment_id, amount, at)
            for payment_id, amount, at in stated_captures(events, order.currency)
            if payment_id not in known
        ),
    )


def intake_batch(
    incoming: ChannelOrder, now: pendulum.DateTime
) -> tuple[Batch, list[AuditRecord]]:
    """The intake's events applied, and every audit record it wrote, in order.

    The channel's refunds are recorded first, right after the order is
    placed and before its events, whatever its status: the ledger then has
    every refund of a paid order, and a cancellation (stated now or
    recorded later) owes back only what the channel still holds, as it
    would had the refunds come before it. The refunds come off the captures
    the order states (`ChannelOrder` checked they fit); an order that
    states none has no payment to take them from yet: they are parked in
    its trail (`ParkedChannelRefund` records, see `parked`), and the first
    capture to reach the order places them before it applies
    (`place_parked`), so that a notice stating the capture delivered late
    owes back only what the channel still holds. Units a refund names are
    cancelled before any parcel the events state
    (`cancelled_before_shipment`); a parcel carrying them ships them, and
    only the rest stays cancelled.
    """
    # Most orders state no refund: their intake reads no capture either.
    captures = (
        [
            Payment(payment_id, amount, at)
            for payment_id, amount, at in stated_captures(
                incoming.events, incoming.quote.currency.code
            )
        ]
        if incoming.refunds
        else []
    )
    if not incoming.refunds:
        batch = apply_all(None, [incoming.placed, *incoming.events], now=now)
        return batch, list(batch.records)
    placed = apply_all(None, [incoming.placed], now=now)
    assert placed.order is not None  # noqa: S101 - OrderPlaced always places
    order = placed.order
    records = list(placed.records)
    if not captures:
        # Nothing to take them from yet: parked until the capture another
        # notice states reaches the order (`place_parked`).
        order = parked(order, incoming.refunds, records, now)
    else:
        for refund in incoming.refunds:
            recorded = record_channel_refund(order, refund, now, payments=captures)
            if isinstance(recorded, Recorded):
                order = recorded.order
                records.append(recorded.record)
    rest = apply_all(order, incoming.events, now=now)
    batch = Batch(rest.order, (*placed.outcomes, *rest.outcomes), rest.parked)
    return batch, [*records, *rest.records]


def capturing(order: Order, events: Iterable[OrderEvent]) -> bool:
    """Whether `events` bring `order` a capture that places parked refunds.

    Only an order with no payment can have refunds parked (`intake_batch`,
    `OrderDesk.update`): its first capture of money in its currency places
    them (`place_parked`). One a capture left unplaced (more than it holds,
    or naming another payment) holds the order for a person under
    `"refund"`: while it waits, a capture of a payment it does not hold yet
    places them too. Any other capture reads no trail.
    """
    if order.payments and "refund" not in order.review:
        return False
    held = {payment.payment_id for payment in order.payments}
    return any(
        payment_id not in held
        for payment_id, _, _ in stated_captures(events, order.currency)
    )


def place_parked(
    order: Order,
    refunds: Sequence[ChannelRefund],
    events: Iterable[OrderEvent],
    now: pendulum.DateTime,
) -> tuple[Order, list[Recorded], list[ChannelRefund]]:
    """`order` with its parked `refunds` placed on the capture `events` state.

    Each is recorded as `record_channel_refund` records it, off the order's
    payments and the capture (`with_stated`), in the order parked, before
    the capture applies: what the capture owes back on an ended order is
    then only what the channel still holds. One recorded already (the
    notice stating the capture stated it too, or an earlier capture placed
    it) is `Unchanged`, and left out.

    A refund comes off the payment it names, or the order's only payment
    when it names none. One naming a payment the order does not hold (nor
    the capture state) is not placed on another on a guess: it may be a
    capture still to come. It stays parked until that capture arrives,
    unless the order's only payment is stated under the order's own id
    (`order-<order id>`): its notice named no transaction, so the capture
    is all the order's money, and the refund names the provider's
    transaction of it (Shopify's refunds name the parent transaction).

    Returns:
        The order with every refund placed, the `Recorded` of each, in
        order, and the refunds that could not be placed (more than the
        payment holds, on no payment of it, or naming one not recorded
        yet): a person's, since the channel says it paid them back.
    """
    payments = with_stated(order, events)
    placed: list[Recorded] = []
    unplaced: list[ChannelRefund] = []
    for refund in refunds:
        if _guessed(order, refund, payments):
            unplaced.append(refund)
            continue
        try:
            outcome = record_channel_refund(order, refund, now, payments=payments)
        except (
            CaptureExceedsAuthorisation,
            IdempotencyConflict,
            RefundExceedsCapture,
            UnknownPayment,
        ):
            unplaced.append(refund)
            continue
        if isinstance(outcome, Recorded):
            order = outcome.order
            placed.append(outcome)
    return order, placed, unplaced


def _guessed(order: Order, refund: ChannelRefund, payments: Sequence[Payment]) -> bool:
    """Whether placing parked `refund` among `payments` would guess its payment.

    It names a payment none of them is, its ledger has no refund of that
    id yet (one recorded is where the ledger put it), and the only payment
    is not the order's own (`order-<order id>`, as Shopify's notices and
    WooCommerce's naming no transaction state it): `refund_payment` would
    take the only payment, where the named one may still come.
    """
    named = refund.payment_id
    if named is None or any(p.payment_id == named for p in payments):
        return False
    ledger = order.payment_ledger
    if ledger is not None and any(
        refund.refund_id in (kept.refund_id, kept.provider_id)
        for kept in ledger.refunds
    ):
        return False
    whole = f"order-{order.order_id}"
    return not (len(payments) == 1 and payments[0].payment_id == whole)


def _holding(ledger: PaymentLedger, payment: Payment) -> PaymentLedger:
    """`ledger` keeping `payment` captured, as the order recorded it (`with_payments`).

    Raises:
        CaptureExceedsAuthorisation: The ledger keeps the payment with no
            capture and authorised less than the order captured.
    """
    kept = next(
        (p for p in ledger.payments if p.payment_id == payment.payment_id), None
    )
    if kept is not None and not kept.captures and payment.amount > kept.authorised:
        # Said of the ledger the host keeps: the refund's amount is not at fault.
        raise CaptureExceedsAuthorisation(
            "payment_ledger",
            kept.authorised,
            f"the order captured {payment.amount} of payment "
            f"{payment.payment_id!r} and its payment ledger authorised "
            f"{kept.authorised} of it, with no capture: amend the ledger with "
            "the capture, then record the refund",
        )
    return with_payments(ledger, (payment,))


def _reason(refund: ChannelRefund) -> str:
    """What the payment ledger says the refund is for."""
    said = f": {refund.reason}" if refund.reason else ""
    return f"{refund.key.channel} 退款 / refund {refund.refund_id}{said}"
