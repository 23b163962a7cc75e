"""Harbor Mall's FieldMap passes orderkit's channel contract with its samples."""

from typing import Any

import harbormall

from orderkit.errors import InvalidQuantity
from orderkit.ports import ChannelPayloads
from orderkit.testing.contracts import ChannelContract, Sample


class TestHarborMall(ChannelContract):
    """Every rule of the ChannelPayloads port, on Harbor Mall's order list."""

    def make_channel(self) -> ChannelPayloads:
        """The spec, loaded as the app loads it."""
        return harbormall.load()

    def samples(self) -> list[Sample]:
        """A page as Harbor Mall sent it, and the same with a zero quantity."""
        text = harbormall.SAMPLE_PAGE.read_text(encoding="utf-8")
        return [
            Sample("orders-page", "orders", text),
            Sample(
                "zero-quantity",
                "orders",
                text.replace('"num": 3', '"num": 0'),
                refused=InvalidQuantity,
            ),
        ]

    def with_status(self, payload: Any, topic: str, status: str) -> Any:  # noqa: ANN401, ARG002 - decoded JSON; one topic
        """The first order of the page gets the status."""
        payload["data"]["orders"][0]["orderStatus"] = status
        return payload
