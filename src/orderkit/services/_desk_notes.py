"""What the order desk writes beside an order: audit records and outbox messages.

Every message is built from what caused it, so its id is the same however
often the change is retried: the outbox keeps one of each.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, MutableSequence, Sequence
from json.encoder import encode_basestring
from typing import Final, Literal

import attrs
import pendulum

from orderkit._fast import builder, changer, copier
from orderkit.dedupe import IdempotencyKey
from orderkit.integrations import Message
from orderkit.integrations._notices import milestone_terms
from orderkit.money import Money
from orderkit.orders import (
    AfterSalesCase,
    Applied,
    AuditRecord,
    Batch,
    Cancelled,
    CaseState,
    Closed,
    FieldChange,
    Order,
    OrderEvent,
    OutboxMessage,
    PaymentCaptured,
    Recorded,
    RefundDue,
    Rejected,
    Saga,
)
from orderkit.orders._commit import new_change
from orderkit.orders._messages import fit_id, known_order_stream, made_message
from orderkit.orders._owed import left_on, owed_back, refund_parts
from orderkit.pricing import RefundState, Violation
from orderkit.services._sellable import outbox_message


_evolve_order = copier(Order)


def reached(batch: Batch) -> tuple[Order, ...]:
    """The order as each status change of the batch left it, in order.

    Every applied event whose audit record moved the status counts, parked
    events applied behind the one recorded included: a buyer hears of each
    milestone the order passed, not only of the last.
    """
    return tuple(
        outcome.order
        for outcome in batch.outcomes
        if isinstance(outcome, Applied | RefundDue)
        and any(r.from_status is not r.to_status for r in outcome.records)
    )


def order_messages(
    passed: Sequence[Order],
    new: Order,
    refunds: Sequence[RefundDue],
    now: pendulum.DateTime,
    language: Literal["zh", "en"] = "zh",
) -> list[OutboxMessage]:
    """A milestone message per status the order passed, and refunds owed.

    `passed` is the order as each status change left it (see `reached`):
    each message says what the buyer would have heard had the events come
    one by one, under the one id of its order and status, in `language`.
    """
    stream = known_order_stream(new.channel, new.order_id)
    messages: list[OutboxMessage] = []
    for step in passed:
        # What `milestone_message` would say, encoded without building the
        # message and its key: every accepted order writes one.
        terms = milestone_terms(step, language)
        if terms is not None:
            recipient, template, params, code = terms
            message_id = fit_id(f"milestone:{stream}:{step.status}")
            # An order's stream and status, and a constant: made of checked
            # text only (see `made_message`).
            key = _new_key(step.channel, "milestone", step.order_id, code)
            body = _body(str(key), params, recipient, template)
            messages.append(made_message(message_id, stream, "milestone", body, now))
    for refund in refunds:
        payload = {
            "channel": new.channel,
            "order_id": new.order_id,
            "amount": str(refund.amount.amount),
            "currency": refund.amount.currency.code,
        }
        messages.append(
            outbox_message(
                refund_key(new, refund.order.version), stream, "refund", payload, now
            )
        )
    return messages


def milestone_body(message: Message) -> bytes:
    """A milestone message's body, as `outbox_message` would encode it.

    The buyer's message, its key as text: `{"recipient", "template",
    "params", "key"}`, the parameters a mapping. Every accepted order sends
    one, so it is written without the encoder's cost, as the encoder writes
    it: its keys sorted, its separators, and its own string escapes.
    """
    params = tuple(sorted(dict(message.params).items()))
    return _body(str(message.key), params, message.recipient, message.template)


def _body(
    key: str, params: Sequence[tuple[str, str]], recipient: str, template: str
) -> bytes:
    """`milestone_body` of a message's parts: `params` sorted, names once each."""
    said = ", ".join([f"{_quote(name)}: {_quote(value)}" for name, value in params])
    return (
        f'{{"key": {_quote(key)}, "params": {{{said}}}, '
        f'"recipient": {_quote(recipient)}, '
        f'"template": {_quote(template)}}}'
    ).encode()


# The key `milestone_message` would give, of parts the order checked.
_new_key: Final = builder(IdempotencyKey)
_quote: Final = encode_basestring


def refund_key(order: Order, version: int) -> str:
    """The one key of a refund owed since `version`: message id and provider key."""
    return _refund_id(
        f"refund:{known_order_stream(order.channel, order.order_id)}:{version}"
    )


def refund_correction(
    order: Order,
    replaces: str,
    amount: Money,
    cause: tuple[str, str],
    now: pendulum.DateTime,
) -> OutboxMessage:
    """The `refund` message saying a refund not sent yet owes `amount` now.

    `replaces` is the refund's key: the id of the `refund` message written
    when it fell due, which the saga sending it uses as the provider's key.
    `cause` is what lowered it, as `(field, id)`: `("channel_refund", the
    channel's refund id)`, or `("amendment", the payment ledger
    amendment's key)`. The message id is made of `replaces` and that id, so
    recording the same again writes nothing new, and each later change has
    its own. On the order's stream, so a consumer gets it after the message
    it replaces; the last one it got for `replaces` states what the saga
    sends (`"0.00"`: nothing).
    """
    field, cause_id = cause
    payload = {
        "channel": order.channel,
        "order_id": order.order_id,
        "amount": str(amount.amount),
        "currency": amount.currency.code,
        "replaces": replaces,
        field: cause_id,
    }
    stream = known_order_stream(order.channel, order.order_id)
    message_id = fit_id(f"{replaces}:corrected:{cause_id}")
    return outbox_message(message_id, stream, "refund", payload, now)


def refund_saga(order: Order, refund: RefundDue, now: pendulum.DateTime) -> Saga:
    """The saga that sends a refund owed back to the payments it came from.

    Money captured on an ended order goes back to that payment; an ended
    order's captures go back to each payment in turn (`Refunds` splits the
    amount), starting from the first that still holds any.
    """
    if isinstance(refund.event, PaymentCaptured):
        parts: tuple[tuple[str, Money], ...] = ()
    else:
        parts = owed_parts(order, refund.amount)
    return Saga(
        name="refund",
        step="requested",
        key=refund_key(order, refund.order.version),
        started_at=now,
        amount=refund.amount,
        reference=refunded_payment(order, refund.event),
        parts=parts,
    )


def owed_parts(order: Order, amount: Money) -> tuple[tuple[str, Money], ...]:
    """What ending `order` owes, split over its payments as they stand now.

    Fixed on the saga when it starts, so that a payment recorded later (it
    owes its own refund) never changes where this one goes.
    """
    first = refunded_payment(order, None)
    return () if first is None else refund_parts(order, first, amount)


def refunded_payment(order: Order, event: OrderEvent | None) -> str | None:
    """The payment a refund owed because of `event` goes back to first.

    Money captured on an ended order (`event` a `PaymentCaptured`) goes back
    to that payment; what ending the order owes, to the first payment that
    still holds any.
    """
    if isinstance(event, PaymentCaptured):
        return event.payment_id
    holding = (p for p in order.payments if left_on(order, p).amount > 0)
    first = next(holding, None)
    return None if first is None else first.payment_id


def owe(order: Order, refund: RefundDue, now: pendulum.DateTime) -> Order:
    """The order with the refund it owes on its way: a saga, or a person.

    A refund is owed exactly once, by one saga (see `Refunds`): one starts
    here when no saga is in flight. A saga in flight hands over to the
    refund when it ends (see `handed_over`): a capture saga, the refund of
    its own payment captured on an order ended meanwhile or the refund of a
    cancellation made while it ran; a ship saga, the refund of a
    cancellation that overtook it (the parcel cannot be recorded shipped on
    a cancelled order, so the money goes back once the carrier's side is
    settled). Anything else (money captured again on an order whose refund
    is already on its way) waits for a person: `review` gains `"refund"`,
    which the monitor's stuck orders report.
    """
    saga = order.saga
    if saga is None:
        return _evolve_order(order, saga=refund_saga(order, refund, now))
    if handed_over(order, saga, refund):
        return order
    if "refund" in order.review:
        return order
    return _evolve_order(order, review=(*order.review, "refund"))


def handed_over(order: Order, saga: Saga, refund: RefundDue) -> bool:
    """Whether the saga in flight on `order` starts `refund` when it ends.

    A cancellation's refund waits for a capture or ship saga. A capture
    saga's own payment, captured on an order ended meanwhile, waits for it
    too when it is all the order owes; when the cancellation owed more, the
    saga would end with two refunds and one saga to send them, so this one
    is a person's (and with it the rest: see `refund_after_capture`).
    """
    if isinstance(refund.event, Cancelled | Closed):
        return saga.name in {"capture", "ship"}
    return (
        saga.name == "capture"
        and isinstance(refund.event, PaymentCaptured)
        and refund.event.payment_id == saga.reference
        and owed_back(order) <= refund.amount
    )


def case_refund_key(order: Order, case: AfterSalesCase) -> str:
    """The one key of an after-sales case's refund: message id and provider key."""
    stream = known_order_stream(order.channel, order.order_id)
    return _refund_id(f"refund:{stream}:case:{case.case_id}")


