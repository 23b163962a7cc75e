"""Refunds owed by the order desk, sent as sagas: cancellations and after-sales.

Two things make money owed back, and both go out the same way, through one
`refund` saga per refund, keyed once for the outbox message and the
payment provider:

- a cancellation or close after a capture (`RefundDue`): the desk starts the
  saga when it records the event, or the capture or ship saga in flight
  hands over to it when it ends;
- an after-sales case whose inspection passed: the desk starts the saga when
  it records the case, or `Refunds.send_due` does once the saga in flight
  on the order has ended. A refunded case is recorded `REFUNDED`, with its
  refund in the order's payment ledger.
"""

from __future__ import annotations

from typing import Final, final

import attrs
import pendulum

from orderkit._validate import positive_int
from orderkit.dedupe import IdempotencyKey
from orderkit.errors import ConcurrencyConflict, OrderkitError, RefundExceedsCapture
from orderkit.integrations import ChannelTransaction, TransactionKind
from orderkit.money import Money
from orderkit.orders import (
    AfterSalesCase,
    AuditRecord,
    CaseState,
    FieldChange,
    Order,
    Recorded,
    Saga,
    record_case,
    record_payments,
    refund_case,
)
from orderkit.ports import Clock, Payments, UnitOfWork
from orderkit.services import _saga_steps as steps
from orderkit.services._desk_notes import (
    case_owed,
    case_refund_key,
    case_refund_reason,
    case_refund_saga,
    held_for,
)
from orderkit.services._saga_outcomes import RefundDeclined, Refunded, Stalled


__all__ = ["Refunds"]


