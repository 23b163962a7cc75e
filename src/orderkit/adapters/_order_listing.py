"""`OrderListing`: `orders()` and `waiting()` of an SQL order store, one query each."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar

from orderkit.adapters._documents import Documents
from orderkit.adapters._memory_orders import check_listing
from orderkit.orders import Order, OrderStatus


T = TypeVar("T")


class _Reads(Protocol):
    def read(self, operation: str, work: Callable[[Any], T]) -> T: ...


class _Store(Protocol):
    """What the listings need of the store they are mixed into."""

    @property
    def _session(self) -> _Reads: ...

    @property
    def _converter(self) -> Documents: ...

    @property
    def _every(self) -> str:
        """Every order's document."""
        ...

    @property
    def _of_status(self) -> str:
        """The documents of one status's orders; the status is its first value."""
        ...

    @property
    def _waiting(self) -> str:
        """The documents of the orders whose `waiting` column `save` set."""
        ...


class OrderListing:
    """The listings of a store whose rows hold orders' documents beside their keys.

    Each listing is one statement taking its own values, then the channel
    and order id to start after and the limit; a store sets its statements
    as `_every`, `_of_status` and `_waiting`.
    """

    def orders(
        self: _Store,
        *,
        status: OrderStatus | None = None,
        after: tuple[str, str] | None = None,
        limit: int = 100,
    ) -> Sequence[Order]:
        """List orders by channel and id, after `after`, at most `limit`.

        Raises:
            ValidationError: Bad status, `after` or limit.
            StoreError: The database failed.
        """
        wanted, start, most = check_listing(status, after, limit)
        if wanted is None:
            return _listed(self, "orders", self._every, (), start=start, most=most)
        return _listed(
            self, "orders", self._of_status, (wanted.value,), start=start, most=most
        )

    def waiting(
        self: _Store, *, after: tuple[str, str] | None = None, limit: int = 100
    ) -> Sequence[Order]:
        """List the orders that wait (`orderkit.orders.waits`), as `orders` does.

        The optional read of the `OrderStore` port, through the partial
        index of the orders whose `waiting` column `save` set.

        Raises:
            ValidationError: Bad `after` or limit.
            StoreError: The database failed.
        """
        _, start, most = check_listing(None, after, limit)
        return _listed(self, "waiting", self._waiting, (), start=start, most=most)


def _listed(  # noqa: PLR0913 - a statement, its values, and where the page starts
    store: _Store,
    operation: str,
    query: str,
    first: tuple[object, ...],
    *,
    start: tuple[str, str] | None,
    most: int,
) -> list[Order]:
    """The orders `query` lists after `start`, its `first` values before."""
    # The empty channel sorts before every channel a store accepts.
    channel, order_id = ("", "") if start is None else start
    values = (*first, channel, order_id, most)
    rows = store._session.read(  # noqa: SLF001 - the store's own session
        operation, lambda cur: cur.execute(query, values).fetchall()
    )
    return [store._converter.loads(row[0], Order) for row in rows]  # noqa: SLF001 - the store's own converter
