"""The listings of the SQL order stores and audit logs, one query each.

`OrderListing` gives an order store `orders()`, `waiting()` and
`placed_between()`; `AuditListing` gives an audit log `recorded_between()`.
A row an upgrade could not date from its JSON (a host converter's text)
is dated by reading its document, once per store (`Undated`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar

import attrs
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


@attrs.frozen
class Undated:
    """The statements that read a table's undated rows: those an upgrade left NULL.

    `keys` lists each undated row's key columns; `documents` lists them and
    then each row's document; `one` reads the document of the row whose
    key it is given.
    """

    keys: str
    documents: str
    one: str


InstantOf = Callable[[Any], pendulum.DateTime]


def undated_in(  # noqa: PLR0913 - the store, its statements, and the window
    store: _Dated,
    operation: str,
    statements: Undated,
    *,
    kind: type[Order | AuditRecord],
    instant: InstantOf,
    window: tuple[pendulum.DateTime, pendulum.DateTime, tuple[Any, ...] | None],
) -> list[tuple[tuple[Any, ...], Any]]:
    """The undated rows in the window, after its start key, as `(key, value)`.

    Each row's instant is read from its document the first time the store
    meets the row, and kept by its key: a row's instant never changes (an
    order's placed instant, a record's), and a row this orderkit saves
    again is dated, and leaves the undated ones. So a host converter's
    rows cost one parse each per store, not one per call.
    """
    first, last, after = window
    session, loads, known = store._session, store._converter.loads, store._undated_at  # noqa: SLF001 - the store's own
    keys = [
        tuple(row)
        for row in session.read(
            operation, lambda cur: cur.execute(statements.keys).fetchall()
        )
    ]
    if any(key not in known for key in keys):
        rows = session.read(
            operation, lambda cur: cur.execute(statements.documents).fetchall()
        )
        for *key, document in rows:
            known[tuple(key)] = instant(loads(document, kind))
    if len(known) > len(keys):
        # Rows dated since: forget them.
        for gone in set(known) - set(keys):
            del known[gone]
    wanted = [
        key
        for key in keys
        if (at := known.get(key)) is not None
        and first <= at < last
        and (after is None or (at, *key) > after)
    ]

    def one(cur: Any, key: tuple[Any, ...]) -> Any:  # noqa: ANN401 - either driver's row
        return cur.execute(statements.one, key).fetchone()

    found = []
    for key in wanted:
        row = session.read(operation, functools.partial(one, key=key))
        if row is not None:
            found.append((key, loads(row[0], kind)))
    return found


class _Reads(Protocol):
    def read(self, operation: str, work: Callable[[Any], T]) -> T: ...


class _Dated(Protocol):
    """What `undated_in` needs of a store: its session, converter and cache."""

    @property
    def _session(self) -> _Reads: ...

    @property
    def _converter(self) -> Documents: ...

    @property
    def _undated_at(self) -> dict[tuple[Any, ...], pendulum.DateTime]:
        """The instants of the undated rows read so far, by their keys."""
        ...


class _Store(_Dated, Protocol):
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
    def _placed_undated(self) -> Undated:
        """The statements reading the orders whose `placed_at` is unknown."""
        ...


class _Log(_Dated, Protocol):
    """What `AuditListing` needs of the audit log it is mixed into."""

    @property
    def _recorded(self) -> str:
        """The channels and records of a window by their `recorded_at` column.

        Its values: the window's start and end, the key to start after
        (instant, channel, order id and version), the limit.
        """
        ...

    @property
    def _recorded_undated(self) -> Undated:
        """The statements reading the records whose `recorded_at` is unknown."""
        ...


class OrderListing:
    """The listings of a store whose rows hold orders' documents beside their keys.

    Each listing is one statement taking its own values, then the channel
    and order id to start after and the limit; a store sets its statements
    as `_every`, `_of_status`, `_waiting`, `_placed` and `_placed_undated`,
    and keeps `_undated_at`, empty at first.
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
        sets; an order an upgrade could not date from its document (a host
        converter's text) is dated by reading it, once per store.

        Raises:
            NaiveDatetime: `start` or `end` has no UTC offset.
            ValidationError: `end` not after `start`, bad `after` or limit.
            StoreError: The database failed.
        """
        first, last, key, most = check_placed_listing(start, end, after, limit)
        since = (to_us(first), "", "") if key is None else (to_us(key[0]), *key[1:])
        values = (to_us(first), to_us(last), *since, most)

        rows = self._session.read(
            "placed_between", lambda cur: cur.execute(self._placed, values).fetchall()
        )
        loads = self._converter.loads
        found = [loads(row[0], Order) for row in rows]
        undated = undated_in(
            self,
            "placed_between",
            self._placed_undated,
            kind=Order,
            instant=lambda order: order.placed_at,
            window=(first, last, key),
        )
        if not undated:
            return found
        found.extend(order for _, order in undated)
        return sorted(found, key=placed_key)[:most]


class AuditListing:
    """`recorded_between()` of an audit log whose rows hold records' documents.

    A log sets its statements as `_recorded` and `_recorded_undated`, and
    keeps `_undated_at`, empty at first.
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
        column `append` sets; a record an upgrade could not date from its
        document is dated by reading it, once per log.

        Raises:
            NaiveDatetime: `start` or `end` has no UTC offset.
            ValidationError: `end` not after `start`, bad `after` or limit.
            StoreError: The database failed.
        """
        first, last, key, most = check_recorded_listing(start, end, after, limit)
        since = (to_us(first), "", "", 0) if key is None else (to_us(key[0]), *key[1:])
        values = (to_us(first), to_us(last), *since, most)

        rows = self._session.read(
            "recorded_between",
            lambda cur: cur.execute(self._recorded, values).fetchall(),
        )
        loads = self._converter.loads
        found = [(row[0], loads(row[1], AuditRecord)) for row in rows]
        undated = undated_in(
            self,
            "recorded_between",
            self._recorded_undated,
            kind=AuditRecord,
            instant=lambda record: record.recorded_at,
            window=(first, last, key),
        )
        if not undated:
            return found
        found.extend((row_key[0], record) for row_key, record in undated)
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
