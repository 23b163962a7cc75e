"""A payment transaction read as the order event the desk records."""

from __future__ import annotations

from typing import Final

from orderkit._validate import instance_of
from orderkit.integrations._records import ChannelTransaction, TransactionKind
from orderkit.orders import PaymentCaptured


__all__ = ["capture_event"]

# A capture takes money an authorisation set aside; a sale authorises and
# takes it at once. The other kinds take none.
_TAKES_MONEY: Final = frozenset({TransactionKind.CAPTURE, TransactionKind.SALE})


def capture_event(transaction: ChannelTransaction) -> PaymentCaptured | None:
    """The `PaymentCaptured` a capture transaction states, for `OrderDesk.record`.

    For a channel whose orders state no capture, only their payment
    transactions: Magento's paid invoices (`MagentoPayloads`, topic
    `V1/invoices`), or a host's adapter of the same kind. Record it with
    `desk.record(channel.channel, event.order_id, event)`: until it is,
    the desk holds the order awaiting payment whatever status the channel
    shows, and `OrderDesk.close_unpaid` closes it at its deadline, its
    stock freed and the money forgotten.

    A succeeded `capture` or `sale` is the event:

    - `payment_id` is the transaction id, the id a settlement statement
      lists the money under, so `reconcile_payments` matches it (for
      Magento, the invoice's `entity_id`);
    - `amount` is the transaction's amount, `occurred_at` its
      `created_at`;
    - `key` is the transaction's own, the same on every re-delivery: the
      same transaction recorded again is a `Duplicate` and changes
      nothing.

    Anything else is `None`, and records nothing: an authorisation or a
    void moves no money, and a failed transaction moved none. A `refund`
    is no capture either: it is the money of a channel refund, which
    `OrderDesk.record_refund` records from the adapter's `ChannelRefund`
    (its refund topic, or the order's `ChannelOrder.refunds`); never
    record the refund transaction as well, or the same money comes off
    twice.

    Do not feed the transactions of a channel whose orders state their
    capture themselves (Shopify's notices state it as `order-<id>`): the
    transaction is the same money under another id, and recorded too the
    order would hold two payments (the desk holds it for a person,
    `"overpaid"`).

    Args:
        transaction: The transaction the channel's adapter read.

    Returns:
        The capture's event, or `None` for a transaction that took no money.

    Raises:
        ValidationError: `transaction` is not a `ChannelTransaction`.

    Example:
        >>> from orderkit.adapters.channels import MagentoPayloads
        >>> invoice = {
        ...     "entity_id": 7, "increment_id": "000000007", "order_id": 3,
        ...     "state": 2, "grand_total": 165, "order_currency_code": "USD",
        ...     "created_at": "2026-11-11 13:05:00",
        ... }
        >>> [paid] = MagentoPayloads().parse(invoice, topic="V1/invoices")
        >>> event = capture_event(paid)
        >>> event.order_id, event.payment_id, str(event.amount)
        ('3', '7', '165.00 USD')
        >>> str(event.key)
        'magento:sales_order_invoice_pay:7:000000007'

    .. versionadded:: 0.1.0
    """
    instance_of("transaction", ChannelTransaction)(None, None, transaction)
    if not transaction.succeeded or transaction.kind not in _TAKES_MONEY:
        return None
    return PaymentCaptured(
        order_id=transaction.order_id,
        key=transaction.key,
        occurred_at=transaction.created_at,
        payment_id=transaction.transaction_id,
        amount=transaction.amount,
    )