_MAX_REFUND_KEY: Final = 255 - len("/999999")


def _refund_id(key: str) -> str:
    # Room for the `/<n>` a refund split over payments adds to its parts' keys.
    return fit_id(key, _MAX_REFUND_KEY)


def case_refund_reason(case: AfterSalesCase) -> str:
    """What the provider and the payment ledger are told the refund is for."""
    return f"售后 / after-sales case {case.case_id}: {case.reason}"


def just_passed(order: Order, case: AfterSalesCase) -> bool:
    """Whether recording `case` on `order` records its passed inspection."""
    if case.state is not CaseState.INSPECTED or not case.inspection_passed:
        return False
    before = next((c for c in order.after_sales if c.case_id == case.case_id), None)
    return before is None or before.state is not CaseState.INSPECTED


def case_owed(order: Order) -> AfterSalesCase | None:
    """The first case of the order whose passed inspection waits for its refund.

    A case is owed its refund from its passed inspection until its refund is
    in the order's payment ledger, sent or failed: a refund the provider
    declined is a person's to settle, never sent again under a new key. A
    case returning units of a line paid back twice (`lines_paid_twice`) is
    never owed: a person settles it.
    """
    return next(cases_owed(order), None)


def cases_owed(order: Order) -> Iterator[AfterSalesCase]:
    """The cases of the order whose passed inspection waits for its refund.

    In the order's order; see `case_owed` for what a case is owed.
    """
    ledger = order.payment_ledger
    sent = set() if ledger is None else {r.refund_id for r in ledger.refunds}
    twice = lines_paid_twice(order)
    for case in order.after_sales:
        if case.state is not CaseState.INSPECTED or not case.inspection_passed:
            continue
        if case_refund_key(order, case) not in sent and not returns(case, twice):
            yield case