@final
class Refunds:
    """Send the refunds the order desk found owed, as sagas.

    The desk starts a `refund` saga on an order when money was captured
    for it and it was cancelled or closed (`RefundDue`), and when one of
    its after-sales cases passed inspection, each with a `refund` outbox
    message under the saga's key. `send_due` sends each one to the provider
    under that key, then records it on the order (the refund requested and
    settled in the order's payment ledger under that key, keeping the id
    the provider answered with as its `provider_id`, which the provider's
    statement may list it under (not one that is the key itself, the
    payment's id, or another refund's id); a ledger made for an order without one,
    a payment it lacks added first; for a case, the case `REFUNDED` unless
    a person settled it otherwise while the refund was at the provider,
    which leaves the order to a person) and ends the saga.
    What ending an order owes goes back to each payment that holds some of
    it, one refund per payment: the first under the saga's key, the others
    under the key and their number (`<key>/2`, ...).
    A refund the provider declines or refuses is left to a person: the
    order's `review` gains `"refund"`. One not sent now (a failure to retry,
    an open circuit breaker) stays owed, its saga in flight.

    Args:
        unit: The backend's unit of work.
        clock: Where the time comes from.
        payments: The payment provider.

    .. versionadded:: 0.1.0
    """

    def __init__(self, unit: UnitOfWork, clock: Clock, payments: Payments) -> None:
        """Refund through `payments`."""
        self._unit = unit
        self._clock = clock
        self._payments = payments

    def send_due(
        self, *, limit: int = 100
    ) -> tuple[Refunded | RefundDeclined | Stalled, ...]:
        """Send the refunds owed, at most `limit`, by channel and order id.

        A refund saga in flight is resumed; an after-sales case that passed
        inspection while another saga was in flight gets its saga started
        here, and an order with several cases owed has them sent one after
        the other. A refund that fails is reported as `Stalled` and stays
        owed; the others go on.

        Returns:
            What happened to each refund, by channel and order id.

        Raises:
            InvalidQuantity: `limit` is not a positive integer; nothing
                was sent.
        """
        positive_int("limit")(None, None, limit)
        due = [order for order in steps.scan_waiting(self._unit) if _owes(order)]
        outcomes: list[Refunded | RefundDeclined | Stalled] = []
        for order in due:
            # Each round sends one refund; an order owes at most one per case
            # and one for its cancellation.
            for _ in range(len(order.after_sales) + 1):
                if len(outcomes) >= limit:
                    return tuple(outcomes)
                outcome = self._send_next(order.channel, order.order_id)
                if outcome is None:
                    break
                outcomes.append(outcome)
                if isinstance(outcome, Stalled):
                    break
        return tuple(outcomes)

    def resume(self, channel: str, order_id: str) -> Refunded | RefundDeclined | None:
        """Send the order's refund owed; `None` if no refund saga is in flight.

        A case's refund whose case was settled otherwise meanwhile (refunded
        under another refund id, or resolved) is not sent: its saga ends,
        the order waits for a person (`review` gains `"refund"`: an earlier
        attempt whose reply was lost may have paid the buyer already), and
        this returns `None`. One settled otherwise while the refund was
        at the provider was sent all the same: it is recorded in the order's
        payment ledger (the money left), the case stays as the person
        recorded it, and the saga ends with the order waiting for a person
        (`review` gains `"refund"`), its result saying the refund was sent
        and how the case was settled. An ended order's refund that its
        payment ledger refuses once sent (a host amended the ledger while
        the refund was at the provider) ends its saga all the same, the
        order waiting for a person (`review` gains `"refund"`), its result
        saying what was sent and why the ledger does not show it.

        Another process may end the saga while this call's refund is at the
        provider: by sending and recording it itself (the provider answers
        both under the same key), which leaves nothing to do, or without
        sending (it found the case settled otherwise, or the ledger
        refusing the amount) while this call's refund went through. The
        money left, so what this call sent and the ledger lacks is then
        recorded in the order's payment ledger if the ledger allows it
        (never twice: a refund is known by its id), in one unit with a
        `RefundSentLate` audit record saying what was sent and whether the
        ledger shows it. The order waits for a person either way (`review`
        gains `"refund"`): the saga ended on the word that nothing was
        sent. The result is the provider's, with the order as stored.

        Raises:
            UnknownOrder: The desk has no such order.
            ValidationError: The saga names no payment or amount.
            UnknownPayment: A case names a payment the order does not have;
                nothing was sent.
            RefundExceedsCapture: The order's payment ledger does not allow
                the amount; nothing was sent. A case's refund stays owed (the
                saga stays, reported `Stalled`) and the order waits for a
                person (`review` gains `"refund"`); an ended order's saga ends and
                the order waits for a person (`review` gains `"refund"`), since
                the ledger changed after the refund fell due (its result
                says an earlier attempt may have reached the provider).
            TransientError: The provider failed or timed out, or its circuit
                breaker is open (`CircuitOpen`): the saga stays.
            ConcurrencyConflict: Other writes kept changing the order
                while this call recorded what it sent, three times over, or
                the database reported a conflict (a deadlock: raised at
                once). A saga still in flight stays (a retry sends under
                the same keys and records it); one ended meanwhile has the
                order waiting for a person (the process that ended it held
                it), and what this call sent is not recorded: `recover`
                does not send it again, so the person checks the provider.
        """
        saga = steps.in_flight(self._unit, channel, order_id, steps.REFUND)
        if saga is None:
            return None
        with self._unit as uow:
            order = steps.order_of(uow, channel, order_id)
        case = _case_of(order, saga)
        if case is not None and case.state is not CaseState.INSPECTED:
            # Nothing says whether an earlier attempt reached the provider
            # (its reply lost): a person checks the buyer is not paid twice.
            result = (
                f"not sent now: case {case.case_id} is {case.state}; an earlier "
                f"attempt under {saga.key} may have reached the provider"
            )
            steps.finish(
                self._unit,
                self._clock,
                channel,
                order_id,
                saga,
                result=result,
                review=steps.REFUND,
            )
            return None
        reason = _reason(order, case)
        parts = _parts(saga, case)
        # Check the ledger first, as the Payments contract asks: an amount
        # it refuses is never sent.
        try:
            steps.ledger_after(order, _sent(parts, None), reason, self._clock.now())
        except RefundExceedsCapture as refused:
            if case is None:
                # Refunded by other means since the order ended (a host's
                # ledger amendment): the same refund would be refused for
                # ever, and sending less is a person's call.
                steps.finish(
                    self._unit,
                    self._clock,
                    channel,
                    order_id,
                    saga,
                    result=(
                        f"not sent now: {steps.reason_text(refused)}; an earlier "
                        f"attempt under {saga.key} may have reached the provider"
                    ),
                    review=steps.REFUND,
                )
            else:
                self._held(channel, order_id)
            raise
        # Every part, whatever became of the others: the payments are
        # independent, and a declined one is left to a person on its own.
        sent = [self._send(order, part, reason) for part in parts]
        transactions = [transaction for transaction, _ in sent]
        result = "; ".join(
            steps.describe(t) + (f" ({why})" if why else "") for t, why in sent
        )
        done = _sent(parts, sent)
        recorded = self._record(
            channel, order_id, saga, case, reason=reason, sent=done, result=result
        )
        return _outcome(recorded, transactions)

    def _held(self, channel: str, order_id: str) -> None:
        """Put the order in a person's hands (`review` gains `"refund"`).

        A case's refund the ledger refuses stays owed, its saga in flight
        (which also bars the channel's refunds and other sagas), until a
        person changes the ledger or the case: they look at `review`.
        """
        with self._unit as uow:
            order = steps.order_of(uow, channel, order_id)
            if steps.REFUND in order.review:
                return
            held, record = held_for(order, steps.REFUND, self._clock.now())
            steps.write(uow, order, held, record)
            uow.commit()

    def _record(  # noqa: PLR0913 - the saga, and what was sent under it
        self,
        channel: str,
        order_id: str,
        saga: Saga,
        case: AfterSalesCase | None,
        *,
        reason: str,
        sent: list[steps.SentRefund],
        result: str,
    ) -> Order:
        """Record what was sent under `saga`, and end it; the order as stored.

        The refunds left the moment the provider took them: a conflict with
        another write is read again here rather than raised, since a saga
        another process ended meanwhile leaves nothing to retry them.
        """
        for _ in range(_TRIES):
            try:
                with self._unit as uow:
                    order = steps.order_of(uow, channel, order_id)
                    now = self._clock.now()
                    if order.saga is not None and order.saga.key == saga.key:
                        new = _end(
                            uow,
                            order,
                            saga,
                            case,
                            reason=reason,
                            sent=sent,
                            result=result,
                            now=now,
                        )
                    else:
                        # Another process ended the saga meanwhile: by its own
                        # send, which recorded these refunds, or without
                        # sending (the case settled, the ledger refusing)
                        # while this call's went through.
                        late = _late(order, saga, reason, sent, result=result, now=now)
                        if late is None:
                            return order
                        new, records = late
                        steps.write(uow, order, new, *records)
                    uow.commit()
                    return new
            except ConcurrencyConflict as conflict:
                # A conflict the driver reported (a deadlock) is no lost
                # race: reading again would only meet it again.
                if conflict.__cause__ is not None:
                    raise
        raise ConcurrencyConflict(f"order:{channel}:{order_id}")

    def _send(
        self, order: Order, part: _Part, reason: str
    ) -> tuple[ChannelTransaction, str]:
        """One part sent, and why the provider refused it ("" if it did not).

        A refusal (not a failure to retry) is a declined part. The parts
        sent before it were sent all the same: they must be recorded, so a
        refusal cannot be let out with them unrecorded. A failure to retry
        (a `TransientError`, an open circuit breaker: `steps.RETRY_LATER`)
        is: the retry sends every part again, under the same keys, which
        the provider answers with what it did.
        """
        refund_id, payment, amount = part
        try:
            sent = self._payments.refund(payment, amount, key=refund_id, reason=reason)
        except steps.RETRY_LATER:
            raise
        except OrderkitError as error:
            # The person who settles it reads the provider's reason in the
            # saga's result.
            return ChannelTransaction(
                transaction_id=refund_id,
                order_id=order.order_id,
                key=IdempotencyKey("orderkit", "refund", order.order_id, refund_id),
                kind=TransactionKind.REFUND,
                amount=amount,
                succeeded=False,
                created_at=self._clock.now(),
                parent_id=payment,
            ), steps.reason_text(error)
        return sent, ""

    def _send_next(
        self, channel: str, order_id: str
    ) -> Refunded | RefundDeclined | Stalled | None:
        """Start the order's next refund saga if none runs, and send it."""
        now = self._clock.now()
        with self._unit as uow:
            order = steps.order_of(uow, channel, order_id)
        saga = _next_saga(order, now)
        if saga is None:
            return None
        try:
            if order.saga is None:
                with self._unit as uow:
                    # Started against the version read: a change in between
                    # raises ConcurrencyConflict, and the next call retries.
                    steps.write(uow, order, *steps.started(order, saga))
                    uow.commit()
            return self.resume(channel, order_id)
        except OrderkitError as error:
            return Stalled(channel, order_id, saga, error)


