"""A channel's refunds parked in the order's audit trail until a capture comes.

A notice may state refunds and no capture: WooCommerce and Shopify state
none for an order refunded in full before any goods left. Delivered before
the notice that states the capture (webhooks are not ordered), its refunds
have no payment to come off. They are not lost: each is parked, as an early
event is, in an audit record of its own (`ParkedChannelRefund`, keyed by
the refund's key, dated when the channel made it), whose changes name all
of it. The first capture to reach the order places them in its payment
ledger before the capture applies, so that a capture on an ended order
owes back only what the channel still holds: nothing, when it gave all of
it back. A refund that capture cannot take (more than it holds, or naming
a payment not recorded yet) stays parked, and the order waits for a person
under `"refund"`: while it waits, each further capture places what it can,
and owes nothing back by itself as long as one stays unplaced.

The trail carries them, not the order: only an order with no payment yet
can have refunds parked. The order does not know whether it has any, so
every order's first capture reads its trail (about a fifth of the desk's
`record` calls in `orderkit simulate`, one per paid order), and a later
capture reads it only while the order waits under `"refund"`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Final

import attrs
import pendulum

from orderkit._fast import copier
from orderkit.errors import ValidationError
from orderkit.integrations import ChannelRefund
from orderkit.money import Money
from orderkit.orders import AuditRecord, FieldChange, Order
from orderkit.orders._payments import RefundLine


_evolve_order: Final = copier(Order)

PARKED_REFUND: Final = "ParkedChannelRefund"
"""The `event_type` of the audit record of a refund parked until a capture."""

_RESTOCK: Final = " restock"


def parked_refund_record(
    order: Order, refund: ChannelRefund, now: pendulum.DateTime
) -> AuditRecord:
    """The audit record of parking `refund` with `order`, at its version.

    Keyed by the refund, by its channel, dated when the channel made it; its
    changes say it all (`refund_id`, `amount`, `payment_id` and `reason`
    when given, `lines[<line id>]` with the quantity and ` restock`), so
    that `parked_refunds` reads it back.
    """
    changes = [
        FieldChange("parked", "", "ChannelRefund"),
        FieldChange("refund_id", "", refund.refund_id),
        FieldChange("amount", "", str(refund.amount)),
    ]
    if refund.payment_id is not None:
        changes.append(FieldChange("payment_id", "", refund.payment_id))
    if refund.reason:
        changes.append(FieldChange("reason", "", refund.reason))
    changes += [
        FieldChange(
            f"lines[{line.line_id}]",
            "",
            f"{line.quantity}{_RESTOCK if line.restock else ''}",
        )
        for line in refund.lines
    ]
    return AuditRecord(
        order_id=order.order_id,
        version=order.version,
        from_status=order.status,
        to_status=order.status,
        event_type=PARKED_REFUND,
        key=refund.key,
        actor=refund.key.channel,
        source=refund.key.channel,
        occurred_at=refund.created_at,
        recorded_at=now,
        changes=tuple(changes),
    )


def parked(
    order: Order,
    refunds: Iterable[ChannelRefund],
    records: list[AuditRecord],
    now: pendulum.DateTime,
    *,
    before: Sequence[ChannelRefund] = (),
) -> Order:
    """`order` with `refunds` parked: a version and a record each, in `records`.

    One parked already (`before`: the same refund id, for as much or more)
    is not parked again. A larger reading of one parked (a Shopify refund
    whose pending transaction settled since) is parked as well, under its
    key with the amount added to its event id (`<event_id>:<amount>`), as
    each record keys one fact: placed after the first, it grows the
    ledger's refund (`PaymentLedger.grow_refund`).
    """
    for refund in refunds:
        same = [kept for kept in before if kept.refund_id == refund.refund_id]
        if any(kept.amount >= refund.amount for kept in same):
            continue
        if same:
            key = refund.key
            grown = attrs.evolve(key, event_id=f"{key.event_id}:{refund.amount.amount}")
            refund = attrs.evolve(refund, key=grown)  # noqa: PLW2901 - the reading to park
        order = _evolve_order(order, version=order.version + 1)
        records.append(parked_refund_record(order, refund, now))
    return order


def parked_refunds(records: Iterable[AuditRecord]) -> tuple[ChannelRefund, ...]:
    """The refunds parked in an order's trail (`records`), in the order parked.

    Raises:
        ValidationError: A parked record lacks the refund's id or amount
            (not written by `parked_refund_record`).
    """
    return tuple(
        _read(record) for record in records if record.event_type == PARKED_REFUND
    )


def _read(record: AuditRecord) -> ChannelRefund:
    """The refund `record` parked (`parked_refund_record`)."""
    said = {change.field: change.new for change in record.changes}
    refund_id, amount = said.get("refund_id"), said.get("amount")
    if refund_id is None or amount is None:
        raise ValidationError(
            "record.changes", record.changes, "name no parked refund id and amount"
        )
    figure, _, code = amount.rpartition(" ")
    lines = []
    for field, value in said.items():
        if field.startswith("lines[") and field.endswith("]"):
            quantity, _, restock = value.partition(" ")
            lines.append(
                RefundLine(field[6:-1], int(quantity), restock=restock == "restock")
            )
    return ChannelRefund(
        refund_id=refund_id,
        order_id=record.order_id,
        key=record.key,
        amount=Money(figure, code),
        created_at=record.occurred_at,
        lines=tuple(lines),
        payment_id=said.get("payment_id"),
        reason=said.get("reason", ""),
    )
