"""Two notices of one order delivered to a desk in either order, and what is owed.

`ChannelContract.test_a_late_capture_owes_back_what_the_channel_holds` gives
an adapter's notice of a paid order and its notice of the same order
cancelled and refunded in full to a fresh in-memory desk, in both arrival
orders (webhooks are not ordered), and compares what each owes back.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Final

import pendulum

from orderkit.adapters.memory import MemoryUnitOfWork
from orderkit.dedupe import Fingerprinter
from orderkit.integrations import ChannelOrder
from orderkit.money import Money
from orderkit.services import AlreadyAccepted, DeskPolicy, Ledger, OrderDesk
from orderkit.testing._clock import FrozenClock


_LOCATION: Final = "W1"
# Enough of every SKU that no notice is short of stock: stock is not checked.
_PLENTY: Final = 10_000


def owed_after(notices: Sequence[ChannelOrder]) -> tuple[Money, Money]:
    """What a fresh desk owes back after `notices`, and what its ledger refunded.

    Each notice goes to `OrderDesk.accept`, else (`AlreadyAccepted`) to
    `OrderDesk.update`, as a host gives them; the desk holds plenty of
    every SKU at one location. Owed back is the sum of the `refund`
    outbox messages; refunded, what the order's payment ledger says the
    channel sent back (zero without a ledger).
    """
    first = notices[0]
    currency = first.quote.currency.code
    unit = MemoryUnitOfWork()
    clock = FrozenClock(pendulum.datetime(2100, 1, 1))
    with unit as uow:
        ledger = Ledger(uow.ledger, clock, outbox=uow.outbox)
        for line in first.placed.lines:
            if line.stocked:
                ledger.receive(line.sku, _LOCATION, _PLENTY, key=f"PO:{line.sku}")
        uow.commit()
    desk = OrderDesk(
        unit, clock, DeskPolicy(locations=[_LOCATION]), Fingerprinter.for_tests()
    )
    for notice in notices:
        if isinstance(desk.accept(notice), AlreadyAccepted):
            desk.update(notice)
    owed = Money.zero(currency)
    with unit as uow:
        order = uow.orders.get(first.channel, first.order_id)
        for message in uow.outbox.unsent(limit=10_000):
            if message.topic == "refund":
                owed += Money(json.loads(message.payload)["amount"], currency)
    paid_back = Money.zero(currency)
    if order is not None and order.payment_ledger is not None:
        paid_back = order.payment_ledger.refunded
    return owed, paid_back