# ----------------------------------------------------------------------
# Helpers


def _owes(order: Order) -> bool:
    """Whether the order has a refund saga in flight, or a case owed one."""
    if order.saga is not None:
        return order.saga.name == steps.REFUND
    return case_owed(order) is not None


def _next_saga(order: Order, now: pendulum.DateTime) -> Saga | None:
    """The refund saga to send next: the one in flight, or an owed case's."""
    if order.saga is not None:
        return order.saga if order.saga.name == steps.REFUND else None
    case = case_owed(order)
    return None if case is None else case_refund_saga(order, case, now)


def _case_of(order: Order, saga: Saga) -> AfterSalesCase | None:
    """The after-sales case a refund saga pays, or `None` for a cancellation's."""
    return next(
        (c for c in order.after_sales if case_refund_key(order, c) == saga.key),
        None,
    )


def _settled_otherwise(case: AfterSalesCase | None) -> str | None:
    """Why a case's refund no longer pays it, or `None` while it is owed.

    A case waits for its refund from its passed inspection until it is
    recorded `REFUNDED`: anything else was settled without this refund.
    """
    if case is None or (case.state is CaseState.INSPECTED and case.inspection_passed):
        return None
    under = "" if case.refund_id is None else f" under {case.refund_id}"
    return (
        f"sent while case {case.case_id} was {case.state}{under} by other "
        "means: a person checks the buyer is not refunded twice"
    )


