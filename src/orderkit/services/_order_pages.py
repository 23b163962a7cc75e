"""Orders read a page per unit of work, so that no unit stays open long."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TypeVar, cast

from orderkit.orders import Order, OrderStatus
from orderkit.ports import OrderStore, UnitOfWork


T = TypeVar("T")

Listing = Callable[[OrderStore, tuple[str, str] | None, int], Sequence[Order]]
"""A page of orders by channel and id: the store, the key to start after, the limit."""


def of_status(status: OrderStatus | None = None) -> Listing:
    """Every order (of `status`), through `OrderStore.orders`."""

    def listing(
        orders: OrderStore, after: tuple[str, str] | None, limit: int
    ) -> Sequence[Order]:
        return orders.orders(status=status, after=after, limit=limit)

    return listing


def waiting(
    orders: OrderStore, after: tuple[str, str] | None, limit: int
) -> Sequence[Order]:
    """The orders that wait, through the store's optional `waiting()`.

    From a host's store without it, every order: callers check `waits`.
    """
    listed = getattr(orders, "waiting", None)
    if listed is None:
        return orders.orders(after=after, limit=limit)
    return cast("Sequence[Order]", listed(after=after, limit=limit))


def lists_waiting(unit: UnitOfWork) -> bool:
    """Whether the unit's order store has the optional `waiting()` read."""
    with unit as uow:
        return getattr(uow.orders, "waiting", None) is not None


def pages(
    unit: UnitOfWork,
    listing: Listing,
    read: Callable[[UnitOfWork, Sequence[Order]], Iterable[T]],
    *,
    page: int,
) -> Iterator[T]:
    """What `read` makes of each page `listing` gives, in the page's own unit."""
    after: tuple[str, str] | None = None
    while True:
        with unit as uow:
            batch = listing(uow.orders, after, page)
            found = list(read(uow, batch))
        yield from found
        if len(batch) < page:
            return
        after = (batch[-1].channel, batch[-1].order_id)


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
