"""Orders read a page per unit of work, so that no unit stays open long."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TypeVar, cast

from orderkit.orders import Order, OrderStatus
from orderkit.ports import OrderStore, UnitOfWork


T = TypeVar("T")

Listing = Callable[[OrderStore, Order | None, int], Sequence[Order]]
"""A page of orders: the store, the order the last page ended with, the limit."""


def _key(order: Order | None) -> tuple[str, str] | None:
    return None if order is None else (order.channel, order.order_id)


def of_status(status: OrderStatus | None = None) -> Listing:
    """Every order (of `status`), through `OrderStore.orders`."""

    def listing(orders: OrderStore, after: Order | None, limit: int) -> Sequence[Order]:
        return orders.orders(status=status, after=_key(after), limit=limit)

    return listing


def waiting(orders: OrderStore, after: Order | None, limit: int) -> Sequence[Order]:
    """The orders that wait, through the store's optional `waiting()`.

    From a host's store without it, every order: callers check `waits`.
    """
    listed = getattr(orders, "waiting", None)
    if listed is None:
        return orders.orders(after=_key(after), limit=limit)
    return cast("Sequence[Order]", listed(after=_key(after), limit=limit))


def placed_between(start: dt.datetime, end: dt.datetime) -> Listing:
    """The orders placed in `[start, end)`, through the optional `placed_between()`.

    Only for a store that has it (`lists_window`).
    """

    def listing(orders: OrderStore, after: Order | None, limit: int) -> Sequence[Order]:
        listed = getattr(orders, "placed_between")  # noqa: B009 - optional
        return cast("Sequence[Order]", listed(start, end, after=after, limit=limit))

    return listing


def lists_waiting(unit: UnitOfWork) -> bool:
    """Whether the unit's order store has the optional `waiting()` read."""
    with unit as uow:
        return getattr(uow.orders, "waiting", None) is not None


def lists_window(unit: UnitOfWork) -> bool:
    """Whether the unit's stores have every optional read of a window.

    `waiting()` and `placed_between()` of the orders, and
    `recorded_between()` of the audit log.
    """
    with unit as uow:
        orders, audit = uow.orders, uow.audit
        return all(
            getattr(store, name, None) is not None
            for store, name in (
                (orders, "waiting"),
                (orders, "placed_between"),
                (audit, "recorded_between"),
            )
        )


def pages(
    unit: UnitOfWork,
    listing: Listing,
    read: Callable[[UnitOfWork, Sequence[Order]], Iterable[T]],
    *,
    page: int,
) -> Iterator[T]:
    """What `read` makes of each page `listing` gives, in the page's own unit."""
    after: Order | None = None
    while True:
        with unit as uow:
            batch = listing(uow.orders, after, page)
            found = list(read(uow, batch))
        yield from found
        if len(batch) < page:
            return
        after = batch[-1]


def latest(reads: Iterable[T], order_of: Callable[[T], Order]) -> list[T]:
    """One read per order, the one of its highest version, by channel and order id.

    Listings read one after the other are not one snapshot: an order that
    moved on from one listing (paid) to a later one (picking, or ended and
    waiting) is read by both.
    """
    kept: dict[tuple[str, str], T] = {}
    for read in reads:
        order = order_of(read)
        key = (order.channel, order.order_id)
        known = kept.get(key)
        if known is None or order.version > order_of(known).version:
            kept[key] = read
    return [kept[key] for key in sorted(kept)]


def orders_in(unit: UnitOfWork, listing: Listing, *, page: int) -> Iterator[Order]:
    """Every order `listing` gives, page after page."""
    return pages(unit, listing, lambda _uow, batch: batch, page=page)
