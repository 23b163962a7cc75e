"""The listings of the SQL order stores and audit logs, one query each.

`OrderListing` gives an order store `orders()`, `waiting()` and
`placed_between()`; `AuditListing` gives an audit log `recorded_between()`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar

import pendulum

from orderkit.adapters._documents import Documents
from orderkit.adapters._memory_orders import (
    check_listing,
    check_placed_listing,
    check_recorded_listing,
    placed_key,
    recorded_key,
)
from orderkit.adapters._micros import to_us
from orderkit.orders import AuditRecord, Order, OrderStatus


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

    @property
    def _placed(self) -> str:
        """The documents of a window's orders by their `placed_at` column.

        Its values: the window's start and end, the key to start after
        (placed instant, channel and order id), the limit.
        """
        ...

    @property
    def _placed_unknown(self) -> str:
        """The documents of the orders whose `placed_at` column is unknown."""
        ...


class _Log(Protocol):
    """What `AuditListing` needs of the audit log it is mixed into."""

    @property
    def _session(self) -> _Reads: ...

    @property
    def _converter(self) -> Documents: ...

    @property
    def _recorded(self) -> str:
        """The channels and records of a window by their `recorded_at` column.

        Its values: the window's start and end, the key to start after
        (instant, channel, order id and version), the limit.
        """
        ...

    @property
    def _recorded_unknown(self) -> str:
        """The channels and records whose `recorded_at` column is unknown."""
        ...


class OrderListing:
    """The listings of a store whose rows hold orders' documents beside their keys.

    Each listing is one statement taking its own values, then the channel
    and order id to start after and the limit; a store sets its statements
    as `_every`, `_of_status`, `_waiting`, `_placed` and `_placed_unknown`.
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

    def placed_between(
        self: _Store,
        start: pendulum.DateTime,
        end: pendulum.DateTime,
        *,
        after: Order | None = None,
        limit: int = 100,
    ) -> Sequence[Order]:
        """List the orders placed in `[start, end)`, soonest placed first.

        The optional read of the `OrderStore` port: orders of one placed
        instant by channel and id; `after` is the order the previous page
        ended with. Through the index of the `placed_at` column `save`
        sets; the orders an upgrade could not date from their documents
        (a host converter's) are read whole and dated by their values.

        Raises:
            NaiveDatetime: `start` or `end` has no UTC offset.
            ValidationError: `end` not after `start`, bad `after` or limit.
            StoreError: The database failed.
        """
        first, last, key, most = check_placed_listing(start, end, after, limit)
        since = (to_us(first), "", "") if key is None else (to_us(key[0]), *key[1:])
        values = (to_us(first), to_us(last), *since, most)

        def work(cur: Any) -> tuple[list[Any], list[Any]]:  # noqa: ANN401 - either driver's cursor
            listed = cur.execute(self._placed, values).fetchall()
            return listed, cur.execute(self._placed_unknown).fetchall()

        rows, unknown = self._session.read("placed_between", work)
        loads = self._converter.loads
        found = [loads(row[0], Order) for row in rows]
        undated = [
            order
            for order in (loads(row[0], Order) for row in unknown)
            if first <= order.placed_at < last
            and (key is None or placed_key(order) > key)
        ]
        if not undated:
            return found
        return sorted([*found, *undated], key=placed_key)[:most]


class AuditListing:
    """`recorded_between()` of an audit log whose rows hold records' documents.

    A log sets its statements as `_recorded` and `_recorded_unknown`.
    """

    def recorded_between(
        self: _Log,
        start: pendulum.DateTime,
        end: pendulum.DateTime,
        *,
        after: tuple[str, AuditRecord] | None = None,
        limit: int = 100,
    ) -> Sequence[tuple[str, AuditRecord]]:
        """List the records recorded in `[start, end)`, each with its channel.

        The optional read of the `AuditLog` port, soonest recorded first,
        then by channel, order id and version; `after` is the pair the
        previous page ended with. Through the index of the `recorded_at`
        column `append` sets; the records an upgrade could not date from
        their documents are read whole and dated by their values.

        Raises:
            NaiveDatetime: `start` or `end` has no UTC offset.
            ValidationError: `end` not after `start`, bad `after` or limit.
            StoreError: The database failed.
        """
        first, last, key, most = check_recorded_listing(start, end, after, limit)
        since = (to_us(first), "", "", 0) if key is None else (to_us(key[0]), *key[1:])
        values = (to_us(first), to_us(last), *since, most)

        def work(cur: Any) -> tuple[list[Any], list[Any]]:  # noqa: ANN401 - either driver's cursor
            listed = cur.execute(self._recorded, values).fetchall()
            return listed, cur.execute(self._recorded_unknown).fetchall()

        rows, unknown = self._session.read("recorded_between", work)
        loads = self._converter.loads
        found = [(row[0], loads(row[1], AuditRecord)) for row in rows]
        undated = [
            (channel, record)
            for channel, record in (
                (row[0], loads(row[1], AuditRecord)) for row in unknown
            )
            if first <= record.recorded_at < last
            and (key is None or recorded_key(channel, record) > key)
        ]
        if not undated:
            return found
        found.extend(undated)
        found.sort(key=lambda pair: recorded_key(*pair))
        return found[:most]


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
