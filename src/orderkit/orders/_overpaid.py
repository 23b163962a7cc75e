"""Whether an order's payments hold more than it costs: paid twice, or over.

An order does not keep its payable total (its lines are the goods before
offers; shipping, tax and discounts are the quote's): the caller states the
total the order was taken in at, and approved price changes since then move
it as they moved the lines.
"""

from __future__ import annotations

from orderkit.errors import CurrencyMismatch
from orderkit.money import Money
from orderkit.orders._order import Order
from orderkit.orders._owed import left_on, owed_back
from orderkit.orders._price_changes import ChangeState


def payable(order: Order, placed_total: Money) -> Money:
    """What `order` costs: `placed_total`, moved by every approved price change.

    An approval reprices its line (`record_price_change`), so the change of
    the line total (`PriceChange.delta`) is the change of what the buyer owes.
    The order's offers are not applied to it again (the order does not keep
    them): a line cut from 100.00 to 90.00 under a 50% coupon makes the
    order cost 10.00 less, not 5.00. A person approves the price the buyer
    pays for the line; one whose shop re-applies percent-off offers to a
    changed price reads the `total` and `overpaid` of an `"overpaid"` hold
    as figures to check, not to refund blindly.

    Raises:
        CurrencyMismatch: `placed_total` is in another currency than the order.
    """
    if placed_total.currency.code != order.currency:
        raise CurrencyMismatch(
            "placed_total", placed_total.currency.code, order.currency
        )
    total = placed_total
    for change in order.price_changes:
        if change.state is ChangeState.APPROVED:
            total += change.delta
    return total


def overpaid(order: Order, placed_total: Money) -> Money | None:
    """What the order's payments hold beyond what it costs; `None` if nothing.

    What the payments hold is each capture less the refunds the payment
    ledger shows settled or pending on it (`owed_back`): money the buyer
    was sent back already is not held. What it costs is `payable`.

    Raises:
        CurrencyMismatch: `placed_total` is in another currency than the order.
    """
    excess = owed_back(order) - payable(order, placed_total)
    return excess if excess.amount > 0 else None


def held_by_payment(order: Order) -> str:
    """Each payment and what it still holds, for the person who settles it."""
    return ", ".join(f"{p.payment_id} {left_on(order, p)}" for p in order.payments)
