"""In-memory orders and audit trail, and the argument checks every backend shares."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import cast, final

import pendulum

from orderkit._time import to_utc
from orderkit._validate import is_sequence, positive_int
from orderkit.adapters._memory_journal import Journal, Journaled
from orderkit.dedupe._claims import MAX_KEY_LENGTH, check_text, fit_keys
from orderkit.errors import ConcurrencyConflict, ValidationError
from orderkit.orders import AuditRecord, Order, OrderStatus, waits


_Key = tuple[str, str]
PlacedKey = tuple[pendulum.DateTime, str, str]
"""Where an order sorts in `placed_between`: placed instant, channel, order id."""
RecordedKey = tuple[pendulum.DateTime, str, str, int]
"""Where a record sorts in `recorded_between`: instant, channel, order id, version."""


def check_key(channel: object, order_id: object) -> _Key:
    """Return `(channel, order_id)` once both are printable text of 1 to 255.

    Raises:
        ValidationError: Naming `channel` or `order_id`.
    """
    return check_text("channel", channel), check_text("order_id", order_id)


def check_save(order: object, expected_version: object) -> tuple[Order, int | None]:
    """Return the arguments of `save` once valid.

    Raises:
        ValidationError: Naming `order`, `expected_version` or `order.version`.
    """
    if type(order) is not Order:
        raise ValidationError("order", order, "must be an Order")
    # Channels and ids an Order accepts are longer or laxer than a store's keys.
    order_key(order)
    if expected_version is None:
        return order, None
    positive_int("expected_version")(None, None, expected_version)
    expected = cast("int", expected_version)
    if order.version <= expected:
        raise ValidationError(
            "order.version",
            order.version,
            f"must be greater than the expected version {expected}",
        )
    return order, expected


def order_key(order: Order) -> _Key:
    """`check_key` of the order's channel and id, which the order checked.

    An order's channel and id are printable, non-blank text: only their
    length and type are left to check (`fit_keys`), and the rest goes
    through `check_key`, to be refused as it refuses it.

    Raises:
        ValidationError: Naming `channel` or `order_id`.
    """
    channel, order_id = order.channel, order.order_id
    if fit_keys(channel, order_id):
        return channel, order_id
    return check_key(channel, order_id)


def check_listing(
    status: object, after: object, limit: object
) -> tuple[OrderStatus | None, _Key | None, int]:
    """Return the arguments of `orders` once valid.

    Raises:
        ValidationError: Naming `status`, `after` or `limit`.
    """
    if status is not None and not isinstance(status, OrderStatus):
        raise ValidationError("status", status, "must be an OrderStatus or None")
    key = None
    if after is not None:
        if not isinstance(after, tuple) or len(after) != 2:
            raise ValidationError("after", after, "must be (channel, order_id)")
        key = check_key(*after)
    positive_int("limit")(None, None, limit)
    return status, key, cast("int", limit)


def check_window(
    start: object, end: object
) -> tuple[pendulum.DateTime, pendulum.DateTime]:
    """Return `(start, end)` in UTC once both are aware and `end` is after `start`.

    Raises:
        NaiveDatetime: Naming `start` or `end`.
        ValidationError: Naming `end`, when it is not after `start`.
    """
    first = to_utc(cast("pendulum.DateTime", start), "start")
    last = to_utc(cast("pendulum.DateTime", end), "end")
    if last <= first:
        raise ValidationError("end", end, "must be after start")
    return first, last


def placed_key(order: Order) -> PlacedKey:
    """Where `order` sorts among the orders `placed_between` lists."""
    return order.placed_at, order.channel, order.order_id


def recorded_key(channel: str, record: AuditRecord) -> RecordedKey:
    """Where `record` of `channel` sorts among those `recorded_between` lists."""
    return record.recorded_at, channel, record.order_id, record.version


def check_placed_listing(
    start: object, end: object, after: object, limit: object
) -> tuple[pendulum.DateTime, pendulum.DateTime, PlacedKey | None, int]:
    """Return the arguments of `placed_between` once valid, `after` as its key.

    Raises:
        NaiveDatetime: Naming `start` or `end`.
        ValidationError: Naming `end`, `after` or `limit`.
    """
    first, last = check_window(start, end)
    if after is not None and type(after) is not Order:
        raise ValidationError(
            "after", after, "must be the Order the previous page ended with"
        )
    positive_int("limit")(None, None, limit)
    key = None if after is None else placed_key(after)
    return first, last, key, cast("int", limit)


def check_recorded_listing(
    start: object, end: object, after: object, limit: object
) -> tuple[pendulum.DateTime, pendulum.DateTime, RecordedKey | None, int]:
    """Return the arguments of `recorded_between` once valid, `after` as its key.

    Raises:
        NaiveDatetime: Naming `start` or `end`.
        ValidationError: Naming `end`, `after` or `limit`.
    """
    first, last = check_window(start, end)
    key = None
    if after is not None:
        if (
            not isinstance(after, tuple)
            or len(after) != 2
            or type(after[1]) is not AuditRecord
        ):
            raise ValidationError(
                "after",
                after,
                "must be the (channel, AuditRecord) the previous page ended with",
            )
        key = recorded_key(check_text("after", after[0]), after[1])
    positive_int("limit")(None, None, limit)
    return first, last, key, cast("int", limit)


def conflict(channel: str, order_id: str) -> ConcurrencyConflict:
    """The conflict of a save that found the order moved."""
    return ConcurrencyConflict(f"order:{channel}:{order_id}")


def check_records(channel: object, records: object) -> tuple[str, list[AuditRecord]]:
    """Return the arguments of `append` once valid.

    Raises:
        ValidationError: Naming `channel`, `records`, `records[i]` or
            `records[i].order_id`.
    """
    name = check_text("channel", channel)
    if not is_sequence(records):
        raise ValidationError("records", records, "must be a sequence of AuditRecord")
    found: list[AuditRecord] = []
    for i, record in enumerate(records):
        if type(record) is not AuditRecord:
            raise ValidationError(f"records[{i}]", record, "must be an AuditRecord")
        order_id = record.order_id
        # A record checked its order id as text: only its length and type
        # are left (`fit_keys`), and the name is made only for an error.
        if type(order_id) is not str or len(order_id) > MAX_KEY_LENGTH:
            check_text(f"records[{i}].order_id", order_id)
        found.append(record)
    return name, found


def audit_conflict(channel: str, record: AuditRecord) -> ConcurrencyConflict:
    """The conflict of a record that differs from the one stored under its key."""
    return ConcurrencyConflict(f"audit:{channel}:{record.order_id}:{record.version}")


def new_records(
    channel: str,
    records: Sequence[AuditRecord],
    stored: Callable[[str, int], AuditRecord | None],
) -> list[AuditRecord]:
    """The records not stored yet, in the order given, each once.

    `stored(order_id, version)` returns the record stored under that key.

    Raises:
        ConcurrencyConflict: A record differs from the one stored (or given
            earlier in the call) under its key.
    """
    fresh: dict[tuple[str, int], AuditRecord] = {}
    for record in records:
        key = (record.order_id, record.version)
        known = fresh.get(key) or stored(*key)
        if known is None:
            fresh[key] = record
        elif known != record:
            raise audit_conflict(channel, record)
    return list(fresh.values())


@final
class MemoryOrderStore(Journaled):
    """An `OrderStore` in a dict, safe to share between threads.

    Orders are immutable, so the store keeps them as given. Each call holds
    one lock; `orders` sorts every order, O(n log n). Nothing survives the
    process.

    .. versionadded:: 0.1.0
    """

    def __init__(self) -> None:
        """Create an empty store."""
        self._lock = threading.Lock()
        self._orders: dict[_Key, Order] = {}
        self._journal: Journal | None = None

    def get(self, channel: str, order_id: str) -> Order | None:
        """Return the stored order, or `None`.

        Raises:
            ValidationError: Bad channel or order id.
        """
        key = check_key(channel, order_id)
        with self._lock:
            if self._owned:
                self._in_unit("get")
            return self._orders.get(key)

    def save(self, order: Order, expected_version: int | None) -> None:
        """Store `order` if the stored version is `expected_version`.

        See `orderkit.ports.OrderStore`.

        Raises:
            ValidationError: Bad arguments; nothing changed.
            ConcurrencyConflict: The stored version is not the expected one;
                nothing changed.
        """
        order, expected = check_save(order, expected_version)
        key = order_key(order)
        with self._lock:
            if self._owned:
                self._in_unit("save")
            stored = self._orders.get(key)
            found = None if stored is None else stored.version
            if found != expected:
                raise conflict(*key)
            if self._journal is not None:
                self._journal.item(self._orders, key)
            self._orders[key] = order

    def orders(
        self,
        *,
        status: OrderStatus | None = None,
        after: tuple[str, str] | None = None,
        limit: int = 100,
    ) -> Sequence[Order]:
        """List orders by channel and id, after `after`, at most `limit`.

        Raises:
            ValidationError: Bad status, `after` or limit.
        """
        wanted, start, most = check_listing(status, after, limit)
        if wanted is None:
            return self._listed("orders", start, most, lambda _: True)
        return self._listed("orders", start, most, lambda o: o.status is wanted)

    def waiting(
        self, *, after: tuple[str, str] | None = None, limit: int = 100
    ) -> Sequence[Order]:
        """List the orders that wait (`orderkit.orders.waits`), as `orders` does.

        The optional read of the `OrderStore` port; here it sorts and
        checks every order, as `orders` does.

        Raises:
            ValidationError: Bad `after` or limit.
        """
        _, start, most = check_listing(None, after, limit)
        return self._listed("waiting", start, most, waits)

    def placed_between(
        self,
        start: pendulum.DateTime,
        end: pendulum.DateTime,
        *,
        after: Order | None = None,
        limit: int = 100,
    ) -> Sequence[Order]:
        """List the orders placed in `[start, end)`, soonest placed first.

        The optional read of the `OrderStore` port: orders of one placed
        instant by channel and id; `after` is the order the previous page
        ended with. Here it sorts and checks every order, as `orders` does.

        Raises:
            NaiveDatetime: `start` or `end` has no UTC offset.
            ValidationError: `end` not after `start`, bad `after` or limit.
        """
        first, last, key, most = check_placed_listing(start, end, after, limit)
        with self._lock:
            if self._owned:
                self._in_unit("placed_between")
            found = sorted(
                (placed_key(order), order)
                for order in self._orders.values()
                if first <= order.placed_at < last
            )
        return [order for sort, order in found if key is None or sort > key][:most]

    def _listed(
        self,
        operation: str,
        start: _Key | None,
        most: int,
        keep: Callable[[Order], bool],
    ) -> list[Order]:
        """The first `most` kept orders after `start`, by channel and id."""
        with self._lock:
            if self._owned:
                self._in_unit(operation)
            found = []
            for key in sorted(self._orders):
                if start is not None and key <= start:
                    continue
                order = self._orders[key]
                if keep(order):
                    found.append(order)
                    if len(found) == most:
                        break
            return found

    def _snapshot(self) -> object:
        """A copy of the store's data, for `MemoryUnitOfWork` to roll back to."""
        # The orders themselves are immutable: a copy of the dict suffices.
        with self._lock:
            return dict(self._orders)

    def _restore(self, snapshot: object) -> None:
        """Put back the data `_snapshot` copied; the snapshot stays reusable."""
        state = dict(cast("dict[_Key, Order]", snapshot))
        with self._lock:
            self._orders = state


