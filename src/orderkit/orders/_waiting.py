"""Which orders wait for something besides their buyer and channel."""

from __future__ import annotations

from orderkit.orders._aftersales import CaseState
from orderkit.orders._order import Order


__all__ = ["waits"]


def waits(order: Order) -> bool:
    """Whether the order waits for orderkit or a person to act on it.

    It does while a saga is in flight on it (`Order.saga`: a capture, a
    shipment, a pick or a refund to resume), while it names a reason to
    wait for a person (`Order.review`), and while one of its after-sales
    cases is inspected (`CaseState.INSPECTED`: its refund to send, or a
    person to settle it). Stores list these orders with the optional
    `waiting()` of the `OrderStore` port (orderkit's SQL stores keep the
    answer beside each order they save, with an index), so `recover` and
    `Refunds.send_due` read those orders alone instead of every order.

    .. versionadded:: 0.1.0
    """
    if order.saga is not None or order.review:
        return True
    return any(case.state is CaseState.INSPECTED for case in order.after_sales)
