"""Harbor Mall as an `orderkit.ports.Channel`: its API's pages, read with the FieldMap.

The FieldMap reads payloads; the I/O is the host's. `get` and `post` stand
for the app's HTTP client: each calls Harbor Mall's API and returns the reply
decoded with `orderkit.integrations.load_json`, raising `TransientError` for
a failure a retry may mend.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from orderkit.adapters.channels.mapping import FieldMap
from orderkit.errors import ValidationError
from orderkit.integrations import ChannelPage, ChannelRecord
from orderkit.orders import Shipment


Get = Callable[[str, Mapping[str, str]], Any]
Post = Callable[[str, Mapping[str, object]], object]


class HarborMall:
    """Harbor Mall's order list, shipments and stock, over the app's HTTP client."""

    def __init__(self, fieldmap: FieldMap, get: Get, post: Post) -> None:
        """Read payloads with `fieldmap`; call the API with `get` and `post`."""
        self._map = fieldmap
        self._get = get
        self._post = post

    @property
    def channel(self) -> str:
        """The FieldMap's channel name."""
        return self._map.channel

    @property
    def topics(self) -> frozenset[str]:
        """The FieldMap's topics."""
        return self._map.topics

    def parse(self, payload: Any, *, topic: str) -> Sequence[ChannelRecord]:  # noqa: ANN401 - decoded JSON
        """Read a payload (a webhook's, say) with the FieldMap."""
        return self._map.parse(payload, topic=topic)

    def pull(self, cursor: str | None, *, limit: int) -> ChannelPage:
        """The page after `cursor` (a page number, as text), `limit` orders at most."""
        if cursor is not None and not cursor.isdecimal():
            raise ValidationError("cursor", cursor, "must be a page number")
        number = 1 if cursor is None else int(cursor)
        query = {"page": str(number), "pageSize": str(limit)}
        payload = self._get("/v2/orders", query)
        records = self._map.parse(payload, topic="orders")
        more = payload["data"].get("has_more")  # parse found `data` an object
        if not isinstance(more, bool):
            raise ValidationError("data.has_more", more, "must be true or false")
        # After the last page, no next cursor: the next pull reads that page
        # again, with the orders it gained since.
        return ChannelPage(records=records, cursor=str(number + 1) if more else None)

    def push_shipment(self, order_id: str, shipment: Shipment) -> None:
        """Tell Harbor Mall the parcel left; sending it twice changes nothing."""
        self._post(
            f"/v2/orders/{order_id}/delivery",
            {"logistics": shipment.carrier, "trackingNo": shipment.tracking_number},
        )

    def push_stock(self, sku: str, sellable: int) -> None:
        """Set what Harbor Mall may sell of `sku`."""
        self._post("/v2/stock", {"skuCode": sku, "stock": sellable})
