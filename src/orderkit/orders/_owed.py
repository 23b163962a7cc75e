"""What an order's payments still hold: what a refund may take, and from which."""

from __future__ import annotations

from orderkit.errors import RefundExceedsCapture
from orderkit.money import Money
from orderkit.orders._model import Payment
from orderkit.orders._order import Order


def left_on(order: Order, payment: Payment) -> Money:
    """What `payment` still holds: its capture less the refunds recorded on it.

    The refunds are those the order's payment ledger shows settled or
    pending on that payment; an order whose ledger does not keep the
    payment (or keeps no ledger) has recorded none.
    """
    ledger = order.payment_ledger
    payment_id = payment.payment_id
    if ledger is None or all(p.payment_id != payment_id for p in ledger.payments):
        return payment.amount
    totals = ledger.totals(payment_id)
    left = payment.amount - totals.refunded - totals.pending
    return left if left.amount > 0 else Money.zero(order.currency)


def owed_back(order: Order) -> Money:
    """What ending `order` owes back: every payment's capture not refunded yet."""
    return sum((left_on(order, p) for p in order.payments), Money.zero(order.currency))


def refund_parts(
    order: Order, payment_id: str, amount: Money
) -> tuple[tuple[str, Money], ...]:
    """`amount` split over the order's payments: `payment_id` first, then in order.

    Each payment gives what it still holds (`left_on`), so a refund of an
    order paid in several payments goes back to each of them, never more
    than it took. A payment the order does not have gives nothing.

    Raises:
        RefundExceedsCapture: The payments hold less than `amount`; there
            are no parts to send.
    """
    first = [p for p in order.payments if p.payment_id == payment_id]
    others = [p for p in order.payments if p.payment_id != payment_id]
    parts = []
    remaining = amount
    for payment in (*first, *others):
        if remaining.amount <= 0:
            break
        take = min(left_on(order, payment), remaining)
        if take.amount > 0:
            parts.append((payment.payment_id, take))
            remaining -= take
    if remaining.amount > 0:
        raise RefundExceedsCapture(
            "amount",
            amount,
            f"the order's payments hold {amount - remaining} not refunded yet",
        )
    return tuple(parts)
