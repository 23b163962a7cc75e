"""What the order desk writes beside an order: audit records and outbox messages.

Every message is built from what caused it, so its id is the same however
often the change is retried: the outbox keeps one of each.
"""

from __future__ import annotations

from collections.abc import Sequence

import pendulum

from orderkit.dedupe import IdempotencyKey
from orderkit.integrations import milestone_message
from orderkit.orders import (
    AuditRecord,
    FieldChange,
    Order,
    OrderEvent,
    OutboxMessage,
    RefundDue,
    Saga,
    order_stream,
)
from orderkit.services._sellable import outbox_message


def order_messages(
    old: Order | None,
    new: Order,
    refunds: Sequence[RefundDue],
    now: pendulum.DateTime,
) -> list[OutboxMessage]:
    """The buyer's milestone message when the status moved, and refunds owed."""
    stream = order_stream(new.channel, new.order_id)
    messages: list[OutboxMessage] = []
    if old is None or old.status is not new.status:
        message = milestone_message(new)
        if message is not None:
            payload = {
                "recipient": message.recipient,
                "template": message.template,
                "params": dict(message.params),
                "key": str(message.key),
            }
            message_id = f"milestone:{stream}:{new.status}"
            messages.append(
                outbox_message(message_id, stream, "milestone", payload, now)
            )
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


def refund_key(order: Order, version: int) -> str:
    """The one key of a refund owed since `version`: message id and provider key."""
    return f"refund:{order_stream(order.channel, order.order_id)}:{version}"


def refund_saga(order: Order, refund: RefundDue, now: pendulum.DateTime) -> Saga:
    """The saga that sends a refund owed back to the original payment."""
    payment = order.payments[0].payment_id if order.payments else None
    return Saga(
        name="refund",
        step="requested",
        key=refund_key(order, refund.order.version),
        started_at=now,
        amount=refund.amount,
        reference=payment,
    )


def review_record(
    order: Order, now: pendulum.DateTime, review: tuple[str, ...]
) -> AuditRecord:
    """The audit record of holding an order for review."""
    return AuditRecord(
        order_id=order.order_id,
        version=order.version,
        from_status=order.status,
        to_status=order.status,
        event_type="HeldForReview",
        key=IdempotencyKey("orderkit", "review", order.order_id, str(order.version)),
        actor="orderkit",
        source="orderkit",
        occurred_at=now,
        recorded_at=now,
        changes=(FieldChange("review", "", ", ".join(review)),),
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
