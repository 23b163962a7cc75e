"""A sales channel in memory: a feed a test publishes to, and what goes back."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any, final

from orderkit._validate import count, positive_int
from orderkit.errors import ValidationError
from orderkit.integrations import ChannelPage, ChannelRecord
from orderkit.orders import Shipment
from orderkit.ports import ChannelPayloads


@final
class FakeChannel:
    """A channel in memory that implements `orderkit.ports.Channel`.

    - `publish(*records)` is the channel receiving orders, refunds and
      transactions: they join the feed, oldest first. `pull(cursor,
      limit=)` pages through the feed (the cursor is an offset, as text);
      the last page has no next cursor, so `orderkit.services.pull` reads
      it again next time, with whatever was published since.
    - `push_shipment` keeps each parcel once per shipment id, per order
      (pushing it again is harmless); `push_stock` sets what the channel
      may sell of a SKU. `shipments` and `stock` show what was pushed.
    - `parse` reads payloads with `payloads`, a reference adapter
      (`orderkit.adapters.channels`) or your own; without one, no topic is
      known and every payload is refused.

    Attributes:
        pulls: Every cursor `pull` was called with, in order.

    Args:
        channel: The channel's name.
        payloads: Reads the channel's payloads for `parse` and `topics`.

    .. versionadded:: 0.1.0
    """

    def __init__(
        self, channel: str = "fakeshop", *, payloads: ChannelPayloads | None = None
    ) -> None:
        """Create a channel with an empty feed."""
        self._channel = channel
        self._payloads = payloads
        self._lock = threading.Lock()
        self._feed: list[ChannelRecord] = []
        self._shipments: dict[str, dict[str, Shipment]] = {}
        self._stock: dict[str, int] = {}
        self.pulls: list[str | None] = []

    @property
    def channel(self) -> str:
        """The channel's name."""
        return self._channel

    @property
    def topics(self) -> frozenset[str]:
        """The topics `payloads` reads; none without it."""
        return frozenset() if self._payloads is None else self._payloads.topics

    @property
    def shipments(self) -> dict[str, tuple[Shipment, ...]]:
        """The parcels pushed, by order id, in the order first pushed."""
        with self._lock:
            return {oid: tuple(s.values()) for oid, s in self._shipments.items()}

    @property
    def stock(self) -> dict[str, int]:
        """What the channel may sell, by SKU, as last pushed."""
        with self._lock:
            return dict(self._stock)

    def publish(self, *records: ChannelRecord) -> None:
        """Add records to the end of the feed."""
        with self._lock:
            self._feed.extend(records)

    def parse(self, payload: Any, *, topic: str) -> Sequence[ChannelRecord]:  # noqa: ANN401 - decoded JSON, as the port takes it
        """Read one payload with `payloads`.

        Raises:
            ValidationError: No `payloads` were given (naming `topic`).
        """
        if self._payloads is None:
            raise ValidationError("topic", topic, "this channel reads no payloads")
        return self._payloads.parse(payload, topic=topic)

    def pull(self, cursor: str | None, *, limit: int) -> ChannelPage:
        """Return up to `limit` records after `cursor`, and the next cursor.

        Raises:
            ValidationError: `cursor` is not one this channel handed out, or
                `limit` is not a positive integer.
        """
        positive_int("limit")(None, None, limit)
        with self._lock:
            self.pulls.append(cursor)
            start = 0 if cursor is None else self._offset(cursor)
            records = self._feed[start : start + limit]
            end = start + len(records)
            more = end < len(self._feed)
        return ChannelPage(records=records, cursor=str(end) if more else None)

    def push_shipment(self, order_id: str, shipment: Shipment) -> None:
        """Tell the channel a parcel left; the same shipment id again is kept once."""
        if not isinstance(shipment, Shipment):
            raise ValidationError("shipment", shipment, "must be a Shipment")
        with self._lock:
            parcels = self._shipments.setdefault(order_id, {})
            parcels.setdefault(shipment.shipment_id, shipment)

    def push_stock(self, sku: str, sellable: int) -> None:
        """Set what the channel may sell of `sku`."""
        count("sellable")(None, None, sellable)
        with self._lock:
            self._stock[sku] = sellable

    def _offset(self, cursor: object) -> int:
        if (
            not isinstance(cursor, str)
            or not (cursor.isascii() and cursor.isdigit())
            or int(cursor) > len(self._feed)
        ):
            raise ValidationError("cursor", cursor, "is not a cursor of this feed")
        return int(cursor)