@final
class MemoryAuditLog(Journaled):
    """An `AuditLog` in a dict, safe to share between threads.

    .. versionadded:: 0.1.0
    """

    def __init__(self) -> None:
        """Create an empty log."""
        self._lock = threading.Lock()
        # (channel, order_id) -> {version: record}
        self._records: dict[_Key, dict[int, AuditRecord]] = {}
        self._journal: Journal | None = None

    def append(self, channel: str, records: Sequence[AuditRecord]) -> None:
        """Store the records, skipping those stored; all or nothing.

        See `orderkit.ports.AuditLog`.

        Raises:
            ValidationError: Bad channel or records; nothing was stored.
            ConcurrencyConflict: A record differs from the one stored under
                its order and version; nothing was stored.
        """
        name, checked = check_records(channel, records)
        with self._lock:
            if self._owned:
                self._in_unit("append")

            def stored(order_id: str, version: int) -> AuditRecord | None:
                return self._records.get((name, order_id), {}).get(version)

            journal = self._journal
            for record in new_records(name, checked, stored):
                key = (name, record.order_id)
                trail = self._records.get(key)
                if trail is None:
                    if journal is not None:
                        journal.item(self._records, key)
                    trail = self._records[key] = {}
                if journal is not None:
                    journal.item(trail, record.version)
                trail[record.version] = record

    def records(self, channel: str, order_id: str) -> Sequence[AuditRecord]:
        """Return the order's records in version order.

        Raises:
            ValidationError: Bad channel or order id.
        """
        key = check_key(channel, order_id)
        with self._lock:
            if self._owned:
                self._in_unit("records")
            trail = self._records.get(key, {})
            return [trail[version] for version in sorted(trail)]

    def recorded_between(
        self,
        start: pendulum.DateTime,
        end: pendulum.DateTime,
        *,
        after: tuple[str, AuditRecord] | None = None,
        limit: int = 100,
    ) -> Sequence[tuple[str, AuditRecord]]:
        """List the records recorded in `[start, end)`, each with its channel.

        The optional read of the `AuditLog` port, soonest recorded first,
        then by channel, order id and version; `after` is the pair the
        previous page ended with. Here it checks every record.

        Raises:
            NaiveDatetime: `start` or `end` has no UTC offset.
            ValidationError: `end` not after `start`, bad `after` or limit.
        """
        first, last, key, most = check_recorded_listing(start, end, after, limit)
        with self._lock:
            if self._owned:
                self._in_unit("recorded_between")
            found = sorted(
                (recorded_key(channel, r), channel, r)
                for (channel, _), trail in self._records.items()
                for r in trail.values()
                if first <= r.recorded_at < last
            )
        return [
            (channel, record)
            for sort, channel, record in found
            if key is None or sort > key
        ][:most]

    def _snapshot(self) -> object:
        """A copy of the log, for `MemoryUnitOfWork` to roll back to."""
        with self._lock:
            return {key: dict(trail) for key, trail in self._records.items()}

    def _restore(self, snapshot: object) -> None:
        """Put back the log `_snapshot` copied; the snapshot stays reusable."""
        saved = cast("dict[_Key, dict[int, AuditRecord]]", snapshot)
        state = {key: dict(trail) for key, trail in saved.items()}
        with self._lock:
            self._records = state
