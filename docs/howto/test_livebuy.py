"""LiveBuyPayloads passes orderkit's channel contract with LiveBuy's samples."""

from pathlib import Path
from typing import Any

from livebuy import LiveBuyPayloads

from orderkit.errors import InvalidMoney
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
