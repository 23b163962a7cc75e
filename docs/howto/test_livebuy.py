"""LiveBuyPayloads passes orderkit's channel contract with LiveBuy's samples."""

from pathlib import Path
from typing import Any

import pytest
from livebuy import LiveBuyPayloads

from orderkit.errors import EmptyOrder, InvalidMoney, ValidationError
from orderkit.integrations import load_json
from orderkit.ports import ChannelPayloads
from orderkit.testing.contracts import ChannelContract, Sample


SAMPLES = Path(__file__).parent / "samples"


class TestLiveBuy(ChannelContract):
    """Every rule of the ChannelPayloads port, on LiveBuy's sample webhooks."""

    def make_channel(self) -> ChannelPayloads:
        """The adapter under test."""
        return LiveBuyPayloads()

    def samples(self) -> list[Sample]:
        """Webhooks as LiveBuy sent them, and one it must refuse."""
        return [
            Sample.from_file(SAMPLES / "livebuy-order-paid.json", "order"),
            Sample.from_file(SAMPLES / "livebuy-order-cancelled.json", "order"),
            Sample.from_file(
                SAMPLES / "livebuy-order-half-fen.json", "order", refused=InvalidMoney
            ),
        ]

    def with_status(self, payload: Any, topic: str, status: str) -> Any:  # noqa: ANN401, ARG002 - decoded JSON; one topic
        """Every LiveBuy order states its status in the same place."""
        payload["order"]["status"] = status
        return payload

    def redelivered(self, payload: Any, topic: str) -> Any:  # noqa: ANN401 - decoded JSON
        """A re-send has its keys reordered and a new delivery id."""
        resent = super().redelivered(payload, topic)
        resent["event_id"] = "evt-resent-1"
        return resent


def paid() -> Any:  # noqa: ANN401 - decoded JSON
    """The paid sample, decoded, to change one field in."""
    return load_json((SAMPLES / "livebuy-order-paid.json").read_bytes())


def test_no_items_is_refused_at_the_items() -> None:
    """At the payload path (the message starts with it), not OrderPlaced's `lines`."""
    payload = paid()
    payload["order"]["items"] = []
    with pytest.raises(EmptyOrder, match=r"^order\.items: "):
        LiveBuyPayloads().parse(payload, topic="order")


def test_a_repeated_item_is_refused_at_its_id() -> None:
    """The second of two items with one id, at its payload path, not `lines[1]`."""
    payload = paid()
    items = payload["order"]["items"]
    items[1]["item_id"] = items[0]["item_id"]
    with pytest.raises(ValidationError, match=r"^order\.items\[1\]\.item_id: "):
        LiveBuyPayloads().parse(payload, topic="order")


def test_a_sku_with_a_control_character_is_refused_at_its_path() -> None:
    """At the payload path, not at OrderLine's `sku`."""
    payload = paid()
    payload["order"]["items"][1]["sku_code"] = "CUP\tGLASS"
    with pytest.raises(ValidationError, match=r"^order\.items\[1\]\.sku_code: "):
        LiveBuyPayloads().parse(payload, topic="order")