@attrs.frozen
class _PaidBack:
    """What paid a line's units back: units, the channel's refunds, the cases."""

    units: int
    refunds: tuple[str, ...]
    cases: tuple[str, ...] = ()


def _paid_back(order: Order) -> dict[str, _PaidBack]:
    """By line, what the channel's refunds naming units and the passed cases paid back.

    Only the lines a channel's refund names units of. Failed refunds pay
    nothing back: the channel's, and a case's whose refund the ledger has
    failed.
    """
    ledger = order.payment_ledger
    paid: dict[str, _PaidBack] = {}
    for refund in () if ledger is None else ledger.refunds:
        if refund.state is not RefundState.FAILED:
            for units in refund.lines:
                was = paid.get(units.line_id, _PaidBack(0, ()))
                paid[units.line_id] = _PaidBack(
                    was.units + units.quantity, (*was.refunds, refund.refund_id)
                )
    if ledger is None or not paid:
        return paid
    failed = {r.refund_id for r in ledger.refunds if r.state is RefundState.FAILED}
    for case in order.after_sales:
        refund_id = case.refund_id or case_refund_key(order, case)
        if not case.inspection_passed or refund_id in failed:
            continue
        for line in case.lines:
            if line.line_id in paid:
                was = paid[line.line_id]
                paid[line.line_id] = attrs.evolve(
                    was,
                    units=was.units + line.quantity,
                    cases=(*was.cases, case.case_id),
                )
    return paid


def lines_paid_twice(order: Order) -> frozenset[str]:
    """The order's lines paid back for more units than were bought.

    A channel's refund may name the units it pays back (`Refund.lines`), and
    a case that passed inspection pays back the units it returns. On a line
    the channel refunded, the two together pay back at most the units
    bought; past it, the buyer has their money twice for some unit (the
    channel refunded a unit, then the warehouse took it back through a
    case, or the other way round), whichever case came first.
    """
    bought = {line.line_id: line.quantity for line in order.lines}
    return frozenset(
        line_id
        for line_id, paid in _paid_back(order).items()
        if paid.units > bought.get(line_id, 0)
    )


def paid_twice_once_passed(order: Order, case: AfterSalesCase) -> frozenset[str]:
    """`lines_paid_twice` of `order` once `case`, recorded with it, has passed.

    Whether a case will owe its refund is known before its inspection: a
    case returning units of these lines owes nothing once it passes (a
    person settles it), whatever it asks.
    """
    passed = attrs.evolve(case, inspection_passed=True)
    others = [c for c in order.after_sales if c.case_id != case.case_id]
    return lines_paid_twice(_evolve_order(order, after_sales=(*others, passed)))