def _reason(order: Order, case: AfterSalesCase | None) -> str:
    if case is not None:
        return case_refund_reason(case)
    return order.cancel_reason or "refund owed"


_Part = tuple[str, str, Money]
"""One refund sent for a saga: its refund id (the provider's key), payment, amount."""


def _parts(saga: Saga, case: AfterSalesCase | None) -> list[_Part]:
    """The refunds a saga sends: one per payment its amount goes back to.

    A case's refund goes back to the payment it names. What an ended order
    owes goes back to the payments the saga fixed when it started (its
    `parts`), each its share; the first part is keyed by the saga's key, the
    others by the key and their number. A saga without parts sends all of
    its amount to its payment.

    Raises:
        ValidationError: The saga names no payment or amount.
    """
    payment_id, amount = steps.reference(saga), steps.amount(saga)
    if case is not None or not saga.parts:
        return [(saga.key, payment_id, amount)]
    return [
        (saga.key if n == 0 else f"{saga.key}/{n + 1}", part_payment, part_amount)
        for n, (part_payment, part_amount) in enumerate(saga.parts)
    ]


def _sent(
    parts: list[_Part], answers: list[tuple[ChannelTransaction, str]] | None
) -> list[steps.SentRefund]:
    """The parts sent, as the provider answered (`_send`); all succeeded with `None`.

    Each keeps the id the provider gave it: its statement may list the refund
    under that id. A part it refused by raising got no id from it.
    """
    if answers is None:
        return [steps.SentRefund(*part, succeeded=True) for part in parts]
    return [
        steps.SentRefund(
            *part,
            succeeded=transaction.succeeded,
            provider_id=None if why else transaction.transaction_id,
        )
        for part, (transaction, why) in zip(parts, answers, strict=True)
    ]


def _recorded(  # noqa: PLR0913 - the refund, and what the provider said
    order: Order,
    saga: Saga,
    case: AfterSalesCase | None,
    reason: str,
    *,
    sent: list[steps.SentRefund],
    now: pendulum.DateTime,
) -> tuple[Order, list[AuditRecord]]:
    """The order with the refund in its ledger and its case, and their records.

    The refund is always written into the ledger (the provider was asked
    under the saga's key); a case is recorded `REFUNDED` by it only while it
    still waits for it, with every part succeeded.
    """
    new, records = order, []
    # Whatever became of the case, the ledger shows what the provider did
    # under the saga's key.
    recorded = record_payments(
        order,
        steps.ledger_after(order, sent, reason, now),
        key=IdempotencyKey(steps.ACTOR, "refund", order.order_id, saga.key),
        actor=steps.ACTOR,
        source=steps.ACTOR,
        now=now,
    )
    if isinstance(recorded, Recorded):
        new = recorded.order
        records.append(recorded.record)
    owed = _settled_otherwise(case) is None
    if case is not None and owed and all(s.succeeded for s in sent):
        last = case.steps[-1].at if case.steps else case.requested_at
        # A case's steps never go back in time, whatever this clock says.
        refunded = refund_case(case, saga.key, max(now, last), actor=steps.ACTOR)
        recorded = record_case(
            new,
            refunded,
            key=IdempotencyKey(steps.ACTOR, "refund.case", order.order_id, saga.key),
            actor=steps.ACTOR,
            source=steps.ACTOR,
            now=now,
        )
        if isinstance(recorded, Recorded):
            new = recorded.order
            records.append(recorded.record)
    return new, records


