"""An order its channel paid back in full before any goods left: a person decides.

A channel's refunds come off the order's payments in its payment ledger
(`record_refund`, `accept`, `update`, a capture placing refunds parked in
the trail). When they leave the payments of an order that has not shipped
at all holding nothing, while it is still to be picked (paid, picking, or
its pick saga in flight), the buyer has all the money back and the order
would still go out: Shopify states no capture for such an order only when
the refunded notice is the first the desk sees, and says nothing that ends
it. The order waits for a person (`review` gains `"refunded"`), its
`HeldForReview` audit record naming the refunds: cancel it (it owes
nothing back; the cancellation withdraws the reason) or release it to ship
all the same. Told once: the order paid back in full already (a person
released it, a notice delivered again) holds nothing more.
"""

from __future__ import annotations

from typing import Final

import pendulum

from orderkit.money import Money
from orderkit.orders import AuditRecord, FieldChange, Order, OrderStatus
from orderkit.orders._owed import owed_back
from orderkit.orders._payments import RefundState
from orderkit.services._desk_notes import held_for


REFUNDED: Final = "refunded"
"""Why an order waits for a person once its channel paid all of it back.

Nothing shipped, and its payments hold nothing: ship it anyway
(`release`), or cancel it (owing nothing back), which withdraws it.
"""

_TO_PICK: Final = frozenset({OrderStatus.PAID, OrderStatus.PICKING})
_MOVED: Final = frozenset({RefundState.REFUNDED, RefundState.PENDING})


def paid_back(order: Order) -> bool:
    """Whether `order` is still to ship and its refunds paid all of it back.

    Not shipped at all (no parcel), paid or picking (a pick saga is in
    flight on a paid order only), its payments captured more than zero and
    hold nothing now (`owed_back`), nor does its payment ledger's captures
    (less its refunds, settled or pending). A free order (nothing
    captured) is not.
    """
    if order.status not in _TO_PICK or order.shipments or not order.payments:
        return False
    captured = sum((p.amount for p in order.payments), Money.zero(order.currency))
    if captured.amount <= 0 or owed_back(order).amount:
        return False
    ledger = order.payment_ledger
    if ledger is None:
        return True
    # A capture the order does not record (a further part of a payment) is
    # money the channel still holds: not all of it came back.
    kept = ledger.totals()
    return (kept.captured - kept.refunded - kept.pending).amount <= 0


def held_if_paid_back(
    old: Order | None, new: Order, now: pendulum.DateTime
) -> tuple[Order, AuditRecord] | None:
    """`new` waiting for a person when it came to be paid back in full, or `None`.

    Only when `old` (the order before the change; `None` at intake) was
    not paid back in full already, and `new` does not wait for it yet:
    each order is told once. The record names every refund on its payments
    (`refunds[<refund id>]`, with its amount and state).
    """
    if REFUNDED in new.review or not paid_back(new):
        return None
    if old is not None and paid_back(old):
        return None
    ledger = new.payment_ledger
    said = [
        FieldChange(
            f"refunds[{refund.refund_id}]", "", f"{refund.amount} {refund.state}"
        )
        for refund in (ledger.refunds if ledger is not None else ())
        if refund.state in _MOVED
    ]
    return held_for(new, REFUNDED, now, *said)


def with_paid_back(
    old: Order | None,
    new: Order,
    now: pendulum.DateTime,
    records: list[AuditRecord],
) -> Order:
    """`new`, waiting for a person if it came to be paid back in full.

    `held_if_paid_back`; its record, if any, goes to `records`.
    """
    held = held_if_paid_back(old, new, now)
    if held is None:
        return new
    records.append(held[1])
    return held[0]


def paid_back_at_intake(
    order: Order,
    now: pendulum.DateTime,
    records: list[AuditRecord],
    review: list[str],
    details: list[str],
) -> Order:
    """`order` taken in, waiting for a person if its notice paid all of it back.

    Its reason joins `review` and `details`: the intake answers `Held`.
    """
    held = with_paid_back(None, order, now, records)
    if held is not order:
        review.append(REFUNDED)
        details.append(
            f"已全额退款 / refunded in full: {owed_back(held)} left on its payments"
        )
    return held