def returns(case: AfterSalesCase, lines: frozenset[str]) -> bool:
    """Whether `case` returns units of any of `lines`."""
    return any(line.line_id in lines for line in case.lines)


def held_as_paid_twice(
    order: Order, lines: Iterable[str], now: pendulum.DateTime
) -> tuple[Order, AuditRecord]:
    """The order waiting for a person (`"refund"`) about `lines`, and its record.

    The record names, for each line, what paid it back: the person sends
    what is still owed, if anything, or records a case refunded by the
    channel's refund (`refund_case` with its refund id). An order waiting
    for `"refund"` already keeps its review, and the record says it all
    the same.
    """
    bought = {line.line_id: line.quantity for line in order.lines}
    paid = _paid_back(order)
    said = [
        FieldChange(
            "after_sales",
            "",
            f"line {line_id} is paid back for {paid[line_id].units} units of "
            f"{bought.get(line_id, 0)} bought (the channel's refunds "
            f"{', '.join(paid[line_id].refunds)}; cases "
            f"{', '.join(paid[line_id].cases) or 'none'}): a person checks the "
            "buyer is not refunded twice",
        )
        for line_id in sorted(lines)
    ]
    return held_telling(order, "refund", said, now)


def case_refund_failed(before: Order, after: Order) -> AfterSalesCase | None:
    """The first case recorded refunded whose refund failed from `before` to `after`.

    A refunded case keeps its history, so it never owes its refund again
    (see `case_owed`): the money its failed refund did not pay back is a
    person's to send.
    """
    ledger = after.payment_ledger
    if ledger is None:
        return None
    kept = () if before.payment_ledger is None else before.payment_ledger.refunds
    failed_before = {r.refund_id for r in kept if r.state is RefundState.FAILED}
    failed = {
        r.refund_id
        for r in ledger.refunds
        if r.state is RefundState.FAILED and r.refund_id not in failed_before
    }
    return next((c for c in after.after_sales if c.refund_id in failed), None)


def case_refund_saga(
    order: Order, case: AfterSalesCase, now: pendulum.DateTime
) -> Saga:
    """The saga that sends a case's refund back to the payment it names."""
    return Saga(
        name="refund",
        step="requested",
        key=case_refund_key(order, case),
        started_at=now,
        amount=case.refund_amount,
        reference=case.payment_id,
    )


def owe_case(
    recorded: Recorded, case: AfterSalesCase, now: pendulum.DateTime
) -> Recorded:
    """The case just recorded with its refund on its way, when no saga is in flight.

    The saga starts in the same version as the case, and its record says
    so; with another saga in flight, `Refunds.send_due` starts it later.
    """
    if recorded.order.saga is not None:
        return recorded
    saga = case_refund_saga(recorded.order, case, now)
    change = FieldChange("saga", "", f"{saga.name}/{saga.step}")
    record = recorded.record
    return Recorded(
        _evolve_order(recorded.order, saga=saga),
        attrs.evolve(record, changes=(*record.changes, change)),
    )


def case_refund_message(
    order: Order, case: AfterSalesCase, now: pendulum.DateTime
) -> OutboxMessage:
    """The `refund` message of a case's passed inspection, under the saga's key."""
    payload = {
        "channel": order.channel,
        "order_id": order.order_id,
        "case_id": case.case_id,
        "amount": str(case.refund_amount.amount),
        "currency": case.refund_amount.currency.code,
    }
    stream = known_order_stream(order.channel, order.order_id)
    return outbox_message(case_refund_key(order, case), stream, "refund", payload, now)


def pricing_warning_record(
    order: Order, now: pendulum.DateTime, warnings: Sequence[Violation]
) -> AuditRecord:
    """The audit record of a difference the pricing policy accepted.

    `TotalsPolicy.ACCEPT_CHANNEL` takes the channel's total and records a
    reconciliation warning: this is that record, one change per warning,
    from what orderkit computed to what the channel stated.
    """
    changes = tuple(
        FieldChange(w.path, str(w.expected or ""), str(w.actual or ""))
        for w in warnings
    )
    return _desk_record(order, now, "PricingWarning", "pricing", changes)


def review_record(
    order: Order,
    now: pendulum.DateTime,
    review: tuple[str, ...],
    *,
    before: tuple[str, ...] = (),
) -> AuditRecord:
    """The audit record of holding an order for review.

    Its change goes from the reasons the order waited for `before` (none
    for an order held as it is taken in) to `review`.
    """
    change = FieldChange("review", ", ".join(before), ", ".join(review))
    return _desk_record(order, now, "HeldForReview", "review", (change,))


