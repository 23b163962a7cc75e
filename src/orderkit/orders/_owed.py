"""What an order's payments still hold: what a refund may take, and from which."""

from __future__ import annotations

from orderkit.errors import RefundExceedsCapture
from orderkit.money import Money
from orderkit.orders._model import Payment
from orderkit.orders._order import Order


def left_on(order: Order, payment: Payment) -> Money:
    """What `payment` still holds: what it captured less the refunds on it.

    What it captured is the larger of `payment.amount` (the capture the
    lifecycle recorded) and every capture the order's payment ledger keeps
    on that payment: a payment taken in parts (`PaymentLedger.capture` with
    a `capture_id` per part) holds all of them, though the lifecycle
    records the payment once. The refunds are those the ledger shows settled
    or pending on that payment; an order whose ledger does not keep the
    payment (or keeps no ledger) has recorded none.
    """
    ledger = order.payment_ledger
    payment_id = payment.payment_id
    if ledger is None or all(p.payment_id != payment_id for p in ledger.payments):
        return payment.amount
    totals = ledger.totals(payment_id)
    # The larger, not the sum: the lifecycle's payment is one of the ledger's
    # captures when both record it, and either may be recorded first.
    captured = max(payment.amount, totals.captured)
    left = captured - totals.refunded - totals.pending
    return left if left.amount > 0 else Money.zero(order.currency)


def owed_back(order: Order) -> Money:
    """What ending `order` owes back: what every payment holds (`left_on`)."""
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
