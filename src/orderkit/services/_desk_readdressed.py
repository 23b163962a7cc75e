"""An address the channel changed after intake: the lifecycle's `AddressChanged`.

A buyer or the shop changes the shipping address on the channel after the
order was taken in (paid, not shipped yet); the channel's next notice
states the new one. `OrderDesk.update` compares it with the order's and,
when they differ, records an `AddressChanged` of it (`address_changed`),
so that the lifecycle's rules apply: the change made last at the channel
wins, a change after a parcel shipped is refused (`IllegalTransition`, in
the outcome), and an order whose label was booked waits for a person.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import attrs
import pendulum

from orderkit.dedupe import IdempotencyKey
from orderkit.integrations import ChannelOrder
from orderkit.orders import Address, AddressChanged, AuditRecord, Order


_PLACED = "OrderPlaced"
_UPDATED_AT = "updated_at"


def address_changed(
    order: Order,
    incoming: ChannelOrder,
    trail: Iterable[AuditRecord],
    now: pendulum.DateTime,
) -> AddressChanged | None:
    """The `AddressChanged` a later notice states of `order`, or `None`.

    `None` when the notice states the order's address, states none (only
    a country: nothing a parcel goes to), or is older (`updated_at`) than
    the notice the order was taken in from (its `OrderPlaced` record keeps
    that time): the address it states is older than the order's. Read
    `trail` only when the addresses differ (`differs`).

    Keyed by the channel, `"address_changed"`, the order and a digest of
    the new address and the notice's time, so that the same notice
    delivered again is a `Duplicate`; dated when the channel says it last
    changed the order (`now` if it does not say), the lifecycle's
    last-change-wins rule reading it.
    """
    address = incoming.placed.address
    if not differs(order, incoming):
        return None
    sent = incoming.updated_at
    placed_from = _taken_in_from(trail)
    if sent is not None and placed_from is not None and sent < placed_from:
        return None
    digest = hashlib.sha256(
        f"{_text(address)}\x1e{sent.isoformat() if sent else ''}".encode()
    ).hexdigest()[:24]
    return AddressChanged(
        order_id=order.order_id,
        key=IdempotencyKey(incoming.channel, "address_changed", order.order_id, digest),
        occurred_at=sent or now,
        actor=incoming.channel,
        source=incoming.channel,
        address=address,
    )


def differs(order: Order, incoming: ChannelOrder) -> bool:
    """Whether the notice states an address, and another than the order's."""
    address = incoming.placed.address
    return address != order.address and _states(address)


def _states(address: Address) -> bool:
    """Whether an address says where a parcel goes: more than its country."""
    return any(
        (
            address.province,
            address.city,
            address.district,
            address.street,
            address.postcode,
        )
    )


def _text(address: Address) -> str:
    """Every field of `address`, separated: what its digest is taken of."""
    return "\x1f".join(value or "" for value in attrs.astuple(address))


def _taken_in_from(trail: Iterable[AuditRecord]) -> pendulum.DateTime | None:
    """When the notice intake took the order in from said it last changed."""
    for record in trail:
        if record.event_type != _PLACED:
            continue
        for change in record.changes:
            if change.field == _UPDATED_AT:
                stated = pendulum.parse(change.new)
                return stated if isinstance(stated, pendulum.DateTime) else None
        return None
    return None