def held_for(
    order: Order, reason: str, now: pendulum.DateTime, *said: FieldChange
) -> tuple[Order, AuditRecord]:
    """The order waiting for a person for one more `reason`, and its audit record.

    The record's changes are the review's, then `said`: what the person is
    to act on (the tasks to void, the events refused).
    """
    review = (*order.review, reason)
    held = _evolve_order(order, review=review, version=order.version + 1)
    record = review_record(held, now, review, before=order.review)
    if said:
        record = attrs.evolve(record, changes=(*record.changes, *said))
    return held, record


def held_for_payments(
    order: Order, said: Sequence[FieldChange], now: pendulum.DateTime
) -> tuple[Order, AuditRecord]:
    """The order waiting for a person about payments it refused, and its record.

    `said` names each payment (`refused_payment`). An order waiting for
    `"payment"` already keeps its review: the record names the payments
    the person is to look at as well.
    """
    return held_telling(order, "payment", said, now)


def held_telling(
    order: Order, reason: str, said: Sequence[FieldChange], now: pendulum.DateTime
) -> tuple[Order, AuditRecord]:
    """The order held for `reason` (or kept waiting), and a record telling `said`."""
    if reason not in order.review:
        return held_for(order, reason, now, *said)
    held = _evolve_order(order, version=order.version + 1)
    return held, _desk_record(held, now, "HeldForReview", "review", tuple(said))


def refused_payment(rejected: Rejected) -> FieldChange:
    """The change naming a payment the order refused: its id, amount and why.

    The same payment refused for the same reason is named alike, wherever
    it came from (the intake's notice, a later one), so that a trail
    holding the change says a person was told of it already.
    """
    event = rejected.event
    assert isinstance(event, PaymentCaptured)  # noqa: S101 - only payments
    said = f"PaymentCaptured {event.payment_id} {event.amount}: {rejected.error}"
    return FieldChange("payment", "", said)


def refused_events(rejected: Iterable[Rejected]) -> str:
    """What a person is told of events the order refused: each, and why."""
    said = "; ".join(f"{type(r.event).__name__}: {r.error}" for r in rejected)
    return f"拒收的事件 / events refused: {said}"


def withdrawn_record(
    order: Order, now: pendulum.DateTime, before: tuple[str, ...]
) -> AuditRecord:
    """The audit record of the reasons an ended order no longer waits for."""
    change = FieldChange("review", ", ".join(before), ", ".join(order.review))
    return _desk_record(order, now, "ReviewWithdrawn", "withdrawn", (change,))


def _desk_record(
    order: Order,
    now: pendulum.DateTime,
    event_type: str,
    kind: str,
    changes: tuple[FieldChange, ...],
) -> AuditRecord:
    """A record the desk itself writes at the order's version, keyed by it."""
    return AuditRecord(
        order_id=order.order_id,
        version=order.version,
        from_status=order.status,
        to_status=order.status,
        event_type=event_type,
        key=IdempotencyKey("orderkit", kind, order.order_id, str(order.version)),
        actor="orderkit",
        source="orderkit",
        occurred_at=now,
        recorded_at=now,
        changes=changes,
    )


def parked_record(
    order: Order, event: OrderEvent, now: pendulum.DateTime
) -> AuditRecord:
    """The audit record of parking an early event with the order."""
    return AuditRecord(
        order_id=order.order_id,
        version=order.version,
        from_status=order.status,
        to_status=order.status,
        event_type=f"Parked{type(event).__name__}",
        key=event.key,
        actor=event.actor,
        source=event.source,
        occurred_at=event.occurred_at,
        recorded_at=now,
        changes=(FieldChange("parked", "", type(event).__name__),),
    )


_PLACED: Final = "OrderPlaced"
_with_changes: Final = changer(AuditRecord, "changes")


def state_on_placed(
    records: MutableSequence[AuditRecord], field: str, new: str
) -> None:
    """Add the change `field` to `new` to intake's `OrderPlaced` record in `records`.

    What the order does not keep and the desk reads back later (the total
    it was taken in at, when the channel last changed it).
    """
    for i, record in enumerate(records):
        if record.event_type == _PLACED:
            # On every order taken in: built and copied without running a
            # validator again (the desk's own field names, printable text;
            # the record is checked already).
            change = new_change(field, "", new)
            records[i] = _with_changes(record, (*record.changes, change))
            return