def _end(  # noqa: PLR0913 - the saga, and what the provider said
    uow: UnitOfWork,
    order: Order,
    saga: Saga,
    case: AfterSalesCase | None,
    *,
    reason: str,
    sent: list[steps.SentRefund],
    result: str,
    now: pendulum.DateTime,
) -> Order:
    """End the saga in flight on `order` with what was sent; returns the order.

    Raises:
        RefundExceedsCapture: A case's refund the ledger refuses once sent:
            nothing was written, the saga stays.
    """
    succeeded = all(s.succeeded for s in sent)
    if case is not None:
        # The case as it stands now: a person may have settled it
        # while the refund was at the provider.
        case = _case_of(order, saga) or case
    settled = _settled_otherwise(case)
    try:
        new, records = _recorded(order, saga, case, reason, sent=sent, now=now)
    except RefundExceedsCapture as refused:
        if case is not None:
            raise
        # The ledger changed while the refund was at the provider (a
        # host's amendment) and cannot hold both: only a person can
        # tell which to keep. Ended now, while what was sent is known;
        # a retry would find the ledger refusing and not know it.
        new, records = order, []
        settled = f"not recorded: {steps.reason_text(refused)}"
    if settled is not None:
        result = f"{result}; {settled}"
    ended, record = steps.ended(
        new,
        saga,
        result,
        now,
        review=None if succeeded and settled is None else steps.REFUND,
    )
    steps.write(uow, order, ended, record, *records)
    return ended


_TRIES: Final = 3
"""How often what a refund saga sent is recorded again after a conflict."""


def _late(  # noqa: PLR0913 - the saga, and what was sent under it
    order: Order,
    saga: Saga,
    reason: str,
    sent: list[steps.SentRefund],
    *,
    result: str,
    now: pendulum.DateTime,
) -> tuple[Order, list[AuditRecord]] | None:
    """`order` with refunds sent under its ended `saga` recorded, and the records.

    Another process ended the saga while these refunds were at the
    provider. Those its payment ledger has already (that process sent and
    recorded them: the provider answered both under the same keys) are
    not recorded again: `None` when it has every one, or when the provider
    declined every one left (no money moved). The others are
    recorded as the saga would have (`_recorded`) if the ledger allows
    them; either way the order waits for a person (`review` gains
    `"refund"`: the saga ended on the word that nothing was sent, which
    was why a person was to look), and a `RefundSentLate` audit record,
    keyed by the saga, says what was sent and whether the ledger shows
    it. `None` too when that record was written already (a third process).
    """
    ledger = order.payment_ledger
    kept = set() if ledger is None else {r.refund_id for r in ledger.refunds}
    missing = [s for s in sent if s.refund_id not in kept]
    key = IdempotencyKey(steps.ACTOR, "refund.late", order.order_id, saga.key)
    # Declined everywhere, no money moved: the saga's end said so already.
    if not any(s.succeeded for s in missing) or key in order.applied_keys:
        return None
    # A declined part moved no money: it is recorded failed, not "sent".
    what = ", ".join(
        f"{s.amount} to {s.payment_id} under {s.refund_id}"
        + ("" if s.succeeded else " (declined: no money moved)")
        for s in missing
    )
    try:
        new, records = _recorded(
            order, saga, _case_of(order, saga), reason, sent=missing, now=now
        )
        shown = new.payment_ledger
        ids = set() if shown is None else {r.refund_id for r in shown.refunds}
        recorded = all(s.refund_id in ids for s in missing)
        said = f"{result}; {what} sent after its saga ended, " + (
            "recorded" if recorded else "not recorded"
        )
    except OrderkitError as refused:
        # Whatever the ledger refuses (more than the capture, a capture
        # beyond its authorisation), the money left: raising would lose
        # that fact for good, as no saga is left to send it again.
        new, records = order, []
        said = (
            f"{result}; {what} sent after its saga ended, not recorded: "
            f"{steps.reason_text(refused)}"
        )
    held, review = steps.with_review(new, steps.REFUND)
    held = attrs.evolve(
        held, version=new.version + 1, applied_keys=new.applied_keys | {key}
    )
    record = AuditRecord(
        order_id=held.order_id,
        version=held.version,
        from_status=held.status,
        to_status=held.status,
        event_type="RefundSentLate",
        key=key,
        actor=steps.ACTOR,
        source=steps.ACTOR,
        occurred_at=now,
        recorded_at=now,
        changes=(*review, FieldChange("refund.sent", "", said)),
    )
    return held, [*records, record]


def _outcome(
    order: Order, transactions: list[ChannelTransaction]
) -> Refunded | RefundDeclined:
    """Declined with the first part declined, or refunded with the last part."""
    declined = next((t for t in transactions if not t.succeeded), None)
    if declined is not None:
        return RefundDeclined(order, declined)
    return Refunded(order, transactions[-1])
