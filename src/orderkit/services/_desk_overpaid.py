"""An order paid twice: flagged for a person the moment its payments hold too much.

An order does not keep its payable total, so the desk states it in the
audit trail when it takes the order in: the `OrderPlaced` record's change
`total` (`"210.00 CNY"`). When a payment is recorded on an order that then
holds two payments or more, the desk reads it back and asks the pure core
(`orders._overpaid`) whether the payments hold more than the order costs.
"""

from __future__ import annotations

from collections.abc import Iterable, MutableSequence
from typing import Final

import pendulum

from orderkit.errors import OrderkitError
from orderkit.money import Money
from orderkit.orders import AuditRecord, FieldChange, Order
from orderkit.orders._overpaid import held_by_payment, overpaid, payable
from orderkit.orders._status import ENDED
from orderkit.pricing import Quote, Validation
from orderkit.services._desk_notes import held_for, state_on_placed


OVERPAID: Final = "overpaid"
"""Why an order waits for a person: its payments hold more than it costs."""

_PLACED: Final = "OrderPlaced"
_TOTAL: Final = "total"


def placed_total(pricing: Validation, quote: Quote) -> Money:
    """What intake takes the order in at: what the buyer was asked to pay.

    The accepted total when pricing passed; for an order held for its
    pricing, the larger of the computed and the channel's stated total, so
    that money beyond both is all that counts as paid over (never below
    zero).
    """
    if pricing.accepted_total is not None:
        return pricing.accepted_total
    total = pricing.totals.total
    stated = quote.stated_total
    if stated is not None and stated.currency == total.currency and stated > total:
        total = stated
    # Offers beyond the goods are a pricing violation, not money owed back.
    return max(total, Money.zero(total.currency))


def state_total(records: MutableSequence[AuditRecord], total: Money) -> None:
    """Add `total` to the intake's `OrderPlaced` record, for `recorded_total`."""
    state_on_placed(records, _TOTAL, str(total))


def recorded_total(records: Iterable[AuditRecord], currency: str) -> Money | None:
    """The total intake stated for the order; `None` when it stated none.

    An order taken in by an earlier orderkit, or stored by its host, has no
    total in its trail: the desk cannot tell whether it is paid over.
    """
    for record in records:
        if record.event_type != _PLACED:
            continue
        for change in record.changes:
            if change.field == _TOTAL:
                amount, _, code = change.new.rpartition(" ")
                try:
                    total = Money(amount, code)
                except OrderkitError:
                    return None
                return total if code == currency else None
    return None


def cost_of(order: Order, records: Iterable[AuditRecord]) -> Money | None:
    """What `order` costs the buyer: its recorded total, moved by approved changes.

    `None` when its trail (`records`) states no total.
    """
    total = recorded_total(records, order.currency)
    return None if total is None else payable(order, total)


def paid_twice(before: Order, after: Order) -> bool:
    """Whether `after` recorded a payment and holds two or more, not ended.

    An ended order owes back all its payments hold, through its refund saga:
    nothing is left for a person. An order's only payment is the one capture
    of what its channel or `Checkout` charged; the trail is read only for an
    order paid more than once.
    """
    return (
        len(after.payments) > len(before.payments)
        and len(after.payments) > 1
        and after.status not in ENDED
        and OVERPAID not in after.review
    )


def held_if_overpaid(
    order: Order, total: Money | None, now: pendulum.DateTime
) -> tuple[Order, AuditRecord] | None:
    """`order` waiting for a person when its payments hold more than `total`.

    The `HeldForReview` record names every payment with what it still
    holds, what the order costs and the excess.
    """
    if total is None or total.currency.code != order.currency:
        return None
    excess = overpaid(order, total)
    if excess is None:
        return None
    return held_for(
        order,
        OVERPAID,
        now,
        FieldChange("payments", "", held_by_payment(order)),
        FieldChange(_TOTAL, "", str(payable(order, total))),
        FieldChange(OVERPAID, "", str(excess)),
    )
